// Video files through FFmpeg (loader/video_ffmpeg.cpp, compiled when FROST_HAVE_FFMPEG): the frame source
// that open_frame_source returns for a file that is not an image. Internal to loader/.
#pragma once

#include <memory>
#include <string>

#include "loader/video.h"

#ifndef FROST_HAVE_FFMPEG
#define FROST_HAVE_FFMPEG 0
#endif

namespace frost::loader {

#if FROST_HAVE_FFMPEG
std::unique_ptr<FrameSource> open_video_file(const std::string& path, const VideoLimits& limits);
#endif

}  // namespace frost::loader

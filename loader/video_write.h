// Writing video files: RGB frames → an H.264 MP4 through FFmpeg's libraries (libavcodec's libx264, yuv420p,
// constant quality), the same container and codec as the videos users bring — so frost's synthetic data
// (issue 16) is read back through the decode path a user's videos take. The file is built in memory and
// written atomically (loader::AtomicFile): a failure never leaves a partial file.
//
//   HostTensor frames(DType::U8, {T, H, W, 3});   // RGB, H and W even (yuv420p halves the chroma planes)
//   write_video("clip.mp4", frames, {.fps = 25});
#pragma once

#include <string>

#include "engine/storage.h"

namespace frost::loader {

struct VideoWriteOptions {
  int fps = 25;
  int crf = 18;  // x264's constant rate factor: 0 lossless .. 51; 18 is visually lossless
};

// Throws InvalidArgument for frames that are not U8 (T >= 1, H, W, 3) with even H and W >= 2 or fps outside
// 1..240, Unsupported when this build has no FFmpeg or no H.264 encoder, Io when the file cannot be written.
void write_video(const std::string& path, const HostTensor& frames, const VideoWriteOptions& options = {});

// Whether write_video works in this build (FFmpeg with an H.264 encoder).
bool video_writing_supported();

}  // namespace frost::loader

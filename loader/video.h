// Videos as Frozen in Time reads them (../shared/spec/frozen-in-time.md §3.6–3.7): a frame source (a video
// file through FFmpeg, a folder of frame images sorted by name, or a single image as a one-frame video),
// the reference's frame sampling, and `load_clip`, which samples, decodes only the sampled frames,
// preprocesses them (loader/preprocess.h) and zero-pads short videos to the clip length.
//
//   Clip clip = load_clip("video.mp4", {});            // 4 frames, 'uniform' sampling, test transform
//   clip.pixels;                                        // f32 (4, 3, 224, 224)
//
//   auto source = open_frame_source("frames/");          // frame_0001.jpg, frame_0002.jpg, ...
//   auto idx = sample_frame_indices(source->frame_count(), {.num_frames = 8});
//   HostTensor frames = source->read(idx);               // u8 (8, H, W, 3)
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/storage.h"
#include "loader/image.h"
#include "loader/preprocess.h"

namespace frost::loader {

// ---- Frame sampling (the reference's `sample_frames`) ----------------------------------------------------

// The video of n frames is cut into k = min(num_frames, n) segments at int(i * (n / k)) (numpy's
// linspace, truncated); segment i covers [s_i, s_{i+1} - 1].
enum class FrameSampling {
  Uniform,   // test: the segment's midpoint (s_i + s_{i+1} - 1) // 2
  Rand,      // training: uniform in [s_i, s_{i+1} - 2] (the reference never picks a segment's last frame)
  FixStart,  // sliding-window test: s_i + fix_start
};

struct SamplingOptions {
  int64_t num_frames = 4;
  FrameSampling mode = FrameSampling::Uniform;
  int64_t fix_start = 0;  // FixStart's offset
  // Rand draws from Philox(seed, sample): the same pair gives the same frames everywhere.
  uint64_t seed = 0, sample = 0;
};

// min(num_frames, n) frame indices, ascending. Where the reference's 'rand' fails (a one-frame segment
// leaves it an empty range; its lax loading then substitutes one black frame for the whole clip), frost
// takes the segment's only frame.
std::vector<int64_t> sample_frame_indices(int64_t n, const SamplingOptions& options);

// The reference's sliding-window offsets for test.py -s STRIDE: arange(0, n / (num_frames + 1), stride).
std::vector<int64_t> fix_start_offsets(int64_t n, int64_t num_frames, int64_t stride);

// ---- Frame sources ---------------------------------------------------------------------------------------

struct VideoLimits {
  ImageLimits image;                      // frame images of folders, and single images
  int64_t max_pixels = 8192LL * 8192;     // a video's width x height
  int64_t max_frames = int64_t(1) << 22;  // 4M frames: 39 hours at 30 fps
  // Damaged video data (loader/image.h's WarningSink); frame images use image.on_warning, or this one
  // when that is unset.
  WarningSink on_warning;
};

// Thrown by FrameSource::read when reading showed that a video delivers fewer frames than its packets
// promised (the decoder rejected damaged data): frame_count() now gives the true count, so sample again
// and read again (load_clip and the data pipeline do). A BadFile error, whose message says so, for callers
// that do not.
class FrameCountChanged : public Error {
 public:
  using Error::Error;
};

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  // The file or folder, for errors.
  virtual const std::string& name() const = 0;
  // Exact: the frames a decoder delivers (a folder's image files; a video's frames in the decoder's output
  // order, as the `ffmpeg` command decodes them), never a container's estimate. A video's count comes from
  // its packets where their timestamps prove it and from decoding it once otherwise; where damaged data
  // makes the decoder deliver fewer frames than the packets promised, a read learns the true count,
  // frame_count() changes and the read throws FrameCountChanged.
  virtual int64_t frame_count() const = 0;
  // u8 (k, H, W, 3) RGB: the frames at `indices` (0-based, any order, repeats allowed), decoding only those.
  virtual HostTensor read(std::span<const int64_t> indices) = 0;
};

// A folder → its .jpg/.jpeg/.png files (case-insensitive extensions) sorted by name, byte-wise (so number
// frames with zero padding); a PNG or JPEG file → a one-frame video; any other file → a video file through
// FFmpeg. Errors are BadFile and name the path.
std::unique_ptr<FrameSource> open_frame_source(const std::string& path, const VideoLimits& limits = {});

// A folder given where clips are expected: a frame folder when it holds .jpg/.jpeg/.png files and neither
// video files nor sub-folders (one clip: {folder}); else a collection: its video files (by extension: .mp4
// .m4v .mkv .webm .avi .mov .mpg .mpeg .flv .wmv .ogv .3gp .ts, any case) and its sub-folders, each by the
// same rule, in byte-wise name order — image files beside videos (cover art, thumbnails) are not clips and
// are listed in `ignored`. Hidden names (".…") are left out; a folder reached twice (a link cycle) is
// walked once; at most 16 folders deep. Throws BadFile naming a folder that cannot be listed.
struct FolderClips {
  std::vector<std::string> clips;
  std::vector<std::string> ignored;  // image files inside collections
};
FolderClips clips_in_folder(const std::string& folder);

// Frames already in memory, u8 (N, H, W, 3), as a source (a decoded-video cache); `name` for errors.
std::unique_ptr<FrameSource> frames_in_memory(HostTensor frames, std::string name);

// FFmpeg prints its own view of damaged input to stderr at its default log level; frost reports damage
// itself, per file (VideoLimits::on_warning). A program (the frost command) calls this once to silence
// FFmpeg — unless FFmpeg's level was already changed, or FROST_FFMPEG_LOG names one (quiet, fatal, error,
// warning, info, verbose, debug). The library never changes FFmpeg's process-wide state by itself.
void quiet_ffmpeg_log();

// Whether this build reads video files (FFmpeg found at configure time; -DFROST_FFMPEG=OFF builds read
// frame folders and images only).
bool video_files_supported();

// ---- Clips -----------------------------------------------------------------------------------------------

struct ClipOptions {
  SamplingOptions sampling;
  bool train =
      false;  // the train transform (a random crop + flip from Philox(seed, sample)), else the test one
  TestTransform test_transform;
  TrainTransform train_transform;
  // Training only: a box (source pixels) every crop must contain (draw_train_crop_keeping).
  std::optional<PixelBox> keep;
  VideoLimits limits;
};

struct Clip {
  HostTensor pixels;             // f32 (num_frames, 3, S, S); frames past `indices.size()` are zero
  std::vector<int64_t> indices;  // the source frames used, in order
  int64_t source_frames = 0;     // frame_count() of the source
  bool flipped = false;          // the train transform mirrored it (a caption saying "left" now means right)
};

Clip load_clip(const std::string& path, const ClipOptions& options = {});
Clip load_clip(FrameSource& source, const ClipOptions& options = {});

}  // namespace frost::loader

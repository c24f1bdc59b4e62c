#include "loader/video.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>
#include <system_error>

#include "engine/error.h"
#include "engine/random.h"
#include "loader/files.h"
#include "loader/video_file.h"
#include "loader/video_write.h"

// Dimension legend: T frames (num_frames), k sampled frames (≤ T), H/W frame height/width, S output side.

namespace frost::loader {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void bad(const std::string& name, const std::string& what) {
  throw_error(ErrorCategory::BadFile, name + ": " + what);
}

void check_indices(std::span<const int64_t> indices, int64_t n, const std::string& name) {
  for (int64_t i : indices)
    if (i < 0 || i >= n)
      throw_error(ErrorCategory::InvalidArgument, name + ": frame index " + std::to_string(i) +
                                                      " is outside its " + std::to_string(n) + " frames");
}

// Frames must share one size to form a clip.
void check_same_size(const HostTensor& frame, const HostTensor& first, const std::string& name) {
  if (frame.shape() != first.shape())
    bad(name, "frame is " + std::to_string(frame.shape()[1]) + "x" + std::to_string(frame.shape()[0]) +
                  " but the video's first frame read is " + std::to_string(first.shape()[1]) + "x" +
                  std::to_string(first.shape()[0]));
}

// Copies decoded (H, W, 3) frames into one (k, H, W, 3) tensor.
HostTensor stack(const std::vector<HostTensor>& frames) {
  const Shape& s = frames.front().shape();
  HostTensor out(DType::U8, {int64_t(frames.size()), s[0], s[1], 3});
  for (size_t i = 0; i < frames.size(); ++i)
    std::memcpy(out.data<uint8_t>() + i * frames[i].bytes(), frames[i].raw(), frames[i].bytes());
  return out;
}

bool is_frame_image(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

bool is_video_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  for (const char* v : {".mp4", ".m4v", ".mkv", ".webm", ".avi", ".mov", ".mpg", ".mpeg", ".flv", ".wmv",
                        ".ogv", ".3gp", ".ts"})
    if (ext == v) return true;
  return false;
}

void collect_clips(const fs::path& folder, int depth, std::set<std::pair<dev_t, ino_t>>& visited,
                   FolderClips& out) {
  struct stat st {};
  if (::stat(folder.c_str(), &st) != 0 || !visited.insert({st.st_dev, st.st_ino}).second) return;
  std::vector<fs::path> entries;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().rfind('.', 0) != 0) entries.push_back(it->path());
  FROST_CHECK(!ec, BadFile, folder.string() << ": cannot list the folder: " << ec.message());
  std::sort(entries.begin(), entries.end());
  std::vector<std::string> images;
  bool collection = false;  // it holds videos or sub-folders
  for (const fs::path& e : entries) {
    const FileKind kind = file_kind(e.string());
    if (kind == FileKind::Regular && is_frame_image(e)) images.push_back(e.string());
    collection = collection || (kind == FileKind::Regular && is_video_name(e)) || kind == FileKind::Directory;
  }
  if (!images.empty() && !collection) {
    out.clips.push_back(folder.string());  // a frame folder: one clip
    return;
  }
  out.ignored.insert(out.ignored.end(), images.begin(), images.end());
  for (const fs::path& e : entries) {
    const FileKind kind = file_kind(e.string());
    if (kind == FileKind::Regular && is_video_name(e))
      out.clips.push_back(e.string());
    else if (kind == FileKind::Directory && depth < 16)
      collect_clips(e, depth + 1, visited, out);
  }
}

class FrameFolder final : public FrameSource {
 public:
  FrameFolder(const std::string& path, const VideoLimits& limits) : name_(path), limits_(limits) {
    std::error_code ec;
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      if (!is_frame_image(it->path())) continue;
      // A frame name that is not a readable regular file (a dangling link, a FIFO, a device) is an error:
      // skipping it would silently change the frame count and so which frames are sampled. A sub-folder is
      // not a frame, whatever its name.
      const std::string frame = it->path().string();
      const FileKind kind = file_kind(frame);
      if (kind == FileKind::Directory) continue;
      if (kind != FileKind::Regular)
        bad(frame, kind == FileKind::Missing ? std::string("a frame that cannot be read (a dangling link?)")
                                             : std::string("a frame that is ") + file_kind_name(kind));
      files_.push_back(frame);
      if (int64_t(files_.size()) > limits.max_frames)
        bad(name_, "holds more than " + std::to_string(limits.max_frames) + " frame images");
    }
    if (ec) bad(name_, "cannot list the folder: " + ec.message());
    if (files_.empty()) bad(name_, "folder holds no .jpg, .jpeg or .png frames");
    std::sort(files_.begin(), files_.end());  // by name, byte-wise, as Python's sorted(os.listdir(...))
  }
  const std::string& name() const override { return name_; }
  int64_t frame_count() const override { return int64_t(files_.size()); }
  HostTensor read(std::span<const int64_t> indices) override {
    check_indices(indices, frame_count(), name_);
    FROST_CHECK(!indices.empty(), InvalidArgument, name_ << ": no frames requested");
    std::vector<HostTensor> frames;
    for (int64_t i : indices) {
      frames.push_back(read_image(files_[size_t(i)], limits_.image));
      check_same_size(frames.back(), frames.front(), files_[size_t(i)]);
    }
    return stack(frames);
  }

 private:
  std::string name_;
  VideoLimits limits_;
  std::vector<std::string> files_;
};

class SingleImage final : public FrameSource {
 public:
  SingleImage(const std::string& path, const VideoLimits& limits) : name_(path), limits_(limits) {}
  const std::string& name() const override { return name_; }
  int64_t frame_count() const override { return 1; }
  HostTensor read(std::span<const int64_t> indices) override {
    check_indices(indices, 1, name_);
    FROST_CHECK(!indices.empty(), InvalidArgument, name_ << ": no frames requested");
    return stack(std::vector<HostTensor>(indices.size(), read_image(name_, limits_.image)));
  }

 private:
  std::string name_;
  VideoLimits limits_;
};

}  // namespace

std::vector<int64_t> sample_frame_indices(int64_t n, const SamplingOptions& o) {
  FROST_CHECK(n > 0, InvalidArgument, "the video has no frames (n = " << n << ")");
  FROST_CHECK(o.num_frames > 0, InvalidArgument, "frames per clip must be positive, got " << o.num_frames);
  const int64_t k = std::min(o.num_frames, n);
  // numpy.linspace(0, n, k + 1).astype(int): element i is i * (n / k) in f64, truncated; the last is n.
  std::vector<int64_t> bound(size_t(k + 1));
  const double step = double(n) / double(k);
  for (int64_t i = 0; i < k; ++i) bound[size_t(i)] = int64_t(double(i) * step);
  bound[size_t(k)] = n;
  std::vector<int64_t> idx(static_cast<size_t>(k));
  const Philox rng(o.seed, o.sample);
  for (int64_t i = 0; i < k; ++i) {
    const int64_t s = bound[size_t(i)], e = bound[size_t(i + 1)] - 1;  // the segment [s, e]
    switch (o.mode) {
      case FrameSampling::Uniform:
        idx[size_t(i)] = (s + e) / 2;
        break;
      case FrameSampling::Rand: {
        // random.choice(range(s, e)); counters from 1000 on, clear of the train crop's
        // (loader/preprocess.cpp).
        const int64_t choices = e - s;
        idx[size_t(i)] =
            choices <= 0
                ? s
                : s + int64_t((uint64_t(rng.block(1000 + uint64_t(i))[0]) * uint64_t(choices)) >> 32);
        break;
      }
      case FrameSampling::FixStart:
        FROST_CHECK(o.fix_start >= 0 && s + o.fix_start < n, InvalidArgument,
                    "fix_start " << o.fix_start << " puts segment " << i << " (from frame " << s
                                 << ") past the video's " << n << " frames");
        idx[size_t(i)] = s + o.fix_start;
        break;
    }
  }
  return idx;
}

std::vector<int64_t> fix_start_offsets(int64_t n, int64_t num_frames, int64_t stride) {
  FROST_CHECK(
      n > 0 && num_frames > 0 && stride > 0, InvalidArgument,
      "sliding windows need a positive frame count, clip length and stride n, num_frames and stride, got "
          << n << ", " << num_frames << ", " << stride);
  std::vector<int64_t> offsets;
  const double end = double(n) / double(num_frames + 1);
  for (int64_t o = 0; double(o) < end; o += stride) offsets.push_back(o);
  return offsets;
}

std::unique_ptr<FrameSource> open_frame_source(const std::string& path, const VideoLimits& video_limits) {
  VideoLimits limits = video_limits;
  if (!limits.image.on_warning) limits.image.on_warning = limits.on_warning;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    const std::string what = describe_path(path);
    bad(path, what == "missing" ? std::string("no such file or folder") : "is " + what);
  }
  if (fs::is_directory(st)) return std::make_unique<FrameFolder>(path, limits);
  if (!fs::is_regular_file(st))
    bad(path, std::string("is ") + file_kind_name(file_kind(path)) +
                  ", not a video file, image or folder of frames");
  if (is_image_file(path)) return std::make_unique<SingleImage>(path, limits);
  if (const std::string format = other_image_format(path); !format.empty())
    bad(path, unsupported_image_message(format));
#if FROST_HAVE_FFMPEG
  return open_video_file(path, limits);
#else
  bad(path,
      "not a PNG or JPEG image, and this build reads no video files (built with -DFROST_FFMPEG=OFF or "
      "without FFmpeg's libraries): decode it to a folder of frames first");
#endif
}

bool video_files_supported() {
  return FROST_HAVE_FFMPEG != 0;
}

#if !FROST_HAVE_FFMPEG
void quiet_ffmpeg_log() {}

// Without FFmpeg (video_write_ffmpeg.cpp is not built): writing videos is not available.
bool video_writing_supported() {
  return false;
}
void write_video(const std::string& path, const HostTensor&, const VideoWriteOptions&) {
  FROST_FAIL(Unsupported, path << ": this build writes no video files (built without FFmpeg's libraries)");
}
#endif

namespace {

class MemoryFrames final : public FrameSource {
 public:
  MemoryFrames(HostTensor frames, std::string name) : frames_(std::move(frames)), name_(std::move(name)) {
    FROST_CHECK(
        frames_.dtype() == DType::U8 && frames_.shape().rank() == 4 && frames_.shape()[3] == 3 &&
            frames_.shape()[0] > 0,
        InvalidArgument,
        name_ << ": frames in memory must be U8 (N, H, W, 3), got " << frames_.dtype() << frames_.shape());
  }
  const std::string& name() const override { return name_; }
  int64_t frame_count() const override { return frames_.shape()[0]; }
  HostTensor read(std::span<const int64_t> indices) override {
    const Shape& s = frames_.shape();
    const size_t frame_bytes = size_t(s[1] * s[2] * 3);
    HostTensor out(DType::U8, {int64_t(indices.size()), s[1], s[2], 3});
    for (size_t k = 0; k < indices.size(); ++k) {
      FROST_CHECK(indices[k] >= 0 && indices[k] < s[0], InvalidArgument,
                  name_ << ": frame " << indices[k] << " of " << s[0]);
      std::memcpy(out.data<uint8_t>() + k * frame_bytes,
                  frames_.data<uint8_t>() + size_t(indices[k]) * frame_bytes, frame_bytes);
    }
    return out;
  }

 private:
  HostTensor frames_;
  std::string name_;
};

}  // namespace

FolderClips clips_in_folder(const std::string& folder) {
  FolderClips out;
  std::set<std::pair<dev_t, ino_t>> visited;
  collect_clips(fs::path(folder), 0, visited, out);
  return out;
}

std::unique_ptr<FrameSource> frames_in_memory(HostTensor frames, std::string name) {
  return std::make_unique<MemoryFrames>(std::move(frames), std::move(name));
}

Clip load_clip(const std::string& path, const ClipOptions& options) {
  auto source = open_frame_source(path, options.limits);
  return load_clip(*source, options);
}

Clip load_clip(FrameSource& source, const ClipOptions& o) {
  Clip clip;
  clip.source_frames = source.frame_count();
  clip.indices = sample_frame_indices(clip.source_frames, o.sampling);
  HostTensor frames;  // u8 (k, H, W, 3)
  try {
    frames = source.read(clip.indices);
  } catch (const FrameCountChanged&) {
    // Reading learnt the true frame count (a video whose damaged data the decoder rejects delivers fewer
    // frames than its packets promise): sample again from the frames that exist, as the reference would.
    clip.source_frames = source.frame_count();
    clip.indices = sample_frame_indices(clip.source_frames, o.sampling);
    frames = source.read(clip.indices);
  }
  HostTensor x;  // f32 (k, 3, S, S)
  if (o.train) {
    const int64_t H = frames.shape()[1], W = frames.shape()[2];
    const TrainCrop crop =
        o.keep ? draw_train_crop_keeping(H, W, o.train_transform, *o.keep, o.sampling.seed, o.sampling.sample)
               : draw_train_crop(H, W, o.train_transform, o.sampling.seed, o.sampling.sample);
    clip.flipped = crop.flip;
    x = train_transform(frames, crop, o.train_transform);
  } else {
    x = test_transform(frames, o.test_transform);
  }
  const int64_t T = o.sampling.num_frames, S = x.shape()[2];
  // Zero frames after the normalised ones, as the reference pads short videos.
  clip.pixels = HostTensor(DType::F32, {T, 3, S, x.shape()[3]});
  std::memcpy(clip.pixels.raw(), x.raw(), x.bytes());
  return clip;
}

}  // namespace frost::loader

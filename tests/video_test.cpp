// Videos: the reference's frame sampling against numpy (tests/fixtures/video/sampling.json), frame folders
// and single images as frame sources, and video files through FFmpeg — encoded in the test's set-up with the
// `ffmpeg` command from known frames (H.264 with B-frames in MP4 and with one key frame in MKV, MPEG-4 part 2
// in AVI, VP9 in WebM, lossless FFV1), checking the exact frame count, that each sampled frame is the right
// one, its pixels against the encoder's input and against the `ffmpeg` command's own decode, and bad files.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <tuple>

#include "engine/error.h"
#include "engine/random.h"
#include "loader/image.h"
#include "loader/preprocess.h"
#include "loader/video.h"
#include "loader/video_write.h"

namespace frost::loader {
namespace {

namespace fs = std::filesystem;

// ---- sampling
// ----------------------------------------------------------------------------------------------

TEST(FrameSampling, MatchesTheReferenceOnEveryFixtureCase) {
  std::ifstream in(std::string(FROST_TEST_FIXTURES) + "/video/sampling.json");
  const auto fixture = nlohmann::json::parse(in);
  int cases = 0;
  for (const auto& c : fixture.at("cases")) {
    const int64_t n = c.at("n"), num_frames = c.at("num_frames");
    SCOPED_TRACE("n " + std::to_string(n) + ", num_frames " + std::to_string(num_frames));
    EXPECT_EQ(sample_frame_indices(n, {.num_frames = num_frames}),
              c.at("uniform").get<std::vector<int64_t>>());
    EXPECT_EQ(fix_start_offsets(n, num_frames, c.at("stride")),
              c.at("fix_start_offsets").get<std::vector<int64_t>>());
    for (const auto& [offset, want] : c.at("fix_start").items()) {
      const SamplingOptions o{
          .num_frames = num_frames, .mode = FrameSampling::FixStart, .fix_start = std::stoll(offset)};
      EXPECT_EQ(sample_frame_indices(n, o), want.get<std::vector<int64_t>>()) << "fix_start " << offset;
    }
    // 'rand': inside [s, e - 1] of each segment (never its last frame), or s when that range is empty.
    const auto segments = c.at("segments");
    for (uint64_t sample = 0; sample < 8; ++sample) {
      const auto idx = sample_frame_indices(
          n, {.num_frames = num_frames, .mode = FrameSampling::Rand, .seed = 5, .sample = sample});
      ASSERT_EQ(idx.size(), segments.size());
      for (size_t i = 0; i < idx.size(); ++i) {
        const int64_t s = segments[i][0], e = segments[i][1];
        if (e - 1 >= s) {
          EXPECT_GE(idx[i], s);
          EXPECT_LE(idx[i], e - 1);
        } else {
          EXPECT_EQ(idx[i], s);
        }
      }
    }
    ++cases;
  }
  EXPECT_EQ(cases, 495);
}

TEST(FrameSampling, RandIsSeededAndCoversTheSegment) {
  const SamplingOptions o{.num_frames = 4, .mode = FrameSampling::Rand, .seed = 11};
  std::vector<int> seen(25, 0);  // n = 100: segments of 25, choices 0..23 within each
  for (uint64_t s = 0; s < 2000; ++s) {
    SamplingOptions os = o;
    os.sample = s;
    const auto a = sample_frame_indices(100, os), b = sample_frame_indices(100, os);
    EXPECT_EQ(a, b);
    ++seen[size_t(a[0])];
  }
  for (int i = 0; i < 24; ++i) EXPECT_GT(seen[size_t(i)], 40) << "offset " << i;  // ~83 expected each
  EXPECT_EQ(seen[24], 0);  // the segment's last frame, never chosen (as the reference)
}

TEST(FrameSampling, RejectsWhatCannotBeSampled) {
  EXPECT_THROW(sample_frame_indices(0, {}), Error);
  EXPECT_THROW(sample_frame_indices(10, {.num_frames = 0}), Error);
  EXPECT_THROW(sample_frame_indices(10, {.num_frames = 4, .mode = FrameSampling::FixStart, .fix_start = 8}),
               Error);
  EXPECT_THROW(fix_start_offsets(10, 4, 0), Error);
}

// ---- test media ----------------------------------------------------------------------------------------

constexpr int64_t kW = 64, kH = 48, kFrames = 30;

// Frame i: smooth gradients moving with i, and a 16x16 grey block at the top left whose level 10 + 8 i
// names the frame even after lossy coding.
HostTensor source_frame(int64_t i) {
  HostTensor f(DType::U8, {kH, kW, 3});
  uint8_t* p = f.data<uint8_t>();
  for (int64_t y = 0; y < kH; ++y)
    for (int64_t x = 0; x < kW; ++x) {
      uint8_t* px = p + (y * kW + x) * 3;
      if (x < 16 && y < 16) {
        px[0] = px[1] = px[2] = uint8_t(10 + 8 * i);
      } else {
        px[0] = uint8_t(40 + 2 * x + i);
        px[1] = uint8_t(60 + 2 * y + i);
        px[2] = uint8_t(100 + x + y);
      }
    }
  return f;
}

// The mean level of the centre of the identifying block → the frame's number.
int64_t frame_number(const uint8_t* frame) {
  double sum = 0;
  for (int64_t y = 4; y < 12; ++y)
    for (int64_t x = 4; x < 12; ++x) sum += frame[(y * kW + x) * 3 + 1];
  return std::lround((sum / 64.0 - 10.0) / 8.0);
}

double mean_abs_diff(const uint8_t* a, const uint8_t* b, size_t n) {
  double d = 0;
  for (size_t i = 0; i < n; ++i) d += std::abs(int(a[i]) - int(b[i]));
  return d / double(n);
}

std::string shell_quote(const std::string& s) {
  return "'" + s + "'";
}

class VideoFiles : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    quiet_ffmpeg_log();  // the damaged files would fill the log with FFmpeg's own view (frost warns itself)
    dir_ = fs::temp_directory_path() / ("frost_video_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    {
      std::ofstream raw(dir_ / "frames.rgb", std::ios::binary);
      for (int64_t i = 0; i < kFrames; ++i) {
        const HostTensor f = source_frame(i);
        raw.write(static_cast<const char*>(f.raw()), std::streamsize(f.bytes()));
      }
    }
    if (std::system("command -v ffmpeg >/dev/null 2>&1") != 0) {
      setup_error_ = "the ffmpeg command is missing (scripts/install_deps.sh installs it)";
      return;
    }
    const std::string input = "-f rawvideo -pix_fmt rgb24 -s " + std::to_string(kW) + "x" +
                              std::to_string(kH) + " -r 25 -i " + shell_quote((dir_ / "frames.rgb").string());
    const std::pair<const char*, std::string> encodes[] = {
        {"h264.mp4", "-c:v libx264 -g 6 -bf 2 -crf 12 -pix_fmt yuv420p"},
        {"h264_one_key.mkv", "-c:v libx264 -g 250 -bf 3 -crf 12 -pix_fmt yuv420p"},
        {"mpeg4.avi", "-c:v mpeg4 -q:v 2 -bf 1 -g 10"},
        {"vp9.webm", "-c:v libvpx-vp9 -crf 10 -b:v 0 -g 8 -deadline realtime -cpu-used 8"},
        {"ffv1.mkv", "-c:v ffv1 -pix_fmt bgr0"},
        {"faststart.mp4", "-c:v libx264 -g 5 -crf 12 -pix_fmt yuv420p -movflags +faststart"},
        {"two.mkv", "-frames:v 2 -c:v ffv1 -pix_fmt bgr0"},
    };
    for (const auto& [name, args] : encodes) {
      const std::string cmd = "ffmpeg -nostdin -y -loglevel error " + input + " " + args + " " +
                              shell_quote((dir_ / name).string()) + " 2>" +
                              shell_quote((dir_ / "log").string());
      if (std::system(cmd.c_str()) != 0) {
        setup_error_ = "failed: " + cmd;
        return;
      }
    }
    // The ffmpeg command's own decode of the MP4, to compare pixels with.
    const std::string cmd = "ffmpeg -nostdin -y -loglevel error -i " +
                            shell_quote((dir_ / "h264.mp4").string()) + " -f rawvideo -pix_fmt rgb24 " +
                            shell_quote((dir_ / "h264_cli.rgb").string());
    if (std::system(cmd.c_str()) != 0) setup_error_ = "failed: " + cmd;
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void SetUp() override {
    if (!video_files_supported()) return;  // each test checks the build's error instead
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  }
  static std::string path(const char* name) { return (dir_ / name).string(); }

  static fs::path dir_;
  static std::string setup_error_;
};
fs::path VideoFiles::dir_;
std::string VideoFiles::setup_error_;

// In a build without FFmpeg, opening a video file must say so.
bool expect_unsupported_build(const std::string& file) {
  if (video_files_supported()) return false;
  try {
    open_frame_source(file);
    ADD_FAILURE() << "opened a video without FFmpeg";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("reads no video files"), std::string::npos) << e.what();
  }
  return true;
}

TEST_F(VideoFiles, FrameCountIsExactInEveryContainer) {
  for (const char* name :
       {"h264.mp4", "h264_one_key.mkv", "mpeg4.avi", "vp9.webm", "ffv1.mkv", "faststart.mp4"}) {
    if (expect_unsupported_build(path(name))) return;
    EXPECT_EQ(open_frame_source(path(name))->frame_count(), kFrames) << name;
  }
  EXPECT_EQ(open_frame_source(path("two.mkv"))->frame_count(), 2);
}

TEST_F(VideoFiles, EachSampledFrameIsTheRightOne) {
  if (expect_unsupported_build(path("h264.mp4"))) return;
  const std::vector<int64_t> picks = {29, 0, 15, 15, 7, 8, 28, 1, 22};  // any order, repeats, both ends
  for (const char* name :
       {"h264.mp4", "h264_one_key.mkv", "mpeg4.avi", "vp9.webm", "ffv1.mkv", "faststart.mp4"}) {
    SCOPED_TRACE(name);
    auto video = open_frame_source(path(name));
    for (int round = 0; round < 2; ++round) {  // a second read of the same source seeks back
      const HostTensor frames = video->read(picks);
      ASSERT_EQ(frames.shape(), (Shape{int64_t(picks.size()), kH, kW, 3}));
      const size_t frame_bytes = size_t(kH * kW * 3);
      for (size_t j = 0; j < picks.size(); ++j) {
        const uint8_t* got = frames.data<uint8_t>() + j * frame_bytes;
        EXPECT_EQ(frame_number(got), picks[j]) << "pick " << j;
        // Within codec tolerance of what the encoder was given (FFV1 is lossless).
        const HostTensor want = source_frame(picks[j]);
        const double diff = mean_abs_diff(got, want.data<uint8_t>(), frame_bytes);
        if (std::string(name) == "ffv1.mkv")
          EXPECT_EQ(diff, 0.0) << "pick " << j;
        else
          EXPECT_LT(diff, 3.0) << "pick " << j;
      }
    }
  }
}

TEST_F(VideoFiles, PixelsEqualTheFfmpegCommandsDecode) {
  if (expect_unsupported_build(path("h264.mp4"))) return;
  std::ifstream in(path("h264_cli.rgb"), std::ios::binary);
  std::vector<char> cli((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t frame_bytes = size_t(kH * kW * 3);
  ASSERT_EQ(cli.size(), size_t(kFrames) * frame_bytes);
  std::vector<int64_t> all(kFrames);
  for (int64_t i = 0; i < kFrames; ++i) all[size_t(i)] = i;
  const HostTensor frames = open_frame_source(path("h264.mp4"))->read(all);
  EXPECT_EQ(std::memcmp(frames.raw(), cli.data(), cli.size()), 0)
      << "mean abs diff "
      << mean_abs_diff(frames.data<uint8_t>(), reinterpret_cast<const uint8_t*>(cli.data()), cli.size());
}

TEST_F(VideoFiles, LoadClipSamplesPreprocessesAndPads) {
  if (expect_unsupported_build(path("h264.mp4"))) return;
  const Clip clip = load_clip(path("h264.mp4"));
  EXPECT_EQ(clip.source_frames, kFrames);
  EXPECT_EQ(clip.indices, sample_frame_indices(kFrames, {}));
  EXPECT_EQ(clip.indices, (std::vector<int64_t>{3, 10, 18, 25}));  // segments [0,6] [7,14] [15,21] [22,29]
  ASSERT_EQ(clip.pixels.shape(), (Shape{4, 3, 224, 224}));
  const HostTensor want = test_transform(open_frame_source(path("h264.mp4"))->read(clip.indices));
  EXPECT_EQ(std::memcmp(clip.pixels.raw(), want.raw(), want.bytes()), 0);

  // A two-frame video in a four-frame clip: the last two frames are zero, after normalisation.
  const Clip short_clip = load_clip(path("two.mkv"));
  EXPECT_EQ(short_clip.indices, (std::vector<int64_t>{0, 1}));
  const size_t frame = 3 * 224 * 224;
  const float* px = short_clip.pixels.data<float>();
  EXPECT_TRUE(std::any_of(px, px + 2 * frame, [](float v) { return v != 0.0f; }));
  EXPECT_TRUE(std::all_of(px + 2 * frame, px + 4 * frame, [](float v) { return v == 0.0f; }));

  // Training: random frames and crop, seeded.
  ClipOptions train;
  train.train = true;
  train.sampling = {.num_frames = 4, .mode = FrameSampling::Rand, .seed = 3, .sample = 17};
  const Clip a = load_clip(path("h264.mp4"), train), b = load_clip(path("h264.mp4"), train);
  EXPECT_EQ(a.indices, b.indices);
  EXPECT_EQ(std::memcmp(a.pixels.raw(), b.pixels.raw(), a.pixels.bytes()), 0);
}

TEST_F(VideoFiles, BadFilesAreErrorsNamingTheFile) {
  auto expect_bad = [](const std::string& file, const std::function<void()>& fn) {
    try {
      fn();
      ADD_FAILURE() << "accepted " << file;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
    }
  };
  // Not a video at all.
  const std::string garbage = path("garbage.mp4");
  {
    std::ofstream out(garbage, std::ios::binary);
    for (int i = 0; i < 5000; ++i) out.put(char((i * 7919) % 251));
  }
  expect_bad(garbage, [&] { open_frame_source(garbage); });
  if (!video_files_supported()) return;
  // Truncated: the first half of a faststart MP4 (its index up front, half the frames missing). It opens
  // with exactly the frames the ffmpeg command decodes from it, each the right one; the cut-off packet is
  // not counted.
  const std::string cut = path("cut.mp4");
  fs::copy_file(path("faststart.mp4"), cut, fs::copy_options::overwrite_existing);
  fs::resize_file(cut, fs::file_size(cut) / 2);
  const std::string cli = path("cut_cli.rgb");
  const std::string cmd = "ffmpeg -nostdin -y -loglevel quiet -i " + shell_quote(cut) +
                          " -f rawvideo -pix_fmt rgb24 " + shell_quote(cli);
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const int64_t cli_frames = int64_t(fs::file_size(cli)) / (kW * kH * 3);
  ASSERT_GT(cli_frames, 0);
  ASSERT_LT(cli_frames, kFrames);
  auto truncated = open_frame_source(cut);
  EXPECT_EQ(truncated->frame_count(), cli_frames);
  std::vector<int64_t> all(size_t(truncated->frame_count()));
  for (size_t i = 0; i < all.size(); ++i) all[i] = int64_t(i);
  const HostTensor decoded = truncated->read(all);
  for (size_t i = 0; i < all.size(); ++i)
    EXPECT_EQ(frame_number(decoded.data<uint8_t>() + i * size_t(kW * kH * 3)), int64_t(i));
  // The MP4 without faststart, truncated, has lost its index (at the end): it does not open.
  const std::string cut2 = path("cut2.mp4");
  fs::copy_file(path("h264.mp4"), cut2, fs::copy_options::overwrite_existing);
  fs::resize_file(cut2, fs::file_size(cut2) / 2);
  expect_bad(cut2, [&] { open_frame_source(cut2); });
  // Limits: too many frames, too many pixels.
  VideoLimits few;
  few.max_frames = 10;
  expect_bad(path("h264.mp4"), [&] { open_frame_source(path("h264.mp4"), few); });
  VideoLimits small;
  small.max_pixels = 32 * 32;
  expect_bad(path("h264.mp4"), [&] { open_frame_source(path("h264.mp4"), small); });
  // An index outside the video.
  auto video = open_frame_source(path("h264.mp4"));
  EXPECT_THROW(video->read(std::vector<int64_t>{kFrames}), Error);
  EXPECT_THROW(video->read(std::vector<int64_t>{-1}), Error);
}

// Tiny frames, every side from 1 to 33 pixels, in raw YUV 4:2:0 / 4:4:4, RGB and grey, and FFV1: swscale's
// vector code writes whole blocks past a row's end, which once corrupted the heap (2x2 raw YUV aborted in
// free(); widths 4..15 wrote out of bounds under valgrind). Each decodes to the bytes the `ffmpeg` command
// decodes. The sanitizer build runs it under ASan.
TEST_F(VideoFiles, TinyFramesDecodeAsTheFfmpegCommand) {
  if (expect_unsupported_build(path("h264.mp4"))) return;
  const std::pair<const char*, const char*> formats[] = {{"raw420", "-c:v rawvideo -pix_fmt yuv420p"},
                                                         {"raw444", "-c:v rawvideo -pix_fmt yuv444p"},
                                                         {"rgb24", "-c:v rawvideo -pix_fmt rgb24"},
                                                         {"gray", "-c:v rawvideo -pix_fmt gray"},
                                                         {"ffv1", "-c:v ffv1 -pix_fmt yuv420p"}};
  std::vector<std::pair<int, int>> sizes;
  for (int s = 1; s <= 33; ++s) sizes.emplace_back(s, s);
  for (auto wh : {std::pair{1, 7}, {7, 1}, {3, 2}, {17, 5}, {5, 31}}) sizes.push_back(wh);
  int compared = 0;
  for (const auto& [w, h] : sizes) {
    for (const auto& [label, args] : formats) {
      const std::string name =
          std::string("tiny_") + label + "_" + std::to_string(w) + "x" + std::to_string(h);
      SCOPED_TRACE(name);
      // NUT holds every raw format; testsrc2 scaled down keeps odd sides (testsrc2 alone rounds them).
      const std::string video = path((name + ".nut").c_str()), rgb = path((name + ".rgb").c_str());
      const std::string make =
          "ffmpeg -nostdin -y -loglevel quiet -f lavfi -i testsrc2=size=64x64:rate=5 -vf scale=" +
          std::to_string(w) + ":" + std::to_string(h) + ":flags=neighbor -frames:v 3 " + args + " " +
          shell_quote(video);
      const std::string decode = "ffmpeg -nostdin -y -loglevel quiet -i " + shell_quote(video) +
                                 " -f rawvideo -pix_fmt rgb24 " + shell_quote(rgb);
      if (std::system(make.c_str()) != 0 || std::system(decode.c_str()) != 0) continue;
      const std::string want = [&] {
        std::ifstream in(rgb, std::ios::binary);
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      }();
      auto source = open_frame_source(video);
      std::vector<int64_t> all(size_t(source->frame_count()));
      for (size_t i = 0; i < all.size(); ++i) all[i] = int64_t(i);
      const HostTensor got = source->read(all);
      ASSERT_EQ(got.shape(), (Shape{3, h, w, 3}));
      ASSERT_EQ(got.bytes(), want.size());
      EXPECT_EQ(std::memcmp(got.raw(), want.data(), want.size()), 0)
          << "mean abs diff "
          << mean_abs_diff(got.data<uint8_t>(), reinterpret_cast<const uint8_t*>(want.data()), want.size());
      ++compared;
      fs::remove(video);
      fs::remove(rgb);
    }
  }
  EXPECT_EQ(compared, int(sizes.size() * std::size(formats)));  // the ffmpeg command makes every case
}

// Damaged copies of the test videos (bytes overwritten at Philox-chosen places, or cut short): each either
// opens and delivers its sampled frames or is an Error naming the file — never a crash or a hang. The
// sanitizer build runs this under ASan/UBSan (frost's code; FFmpeg itself is not instrumented).
TEST_F(VideoFiles, DamagedFilesNeverCrash) {
  if (expect_unsupported_build(path("h264.mp4"))) return;
  const Philox rng(2024);
  int opened = 0, refused = 0;
  uint64_t counter = 0;
  for (const char* name : {"h264.mp4", "h264_one_key.mkv", "mpeg4.avi", "vp9.webm"}) {
    std::ifstream in(path(name), std::ios::binary);
    const std::vector<char> original((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (int mutant = 0; mutant < 30; ++mutant) {
      std::vector<char> bytes = original;
      if (mutant % 5 == 4) {  // cut short
        bytes.resize(size_t(rng.uniform(counter++) * float(bytes.size())));
      } else {
        for (int k = 0; k < 8; ++k) {
          const size_t at = size_t(rng.uniform(counter++) * float(bytes.size() - 1));
          bytes[at] = char(rng.block(counter++)[0]);
        }
      }
      const std::string damaged = path("damaged.bin");
      std::ofstream(damaged, std::ios::binary | std::ios::trunc)
          .write(bytes.data(), std::streamsize(bytes.size()));
      try {
        const Clip clip = load_clip(damaged);
        EXPECT_EQ(clip.pixels.shape(), (Shape{4, 3, 224, 224}));
        ++opened;
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(damaged), std::string::npos) << e.what();
        ++refused;
      }
    }
  }
  EXPECT_EQ(opened + refused, 120);
  std::printf("damaged videos: %d decoded, %d refused with an error\n", opened, refused);
}

// ---- timestamps: the frames the ffmpeg command decodes ----------------------------------------------------

// Containers x codecs x B-frames x start offsets, and the streams whose timestamps do not map one-to-one onto
// displayed frames (issue 17): cut inside a group of pictures, an open GOP cut at its I frame (leading
// pictures the decoder cannot deliver), raw H.264 remuxed with `-c copy` (pts = dts in decode order), a raw
// elementary stream (no timestamps), a repeated timestamp, interlaced H.264 and MPEG-2, MPEG-TS, MPEG-PS,
// MP4 and MKV. Each is made at set-up by the `ffmpeg` command from testsrc2 (60 frames of 64x48), and its
// truth is what the same command decodes (every frame the decoder outputs, -fps_mode passthrough, rgb24).
class VideoTimestamps : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    quiet_ffmpeg_log();  // the damaged cases would fill the log with FFmpeg's own view (frost warns itself)
    dir_ = fs::temp_directory_path() / ("frost_vts_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    if (std::system("command -v ffmpeg >/dev/null 2>&1") != 0) {
      setup_error_ = "the ffmpeg command is missing (scripts/install_deps.sh installs it)";
      return;
    }
    const std::string x = "ffmpeg -nostdin -y -loglevel error ";
    const std::string src = x + "-f lavfi -i testsrc2=size=64x48:rate=25:duration=2.4 ";
    const std::string dmg_src = x + "-f lavfi -i testsrc2=size=320x240:rate=25:duration=4 ";
    // (name, command run in the folder); later commands may read earlier files.
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"h264_bf3_one_gop.ts", src + "-c:v libx264 -bf 3 -g 250 -f mpegts h264_bf3_one_gop.ts"},
        {"h264_bf3.ts", src + "-c:v libx264 -bf 3 -g 12 -f mpegts h264_bf3.ts"},
        {"h264_bf0.ts", src + "-c:v libx264 -bf 0 -g 12 -f mpegts h264_bf0.ts"},
        {"h264_bf2.mkv", src + "-c:v libx264 -bf 2 -g 12 h264_bf2.mkv"},
        {"h264_bf2.mp4", src + "-c:v libx264 -bf 2 -g 12 h264_bf2.mp4"},
        {"h264_offset.mp4", src + "-c:v libx264 -bf 2 -g 12 -output_ts_offset 7.3 h264_offset.mp4"},
        {"h264_offset.ts", src + "-c:v libx264 -bf 2 -g 12 -output_ts_offset 7.3 -f mpegts h264_offset.ts"},
        {"h264_offset.mkv", src + "-c:v libx264 -bf 2 -g 12 -output_ts_offset 7.3 h264_offset.mkv"},
        {"h264_ps.mpg", src + "-c:v libx264 -bf 2 -g 12 -f mpeg h264_ps.mpg"},
        {"mpeg2_bf2.ts", src + "-c:v mpeg2video -bf 2 -g 12 -f mpegts mpeg2_bf2.ts"},
        {"mpeg2_bf2.mpg", src + "-c:v mpeg2video -bf 2 -g 12 -f vob mpeg2_bf2.mpg"},
        {"hevc_bf3.ts",
         src + "-c:v libx265 -x265-params bframes=3:keyint=12:log-level=none -f mpegts hevc_bf3.ts"},
        {"hevc_bf3.mp4", src + "-c:v libx265 -x265-params bframes=3:keyint=12:log-level=none hevc_bf3.mp4"},
        {"raw.h264", src + "-c:v libx264 -bf 2 -g 12 -f h264 raw.h264"},
        {"remux.mp4", x + "-r 25 -i raw.h264 -c copy remux.mp4"},
        {"open_gop.ts", src + "-c:v libx264 -bf 3 -g 12 -x264-params open-gop=1 -f mpegts open_gop.ts"},
        {"open_gop_cut.ts", x + "-i open_gop.ts -ss 0.5 -c copy -copyinkf -f mpegts open_gop_cut.ts"},
        {"cut_mid_gop.ts", x + "-i h264_bf3.ts -ss 0.3 -c copy -copyinkf -f mpegts cut_mid_gop.ts"},
        {"cut_mid_gop.mp4", x + "-i h264_bf2.mp4 -ss 0.3 -c copy -copyinkf cut_mid_gop.mp4"},
        {"cut_mid_gop.mkv", x + "-i h264_bf2.mkv -ss 0.3 -c copy -copyinkf cut_mid_gop.mkv"},
        {"byte_cut.ts", "dd if=h264_bf3.ts of=byte_cut.ts bs=188 skip=20 2>/dev/null"},  // a segment's tail
        {"interlaced_h264.ts", src + "-c:v libx264 -flags +ildct+ilme -x264-params interlaced=1 -bf 2 -g 12 "
                                     "-f mpegts interlaced_h264.ts"},
        {"interlaced_mpeg2.ts",
         src + "-c:v mpeg2video -flags +ildct+ilme -top 1 -bf 2 -g 12 -f mpegts interlaced_mpeg2.ts"},
        {"repeated_ts.mkv",
         src + "-c:v libx264 -bf 0 -g 12 -bsf:v 'setts=ts=if(eq(N\\,5)\\,PREV_OUTPTS\\,TS)' repeated_ts.mkv"},
        {"damage_source.mp4", dmg_src + "-c:v libx264 -g 50 -bf 2 -crf 18 damage_source.mp4"},
        {"gop10.mp4",
         x + "-f lavfi -i testsrc2=size=64x48:rate=25:duration=4 -c:v libx264 -g 10 -keyint_min 10 "
             "-sc_threshold 0 -bf 2 gop10.mp4"},
        {"gop10.packets",
         "ffprobe -v error -select_streams v -show_entries packet=pos,flags -of csv=p=0 "
         "gop10.mp4 > gop10.packets"},
    };
    for (const auto& [name, command] : cases) {
      const std::string cmd = "cd '" + dir_.string() + "' && " + command + " 2>>log";
      if (std::system(cmd.c_str()) != 0) {
        setup_error_ = "failed: " + command;
        return;
      }
      if (name != "damage_source.mp4" && name != "gop10.packets" && name != "gop10.mp4")
        names_.push_back(name);
    }
    // gop10.mp4 with the first 15 bytes of one packet zeroed (its NAL length field: the decoder rejects the
    // packet and its frame is lost): packet 21 (a B-frame nothing predicts from), 41 (inside a GOP no
    // 4-frame sample decodes), 82 (near the last sampled frame).
    std::vector<int64_t> positions;
    std::ifstream packets(dir_ / "gop10.packets");
    for (std::string line; std::getline(packets, line);) positions.push_back(std::stoll(line));
    std::ifstream source(dir_ / "gop10.mp4", std::ios::binary);
    const std::vector<char> gop10((std::istreambuf_iterator<char>(source)), std::istreambuf_iterator<char>());
    for (int k : {21, 41, 82}) {
      if (positions.size() < 100) {
        setup_error_ = "gop10.mp4 has " + std::to_string(positions.size()) + " packets, not 100";
        return;
      }
      std::vector<char> bytes = gop10;
      std::fill_n(bytes.begin() + std::ptrdiff_t(positions[size_t(k)]), 15, char(0));
      std::ofstream(dir_ / ("lost_packet_" + std::to_string(k) + ".mp4"), std::ios::binary)
          .write(bytes.data(), std::streamsize(bytes.size()));
    }
    // 5,000 bytes zeroed in the middle of an H.264 MP4: the decoder rejects a packet and conceals damage.
    std::ifstream in(dir_ / "damage_source.mp4", std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::fill(bytes.begin() + std::ptrdiff_t(bytes.size() / 2),
              bytes.begin() + std::ptrdiff_t(bytes.size() / 2 + 5000), char(0));
    std::ofstream(dir_ / "damaged.mp4", std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void SetUp() override {
    if (!video_files_supported()) GTEST_SKIP() << "this build reads no video files (no FFmpeg)";
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  }
  static std::string path(const std::string& name) { return (dir_ / name).string(); }

  // Every frame the ffmpeg command decodes from `file`, rgb24, each `frame_bytes` long; `decoder` options go
  // before the input (-threads 1: damaged data decodes as frost decodes it, one thread).
  static std::vector<uint8_t> ffmpeg_frames(const std::string& file, const std::string& decoder = "") {
    const std::string out = path("cli.rgb");
    const std::string cmd = "ffmpeg -nostdin -y -loglevel quiet " + decoder + " -i " + shell_quote(file) +
                            " -fps_mode passthrough -f rawvideo -pix_fmt rgb24 " + shell_quote(out);
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::ifstream in(out, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  static fs::path dir_;
  static std::string setup_error_;
  static std::vector<std::string> names_;
};
fs::path VideoTimestamps::dir_;
std::string VideoTimestamps::setup_error_;
std::vector<std::string> VideoTimestamps::names_;

// Holds `video` to the ffmpeg command's decode: the same count, and each frame — read one at a time in a
// scattered order (every read seeks), then all at once — byte-identical to the command's frame. `order`
// reads are skipped past `max_scattered` frames (a long one-GOP file would decode for a while).
void expect_frames_as_ffmpeg_with(const std::string& file, const std::vector<uint8_t>& cli,
                                  const VideoLimits& limits, int max_scattered) {
  auto video = open_frame_source(file, limits);
  const int64_t n = video->frame_count();
  ASSERT_GT(n, 0);
  const HostTensor first = video->read(std::vector<int64_t>{0});
  const size_t frame_bytes = first.bytes();
  ASSERT_EQ(cli.size() % frame_bytes, 0u);
  ASSERT_EQ(n, int64_t(cli.size() / frame_bytes))
      << "frames: frost " << n << ", ffmpeg " << cli.size() / frame_bytes;
  auto expect_frame = [&](const uint8_t* got, int64_t i) {
    const uint8_t* want = cli.data() + size_t(i) * frame_bytes;
    EXPECT_EQ(std::memcmp(got, want, frame_bytes), 0)
        << "frame " << i << " of " << n << ": mean abs diff " << mean_abs_diff(got, want, frame_bytes);
  };
  if (n <= max_scattered)
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = (k * 37 + n - 1) % n;  // 37 is prime to every count here: each frame once
      expect_frame(video->read(std::vector<int64_t>{i}).data<uint8_t>(), i);
    }
  std::vector<int64_t> all(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) all[size_t(i)] = i;
  const HostTensor every = open_frame_source(file, limits)->read(all);
  for (int64_t i = 0; i < n; ++i) expect_frame(every.data<uint8_t>() + size_t(i) * frame_bytes, i);
}

// The same for a clean file: no warning either.
void expect_frames_as_ffmpeg(const std::string& file, const std::vector<uint8_t>& cli,
                             int max_scattered = 100) {
  std::vector<std::string> warnings;
  VideoLimits limits;
  limits.on_warning = [&](const std::string& m) { warnings.push_back(m); };
  expect_frames_as_ffmpeg_with(file, cli, limits, max_scattered);
  EXPECT_TRUE(warnings.empty()) << warnings.front();
}

TEST_F(VideoTimestamps, EveryFrameIsTheFfmpegCommandsFrameInEveryContainer) {
  ASSERT_GE(names_.size(), 24u);
  for (const std::string& name : names_) {
    SCOPED_TRACE(name);
    expect_frames_as_ffmpeg(path(name), ffmpeg_frames(path(name)));
  }
}

// The field cases (tests/fixtures/video_cases, from ../shared/cases): each failed with "frame N of M could
// not be decoded" when frames were indexed by packet timestamps and found again by seeking to them.
TEST_F(VideoTimestamps, FieldCasesSampleTheFramesTheFfmpegCommandDecodes) {
  const std::string dir = std::string(FROST_TEST_FIXTURES) + "/video_cases/";
  const std::tuple<std::string, int64_t, std::vector<int64_t>> cases[] = {
      {"h264_bframes.ts", 10, {0, 3, 5, 8}},
      {"long.ts", 300, {37, 112, 187, 262}},
      {"remux.mp4", 28, {3, 10, 17, 24}},
  };
  for (const auto& [name, frames, picks] : cases) {
    SCOPED_TRACE(name);
    const std::vector<uint8_t> cli = ffmpeg_frames(dir + name);
    expect_frames_as_ffmpeg(dir + name, cli, 30);
    const Clip clip = load_clip(dir + name);
    EXPECT_EQ(clip.source_frames, frames);
    EXPECT_EQ(clip.indices, picks);
    const HostTensor sampled = open_frame_source(dir + name)->read(clip.indices);
    const size_t frame_bytes = sampled.bytes() / picks.size();
    for (size_t k = 0; k < picks.size(); ++k)
      EXPECT_EQ(std::memcmp(sampled.data<uint8_t>() + k * frame_bytes,
                            cli.data() + size_t(picks[k]) * frame_bytes, frame_bytes),
                0)
          << "frame " << picks[k];
  }
}

// Zeroed bytes in the middle of an H.264 MP4 (the field case): the decoder rejects one packet and conceals
// the damage in the frames after it. frost counts the frames the ffmpeg command decodes (one fewer than the
// packets), samples from those, and names the file and the damaged frames through the warning sink; with
// nobody to tell (no sink) the damaged frames are refused. The clean source raises nothing.
TEST_F(VideoTimestamps, DamagedFramesAreReportedNamingTheFileAndFrames) {
  const std::string damaged = path("damaged.mp4");
  const int64_t cli_frames = int64_t(ffmpeg_frames(damaged).size() / (320 * 240 * 3));
  ASSERT_EQ(int64_t(ffmpeg_frames(path("damage_source.mp4")).size() / (320 * 240 * 3)), 100);
  ASSERT_EQ(cli_frames, 99);  // the rejected packet's frame is lost
  std::vector<std::string> warnings;
  ClipOptions o;
  o.sampling.num_frames = 16;
  o.limits.on_warning = [&](const std::string& m) { warnings.push_back(m); };
  const Clip clip = load_clip(damaged, o);
  EXPECT_EQ(clip.source_frames, cli_frames);
  EXPECT_EQ(clip.indices, sample_frame_indices(cli_frames, o.sampling));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(
      warnings[0].find(damaged + ": damaged data: the decoder rejects 1 packet, whose frame is lost (99 "
                                 "frames remain); frames "),
      std::string::npos)
      << warnings[0];
  EXPECT_NE(warnings[0].find("of 99 decoded from it (the decoder concealed the damage)"), std::string::npos)
      << warnings[0];
  // Every frame read at once: the same count, the damage reported once.
  warnings.clear();
  auto video = open_frame_source(damaged, o.limits);
  std::vector<int64_t> all(size_t(video->frame_count()));
  for (size_t i = 0; i < all.size(); ++i) all[i] = int64_t(i);
  try {
    video->read(all);
  } catch (const FrameCountChanged& e) {  // the packets promised 100
    EXPECT_NE(std::string(e.what()).find("delivers 99 frames, not the 100"), std::string::npos) << e.what();
    all.resize(size_t(video->frame_count()));
    warnings.clear();
    video->read(all);
  }
  EXPECT_EQ(video->frame_count(), 99);
  ASSERT_EQ(warnings.size(), 1u);
  // Every frame, damaged or not, as `ffmpeg -threads 1` decodes it (one thread conceals damage the same way
  // on every machine).
  {
    const std::vector<uint8_t> cli = ffmpeg_frames(damaged, "-threads 1");
    std::vector<std::string> said;
    VideoLimits limits;
    limits.on_warning = [&](const std::string& m) { said.push_back(m); };
    auto fresh = open_frame_source(damaged, limits);
    std::vector<int64_t> every(static_cast<size_t>(99));
    for (size_t i = 0; i < every.size(); ++i) every[i] = int64_t(i);
    HostTensor frames;
    try {
      frames = fresh->read(every);
    } catch (const FrameCountChanged&) {
      frames = fresh->read(every);
    }
    ASSERT_EQ(frames.bytes(), cli.size());
    for (size_t i = 0; i < every.size(); ++i)
      EXPECT_EQ(std::memcmp(frames.data<uint8_t>() + i * 320 * 240 * 3, cli.data() + i * 320 * 240 * 3,
                            320 * 240 * 3),
                0)
          << "frame " << i;
  }
  // No sink: refused, naming the file.
  try {
    load_clip(damaged, {.sampling = {.num_frames = 16}});
    ADD_FAILURE() << "damaged frames decoded with nobody told";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::BadFile);
    EXPECT_NE(std::string(e.what()).find(damaged + ": damaged data"), std::string::npos) << e.what();
  }
  // The clean source: no warning for any frame.
  warnings.clear();
  o.sampling.num_frames = 100;
  load_clip(path("damage_source.mp4"), o);
  EXPECT_TRUE(warnings.empty()) << warnings.front();
}

// One packet of a 100-frame MP4 that the decoder rejects (its NAL length field zeroed), wherever it lies:
// a B-frame nothing predicts from, a GOP that no 4-frame sample decodes, near the last sampled frame. The
// count is the ffmpeg command's 99 (the damaged packet is found while indexing, without decoding), the
// sampled frames are the command's, every frame equals its `-threads 1` decode, and the read names the lost
// frame; --strict (a throwing sink) refuses it.
TEST_F(VideoTimestamps, APacketTheDecoderRejectsIsCountedAsFfmpegCountsIt) {
  for (int k : {21, 41, 82}) {
    const std::string file = path("lost_packet_" + std::to_string(k) + ".mp4");
    SCOPED_TRACE(file);
    const std::vector<uint8_t> cli = ffmpeg_frames(file, "-threads 1");
    ASSERT_EQ(cli.size(), size_t(99) * 64 * 48 * 3);
    std::vector<std::string> warnings;
    ClipOptions o;
    o.limits.on_warning = [&](const std::string& m) { warnings.push_back(m); };
    const Clip clip = load_clip(file, o);
    EXPECT_EQ(clip.source_frames, 99);
    EXPECT_EQ(clip.indices, (std::vector<int64_t>{11, 36, 61, 86}));
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find(file + ": damaged data: the decoder rejects 1 packet, whose frame is lost (99 "
                                      "frames remain)"),
              std::string::npos)
        << warnings[0];
    warnings.clear();
    expect_frames_as_ffmpeg_with(file, cli, o.limits, 100);
    EXPECT_FALSE(warnings.empty());
    o.limits.on_warning = [](const std::string& m) { throw_error(ErrorCategory::InvalidArgument, m); };
    EXPECT_THROW(load_clip(file, o), Error);
  }
}

// ---- frame folders and images ---------------------------------------------------------------------------

class FrameFolders : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("frost_frames_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "clip");
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(FrameFolders, FramesAreTheImagesSortedByName) {
  // Written out of order, with other files and a folder that must be ignored.
  const int64_t order[] = {3, 0, 2, 1};
  for (int64_t i : order)
    write_png((dir_ / "clip" / ("frame_" + std::to_string(1000 + i) + ".png")).string(), source_frame(i));
  std::ofstream(dir_ / "clip" / "notes.txt") << "not a frame";
  fs::create_directories(dir_ / "clip" / "sub.png");
  auto source = open_frame_source((dir_ / "clip").string());
  EXPECT_EQ(source->frame_count(), 4);
  const HostTensor frames = source->read(std::vector<int64_t>{2, 0, 3});
  ASSERT_EQ(frames.shape(), (Shape{3, kH, kW, 3}));
  const size_t frame_bytes = size_t(kH * kW * 3);
  EXPECT_EQ(std::memcmp(frames.data<uint8_t>(), source_frame(2).raw(), frame_bytes), 0);
  EXPECT_EQ(std::memcmp(frames.data<uint8_t>() + frame_bytes, source_frame(0).raw(), frame_bytes), 0);
  EXPECT_EQ(std::memcmp(frames.data<uint8_t>() + 2 * frame_bytes, source_frame(3).raw(), frame_bytes), 0);
  // A clip of 8 from 4 frames: all four, then zeros.
  ClipOptions o;
  o.sampling.num_frames = 8;
  const Clip clip = load_clip((dir_ / "clip").string(), o);
  EXPECT_EQ(clip.indices, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(clip.pixels.shape(), (Shape{8, 3, 224, 224}));
}

TEST_F(FrameFolders, AnImageIsAOneFrameVideo) {
  const std::string png = (dir_ / "still.png").string();
  write_png(png, source_frame(5));
  auto source = open_frame_source(png);
  EXPECT_EQ(source->frame_count(), 1);
  const Clip clip = load_clip(png);
  EXPECT_EQ(clip.indices, (std::vector<int64_t>{0}));
  HostTensor one(DType::U8, {1, kH, kW, 3});
  std::memcpy(one.raw(), source_frame(5).raw(), one.bytes());
  const HostTensor want = test_transform(one);
  EXPECT_EQ(std::memcmp(clip.pixels.raw(), want.raw(), want.bytes()), 0);
  const float* px = clip.pixels.data<float>();
  EXPECT_TRUE(std::all_of(px + want.numel(), px + clip.pixels.numel(), [](float v) { return v == 0.0f; }));
}

TEST_F(FrameFolders, BadFoldersAreErrorsNamingThePlace) {
  auto expect_bad = [](const std::string& where, const char* part, const std::function<void()>& fn) {
    try {
      fn();
      ADD_FAILURE() << "accepted " << where;
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::BadFile);
      EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  const std::string clip = (dir_ / "clip").string();
  expect_bad(clip, "no .jpg, .jpeg or .png frames", [&] { open_frame_source(clip); });
  expect_bad((dir_ / "missing").string(), "no such file or folder",
             [&] { open_frame_source((dir_ / "missing").string()); });
  // Frames of different sizes cannot form a clip.
  write_png((dir_ / "clip" / "a.png").string(), source_frame(0));
  HostTensor other(DType::U8, {10, 12, 3});
  write_png((dir_ / "clip" / "b.png").string(), other);
  auto source = open_frame_source(clip);
  expect_bad((dir_ / "clip" / "b.png").string(), "12x10", [&] { source->read(std::vector<int64_t>{0, 1}); });
  // A corrupt frame names its file.
  std::ofstream((dir_ / "clip" / "c.png"), std::ios::binary) << "\x89PNG\r\n\x1a\n broken";
  auto again = open_frame_source(clip);
  expect_bad((dir_ / "clip" / "c.png").string(), "PNG", [&] { again->read(std::vector<int64_t>{2}); });
  // A frame name that is a dangling link or a FIFO is an error naming it: skipping it would shift which
  // frames are sampled (and a FIFO would block the read).
  fs::create_symlink(dir_ / "nowhere.png", dir_ / "clip" / "d.png");
  expect_bad((dir_ / "clip" / "d.png").string(), "dangling", [&] { open_frame_source(clip); });
  fs::remove(dir_ / "clip" / "d.png");
  ASSERT_EQ(::mkfifo((dir_ / "clip" / "e.png").c_str(), 0644), 0);
  expect_bad((dir_ / "clip" / "e.png").string(), "FIFO", [&] { open_frame_source(clip); });
  expect_bad((dir_ / "clip" / "e.png").string(), "FIFO",
             [&] { read_image((dir_ / "clip" / "e.png").string()); });
  fs::remove(dir_ / "clip" / "e.png");
}

}  // namespace
}  // namespace frost::loader

namespace frost::loader {
namespace {

// write_video's MP4 is read back through the decode path users' videos take: every frame there, in order,
// each frame's colour within H.264's loss of the one written; bad frames refused; the file atomic.
TEST(VideoWrite, FramesComeBackThroughTheDecoder) {
  if (!video_writing_supported()) GTEST_SKIP() << "this build writes no videos (no FFmpeg H.264 encoder)";
  const int64_t T = 12, H = 48, W = 64;
  HostTensor frames(DType::U8, {T, H, W, 3});
  auto colour = [](int64_t t, int c) { return uint8_t((37 * t + 80 * c + 20) % 256); };
  for (int64_t t = 0; t < T; ++t)
    for (int64_t p = 0; p < H * W; ++p)
      for (int c = 0; c < 3; ++c) frames.data<uint8_t>()[(t * H * W + p) * 3 + c] = colour(t, c);
  const std::string path = ::testing::TempDir() + "/frost_written.mp4";
  write_video(path, frames, {.fps = 10});
  const auto source = open_frame_source(path);
  ASSERT_EQ(source->frame_count(), T);
  const std::vector<int64_t> all = {0, 3, 7, 11};
  const HostTensor back = source->read(all);
  ASSERT_EQ(back.shape(), (Shape{4, H, W, 3}));
  for (size_t k = 0; k < all.size(); ++k) {
    for (int c = 0; c < 3; ++c) {
      double mean = 0;
      for (int64_t p = 0; p < H * W; ++p) mean += back.data<uint8_t>()[(int64_t(k) * H * W + p) * 3 + c];
      mean /= double(H * W);
      EXPECT_NEAR(mean, colour(all[k], c), 6.0) << "frame " << all[k] << " channel " << c;
    }
  }
  EXPECT_THROW(write_video(path, HostTensor(DType::U8, {2, 47, 64, 3})), Error);  // odd height
  EXPECT_THROW(write_video(path, HostTensor(DType::F32, {2, 48, 64, 3})), Error);
  EXPECT_THROW(write_video(path, frames, {.fps = 0}), Error);
  EXPECT_EQ(open_frame_source(path)->frame_count(), T);  // the refused writes left the file as it was
}

}  // namespace
}  // namespace frost::loader

// Loader benchmarks: turning a video into a model-ready clip. A 10 s, 30 fps, 1280x720 H.264 video (the
// `ffmpeg` command's testsrc2 pattern, made at start-up) with two key-frame spacings: x264's default
// (250 frames) and 1 s (30). `LoadClip` is what a caller pays for one 4-frame test clip (open, index,
// seek + decode the 4 sampled frames, preprocess); `DecodeAll` decodes every frame, which sampling with
// seeking avoids; the transforms are the preprocessing alone on 4 decoded frames.
//
//   build/bench/bench_loader --benchmark_repetitions=3
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <string>

#include "loader/preprocess.h"
#include "loader/video.h"

namespace {

using namespace frost;
using namespace frost::loader;

std::string video_path(int gop) {
  static const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("frost_bench_video_" + std::to_string(::getpid()));
  const std::filesystem::path file = dir / ("testsrc2_720p_gop" + std::to_string(gop) + ".mp4");
  if (!std::filesystem::exists(file)) {
    std::filesystem::create_directories(dir);
    const std::string cmd =
        "ffmpeg -nostdin -y -loglevel error -f lavfi -i testsrc2=size=1280x720:rate=30 -t 10 "
        "-c:v libx264 -preset veryfast -pix_fmt yuv420p -g " +
        std::to_string(gop) + " '" + file.string() + "'";
    if (std::system(cmd.c_str()) != 0) return {};
  }
  return file.string();
}

void LoadClip(benchmark::State& state) {
  const std::string path = video_path(int(state.range(0)));
  if (path.empty()) return state.SkipWithError("the ffmpeg command could not make the test video");
  for (auto _ : state) benchmark::DoNotOptimize(load_clip(path).pixels.raw());
}
BENCHMARK(LoadClip)->Arg(250)->Arg(30)->ArgName("gop")->Unit(benchmark::kMillisecond);

void DecodeAll(benchmark::State& state) {
  const std::string path = video_path(int(state.range(0)));
  if (path.empty()) return state.SkipWithError("the ffmpeg command could not make the test video");
  for (auto _ : state) {
    auto video = open_frame_source(path);
    for (int64_t i = 0; i < video->frame_count(); i += 30) {  // 30 frames at a time: ~80 MB of RGB per read
      std::vector<int64_t> chunk(size_t(std::min<int64_t>(30, video->frame_count() - i)));
      std::iota(chunk.begin(), chunk.end(), i);
      benchmark::DoNotOptimize(video->read(chunk).raw());
    }
  }
}
BENCHMARK(DecodeAll)->Arg(250)->ArgName("gop")->Unit(benchmark::kMillisecond);

HostTensor four_frames() {
  const std::string path = video_path(30);
  return path.empty() ? HostTensor{} : open_frame_source(path)->read(sample_frame_indices(300, {}));
}

void TestTransform720p(benchmark::State& state) {
  const HostTensor frames = four_frames();
  if (frames.bytes() == 0) return state.SkipWithError("no test video");
  for (auto _ : state) benchmark::DoNotOptimize(test_transform(frames).raw());
}
BENCHMARK(TestTransform720p)->Unit(benchmark::kMillisecond);

void TrainTransform720p(benchmark::State& state) {
  const HostTensor frames = four_frames();
  if (frames.bytes() == 0) return state.SkipWithError("no test video");
  uint64_t sample = 0;
  for (auto _ : state) {
    const TrainCrop crop = draw_train_crop(720, 1280, {}, 1, sample++);
    benchmark::DoNotOptimize(train_transform(frames, crop).raw());
  }
}
BENCHMARK(TrainTransform720p)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();

// The C API (include/frost/frost.h) through the shared library, as a product links it: every function, its
// results against the C++ encoder it wraps (model::DualEncoder, itself held to the PyTorch reference by the
// parity tests), its misuse (NULL handles, short buffers, unknown options, files that are not models), its
// callbacks, its threads, and what it must leave alone in the process (output streams, locale, signal
// handlers, OpenMP's thread count, FFmpeg's log level).
#include <algorithm>
#include <clocale>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include "frost/frost.h"
#include "loader/image.h"
#include "loader/preprocess.h"
#include "loader/safetensors.h"
#include "loader/tokenizer.h"
#include "loader/video_write.h"
#include "model/encoder.h"
#include "model/weights.h"

#ifdef FROST_TEST_FFMPEG
extern "C" {
#include <libavutil/log.h>
}
#endif

namespace {

namespace fs = std::filesystem;
using frost::DType;
using frost::HostTensor;

const std::string kWeights = FROST_PARITY_DIR "/fixtures/tiny_dual_weights.safetensors";
const std::string kVocab = FROST_PARITY_DIR "/fixtures/tiny_vocab.txt";
const std::vector<std::string> kCaptions = {
    "a man is cooking food in the kitchen", "dog running on the beach",
    "a video clip shows people playing a ball game on the field", "cat", "night street with car"};

frost_model_options tiny_options() {
  frost_model_options o;
  frost_model_options_init(&o);
  o.config = "tiny";
  o.vocab = kVocab.c_str();
  o.threads = 2;
  return o;
}

// The C++ encoder the C API wraps, opened on the same files.
frost::model::DualEncoder reference_encoder() {
  const frost::model::FitConfig c = frost::model::FitConfig::tiny();
  return frost::model::DualEncoder(c, frost::model::load_weights(c, {{kWeights}}),
                                   frost::loader::WordPieceTokenizer::from_path(kVocab));
}

// The name of an index item through the C API's copy-out call.
std::string item_name(const frost_index* ix, size_t row) {
  size_t length = 0;
  if (frost_index_item(ix, row, nullptr, 0, &length) != FROST_OK)
    return "<" + std::string(frost_last_error()) + ">";
  std::string name(length + 1, '\0');
  if (frost_index_item(ix, row, name.data(), name.size(), &length) != FROST_OK) return "<failed>";
  name.resize(length);
  return name;
}

std::vector<const char*> c_strings(const std::vector<std::string>& v) {
  std::vector<const char*> out;
  for (const std::string& s : v) out.push_back(s.c_str());
  return out;
}

// A test folder with frame folders (PNG) of deterministic noise, so that clips differ.
class CApi : public ::testing::Test {
 protected:
  void SetUp() override {
    make_dir();
    ASSERT_EQ(frost_model_open(kWeights.c_str(), &options_, &model_), FROST_OK) << frost_last_error();
  }
  void make_dir() {
    dir_ = (fs::temp_directory_path() / ("frost_capi_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::create_directories(dir_);
  }
  void TearDown() override {
    frost_model_free(model_);
    fs::remove_all(dir_);
  }
  // A folder of `frames` 40x48 PNG frames, seeded.
  std::string frame_folder(const std::string& name, int frames, uint64_t seed) {
    const std::string folder = dir_ + "/" + name;
    fs::create_directories(folder);
    for (int f = 0; f < frames; ++f) {
      HostTensor img(DType::U8, {40, 48, 3});
      uint64_t x = seed * 7919 + uint64_t(f) * 104729 + 1;
      for (int64_t i = 0; i < img.numel(); ++i) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        img.data<uint8_t>()[i] = uint8_t(x >> 56);
      }
      char file[32];
      std::snprintf(file, sizeof file, "/%05d.png", f);
      frost::loader::write_png(folder + file, img);
    }
    return folder;
  }
  std::string dir_;
  frost_model_options options_ = tiny_options();
  frost_model* model_ = nullptr;
};

TEST(CApiVersion, VersionsAndStatusNames) {
  EXPECT_STREQ(frost_version(), "0.1.0");
  EXPECT_EQ(frost_api_version(), FROST_API_VERSION);
  EXPECT_STREQ(frost_status_name(FROST_OK), "FROST_OK");
  EXPECT_STREQ(frost_status_name(FROST_CANCELLED), "FROST_CANCELLED");
  EXPECT_STREQ(frost_status_name(frost_status(99)), "unknown");
  EXPECT_NE(std::string(frost_notices()).find("Apache License 2.0"), std::string::npos);
  int available = -1;
  ASSERT_EQ(frost_backend_available("cpu", &available), FROST_OK);
  EXPECT_EQ(available, 1);
  ASSERT_EQ(frost_backend_available("tpu", &available), FROST_OK);
  EXPECT_EQ(available, 0);
  EXPECT_EQ(frost_backend_available(nullptr, &available), FROST_INVALID_ARGUMENT);
}

TEST_F(CApi, ModelDescribesItself) {
  EXPECT_EQ(frost_model_embedding_dim(model_), 32u);
  EXPECT_EQ(frost_model_num_frames(model_), 4u);
  EXPECT_EQ(frost_model_image_size(model_), 32u);
  EXPECT_EQ(frost::model::FitConfig::from_json(frost_model_config_json(model_), "capi").to_json(),
            frost::model::FitConfig::tiny().to_json());
  EXPECT_EQ(frost_model_embedding_dim(nullptr), 0u);
  EXPECT_STREQ(frost_model_config_json(nullptr), "");
}

TEST_F(CApi, TokenizeGivesTheTokenizersIds) {
  const std::vector<int32_t> want = frost::loader::WordPieceTokenizer::from_path(kVocab).encode(kCaptions[0]);
  size_t n = 0;
  ASSERT_EQ(frost_tokenize(model_, kCaptions[0].c_str(), nullptr, 0, &n), FROST_OK) << "the size query";
  EXPECT_EQ(n, want.size());
  size_t short_n = 0;
  int32_t two[2];
  EXPECT_EQ(frost_tokenize(model_, kCaptions[0].c_str(), two, 2, &short_n), FROST_INVALID_ARGUMENT);
  EXPECT_EQ(short_n, want.size()) << "a short buffer still gets the count";
  std::vector<int32_t> ids(n);
  ASSERT_EQ(frost_tokenize(model_, kCaptions[0].c_str(), ids.data(), ids.size(), &n), FROST_OK);
  EXPECT_EQ(ids, want);
  EXPECT_EQ(frost_tokenize(model_, "bad \xff utf-8", ids.data(), ids.size(), &n), FROST_INVALID_ARGUMENT);
  EXPECT_NE(std::string(frost_last_error()).find("UTF-8"), std::string::npos) << frost_last_error();
}

TEST_F(CApi, TextEmbeddingsEqualTheEncoders) {
  const std::vector<const char*> c = c_strings(kCaptions);
  std::vector<float> got(kCaptions.size() * 32, -1.f);
  ASSERT_EQ(frost_encode_text(model_, c.data(), c.size(), got.data(), got.size()), FROST_OK)
      << frost_last_error();
  const HostTensor want = reference_encoder().encode_text(kCaptions).embedding;
  ASSERT_EQ(size_t(want.numel()), got.size());
  EXPECT_EQ(std::memcmp(got.data(), want.raw(), want.bytes()), 0);
  // Zero captions: nothing written, success, even with NULL arrays.
  EXPECT_EQ(frost_encode_text(model_, nullptr, 0, nullptr, 0), FROST_OK);
}

TEST_F(CApi, FramesInMemoryEqualTheEncoderOnTheTestTransform) {
  const size_t N = 3, F = 2, H = 36, W = 50;
  std::vector<uint8_t> rgb(N * F * H * W * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = uint8_t((i * 2654435761u) >> 13);
  std::vector<float> got(N * 32);
  ASSERT_EQ(frost_encode_frames(model_, rgb.data(), N, F, H, W, got.data(), got.size()), FROST_OK)
      << frost_last_error();
  HostTensor clips(DType::F32, {int64_t(N), int64_t(F), 3, 32, 32});
  for (size_t n = 0; n < N; ++n) {
    HostTensor frames(DType::U8, {int64_t(F), int64_t(H), int64_t(W), 3});
    std::memcpy(frames.raw(), rgb.data() + n * F * H * W * 3, frames.bytes());
    const HostTensor pixels = frost::loader::test_transform(frames, {.size = 32});
    std::memcpy(clips.data<float>() + int64_t(n) * pixels.numel(), pixels.raw(), pixels.bytes());
  }
  const HostTensor want = reference_encoder().encode_clips(clips).embedding;
  EXPECT_EQ(std::memcmp(got.data(), want.raw(), want.bytes()), 0);
  // Frames out of range, a frame too large, a short buffer.
  EXPECT_EQ(frost_encode_frames(model_, rgb.data(), N, 0, H, W, got.data(), got.size()),
            FROST_INVALID_ARGUMENT);
  EXPECT_EQ(frost_encode_frames(model_, rgb.data(), 1, 5, H, W, got.data(), got.size()),
            FROST_INVALID_ARGUMENT);
  EXPECT_NE(std::string(frost_last_error()).find("1 to 4 frames"), std::string::npos) << frost_last_error();
  EXPECT_EQ(frost_encode_frames(model_, rgb.data(), 1, 1, 1u << 20, 1u << 20, got.data(), got.size()),
            FROST_INVALID_ARGUMENT);
  EXPECT_EQ(frost_encode_frames(model_, rgb.data(), N, F, H, W, got.data(), got.size() - 1),
            FROST_INVALID_ARGUMENT);
}

TEST_F(CApi, VideosAndImagesEqualTheEncoders) {
  const std::vector<std::string> videos = {frame_folder("a", 6, 1), frame_folder("b", 9, 2)};
  const std::string image = dir_ + "/still.png";
  {
    HostTensor img(DType::U8, {30, 30, 3});
    for (int64_t i = 0; i < img.numel(); ++i) img.data<uint8_t>()[i] = uint8_t(i * 37);
    frost::loader::write_png(image, img);
  }
  frost::model::DualEncoder ref = reference_encoder();
  std::vector<float> got(3 * 32);
  // Videos and an image in one call: the image is a one-frame clip, as frost_encode_images makes it.
  const std::vector<std::string> mixed = {videos[0], image, videos[1]};
  const std::vector<const char*> c = c_strings(mixed);
  ASSERT_EQ(frost_encode_videos(model_, c.data(), 3, got.data(), got.size()), FROST_OK) << frost_last_error();
  const HostTensor v = ref.encode_videos(videos).embedding, i = ref.encode_images({image}).embedding;
  EXPECT_EQ(std::memcmp(got.data(), v.data<float>(), 32 * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(got.data() + 32, i.data<float>(), 32 * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(got.data() + 64, v.data<float>() + 32, 32 * sizeof(float)), 0);
  const char* img = image.c_str();
  std::vector<float> one(32);
  ASSERT_EQ(frost_encode_images(model_, &img, 1, one.data(), one.size()), FROST_OK);
  EXPECT_EQ(std::memcmp(one.data(), i.data<float>(), 32 * sizeof(float)), 0);
  // A folder is not an image; a missing path is named.
  const char* folder = videos[0].c_str();
  EXPECT_EQ(frost_encode_images(model_, &folder, 1, one.data(), one.size()), FROST_BAD_FILE);
  const std::string missing = dir_ + "/nope.mp4";
  const char* m = missing.c_str();
  EXPECT_NE(frost_encode_videos(model_, &m, 1, one.data(), one.size()), FROST_OK);
  EXPECT_NE(std::string(frost_last_error()).find("nope.mp4"), std::string::npos) << frost_last_error();
}

TEST(CApiSimilarity, IsTheReferencesCosine) {
  const std::vector<float> a = {1, 0, 0, 3, 4, 0}, b = {0, 2, 0, 1, 1, 0, 0, 0, 0};
  std::vector<float> s(6);
  ASSERT_EQ(frost_similarity(a.data(), 2, b.data(), 3, 3, s.data(), s.size()), FROST_OK);
  // rows scaled by 1 / max(norm, 1e-8): a zero row scores 0
  const std::vector<float> want = {0, float(1 / std::sqrt(2.0)), 0, 0.8f, float(7 / (5 * std::sqrt(2.0))), 0};
  for (size_t i = 0; i < 6; ++i) EXPECT_NEAR(s[i], want[i], 1e-6) << i;
  EXPECT_EQ(frost_similarity(a.data(), 2, b.data(), 3, 3, s.data(), 5), FROST_INVALID_ARGUMENT);
  // No rows on one side: nothing to write, nothing needed.
  EXPECT_EQ(frost_similarity(a.data(), 2, nullptr, 0, 3, nullptr, 0), FROST_OK) << frost_last_error();
  EXPECT_EQ(frost_similarity(nullptr, 0, b.data(), 3, 3, nullptr, 0), FROST_OK) << frost_last_error();
  EXPECT_EQ(frost_similarity(a.data(), 2, b.data(), 3, 0, s.data(), 6), FROST_INVALID_ARGUMENT);
  EXPECT_EQ(frost_similarity(nullptr, 2, b.data(), 3, 3, s.data(), 6), FROST_INVALID_ARGUMENT);
}

// Every function given a NULL handle, NULL pointers or a short buffer fails with INVALID_ARGUMENT and a
// message naming the argument; the free functions accept NULL.
TEST_F(CApi, MisuseIsAnErrorNamingTheArgument) {
  float out[64];
  const char* caption = "dog";
  size_t n = 0;
  frost_hit hits[4];
  auto expect = [](frost_status s, const char* word) {
    EXPECT_EQ(s, FROST_INVALID_ARGUMENT) << word;
    EXPECT_NE(std::string(frost_last_error()).find(word), std::string::npos) << frost_last_error();
  };
  expect(frost_encode_text(nullptr, &caption, 1, out, 64), "model is NULL");
  expect(frost_encode_text(model_, nullptr, 1, out, 64), "captions is NULL");
  const char* with_null[] = {"dog", nullptr};
  expect(frost_encode_text(model_, with_null, 2, out, 64), "captions[1] is NULL");
  expect(frost_encode_text(model_, &caption, 1, nullptr, 64), "embeddings is NULL");
  expect(frost_encode_text(model_, &caption, 1, out, 31), "embeddings holds 31 floats");
  expect(frost_encode_text(model_, &caption, SIZE_MAX / 2, out, 64), "embeddings holds 64 floats");
  expect(frost_encode_videos(nullptr, &caption, 1, out, 64), "model is NULL");
  expect(frost_encode_images(model_, nullptr, 1, out, 64), "paths is NULL");
  expect(frost_encode_frames(nullptr, nullptr, 1, 1, 1, 1, out, 64), "model is NULL");
  expect(frost_tokenize(nullptr, "dog", nullptr, 0, &n), "model is NULL");
  expect(frost_tokenize(model_, nullptr, nullptr, 0, &n), "text is NULL");
  expect(frost_tokenize(model_, "dog", nullptr, 4, &n), "ids is NULL");
  expect(frost_tokenize(model_, "dog", nullptr, 0, nullptr), "count is NULL");
  expect(frost_model_open(nullptr, &options_, &model_), "weights_path is NULL");
  expect(frost_model_open(kWeights.c_str(), &options_, nullptr), "model is NULL");
  expect(frost_index_create(nullptr, nullptr), "model is NULL");
  expect(frost_index_create(model_, nullptr), "index is NULL");
  expect(frost_index_load(nullptr, nullptr), "path is NULL");
  expect(frost_index_save(nullptr, "x"), "index is NULL");
  expect(frost_index_item(nullptr, 0, nullptr, 0, &n), "index is NULL");
  expect(frost_index_add(nullptr, "x", out, 32), "index is NULL");
  expect(frost_index_add_videos(nullptr, model_, &caption, 1), "index is NULL");
  expect(frost_index_remove(nullptr, "x", nullptr), "index is NULL");
  expect(frost_index_search(nullptr, out, 32, 1, hits, &n), "index is NULL");
  expect(frost_index_search_text(nullptr, model_, "dog", 1, hits, &n), "index is NULL");
  EXPECT_EQ(frost_index_size(nullptr), 0u);
  EXPECT_EQ(frost_index_dim(nullptr), 0u);
  frost_model_free(nullptr);
  frost_index_free(nullptr);
  frost_model_options_init(nullptr);
  // The failed calls left the model working.
  EXPECT_EQ(frost_encode_text(model_, &caption, 1, out, 64), FROST_OK);
}

TEST_F(CApi, BadOptionsAndFilesAreRefused) {
  frost_model* m = nullptr;
  frost_model_options o = tiny_options();
  o.config = "huge";  // neither base, tiny nor a JSON file
  EXPECT_EQ(frost_model_open(kWeights.c_str(), &o, &m), FROST_BAD_FILE);
  EXPECT_NE(std::string(frost_last_error()).find("huge"), std::string::npos) << frost_last_error();
  o = tiny_options();
  o.backend = "tpu";
  EXPECT_EQ(frost_model_open(kWeights.c_str(), &o, &m), FROST_UNSUPPORTED);
  EXPECT_NE(std::string(frost_last_error()).find("tpu"), std::string::npos) << frost_last_error();
  o = tiny_options();
  o.struct_size = 8;
  EXPECT_EQ(frost_model_open(kWeights.c_str(), &o, &m), FROST_INVALID_ARGUMENT);
  EXPECT_NE(std::string(frost_last_error()).find("struct_size"), std::string::npos);
  o = tiny_options();
  o.threads = -1;
  EXPECT_EQ(frost_model_open(kWeights.c_str(), &o, &m), FROST_INVALID_ARGUMENT);
  o = tiny_options();
  o.towers = 7;
  EXPECT_EQ(frost_model_open(kWeights.c_str(), &o, &m), FROST_INVALID_ARGUMENT);
  // The default vocabulary (30,522 tokens) does not fit the tiny model's 512-row table: said, with what to
  // do.
  o = tiny_options();
  o.vocab = nullptr;
  EXPECT_EQ(frost_model_open(kWeights.c_str(), &o, &m), FROST_INVALID_ARGUMENT);
  EXPECT_NE(std::string(frost_last_error()).find("options.vocab"), std::string::npos) << frost_last_error();
  // Not a model: a text file, a missing file, an empty file.
  const std::string text = dir_ + "/notes.txt", empty = dir_ + "/empty.safetensors";
  std::ofstream(text) << "not a model\n";
  std::ofstream(empty).close();
  o = tiny_options();
  for (const std::string& p : {text, empty, dir_ + "/missing.safetensors"}) {
    EXPECT_EQ(frost_model_open(p.c_str(), &o, &m), FROST_BAD_FILE) << p << ": " << frost_last_error();
    EXPECT_NE(std::string(frost_last_error()).find(p), std::string::npos) << frost_last_error();
  }
  EXPECT_EQ(m, nullptr) << "a failed open left the output alone";
  // A text-only model has no video tower: encoding a clip is refused by name, not a crash.
  o = tiny_options();
  o.towers = FROST_TOWERS_TEXT;
  ASSERT_EQ(frost_model_open(kWeights.c_str(), &o, &m), FROST_OK) << frost_last_error();
  std::vector<uint8_t> rgb(32 * 32 * 3);
  float out[32];
  EXPECT_EQ(frost_encode_frames(m, rgb.data(), 1, 1, 32, 32, out, 32), FROST_INVALID_ARGUMENT);
  EXPECT_NE(std::string(frost_last_error()).find("FROST_TOWERS_TEXT: it has no video tower"),
            std::string::npos)
      << frost_last_error();
  const char* image = FROST_TEST_FIXTURES "/images/quadrants.png";
  EXPECT_EQ(frost_encode_videos(m, &image, 1, out, 32), FROST_INVALID_ARGUMENT);
  const char* cap = "dog";
  EXPECT_EQ(frost_encode_text(m, &cap, 1, out, 32), FROST_OK);
  frost_model_free(m);
  // And a video-only model has no tokenizer.
  o.towers = FROST_TOWERS_VIDEO;
  ASSERT_EQ(frost_model_open(kWeights.c_str(), &o, &m), FROST_OK) << frost_last_error();
  size_t n = 0;
  EXPECT_EQ(frost_tokenize(m, "dog", nullptr, 0, &n), FROST_INVALID_ARGUMENT);
  EXPECT_EQ(frost_encode_text(m, &cap, 1, out, 32), FROST_INVALID_ARGUMENT);
  EXPECT_EQ(frost_encode_videos(m, &image, 1, out, 32), FROST_OK) << frost_last_error();
  frost_model_free(m);
}

struct Log {
  std::vector<std::pair<frost_log_level, std::string>> lines;
  static void add(void* user, frost_log_level level, const char* message) {
    static_cast<Log*>(user)->lines.emplace_back(level, message);
  }
};

struct Progress {
  std::vector<std::pair<size_t, size_t>> calls;
  size_t stop_after = SIZE_MAX;
  static int report(void* user, size_t done, size_t total) {
    auto* p = static_cast<Progress*>(user);
    p->calls.emplace_back(done, total);
    return p->calls.size() >= p->stop_after ? 1 : 0;
  }
};

TEST_F(CApi, ProgressIsReportedPerBatchAndCanCancel) {
  Progress progress;
  frost_model_options o = tiny_options();
  o.batch_size = 2;
  o.progress = &Progress::report;
  o.progress_user = &progress;
  frost_model* m = nullptr;
  ASSERT_EQ(frost_model_open(kWeights.c_str(), &o, &m), FROST_OK);
  const std::vector<const char*> c = c_strings(kCaptions);
  std::vector<float> out(kCaptions.size() * 32, -7.f);
  ASSERT_EQ(frost_encode_text(m, c.data(), c.size(), out.data(), out.size()), FROST_OK);
  EXPECT_EQ(progress.calls, (std::vector<std::pair<size_t, size_t>>{{2, 5}, {4, 5}, {5, 5}}));
  progress = {};
  progress.stop_after = 1;
  std::vector<float> part(kCaptions.size() * 32, -7.f);
  EXPECT_EQ(frost_encode_text(m, c.data(), c.size(), part.data(), part.size()), FROST_CANCELLED);
  EXPECT_NE(std::string(frost_last_error()).find("after 2 of 5"), std::string::npos) << frost_last_error();
  EXPECT_EQ(std::memcmp(part.data(), out.data(), 2 * 32 * sizeof(float)), 0) << "the batch done is written";
  EXPECT_EQ(part[2 * 32], -7.f) << "nothing past it";
  frost_model_free(m);
}

// An index made through the C API: search by caption and by embedding, names, removal, and a file that
// round-trips (and that `frost search` reads: the CLI tests cover the format).
TEST_F(CApi, IndexAddsSearchesSavesAndLoads) {
  Log log;
  frost_model_options o = tiny_options();
  o.log = &Log::add;
  o.log_user = &log;
  frost_model* m = nullptr;
  ASSERT_EQ(frost_model_open(kWeights.c_str(), &o, &m), FROST_OK);
  frost_index* ix = nullptr;
  ASSERT_EQ(frost_index_create(m, &ix), FROST_OK) << frost_last_error();
  // The fixture records no video-tower hash: computing it is a note, through the callback only.
  ASSERT_EQ(log.lines.size(), 1u);
  EXPECT_EQ(log.lines[0].first, FROST_LOG_NOTE);
  EXPECT_NE(log.lines[0].second.find("records no video-tower hash"), std::string::npos);
  EXPECT_EQ(frost_index_dim(ix), 32u);
  const std::vector<std::string> videos = {frame_folder("v0", 5, 10), frame_folder("v1", 8, 11),
                                           frame_folder("v2", 4, 12)};
  const std::vector<const char*> c = c_strings(videos);
  ASSERT_EQ(frost_index_add_videos(ix, m, c.data(), c.size()), FROST_OK) << frost_last_error();
  ASSERT_EQ(frost_index_size(ix), 3u);
  std::vector<float> e(32);
  ASSERT_EQ(frost_encode_videos(m, &c[1], 1, e.data(), e.size()), FROST_OK);
  frost_hit hits[5];
  size_t n = 0;
  ASSERT_EQ(frost_index_search(ix, e.data(), 32, 5, hits, &n), FROST_OK);
  ASSERT_EQ(n, 3u);
  EXPECT_EQ(item_name(ix, hits[0].row), videos[1]) << "a video's own embedding finds it first";
  // The name's copy: the length alone, a buffer one byte short (no room for the NUL), the exact size.
  size_t length = 0;
  ASSERT_EQ(frost_index_item(ix, hits[0].row, nullptr, 0, &length), FROST_OK);
  EXPECT_EQ(length, videos[1].size());
  std::vector<char> buffer(length + 1, 'x');
  EXPECT_EQ(frost_index_item(ix, hits[0].row, buffer.data(), length, &length), FROST_INVALID_ARGUMENT);
  EXPECT_EQ(buffer[0], 'x') << "nothing written into a short buffer";
  ASSERT_EQ(frost_index_item(ix, hits[0].row, buffer.data(), length + 1, &length), FROST_OK);
  EXPECT_STREQ(buffer.data(), videos[1].c_str());
  EXPECT_EQ(frost_index_item(ix, hits[0].row, nullptr, 8, &length), FROST_INVALID_ARGUMENT);
  EXPECT_NEAR(hits[0].score, 1.0f, 1e-5);
  EXPECT_GE(hits[0].score, hits[1].score);
  EXPECT_GE(hits[1].score, hits[2].score);
  // By caption: the scores are the cosine of the caption's embedding with each video's.
  ASSERT_EQ(frost_index_search_text(ix, m, "dog running on the beach", 2, hits, &n), FROST_OK);
  ASSERT_EQ(n, 2u);
  std::vector<float> t(32), all(3 * 32), s(3);
  const char* cap = "dog running on the beach";
  ASSERT_EQ(frost_encode_text(m, &cap, 1, t.data(), t.size()), FROST_OK);
  ASSERT_EQ(frost_encode_videos(m, c.data(), 3, all.data(), all.size()), FROST_OK);
  ASSERT_EQ(frost_similarity(t.data(), 1, all.data(), 3, 32, s.data(), 3), FROST_OK);
  for (size_t i = 0; i < n; ++i) {
    const std::string name = item_name(ix, hits[i].row);
    const size_t v = size_t(std::find(videos.begin(), videos.end(), name) - videos.begin());
    ASSERT_LT(v, 3u);
    EXPECT_NEAR(hits[i].score, s[v], 1e-5) << name;
  }
  // Raw embeddings, replacement by name, removal.
  ASSERT_EQ(frost_index_add(ix, "custom", e.data(), 32), FROST_OK);
  ASSERT_EQ(frost_index_add(ix, "custom", t.data(), 32), FROST_OK);
  EXPECT_EQ(frost_index_size(ix), 4u);
  EXPECT_EQ(frost_index_add(ix, "wrong", e.data(), 31), FROST_INVALID_ARGUMENT);
  EXPECT_EQ(frost_index_add(ix, "", e.data(), 32), FROST_INVALID_ARGUMENT);
  int removed = -1;
  ASSERT_EQ(frost_index_remove(ix, "custom", &removed), FROST_OK);
  EXPECT_EQ(removed, 1);
  ASSERT_EQ(frost_index_remove(ix, "custom", &removed), FROST_OK);
  EXPECT_EQ(removed, 0);
  EXPECT_EQ(frost_index_item(ix, 3, nullptr, 0, &length), FROST_INVALID_ARGUMENT);
  EXPECT_EQ(frost_index_search(ix, e.data(), 31, 1, hits, &n), FROST_INVALID_ARGUMENT);
  EXPECT_EQ(frost_index_search(ix, e.data(), 32, 0, hits, &n), FROST_INVALID_ARGUMENT);
  e[3] = std::nanf("");
  EXPECT_EQ(frost_index_search(ix, e.data(), 32, 1, hits, &n), FROST_INVALID_ARGUMENT);
  // Save, load: the same items and the same scores.
  const std::string path = dir_ + "/videos.index";
  ASSERT_EQ(frost_index_save(ix, path.c_str()), FROST_OK) << frost_last_error();
  frost_index* back = nullptr;
  ASSERT_EQ(frost_index_load(path.c_str(), &back), FROST_OK) << frost_last_error();
  EXPECT_EQ(frost_index_size(back), 3u);
  frost_hit again[2];
  ASSERT_EQ(frost_index_search_text(back, m, "dog running on the beach", 2, again, &n), FROST_OK);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(again[i].row, hits[i].row);
    EXPECT_EQ(again[i].score, hits[i].score);
  }
  // Not an index; a folder as the file to write.
  EXPECT_EQ(frost_index_load(kVocab.c_str(), &back), FROST_BAD_FILE);
  EXPECT_NE(frost_index_save(ix, dir_.c_str()), FROST_OK);
  frost_index_free(back);
  frost_index_free(ix);
  frost_model_free(m);
}

// Adding videos to an index is all or nothing: an input that fails, or a cancel, adds nothing; the
// callbacks run while the index stays readable (a progress callback that reads the index does not block).
TEST_F(CApi, AddingVideosIsAllOrNothing) {
  struct Watch {
    frost_index* ix = nullptr;
    std::vector<size_t> sizes;
    bool cancel = false;
    static int report(void* user, size_t, size_t) {
      auto* w = static_cast<Watch*>(user);
      w->sizes.push_back(frost_index_size(w->ix));  // reads the index from inside add_videos
      return w->cancel ? 1 : 0;
    }
  } watch;
  frost_model_options o = tiny_options();
  o.batch_size = 1;
  o.progress = &Watch::report;
  o.progress_user = &watch;
  frost_model* m = nullptr;
  ASSERT_EQ(frost_model_open(kWeights.c_str(), &o, &m), FROST_OK);
  ASSERT_EQ(frost_index_create(m, &watch.ix), FROST_OK);
  const std::vector<std::string> good = {frame_folder("g0", 4, 1), frame_folder("g1", 4, 2)};
  std::vector<std::string> with_missing = good;
  with_missing.push_back(dir_ + "/missing");
  std::vector<const char*> c = c_strings(with_missing);
  EXPECT_EQ(frost_index_add_videos(watch.ix, m, c.data(), c.size()), FROST_BAD_FILE);
  EXPECT_EQ(frost_index_size(watch.ix), 0u) << "a failed input added the others";
  watch.cancel = true;
  c = c_strings(good);
  EXPECT_EQ(frost_index_add_videos(watch.ix, m, c.data(), c.size()), FROST_CANCELLED);
  EXPECT_EQ(frost_index_size(watch.ix), 0u) << "a cancelled call added items";
  watch.cancel = false;
  watch.sizes.clear();
  ASSERT_EQ(frost_index_add_videos(watch.ix, m, c.data(), c.size()), FROST_OK) << frost_last_error();
  EXPECT_EQ(frost_index_size(watch.ix), 2u);
  EXPECT_EQ(watch.sizes, (std::vector<size_t>{0, 0})) << "the callback read the index while it was encoded";
  frost_index_free(watch.ix);
  frost_model_free(m);
}

// An index searched with another model's text embeddings would compare unrelated spaces: refused.
TEST_F(CApi, AnIndexRefusesAnotherModel) {
  frost_index* ix = nullptr;
  ASSERT_EQ(frost_index_create(model_, &ix), FROST_OK);
  const std::string other = dir_ + "/other.safetensors";
  {
    frost::model::WeightSet w = frost::model::load_weights(frost::model::FitConfig::tiny(), {{kWeights}});
    std::vector<std::pair<std::string, const HostTensor*>> named;
    HostTensor& norm = w.tensors.at("video_model.norm.weight");
    norm.data<float>()[0] += 1;
    for (const auto& [k, v] : w.tensors) named.emplace_back(k, &v);
    frost::loader::write_safetensors(other, named);
  }
  frost_model* m = nullptr;
  ASSERT_EQ(frost_model_open(other.c_str(), &options_, &m), FROST_OK) << frost_last_error();
  frost_hit hits[1];
  size_t n = 0;
  EXPECT_EQ(frost_index_search_text(ix, m, "dog", 1, hits, &n), FROST_INVALID_ARGUMENT);
  EXPECT_NE(std::string(frost_last_error()).find("other video weights"), std::string::npos)
      << frost_last_error();
  frost_model_free(m);
  frost_index_free(ix);
}

// One model, several threads encoding at once: every thread gets what one thread alone gets. (Under a race
// checker: tests/capi_race_test.cpp.)
TEST_F(CApi, OneModelServesSeveralThreads) {
  const std::vector<const char*> c = c_strings(kCaptions);
  std::vector<float> want(kCaptions.size() * 32);
  ASSERT_EQ(frost_encode_text(model_, c.data(), c.size(), want.data(), want.size()), FROST_OK);
  std::vector<std::vector<float>> got(4, std::vector<float>(want.size()));
  std::vector<frost_status> status(4, FROST_INTERNAL);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 3 && (rep == 0 || status[size_t(t)] == FROST_OK); ++rep)
        status[size_t(t)] = frost_encode_text(model_, c.data(), c.size(), got[size_t(t)].data(), want.size());
    });
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(status[size_t(t)], FROST_OK);
    EXPECT_EQ(got[size_t(t)], want) << "thread " << t;
  }
}

// What the library must leave alone: it prints nothing (even for damaged input, with no log callback), and
// the locale, signal handlers and OpenMP's thread count are as the program set them.
// The model is opened inside the watched calls: the process state is recorded before frost does anything.
class CApiHost : public CApi {
 protected:
  void SetUp() override { make_dir(); }
};

TEST_F(CApiHost, LeavesTheProcessAlone) {
  // A video file, so that FFmpeg is used. (Undamaged: what FFmpeg itself logs about damaged data follows the
  // program's FFmpeg settings — its log level and callback are process-wide, and the library leaves them
  // alone, which is checked here.)
  const std::string video = dir_ + "/clip.mp4";
  if (frost::loader::video_writing_supported()) {
    HostTensor frames(DType::U8, {6, 32, 32, 3});
    for (int64_t i = 0; i < frames.numel(); ++i) frames.data<uint8_t>()[i] = uint8_t(i * 7);
    frost::loader::write_video(video, frames);
  }
#ifdef FROST_TEST_FFMPEG
  const int av_level = av_log_get_level();
#endif
  const int max_threads = omp_get_max_threads(), dynamic = omp_get_dynamic();
  const std::string locale = std::setlocale(LC_ALL, nullptr);
  struct sigaction before[3];
  const int signals[3] = {SIGSEGV, SIGINT, SIGPIPE};
  for (int i = 0; i < 3; ++i) sigaction(signals[i], nullptr, &before[i]);
  // stdout and stderr into a file for the calls.
  const std::string captured = dir_ + "/captured.txt";
  std::vector<frost_status> statuses;  // the calls below, so that each is known to have run
  std::fflush(stdout);
  std::fflush(stderr);
  const int saved_out = dup(1), saved_err = dup(2);
  const int fd = ::open(captured.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  dup2(fd, 1);
  dup2(fd, 2);
  {
    const std::string damaged = dir_ + "/damaged.png";
    std::ofstream(damaged, std::ios::binary) << std::string("\x89PNG\r\n\x1a\n", 8) << "garbage";
    std::vector<float> out(32);
    statuses.push_back(frost_model_open(kWeights.c_str(), &options_, &model_));
    const char* d = damaged.c_str();
    statuses.push_back(frost_encode_images(model_, &d, 1, out.data(), out.size()));
    const char* cap = "a dog";
    statuses.push_back(frost_encode_text(model_, &cap, 1, out.data(), out.size()));
    const char* v = video.c_str();
    statuses.push_back(frost_encode_videos(model_, &v, 1, out.data(), out.size()));
    frost_model* m = nullptr;
    statuses.push_back(frost_model_open(d, &options_, &m));
    frost_index* ix = nullptr;
    statuses.push_back(frost_index_create(model_, &ix));  // notes the computed hash: to no one
    frost_index_free(ix);
  }
  std::fflush(stdout);
  std::fflush(stderr);
  dup2(saved_out, 1);
  dup2(saved_err, 2);
  ::close(fd);
  ::close(saved_out);
  ::close(saved_err);
  EXPECT_EQ(fs::file_size(captured), 0u) << "the library printed:\n" << std::ifstream(captured).rdbuf();
  // open (OK), damaged image (BAD_FILE), text (OK), video (OK where FFmpeg can write one), not a model
  // (BAD_FILE), index with a computed hash (OK).
  const bool have_video = frost::loader::video_writing_supported();
  EXPECT_EQ(statuses,
            (std::vector<frost_status>{FROST_OK, FROST_BAD_FILE, FROST_OK,
                                       have_video ? FROST_OK : FROST_BAD_FILE, FROST_BAD_FILE, FROST_OK}))
      << frost_last_error();
#ifdef FROST_TEST_FFMPEG
  EXPECT_EQ(av_log_get_level(), av_level) << "FFmpeg's global log level changed";
#endif
  EXPECT_EQ(omp_get_max_threads(), max_threads);
  EXPECT_EQ(omp_get_dynamic(), dynamic);
  EXPECT_EQ(std::setlocale(LC_ALL, nullptr), locale);
  for (int i = 0; i < 3; ++i) {
    struct sigaction after;
    sigaction(signals[i], nullptr, &after);
    EXPECT_EQ(after.sa_handler, before[i].sa_handler) << "signal " << signals[i];
    EXPECT_EQ(after.sa_flags, before[i].sa_flags) << "signal " << signals[i];
  }
}

// A double free of a handle is the caller's bug, not something frost can report; in the sanitizer build
// AddressSanitizer catches it (the bar), which this checks. Other builds cannot catch it reliably,
// so the test says so and is skipped there.
TEST(CApiSanitizer, ADoubleFreeIsCaughtByAddressSanitizer) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        frost_model_options o = tiny_options();
        frost_model* m = nullptr;
        if (frost_model_open(kWeights.c_str(), &o, &m) != FROST_OK) std::abort();
        frost_model_free(m);
        frost_model_free(m);
      },
      "double-free|heap-use-after-free");
#else
  GTEST_SKIP() << "only an AddressSanitizer build catches a double free (make test-sanitize runs this)";
#endif
}

}  // namespace

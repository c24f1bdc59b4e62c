// The `frost` command on good input, from a table: each row asserts exit code 0 and a pattern (ECMAScript
// regex, searched in stdout), and optionally a second command over what the first wrote (`frost info` of its
// output). Together with cli_bad_input_test (every failing case), this is every CLI test: none relies on
// ctest's PASS_REGULAR_EXPRESSION, which ignores the exit code.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "loader/safetensors.h"
#include "model/config.h"

namespace frost {
namespace {

namespace fs = std::filesystem;
using test::Result;
using test::run_frost;
using test::slurp;

using test::kFixtures;
using test::kParity;

class CliOutputs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("frost_cli_out_" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::copy_file(kParity + "/fixtures/tiny_dual_weights.safetensors", dir_ + "/w.safetensors");
    fs::copy_file(kParity + "/fixtures/tiny_vocab.txt", dir_ + "/v.txt");
    fs::copy_file(kFixtures + "/safetensors/python_mixed.safetensors", dir_ + "/mixed.safetensors");
    fs::copy_file(kFixtures + "/preprocess/frames_small_0.png", dir_ + "/small.png");
    fs::copy_file(kFixtures + "/preprocess/frames_landscape_0.png", dir_ + "/landscape.png");
    std::ofstream(dir_ + "/d.csv") << "video,caption\nv.mp4,a test pattern\nsmall.png,a small image\n"
                                   << "landscape.png,\"a wide image, with a comma\"\n";
    std::ofstream(dir_ + "/captions.txt")
        << "a dog runs on the beach\n\ntwo children playing\na cooking show\n";
    std::ofstream(dir_ + "/tiny.json")
        << R"({"projection_dim": 32, "text": {"vocab_size": 512, "dim": 64, "layers": 2, "heads": 2,
              "ffn_dim": 128, "max_positions": 64}, "video": {"image_size": 32, "patch_size": 8, "dim": 64,
              "depth": 2, "heads": 2, "mlp_dim": 128}})";
    const std::string make =
        "ffmpeg -nostdin -y -loglevel error -f lavfi -i testsrc2=size=64x48:rate=10 "
        "-frames:v 12 -c:v libx264 -pix_fmt yuv420p '" +
        dir_ + "/v.mp4'";
    if (std::system(make.c_str()) != 0) setup_error_ = "the ffmpeg command failed: " + make;
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  static std::string dir_, setup_error_;
};
std::string CliOutputs::dir_, CliOutputs::setup_error_;

struct OutputRow {
  std::string name;
  std::vector<std::string> args;
  std::string pattern;    // searched in stdout
  std::string then = "";  // a second command (words), run after the first succeeds
  std::string then_pattern = "";
};

std::vector<std::string> tiny(std::vector<std::string> head, std::vector<std::string> tail) {
  for (const char* a : {"--config", "tiny", "--weights", "w.safetensors"}) head.push_back(a);
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

const char* kAny = "[\\s\\S]*";  // any text, newlines included

std::vector<OutputRow> output_rows() {
  const std::string any = kAny;
  return {
      {"version", {"--version"}, "^frost " FROST_VERSION "\nbackends: reference, cpu"},
      {"help_lists_every_command",
       {"--help"},
       "demo" + any + "ops" + any + "info" + any + "clip" + any + "encode" + any + "plan" + any +
           "Exit codes: 0 success; 1 a user error"},
      {"command_help_lists_threads", {"encode", "--help"}, "--threads" + any + "overrides OMP_NUM_THREADS"},
      {"ops_lists_the_registry",
       {"ops"},
       "^(?=[\\s\\S]*\nmatmul )(?=[\\s\\S]*\nattention )(?=[\\s\\S]*\nadd_layer_norm )"},
      {"info", {"info", "mixed.safetensors"}, "10 tensors" + any + "odd\\.name/with:chars  F32\\[1\\]"},
      {"info_json", {"info", "--json", "mixed.safetensors"}, "\"tensor_count\": 10"},
      {"clip_image",
       {"clip", "small.png", "--frames", "2", "--out", "clip.safetensors"},
       "1 frame, sampled 0 \\(\\+1 zero frames\\)" + any + "clips F32\\[1, 2, 3, 224, 224\\]",
       "info clip.safetensors",
       "frame_indices  I64\\[1, 2\\]" + any + "clips  F32\\[1, 2, 3, 224, 224\\]"},
      {"clip_video_rand_train",
       {"clip", "v.mp4", "--sampling", "rand", "--train", "--seed", "7", "--size", "32", "--out",
        "clip_rand.safetensors"},
       "v\\.mp4: 12 frames, sampled [0-2] [3-5] [6-8] (9|10)\n",
       "info clip_rand.safetensors",
       "\"sampling\":\"rand\"" + any + "\"transform\":\"train\""},
      {"clip_video_fix_start",
       {"clip", "v.mp4", "--sampling", "fix_start", "--fix-start", "1", "--size", "32", "--out",
        "clip_fix.safetensors"},
       "v\\.mp4: 12 frames, sampled 1 4 7 10\n"},
      {"encode_text",
       tiny({"encode", "text"}, {"--vocab", "v.txt", "a dog runs on the beach", "two children playing",
                                 "--batch", "1", "--out", "text.safetensors"}),
       "embeddings F32\\[2, 32\\] \\(unnormalised\\), features F32\\[2, 64\\]", "info text.safetensors",
       "\"inputs\":\\[\"a dog runs on the beach\",\"two children playing\"\\]"},
      {"encode_captions_file",
       tiny({"encode", "text"},
            {"--vocab", "v.txt", "--captions", "captions.txt", "--out", "captions.safetensors"}),
       "embeddings F32\\[3, 32\\]"},
      {"encode_config_file",
       {"encode", "text", "--config", "tiny.json", "--weights", "w.safetensors", "--vocab", "v.txt", "a dog",
        "--out", "config_file.safetensors"},
       "embeddings F32\\[1, 32\\]",
       "info config_file.safetensors",
       "\"config\":\"tiny\""},
      {"encode_video",
       tiny({"encode", "video"},
            {"small.png", "landscape.png", "v.mp4", "--batch", "2", "--out", "video.safetensors"}),
       "embeddings F32\\[3, 32\\]", "info video.safetensors",
       "\"inputs\":\\[\"small.png\",\"landscape.png\",\"v.mp4\"\\]"},
      {"encode_image",
       tiny({"encode", "image"}, {"small.png", "landscape.png", "--out", "image.safetensors"}),
       "embeddings F32\\[2, 32\\]"},
      {"score", tiny({"score"}, {"--vocab", "v.txt", "--video", "small.png", "a dog runs", "a cooking show"}),
       "small.png \\(1 frame\\): cosine similarity, and the softmax over these captions at temperature 0.05\n"
       "  rank  cosine   probability  caption\n"
       "     [12] +-?0\\.[0-9]{4} +0\\.[0-9]{4}  a dog runs\n"
       "     [12] +-?0\\.[0-9]{4} +0\\.[0-9]{4}  a cooking show\n$"},
      {"score_json",
       tiny({"score"},
            {"--vocab", "v.txt", "--video", "small.png", "--json", "a dog runs", "a cooking show"}),
       "^\\{\"video\":\"small.png\",\"frames\":1,\"temperature\":0.05,\"captions\":\\[\\{\"caption\":\"a dog "
       "runs\",\"cosine\":-?0\\.[0-9]+,\"probability\":0\\.[0-9]+,\"rank\":[12]\\}"},
      {"eval", tiny({"eval"}, {"--vocab", "v.txt", "--data", "d.csv"}),
       "^d.csv: 3 captions, 3 videos\n  t2v  R@1 [0-9.]+  R@5 100.0  R@10 100.0  R@50 100.0  MedR [0-9.]+  "
       "MeanR "
       "[0-9.]+  \\(3 queries over 3 candidates; chance R@1 33.33\\), optimistic ties\n  v2t  .*averaged "
       "ties\n$"},
      {"eval_json_pessimistic",
       tiny({"eval"}, {"--vocab", "v.txt", "--data", "d.csv", "--json", "--ties", "pessimistic"}),
       "^\\{\"data\":\"d.csv\",\"t2v\":\\{\"R1\":[0-9.]+,.*\"queries\":3,\"candidates\":3,\"ties\":"
       "\"pessimistic\"\\},\"v2t\":.*\"skipped_videos\":0,\"sliding_window_stride\":0\\}\n$"},
      {"eval_sliding_windows",
       tiny({"eval"}, {"--vocab", "v.txt", "--data", "d.csv", "--sliding-window-stride", "1", "--json"}),
       "\"queries\":3,\"candidates\":3,.*\"sliding_window_stride\":1\\}\n$"},
      {"plan_json",
       {"plan", "--config", "base", "--batch", "8", "--part", "video", "--json"},
       "\"activations\": \\{[^}]*\"planned_bytes\": [0-9]+,[^}]*\"lower_bound_bytes\"" + any +
           "\"fusions\": \\{\\s*\"add_layer_norm\": 36,\\s*\"attention\": 48,\\s*\"layer_norm\": "
           "1,\\s*\"linear\": "
           "74,\\s*\"linear/gelu\": 12"},
      {"plan_no_reuse", {"plan", "--config", "tiny", "--no-reuse"}, "steps, no_reuse\n"},
      {"plan_no_fuse", {"plan", "--config", "tiny", "--no-fuse"}, "fused ops:\n"},
      {"plan_train",
       {"plan", "--config", "tiny", "--part", "dual", "--train"},
       "plan of tiny dual training" + any + "optimizer +1\\.70 MiB" + any +
           "gradients: 0\\.85 MiB in activations, each consumed by its parameter's update"},
      {"plan_train_clip",
       {"plan", "--config", "tiny", "--part", "dual", "--train", "--clip-norm", "1", "--json"},
       "\"gradients\": \\{\\s*\"placement\": \"activations, all held until the clipping norm is known\",\\s*"
       "\"bytes\": 889856"},
      {"plan_train_accumulation",
       {"plan", "--config", "tiny", "--part", "dual", "--train", "--accumulation", "4"},
       "in optimizer arena \\(accumulators\\)" + any + "run 4 times per step"},
  };
}

class CliOutputTable : public CliOutputs, public ::testing::WithParamInterface<OutputRow> {};

TEST_P(CliOutputTable, ExitsZeroAndPrints) {
  ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  const OutputRow& row = GetParam();
  const Result r = run_frost(row.args, {}, dir_, "", 300);
  SCOPED_TRACE("stdout:\n" + r.out + "\nstderr:\n" + r.err);
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.err.empty());
  EXPECT_TRUE(std::regex_search(r.out, std::regex(row.pattern))) << "want: " << row.pattern;
  if (!row.then.empty()) {
    std::vector<std::string> args;
    std::istringstream words(row.then);
    for (std::string w; words >> w;) args.push_back(w);
    const Result t = run_frost(args, {}, dir_, "", 60);
    ASSERT_EQ(t.exit_code, 0) << t.err;
    EXPECT_TRUE(std::regex_search(t.out, std::regex(row.then_pattern)))
        << "want: " << row.then_pattern << "\n"
        << t.out;
  }
}

INSTANTIATE_TEST_SUITE_P(Rows, CliOutputTable, ::testing::ValuesIn(output_rows()),
                         [](const ::testing::TestParamInfo<OutputRow>& info) { return info.param.name; });

// The same seed gives the same clips, byte for byte; another seed other ones.
TEST_F(CliOutputs, RandomClipsAreSeeded) {
  ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  auto clip = [&](const char* seed, const char* out) {
    const Result r = run_frost(
        {"clip", "v.mp4", "--sampling", "rand", "--train", "--seed", seed, "--size", "32", "--out", out}, {},
        dir_, "", 120);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return slurp(dir_ + "/" + out);
  };
  const std::string a = clip("11", "seed_a.safetensors"), b = clip("11", "seed_b.safetensors");
  const std::string c = clip("12", "seed_c.safetensors");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

// Every `build/frost ...` line of the README runs, in order, and exits 0 — so the README cannot rot. The
// README names files a user has; this test makes them: fit.safetensors (the tiny model's weights recording
// their config and vocabulary, as frost's checkpoints do, so lines run exactly as written), W.safetensors (a
// safetensors file), video.mp4, a frames/ folder, test.csv (a dataset of the two), my-videos/ (a folder with
// a video, and a sub-folder with another and a frame folder), hf/ (a Hugging Face BERT with its config.json
// and vocab.txt), and frost-demo/ (what `make demo` leaves: a
// 20-step demo). Two adaptations, both because the fixture model is tiny: `clip` lines get `--size 32` (the
// clips are then encoded by it), `demo` lines get `--steps 20` (the demo's real length and bars are the
// HeavyDemo tests'). An optional `[--flag]` runs both without and with the flag.
TEST_F(CliOutputs, EveryReadmeCommandRuns) {
  ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  const std::string d = dir_ + "/readme";
  fs::remove_all(d);
  fs::create_directories(d + "/frames");
  fs::create_directories(d + "/my-videos/more/frames");
  fs::copy_file(dir_ + "/mixed.safetensors", d + "/W.safetensors");
  // A PyTorch checkpoint in the reference's layout (the tiny model; tests/fixtures/pytorch).
  fs::copy_file(std::string(FROST_TEST_FIXTURES) + "/pytorch/tiny_dual.pth.tar", d + "/model_best.pth.tar");
  {
    const auto w = loader::SafetensorsFile::open(dir_ + "/w.safetensors");
    std::vector<HostTensor> held;
    held.reserve(w.tensors().size());
    std::vector<std::pair<std::string, const HostTensor*>> all;
    for (const loader::TensorEntry& e : w.tensors()) {
      held.push_back(w.read(e.name, DType::F32));
      all.emplace_back(e.name, &held.back());
    }
    loader::write_safetensors(
        d + "/fit.safetensors", all,
        {{"frost.config", model::FitConfig::tiny().to_json()}, {"frost.vocab", slurp(dir_ + "/v.txt")}});
  }
  for (const char* f : {"/video.mp4", "/my-videos/beach.mp4", "/my-videos/more/cooking.mp4"})
    fs::copy_file(dir_ + "/v.mp4", d + f);
  for (const char* f : {"/frames/0001.png", "/frames/0002.png", "/my-videos/more/frames/0001.png"})
    fs::copy_file(dir_ + "/small.png", d + f);
  std::ofstream(d + "/test.csv") << "video,caption\nvideo.mp4,a test pattern\nframes/,two frames\n";
  fs::create_directories(d + "/hf");  // a Hugging Face BERT as downloaded (transformers wrote the fixture)
  fs::copy_file(kParity + "/fixtures/tiny_bert_weights.safetensors", d + "/hf/model.safetensors");
  fs::copy_file(kParity + "/fixtures/tiny_bert_config.json", d + "/hf/config.json");
  fs::copy_file(dir_ + "/v.txt", d + "/hf/vocab.txt");
  const Result demo = run_frost({"demo", "--quick", "--steps", "20", "--out", "frost-demo"}, {}, d, "", 900);
  ASSERT_EQ(demo.exit_code, 0) << "the set-up's demo (what make demo leaves)\n" << demo.err;

  std::istringstream readme(slurp(FROST_README));
  int ran = 0;
  std::set<std::string> commands;
  for (std::string line; std::getline(readme, line);) {
    if (line.rfind("build/frost ", 0) != 0) continue;
    line = line.substr(std::string("build/frost ").size());
    if (const size_t hash = line.find("  #"); hash != std::string::npos) line = line.substr(0, hash);
    std::vector<std::string> words, optional;
    for (size_t i = 0; i < line.size();) {  // words; "quoted phrases" as one
      if (line[i] == ' ') {
        ++i;
        continue;
      }
      const bool quoted = line[i] == '"';
      const size_t end = quoted ? line.find('"', i + 1) : line.find(' ', i);
      std::string w =
          quoted ? line.substr(i + 1, end - i - 1) : line.substr(i, end == std::string::npos ? end : end - i);
      i = end == std::string::npos ? line.size() : end + 1;
      if (w.size() > 2 && w.front() == '[' && w.back() == ']')
        optional.push_back(w.substr(1, w.size() - 2));
      else
        words.push_back(w);
    }
    commands.insert(words[0]);
    if (words[0] == "clip")
      for (const char* a : {"--size", "32"}) words.push_back(a);
    if (words[0] == "demo")
      for (const char* a : {"--steps", "20"}) words.push_back(a);
    std::vector<std::vector<std::string>> variants = {words};
    if (!optional.empty()) {
      variants.push_back(words);
      variants.back().insert(variants.back().end(), optional.begin(), optional.end());
    }
    for (const auto& args : variants) {
      const Result r = run_frost(args, {}, d, "", 900);
      std::string shown;
      for (const std::string& a : args) shown += " " + a;
      EXPECT_EQ(r.exit_code, 0) << "frost" << shown << "\n" << r.err;
      EXPECT_FALSE(r.out.empty()) << "frost" << shown << " printed nothing";
      ++ran;
    }
  }
  EXPECT_GE(ran, 23);  // the README's twenty lines, three with an optional flag
  for (const char* c : {"demo", "search", "score", "index", "encode", "eval", "clip", "info", "synthetic"})
    EXPECT_TRUE(commands.count(c)) << "the README shows no `frost " << c << "` line";
}

}  // namespace
}  // namespace frost

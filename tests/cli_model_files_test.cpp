// What a new user met (issue 23), each a test through the `frost` binary:
//   - a checkpoint that records its config and vocabulary (frost train writes both) needs neither --config
//     nor --vocab, and gives the bits the explicit flags give; one that records no vocabulary for a model
//     the default vocabulary does not fit says to pass --vocab;
//   - each command loads only the tower it uses: `encode video` on a checkpoint of the video tower alone
//     works (the same bits as on the whole checkpoint), `encode text` on it names the missing tower;
//   - `encode --normalize` gives unit rows, and an --out ending in .npy is NumPy's format;
//   - `--help` gives every command an example and shows defaults, never an empty list's "[]";
//   - `--vocab` takes a tokenizer with its settings (issue 17): a cased vocabulary stays cased;
//   - `frost index` on a folder of videos indexes each video in it (and its sub-folders), a frame folder
//     inside it as one clip, hidden files left out.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli_runner.h"
#include "loader/safetensors.h"
#include "model/encoder.h"
#include "model/weights.h"
#include "retrieval/index.h"

namespace frost {
namespace {

namespace fs = std::filesystem;
using test::Result;
using test::run_frost;
using test::slurp;

// The tiny config as frost.config records it (FitConfig::tiny().to_json()).
constexpr const char* kTinyJson =
    R"({"name":"tiny","projection_dim":32,"similarity_eps":1e-08,"temperature":0.05,"text":{"arch":"distilbert","dim":64,"eps":1e-12,"ffn_dim":128,"heads":2,"layers":2,"max_positions":64,"type_vocab_size":0,"use_pooler":false,"vocab_size":512},"video":{"channels":3,"depth":2,"dim":64,"eps":1e-06,"heads":2,"image_size":32,"mlp_dim":128,"num_frames":4,"patch_size":8}})";

class CliModelFiles : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("frost_cli_model_files_" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::copy_file(test::kParity + "/fixtures/tiny_dual_weights.safetensors", dir_ + "/w.safetensors");
    fs::copy_file(test::kParity + "/fixtures/tiny_vocab.txt", dir_ + "/v.txt");
    // The same weights with the config and vocabulary recorded; and each tower alone.
    const auto w = loader::SafetensorsFile::open(dir_ + "/w.safetensors");
    std::vector<HostTensor> held;
    held.reserve(w.tensors().size());
    std::vector<std::pair<std::string, const HostTensor*>> all, video, text;
    for (const loader::TensorEntry& e : w.tensors()) {
      held.push_back(w.read(e.name, DType::F32));
      all.emplace_back(e.name, &held.back());
      const bool is_text =
          e.name.find("text_model.") != std::string::npos || e.name.find("txt_proj.") != std::string::npos;
      (is_text ? text : video).emplace_back(e.name, &held.back());
    }
    const std::map<std::string, std::string> meta = {{"frost.config", kTinyJson},
                                                     {"frost.vocab", slurp(dir_ + "/v.txt")}};
    loader::write_safetensors(dir_ + "/fit.safetensors", all, meta);
    loader::write_safetensors(dir_ + "/video_only.safetensors", video, meta);
    loader::write_safetensors(dir_ + "/text_only.safetensors", text, meta);
    loader::write_safetensors(dir_ + "/no_vocab.safetensors", all, {{"frost.config", kTinyJson}});
    fs::create_directories(dir_ + "/my-videos/holiday/frames");
    fs::create_directories(dir_ + "/my-videos/empty");
    for (const char* f : {"/my-videos/holiday/frames/0001.png", "/my-videos/holiday/frames/0002.png"})
      fs::copy_file(test::kFixtures + "/preprocess/frames_small_0.png", dir_ + f);
    for (const auto& [src, name] :
         {std::pair{"testsrc2", "beach.mp4"}, std::pair{"smptebars", "holiday/cooking.MKV"}}) {
      const std::string make = "ffmpeg -nostdin -y -loglevel error -f lavfi -i " + std::string(src) +
                               "=size=64x48:rate=10 -frames:v 12 -c:v libx264 -pix_fmt yuv420p '" + dir_ +
                               "/my-videos/" + name + "'";
      if (std::system(make.c_str()) != 0) setup_error_ = "the ffmpeg command failed: " + make;
    }
    std::ofstream(dir_ + "/my-videos/notes.txt") << "not a video\n";
    fs::copy_file(test::kFixtures + "/preprocess/frames_small_0.png", dir_ + "/my-videos/cover.png");
    fs::create_symlink(".", dir_ + "/my-videos/holiday/loop");  // a cycle: walked once
    // A Hugging Face BERT (the parity fixture, written by transformers) as it is downloaded:
    // model.safetensors, config.json and vocab.txt in one folder; and one without its config.
    fs::create_directories(dir_ + "/hf");
    fs::create_directories(dir_ + "/hf_no_config");
    fs::copy_file(test::kParity + "/fixtures/tiny_bert_weights.safetensors", dir_ + "/hf/model.safetensors");
    fs::copy_file(test::kParity + "/fixtures/tiny_bert_config.json", dir_ + "/hf/config.json");
    fs::copy_file(dir_ + "/v.txt", dir_ + "/hf/vocab.txt");
    fs::copy_file(dir_ + "/hf/model.safetensors", dir_ + "/hf_no_config/model.safetensors");
    fs::copy_file(dir_ + "/my-videos/beach.mp4", dir_ + "/my-videos/.hidden.mp4");
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void SetUp() override {
    if (!setup_error_.empty()) FAIL() << setup_error_;
  }
  static Result frost(const std::vector<std::string>& args) { return run_frost(args, {}, dir_, "", 300); }
  // The embeddings of an `encode` output (.safetensors).
  static HostTensor embeddings(const std::string& name) {
    return loader::SafetensorsFile::open(dir_ + "/" + name).read("embeddings", DType::F32);
  }
  static std::string dir_, setup_error_;
};
std::string CliModelFiles::dir_, CliModelFiles::setup_error_;

bool same_bits(const HostTensor& a, const HostTensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

TEST_F(CliModelFiles, RecordedConfigAndVocabularyNeedNoFlags) {
  const Result flags =
      frost({"encode", "text", "a dog on a beach", "two children", "--weights", "w.safetensors", "--config",
             "tiny", "--vocab", "v.txt", "--out", "flags.safetensors"});
  ASSERT_EQ(flags.exit_code, 0) << flags.err;
  const Result recorded = frost({"encode", "text", "a dog on a beach", "two children", "--weights",
                                 "fit.safetensors", "--out", "rec.safetensors"});
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;
  EXPECT_TRUE(same_bits(embeddings("flags.safetensors"), embeddings("rec.safetensors")));
  // An explicit --config that differs from the recorded one is used, with a note.
  const Result other = frost({"encode", "text", "a dog", "--weights", "fit.safetensors", "--config", "base",
                              "--out", "base.safetensors"});
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.err.find("records another config ('tiny'); using --config base"), std::string::npos)
      << other.err;
}

// The released checkpoints are PyTorch .pth.tar files (issue 18): the tiny model in the reference's layout
// (state_dict with 'module.' names, optimizer, a parse_config.ConfigParser; tests/fixtures/pytorch, torch
// 2.15) works as --weights directly — the same bits as its safetensors original, text and video — `frost
// info` describes it, `frost convert` writes a safetensors file that gives the same bits again, and a
// checkpoint whose pickle calls os.system loads its weights with nothing run.
TEST_F(CliModelFiles, APyTorchCheckpointIsReadDirectly) {
  const std::string pth = std::string(FROST_TEST_FIXTURES) + "/pytorch/tiny_dual.pth.tar";
  const Result safetensors = frost({"encode", "text", "a dog on a beach", "--weights", "w.safetensors",
                                    "--config", "tiny", "--vocab", "v.txt", "--out", "st_t.safetensors"});
  ASSERT_EQ(safetensors.exit_code, 0) << safetensors.err;
  const Result pytorch = frost({"encode", "text", "a dog on a beach", "--weights", pth, "--config", "tiny",
                                "--vocab", "v.txt", "--out", "pth_t.safetensors"});
  ASSERT_EQ(pytorch.exit_code, 0) << pytorch.err;
  EXPECT_TRUE(same_bits(embeddings("st_t.safetensors"), embeddings("pth_t.safetensors")));
  EXPECT_NE(pytorch.err.find("parse_config.ConfigParser at config (not run"), std::string::npos)
      << pytorch.err;
  const Result video_st = frost({"encode", "video", "my-videos/beach.mp4", "--weights", "w.safetensors",
                                 "--config", "tiny", "--out", "st_v.safetensors"});
  ASSERT_EQ(video_st.exit_code, 0) << video_st.err;
  const Result video_pth = frost({"encode", "video", "my-videos/beach.mp4", "--weights", pth, "--config",
                                  "tiny", "--out", "pth_v.safetensors"});
  ASSERT_EQ(video_pth.exit_code, 0) << video_pth.err;
  EXPECT_TRUE(same_bits(embeddings("st_v.safetensors"), embeddings("pth_v.safetensors")));

  const Result info = frost({"info", pth});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("PyTorch zip checkpoint, 83 tensors in its state dict"), std::string::npos)
      << info.out;
  EXPECT_NE(info.out.find("module.text_model.embeddings.word_embeddings.weight  F32[512, 64]"),
            std::string::npos)
      << info.out;

  const Result convert = frost({"convert", pth, "converted.safetensors"});
  ASSERT_EQ(convert.exit_code, 0) << convert.err;
  const Result converted = frost({"encode", "text", "a dog on a beach", "--weights", "converted.safetensors",
                                  "--config", "tiny", "--vocab", "v.txt", "--out", "conv_t.safetensors"});
  ASSERT_EQ(converted.exit_code, 0) << converted.err;
  EXPECT_TRUE(same_bits(embeddings("st_t.safetensors"), embeddings("conv_t.safetensors")));
  // convert never overwrites its input.
  const Result onto_itself = frost({"convert", pth, pth});
  EXPECT_EQ(onto_itself.exit_code, 1);

  // Hostile pickles: nothing runs (the marker the payload would touch stays absent), and a file that is
  // neither format is named for what it is.
  const std::string marker = "/tmp/frost_pwned_by_fixture";
  fs::remove(marker);
  const Result hostile = frost({"info", std::string(FROST_TEST_FIXTURES) + "/pytorch/hostile.pth.tar"});
  EXPECT_FALSE(fs::exists(marker));
  EXPECT_NE(hostile.out.find("not run"), std::string::npos) << hostile.out << hostile.err;
  std::ofstream(dir_ + "/weights.h5", std::ios::binary) << std::string("\x89HDF\r\n\x1a\n", 8) << "data";
  const Result h5 = frost({"encode", "text", "a dog", "--weights", "weights.h5", "--config", "tiny",
                           "--vocab", "v.txt", "--out", "h5.safetensors"});
  EXPECT_EQ(h5.exit_code, 1);
  EXPECT_NE(
      h5.err.find("weights.h5: neither a safetensors file nor a PyTorch checkpoint: it is an HDF5 file"),
      std::string::npos)
      << h5.err;
}

TEST_F(CliModelFiles, AModelTheDefaultVocabularyDoesNotFitSaysToGiveVocab) {
  const Result r =
      frost({"encode", "text", "a dog", "--weights", "no_vocab.safetensors", "--out", "t.safetensors"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(
      r.err.find(
          "the default vocabulary (BERT uncased, the reference's) has 30522 tokens but the text model of "
          "config 'tiny' has a word-embedding table of 512 rows — give --vocab"),
      std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir_ + "/t.safetensors"));
}

TEST_F(CliModelFiles, EachCommandLoadsOnlyTheTowerItUses) {
  const Result whole = frost(
      {"encode", "video", "my-videos/beach.mp4", "--weights", "fit.safetensors", "--out", "vw.safetensors"});
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  const Result video = frost({"encode", "video", "my-videos/beach.mp4", "--weights", "video_only.safetensors",
                              "--out", "vv.safetensors"});
  ASSERT_EQ(video.exit_code, 0) << video.err;
  EXPECT_TRUE(same_bits(embeddings("vw.safetensors"), embeddings("vv.safetensors")));
  const Result index = frost(
      {"index", "my-videos/beach.mp4", "--weights", "video_only.safetensors", "--out", "video_only.index"});
  EXPECT_EQ(index.exit_code, 0) << index.err;
  const Result like = frost({"search", "--index", "video_only.index", "--weights", "video_only.safetensors",
                             "--like", "my-videos/beach.mp4"});
  EXPECT_EQ(like.exit_code, 0) << like.err;

  const Result no_text =
      frost({"encode", "text", "a dog", "--weights", "video_only.safetensors", "--out", "t.safetensors"});
  EXPECT_EQ(no_text.exit_code, 1);
  EXPECT_NE(
      no_text.err.find("the text tower (text_model.*, txt_proj.*) is not in the files given — embedding "
                       "captions needs a checkpoint that holds it"),
      std::string::npos)
      << no_text.err;
  const Result text =
      frost({"encode", "text", "a dog", "--weights", "text_only.safetensors", "--out", "tt.safetensors"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  const Result no_video = frost({"encode", "video", "my-videos/beach.mp4", "--weights",
                                 "text_only.safetensors", "--out", "v2.safetensors"});
  EXPECT_EQ(no_video.exit_code, 1);
  EXPECT_NE(no_video.err.find("the video tower (video_model.*, vid_proj.*) is not in the files given"),
            std::string::npos)
      << no_video.err;
}

// A .npy file read back by the format's rules (independently of frost's writer): magic, version 1.0, a
// little-endian header length, a header dict, the data at a multiple of 64.
TEST_F(CliModelFiles, NormalizeGivesUnitRowsAndNpyIsNumPysFormat) {
  const std::vector<std::string> captions = {"a dog on a beach", "two children", "a cooking show"};
  std::vector<std::string> a = {"encode", "text"};
  a.insert(a.end(), captions.begin(), captions.end());
  for (const char* w : {"--weights", "fit.safetensors", "--out", "raw.safetensors"}) a.push_back(w);
  ASSERT_EQ(frost(a).exit_code, 0);
  a.back() = "t.npy";
  a.push_back("--normalize");
  const Result r = frost(a);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("embeddings F32[3, 32] (normalised; row i is input i)"), std::string::npos) << r.out;

  const std::string npy = slurp(dir_ + "/t.npy");
  ASSERT_GE(npy.size(), 10u);
  EXPECT_EQ(npy.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t header_len = size_t(uint8_t(npy[8])) | size_t(uint8_t(npy[9])) << 8;
  const std::string header = npy.substr(10, header_len);
  EXPECT_EQ((10 + header_len) % 64, 0u);
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(header.substr(0, header.find('}') + 1),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 32), }");
  ASSERT_EQ(npy.size(), 10 + header_len + 3 * 32 * 4);
  const float* rows = reinterpret_cast<const float*>(npy.data() + 10 + header_len);
  const HostTensor raw = embeddings("raw.safetensors");
  for (int64_t i = 0; i < 3; ++i) {
    double norm = 0, raw_norm = 0;
    for (int64_t k = 0; k < 32; ++k) norm += double(rows[i * 32 + k]) * rows[i * 32 + k];
    for (int64_t k = 0; k < 32; ++k)
      raw_norm += double(raw.data<float>()[i * 32 + k]) * raw.data<float>()[i * 32 + k];
    EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-6) << "row " << i;
    for (int64_t k = 0; k < 32; ++k)  // the direction is the raw embedding's
      EXPECT_NEAR(rows[i * 32 + k], raw.data<float>()[i * 32 + k] / std::sqrt(raw_norm), 1e-6);
  }
}

TEST_F(CliModelFiles, HelpGivesEveryCommandAnExampleAndItsDefaults) {
  // Every command `frost --help` lists (so a new command without an example fails here).
  const Result top = frost({"--help"});
  ASSERT_EQ(top.exit_code, 0);
  std::vector<std::string> commands;
  std::istringstream lines(top.out.substr(top.out.find("Subcommands:")));
  std::string line;
  std::getline(lines, line);
  while (std::getline(lines, line) && line.rfind("  ", 0) == 0)
    commands.push_back(line.substr(2, line.find(' ', 2) - 2));
  EXPECT_GE(commands.size(), 12u) << top.out;
  for (const std::string& c : commands) {
    const Result r = frost({c, "--help"});
    ASSERT_EQ(r.exit_code, 0) << c;
    EXPECT_NE(r.out.find("\nExample: frost " + c), std::string::npos) << c << "\n" << r.out;
    EXPECT_EQ(r.out.find("=[]"), std::string::npos) << c << "\n" << r.out;
    EXPECT_EQ(r.out.find("{false}"), std::string::npos) << c << "\n" << r.out;
  }
  const Result train = frost({"train", "--help"});
  EXPECT_NE(train.out.find("--schedule TEXT:{constant,linear,cosine}=constant"), std::string::npos)
      << train.out;
  EXPECT_NE(train.out.find("--temporal-fix TEXT:{zeros,interp,bilinear}=zeros"), std::string::npos)
      << train.out;
  const Result search = frost({"search", "--help"});
  EXPECT_NE(search.out.find("-k INT:INT in [1 - 1073741824]=10"), std::string::npos) << search.out;
  const Result encode = frost({"encode", "--help"});
  EXPECT_NE(encode.out.find("unnormalised, as the model outputs them; --normalize for unit rows"),
            std::string::npos);
}

TEST_F(CliModelFiles, IndexingAFolderOfVideosIndexesEachVideoInIt) {
  const Result r = frost({"index", "my-videos/", "--weights", "fit.safetensors", "--out", "my-videos.index"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const retrieval::Index ix = retrieval::Index::load(dir_ + "/my-videos.index");
  std::vector<std::string> paths;
  for (size_t i = 0; i < ix.size(); ++i) paths.push_back(ix.item(i).path);
  std::sort(paths.begin(), paths.end());
  EXPECT_EQ(paths, (std::vector<std::string>{"my-videos/beach.mp4", "my-videos/holiday/cooking.MKV",
                                             "my-videos/holiday/frames"}));
  EXPECT_NE(r.err.find("1 image file beside videos in my-videos/ left out (e.g. my-videos/cover.png)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(ix.item(*ix.find("my-videos/holiday/frames")).frames, (std::vector<int64_t>{0, 1}))
      << "a frame folder is one clip (of its two frames)";
  // Nothing to index in a folder without frames or videos: an error naming it.
  const Result empty =
      frost({"index", "my-videos/empty", "--weights", "fit.safetensors", "--out", "e.index"});
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_NE(empty.err.find("holds no frames and no video files"), std::string::npos) << empty.err;
}

// `--text-weights`: a Hugging Face text model's features (it has no projection, so no embeddings), equal to
// the library's BERT on the same weights (which tests/parity_test.cpp and minilm_test hold to transformers);
// the same file as --weights is named for what it is; what needs embeddings says so.
TEST_F(CliModelFiles, AHuggingFaceTextModelGivesItsFeatures) {
  const Result r = frost({"encode", "text", "a dog on a beach", "two children", "--text-weights",
                          "hf/model.safetensors", "--out", "hf_features.safetensors"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("features F32[2, 64]"), std::string::npos) << r.out;
  const auto out = loader::SafetensorsFile::open(dir_ + "/hf_features.safetensors");
  EXPECT_EQ(out.find("embeddings"), nullptr);
  model::FitConfig c;
  c.text = model::TextConfig::from_hf_config_file(dir_ + "/hf/config.json");
  model::DualEncoder lib(
      c,
      model::load_weights(c, {{dir_ + "/hf/model.safetensors", model::WeightSource::HuggingFaceText}},
                          {.towers = model::Towers::Text, .allow_missing = true}),
      loader::WordPieceTokenizer::from_vocab(dir_ + "/v.txt"), {.projection = false});
  EXPECT_TRUE(same_bits(out.read("features", DType::F32),
                        lib.encode_text({"a dog on a beach", "two children"}).features));

  const Result as_weights =
      frost({"encode", "text", "a dog", "--weights", "hf/model.safetensors", "--out", "x.safetensors"});
  EXPECT_EQ(as_weights.exit_code, 1);
  EXPECT_NE(as_weights.err.find("is a Hugging Face text model (DistilBERT/BERT names), not a Frozen in Time "
                                "checkpoint: it has no projection, so no embeddings — `frost encode text "
                                "--text-weights` gives its features"),
            std::string::npos)
      << as_weights.err;
  const Result score =
      frost({"score", "--weights", "hf/model.safetensors", "--video", "my-videos/beach.mp4", "a dog"});
  EXPECT_EQ(score.exit_code, 1);
  EXPECT_NE(score.err.find("is a Hugging Face text model"), std::string::npos) << score.err;
  const Result no_config =
      frost({"encode", "text", "a dog", "--text-weights", "hf_no_config/model.safetensors", "--vocab",
             "v.txt", "--out", "x.safetensors"});
  EXPECT_EQ(no_config.exit_code, 1);
  EXPECT_NE(no_config.err.find("no config.json beside it — give the model's config.json with --text-config"),
            std::string::npos)
      << no_config.err;
  const Result video = frost({"encode", "video", "my-videos/beach.mp4", "--text-weights",
                              "hf/model.safetensors", "--out", "x.safetensors"});
  EXPECT_EQ(video.exit_code, 1);
  EXPECT_NE(video.err.find("--text-weights does not apply to `encode video`"), std::string::npos)
      << video.err;
  const Result normalize = frost({"encode", "text", "a dog", "--text-weights", "hf/model.safetensors",
                                  "--normalize", "--out", "x.safetensors"});
  EXPECT_EQ(normalize.exit_code, 1);
  EXPECT_NE(
      normalize.err.find("--normalize applies to embeddings, and a Hugging Face text model (--text-weights) "
                         "gives features only"),
      std::string::npos)
      << normalize.err;
  EXPECT_FALSE(fs::exists(dir_ + "/x.safetensors"));
}

// Issue 17's tokenizer settings through the binary: `--vocab` takes the field case's cased vocabulary alone
// (read as cased, with a note), a Hugging Face folder (vocab.txt + tokenizer_config.json) or a
// tokenizer.json, and each gives the embeddings of the cased ids ("Dog" is 500, not "dog"'s 103): the bits of
// the library with a cased tokenizer. An uncased folder gives other embeddings; a BPE tokenizer.json is
// refused by name.
TEST_F(CliModelFiles, VocabTakesATokenizersOwnSettings) {
  const std::string settings = test::kFixtures + "/tokenizer_settings";
  fs::copy_file(settings + "/case_vocab.txt", dir_ + "/cased_vocab.txt",
                fs::copy_options::overwrite_existing);
  for (const char* d : {"/hf_cased", "/hf_uncased", "/hf_cased_json", "/hf_bpe"})
    fs::create_directories(dir_ + d);
  fs::copy_file(settings + "/case_vocab.txt", dir_ + "/hf_cased/vocab.txt",
                fs::copy_options::overwrite_existing);
  std::ofstream(dir_ + "/hf_cased/tokenizer_config.json")
      << R"({"do_lower_case": false, "tokenizer_class": "BertTokenizer"})";
  fs::copy_file(settings + "/case_vocab.txt", dir_ + "/hf_uncased/vocab.txt",
                fs::copy_options::overwrite_existing);
  std::ofstream(dir_ + "/hf_uncased/tokenizer_config.json") << R"({"do_lower_case": true})";
  fs::copy_file(settings + "/cased_config_saved.tokenizer.json", dir_ + "/hf_cased_json/tokenizer.json",
                fs::copy_options::overwrite_existing);
  fs::copy_file(settings + "/bpe.tokenizer.json", dir_ + "/hf_bpe/tokenizer.json",
                fs::copy_options::overwrite_existing);

  const std::vector<std::string> captions = {"Dog on the Beach", "a Cat on the beach"};
  auto encode = [&](const std::string& vocab, const std::string& out) {
    std::vector<std::string> a = {"encode", "text"};
    a.insert(a.end(), captions.begin(), captions.end());
    for (const std::string& w :
         {std::string("--weights"), std::string("w.safetensors"), std::string("--config"),
          std::string("tiny"), std::string("--vocab"), vocab, std::string("--out"), out})
      a.push_back(w);
    return frost(a);
  };
  const Result alone = encode("cased_vocab.txt", "cased_alone.safetensors");
  ASSERT_EQ(alone.exit_code, 0) << alone.err;
  EXPECT_NE(
      alone.err.find("note: cased_vocab.txt: no tokenizer settings come with this vocabulary, and 4 of its "
                     "tokens have capitals ('Dog', 'Cat', '##Run', ...), which a lowercasing tokenizer "
                     "never produces: reading it as cased"),
      std::string::npos)
      << alone.err;
  for (const auto& [vocab, out] : {std::pair{"hf_cased", "cased_folder.safetensors"},
                                   std::pair{"hf_cased/tokenizer_config.json", "cased_config.safetensors"},
                                   std::pair{"hf_cased_json", "cased_json_folder.safetensors"},
                                   std::pair{"hf_cased_json/tokenizer.json", "cased_json.safetensors"}}) {
    const Result r = encode(vocab, out);
    ASSERT_EQ(r.exit_code, 0) << vocab << "\n" << r.err;
    EXPECT_EQ(r.err.find("note:"), std::string::npos) << vocab << "\n" << r.err;
    EXPECT_TRUE(same_bits(embeddings(out), embeddings("cased_alone.safetensors"))) << vocab;
  }
  // The library with the cased tokenizer: the same bits.
  loader::TokenizerOptions cased;
  cased.lowercase = false;
  const model::FitConfig tiny = model::FitConfig::tiny();
  model::DualEncoder lib(
      tiny,
      model::load_weights(tiny, {{dir_ + "/w.safetensors", model::WeightSource::FrozenInTime}},
                          {.towers = model::Towers::Text}),
      loader::WordPieceTokenizer::from_vocab(dir_ + "/cased_vocab.txt", cased));
  EXPECT_TRUE(same_bits(embeddings("cased_alone.safetensors"), lib.encode_text(captions).embedding));
  // Lowercased, the captions are other ids ("dog" 103, "beach" 118), so other embeddings.
  const Result uncased = encode("hf_uncased", "uncased_folder.safetensors");
  ASSERT_EQ(uncased.exit_code, 0) << uncased.err;
  EXPECT_FALSE(same_bits(embeddings("uncased_folder.safetensors"), embeddings("cased_alone.safetensors")));

  const Result bpe = encode("hf_bpe", "bpe.safetensors");
  EXPECT_EQ(bpe.exit_code, 1);
  EXPECT_NE(bpe.err.find("hf_bpe/tokenizer.json: model 'BPE' is not supported — frost runs WordPiece (BERT) "
                         "tokenizers"),
            std::string::npos)
      << bpe.err;
  EXPECT_FALSE(fs::exists(dir_ + "/bpe.safetensors"));
}

// `frost train --text-weights`: the reference's start — the text model from Hugging Face, the rest (the
// projections, here the video tower too) from scratch. With the text model frozen, the exported model holds
// the Hugging Face tensors bit for bit.
TEST_F(CliModelFiles, TrainingStartsFromAHuggingFaceTextModel) {
  std::ofstream(dir_ + "/bert_tiny.json")
      << R"({"projection_dim": 32, "text": {"arch": "bert", "vocab_size": 512, "dim": 64, "layers": 2, "heads": 2,
            "ffn_dim": 128, "max_positions": 64, "type_vocab_size": 2, "use_pooler": true}, "video": {"image_size": 32,
            "patch_size": 8, "dim": 64, "depth": 2, "heads": 2, "mlp_dim": 128}})";
  std::ofstream(dir_ + "/two.csv") << "video,caption\nmy-videos/beach.mp4,a test pattern\n"
                                   << "my-videos/holiday/cooking.MKV,colour bars\n";
  const Result r = frost({"train", "--config", "bert_tiny.json", "--text-weights", "hf/model.safetensors",
                          "--vocab", "v.txt", "--data", "two.csv", "--batch", "2", "--steps", "2", "--freeze",
                          "text", "--out", "hf_run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("initialised from scratch (--init-seed 0), as no file gives them: txt_proj.* (2), "
                       "video_model.*"),
            std::string::npos)
      << r.err;
  const model::FitConfig c = model::FitConfig::named_or_file(dir_ + "/bert_tiny.json");
  const auto hf = loader::SafetensorsFile::open(dir_ + "/hf/model.safetensors");
  const auto run = loader::SafetensorsFile::open(dir_ + "/hf_run/model.safetensors");
  int compared = 0;
  for (const loader::TensorEntry& e : hf.tensors()) {
    const std::string name = model::canonical_weight_name(e.name, model::WeightSource::HuggingFaceText, c);
    if (name.empty()) continue;
    ASSERT_NE(run.find("module." + name), nullptr) << name;
    EXPECT_TRUE(same_bits(run.read("module." + name, DType::F32), hf.read(e.name, DType::F32))) << name;
    ++compared;
  }
  EXPECT_GT(compared, 30);
}

}  // namespace
}  // namespace frost

// `frost index` and `frost search` as a user runs them, on the tiny model: search by example finds each
// item itself first with cosine 1; an index built in steps (append, a resumed run after a partial one,
// --remove, --update after a file changed) holds exactly what one full run makes; other video weights are
// refused, other text weights are not; two writers of one index are refused.
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>
#include <utime.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "loader/safetensors.h"
#include "retrieval/index.h"

namespace frost {
namespace {

namespace fs = std::filesystem;
using test::Result;
using test::run_frost;

class CliIndex : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("frost_cli_index_" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::copy_file(test::kParity + "/fixtures/tiny_dual_weights.safetensors", dir_ + "/w.safetensors");
    fs::copy_file(test::kParity + "/fixtures/tiny_vocab.txt", dir_ + "/v.txt");
    for (const char* f :
         {"frames_small_0.png", "frames_landscape_0.png", "frames_portrait_0.png", "frames_oddsquare_0.png"})
      fs::copy_file(test::kFixtures + "/preprocess/" + f, dir_ + "/" + f);
    for (const char* src : {"testsrc2", "smptebars"}) {
      const std::string make = "ffmpeg -nostdin -y -loglevel error -f lavfi -i " + std::string(src) +
                               "=size=64x48:rate=10 -frames:v 12 -c:v libx264 -pix_fmt yuv420p '" + dir_ +
                               "/" + src + ".mp4'";
      if (std::system(make.c_str()) != 0) setup_error_ = "the ffmpeg command failed: " + make;
    }
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void SetUp() override {
    if (!setup_error_.empty()) FAIL() << setup_error_;
  }
  static Result frost(std::vector<std::string> args) {
    for (const char* a : {"--config", "tiny", "--weights", "w.safetensors"}) args.push_back(a);
    return run_frost(args, {}, dir_, "", 300);
  }
  static retrieval::Index load(const std::string& name) { return retrieval::Index::load(dir_ + "/" + name); }
  static std::string dir_, setup_error_;
};
std::string CliIndex::dir_, CliIndex::setup_error_;

const std::vector<std::string> kItems = {"testsrc2.mp4", "frames_small_0.png", "smptebars.mp4",
                                         "frames_landscape_0.png", "frames_portrait_0.png"};

// Item by item, the same path, stamp, frames and embedding bits.
void expect_same(const retrieval::Index& got, const retrieval::Index& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const retrieval::IndexItem& w = want.item(i);
    const std::optional<size_t> at = got.find(w.path);
    ASSERT_TRUE(at.has_value()) << w.path;
    const retrieval::IndexItem& g = got.item(*at);
    EXPECT_EQ(g.size, w.size) << w.path;
    EXPECT_EQ(g.mtime_ns, w.mtime_ns) << w.path;
    EXPECT_EQ(g.frames, w.frames) << w.path;
    EXPECT_EQ(std::memcmp(got.rows().row(int64_t(*at)), want.rows().row(int64_t(i)), size_t(want.dim()) * 4),
              0)
        << w.path;
  }
}

TEST_F(CliIndex, SearchByExampleFindsEachItemFirst) {
  std::vector<std::string> args = {"index", "--out", "all.index"};
  args.insert(args.end(), kItems.begin(), kItems.end());
  const Result r = frost(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("5 items (5 encoded"), std::string::npos) << r.out;
  for (const std::string& item : kItems) {
    const Result s = frost({"search", "--index", "all.index", "--like", item, "-k", "3", "--json"});
    ASSERT_EQ(s.exit_code, 0) << s.err;
    const auto j = nlohmann::json::parse(s.out);
    EXPECT_EQ(j.at("results")[0].at("path"), item) << s.out;
    EXPECT_NEAR(j.at("results")[0].at("score").get<double>(), 1.0, 1e-5) << s.out;
    EXPECT_EQ(j.at("results").size(), 3u);
  }
  const Result t =
      frost({"search", "--index", "all.index", "--vocab", "v.txt", "a dog runs", "a test pattern"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("a dog runs\n    1  "), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("a test pattern\n    1  "), std::string::npos) << t.out;
}

TEST_F(CliIndex, StepwiseIndexEqualsOneFullRun) {
  std::vector<std::string> full = {"index", "--out", "full.index"};
  full.insert(full.end(), kItems.begin(), kItems.end());
  ASSERT_EQ(frost(full).exit_code, 0);
  // Two items, then all five: the second run appends three and re-encodes nothing (what a run resumed after a
  // kill does: the killed run's last save holds a prefix of the items).
  ASSERT_EQ(frost({"index", "--out", "steps.index", kItems[0], kItems[1]}).exit_code, 0);
  std::vector<std::string> rest = {"index", "--out", "steps.index"};
  rest.insert(rest.end(), kItems.begin(), kItems.end());
  const Result again = frost(rest);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("5 items (3 encoded, 2 already indexed, 0 removed)"), std::string::npos)
      << again.out;
  expect_same(load("steps.index"), load("full.index"));
  // --remove, then the item back: the same index again.
  const Result removed = frost({"index", "--out", "steps.index", "--remove", "smptebars.mp4"});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_EQ(load("steps.index").size(), 4u);
  EXPECT_FALSE(load("steps.index").find("smptebars.mp4").has_value());
  ASSERT_EQ(frost({"index", "--out", "steps.index", "smptebars.mp4"}).exit_code, 0);
  expect_same(load("steps.index"), load("full.index"));
  // A file changed since it was indexed: reported, and re-encoded with --update.
  const std::string changed = dir_ + "/frames_portrait_0.png";
  utimbuf times{1000000000, 1000000000};
  ASSERT_EQ(::utime(changed.c_str(), &times), 0);
  const Result reported = frost({"index", "--out", "steps.index", "frames_portrait_0.png"});
  ASSERT_EQ(reported.exit_code, 0) << reported.err;
  EXPECT_NE(reported.out.find("1 changed since indexed — --update re-encodes them"), std::string::npos)
      << reported.out;
  const Result updated = frost({"index", "--out", "steps.index", "--update", "frames_portrait_0.png"});
  ASSERT_EQ(updated.exit_code, 0) << updated.err;
  EXPECT_NE(updated.out.find("5 items (1 encoded"), std::string::npos) << updated.out;
  const retrieval::Index after = load("steps.index");
  EXPECT_EQ(after.item(*after.find("frames_portrait_0.png")).mtime_ns, int64_t(1000000000) * 1000000000);
  // Its pixels did not change: the same embedding as in the full run.
  const retrieval::Index full_index = load("full.index");
  EXPECT_EQ(std::memcmp(after.rows().row(int64_t(*after.find("frames_portrait_0.png"))),
                        full_index.rows().row(int64_t(*full_index.find("frames_portrait_0.png"))), 32 * 4),
            0);
}

// Weights that differ in the video tower make other embeddings: refused by hash. A text-side change keeps
// the index valid.
TEST_F(CliIndex, OtherVideoWeightsAreRefusedTextWeightsAreNot) {
  ASSERT_EQ(frost({"index", "--out", "hash.index", kItems[0], kItems[1]}).exit_code, 0);
  const auto w = loader::SafetensorsFile::open(dir_ + "/w.safetensors");
  for (const char* changed : {"module.vid_proj.0.bias", "module.txt_proj.1.bias"}) {
    std::vector<HostTensor> keep;
    keep.reserve(w.tensors().size());
    std::vector<std::pair<std::string, const HostTensor*>> out;
    for (const loader::TensorEntry& e : w.tensors()) {
      keep.push_back(w.read(e.name));
      if (e.name == changed) keep.back().data<float>()[0] += 0.5f;
      out.emplace_back(e.name, &keep.back());
    }
    loader::write_safetensors(dir_ + "/w2.safetensors", out);
    const Result r = run_frost({"search", "--index", "hash.index", "--config", "tiny", "--weights",
                                "w2.safetensors", "--vocab", "v.txt", "a dog"},
                               {}, dir_, "", 120);
    if (std::string(changed).find("vid_proj") != std::string::npos) {
      EXPECT_EQ(r.exit_code, 1) << r.out;
      EXPECT_NE(r.err.find("was made with other video weights"), std::string::npos) << r.err;
    } else {
      EXPECT_EQ(r.exit_code, 0) << r.err;
    }
  }
}

TEST_F(CliIndex, TwoWritersOfOneIndexAreRefused) {
  const std::string lock = fs::weakly_canonical(dir_ + "/locked.index").string() + ".lock";  // as IndexLock
  const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);  // another writer holds it
  const Result r = frost({"index", "--out", "locked.index", kItems[1]});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is being written by another frost process"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ + "/locked.index"));
  ::close(fd);
  EXPECT_EQ(frost({"index", "--out", "locked.index", kItems[1]}).exit_code, 0);
}

}  // namespace
}  // namespace frost

// Every fixture folder under tests/fixtures records where its files came from (tests/fixtures/manifest.py
// writes MANIFEST.json when its make_fixtures.py runs): the generator's SHA-256, the package versions it ran
// with, each file's SHA-256. The committed files must still be those: a fixture edited by hand, or a
// generator changed without being re-run, fails here. (tests/parity records the same in its safetensors
// metadata: parity_test.cpp, ParityFixtures.)
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "sha256.h"

namespace frost {
namespace {

namespace fs = std::filesystem;

TEST(Fixtures, EveryFolderMatchesTheManifestItsGeneratorWrote) {
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(FROST_TEST_FIXTURES)) {
    if (!entry.is_directory()) continue;
    const std::string folder = entry.path().filename().string();
    SCOPED_TRACE(folder);
    ASSERT_TRUE(fs::exists(entry.path() / "make_fixtures.py")) << "a fixture folder without its generator";
    std::ifstream in(entry.path() / "MANIFEST.json");
    ASSERT_TRUE(in.good()) << "no MANIFEST.json: run its make_fixtures.py";
    const nlohmann::json m = nlohmann::json::parse(in);
    EXPECT_EQ(m.at("generator_sha256").get<std::string>(),
              test::sha256_of_file(entry.path() / "make_fixtures.py"))
        << "make_fixtures.py changed since the fixtures were made: re-run it";
    EXPECT_FALSE(m.at("packages").empty());
    ASSERT_FALSE(m.at("files").empty());
    std::set<std::string> listed;
    for (const auto& [name, sha] : m.at("files").items()) {
      listed.insert(name);
      EXPECT_EQ(sha.get<std::string>(), test::sha256_of_file(entry.path() / name))
          << name << " is not what the generator wrote";
    }
    // Every data file of the folder is one the generator wrote.
    for (const auto& f : fs::directory_iterator(entry.path())) {
      const std::string name = f.path().filename().string();
      if (name == "make_fixtures.py" || name == "MANIFEST.json" || name.rfind("__", 0) == 0) continue;
      EXPECT_TRUE(listed.count(name)) << name << " is not in the manifest";
    }
    ++checked;
  }
  EXPECT_GE(checked, 5);
}

}  // namespace
}  // namespace frost

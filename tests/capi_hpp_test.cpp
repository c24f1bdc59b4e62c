// frost.hpp, the header-only C++ wrapper, compiled as C++17 (a product's compiler may be older than
// frost's C++20): RAII handles, results in vectors, failures as frost::ApiError carrying the C status.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "frost/frost.hpp"

namespace {

const std::string kWeights = FROST_PARITY_DIR "/fixtures/tiny_dual_weights.safetensors";
const std::string kVocab = FROST_PARITY_DIR "/fixtures/tiny_vocab.txt";

frost_model_options tiny() {
  frost_model_options o;
  frost_model_options_init(&o);
  o.config = "tiny";
  o.vocab = kVocab.c_str();
  return o;
}

TEST(FrostHpp, EncodesAsTheCApiDoes) {
  const frost_model_options o = tiny();
  frost::Model model(kWeights, &o);
  ASSERT_EQ(model.embedding_dim(), 32u);
  const std::vector<std::string> captions = {"dog running on the beach", "cat"};
  const std::vector<float> text = model.encode_text(captions);
  ASSERT_EQ(text.size(), 64u);
  std::vector<float> want(64);
  const char* c[] = {captions[0].c_str(), captions[1].c_str()};
  ASSERT_EQ(frost_encode_text(model.get(), c, 2, want.data(), want.size()), FROST_OK);
  EXPECT_EQ(text, want);
  EXPECT_EQ(model.tokenize("cat").size(), 3u);  // [CLS] cat [SEP]
  std::vector<uint8_t> rgb(1 * 2 * 16 * 16 * 3, 100);
  const std::vector<float> clip = model.encode_frames(rgb, 1, 2, 16, 16);
  const std::vector<float> s = frost::similarity(text, 2, clip, 1, 32);
  EXPECT_EQ(s.size(), 2u);
  // Moved handles stay valid; the moved-from one is empty and frees nothing.
  frost::Model moved = std::move(model);
  EXPECT_EQ(moved.encode_text({"cat"}).size(), 32u);
}

TEST(FrostHpp, FailuresThrowWithTheirStatus) {
  const frost_model_options o = tiny();
  try {
    frost::Model missing("/nonexistent/weights.safetensors", &o);
    FAIL() << "opened a missing file";
  } catch (const frost::ApiError& e) {
    EXPECT_EQ(e.status(), FROST_BAD_FILE);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/weights.safetensors"), std::string::npos) << e.what();
  }
  frost::Model model(kWeights, &o);
  frost::Index index = frost::Index::create(model);
  EXPECT_EQ(index.size(), 0u);
  index.add("a", model.encode_text({"dog"}));
  index.add("b", model.encode_text({"cat"}));
  const std::vector<frost::Hit> hits = index.search_text(model, "dog", 2);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].name, "a");
  try {
    index.add("c", std::vector<float>(31));
    FAIL() << "added a 31-wide embedding";
  } catch (const frost::ApiError& e) {
    EXPECT_EQ(e.status(), FROST_INVALID_ARGUMENT);
  }
}

}  // namespace

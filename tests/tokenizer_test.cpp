// The WordPiece tokenizer against the Hugging Face fast tokenizer (tests/fixtures/tokenizer: several hundred
// varied strings, uncased and cased, ids written by the `tokenizers` library), plus batching, special
// tokens read from the vocabulary, the default vocabulary's checksum and invalid UTF-8.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "loader/tokenizer.h"

namespace frost::loader {
namespace {

const std::string kFixtures = FROST_TEST_FIXTURES;

TEST(Tokenizer, MatchesTheHuggingFaceFastTokenizer) {
  const WordPieceTokenizer uncased = default_uncased_tokenizer();
  TokenizerOptions cased_options;
  cased_options.lowercase = false;
  const WordPieceTokenizer cased = WordPieceTokenizer::from_vocab(default_vocab_path(), cased_options);
  const nlohmann::json fixture =
      nlohmann::json::parse(std::ifstream(kFixtures + "/tokenizer/wordpiece_parity.json"));
  size_t checked = 0, mismatched = 0;
  for (const nlohmann::json& c : fixture["cases"]) {
    const std::string text = c["text"].get<std::string>();
    const std::vector<int32_t> want = c["ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t> got = (c["lowercase"].get<bool>() ? uncased : cased).encode(text);
    ++checked;
    if (got != want) {
      ++mismatched;
      std::string g, w;
      for (int32_t id : got) g += " " + std::to_string(id);
      for (int32_t id : want) w += " " + std::to_string(id);
      ADD_FAILURE() << (c["lowercase"].get<bool>() ? "uncased" : "cased") << " text \"" << text
                    << "\"\n  got: " << g << "\n want: " << w;
    }
  }
  EXPECT_GE(checked, 500u);
  EXPECT_EQ(mismatched, 0u) << "of " << checked;
}

TEST(Tokenizer, SpecialTokensComeFromTheVocabulary) {
  const WordPieceTokenizer tok = default_uncased_tokenizer();
  EXPECT_EQ(tok.vocab_size(), 30522u);
  EXPECT_EQ(tok.token(tok.cls_id()), "[CLS]");
  EXPECT_EQ(tok.token(tok.sep_id()), "[SEP]");
  EXPECT_EQ(tok.token(tok.pad_id()), "[PAD]");
  EXPECT_EQ(tok.token(tok.unk_id()), "[UNK]");
  // A vocabulary with the specials elsewhere: ids follow the file, nothing is hard-coded.
  const WordPieceTokenizer small({"hello", "[SEP]", "[PAD]", "##s", "[CLS]", "[UNK]"}, {}, "inline");
  EXPECT_EQ(small.encode("Hellos"), (std::vector<int32_t>{4, 0, 3, 1}));
  EXPECT_EQ(small.encode("bye"), (std::vector<int32_t>{4, 5, 1}));
  EXPECT_THROW(WordPieceTokenizer({"a", "b"}, {}, "inline"), Error);  // no specials
}

TEST(Tokenizer, BatchesPadAndTruncate) {
  const WordPieceTokenizer tok = default_uncased_tokenizer();
  TokenBatch b = tok.encode_batch({"a dog", "two cats play in the garden"});
  ASSERT_EQ(b.input_ids.shape(), (Shape{2, 8}));  // [CLS] two cats play in the garden [SEP]
  EXPECT_EQ(b.input_ids.data<int64_t>()[0], tok.cls_id());
  EXPECT_EQ(b.input_ids.data<int64_t>()[3], tok.sep_id());
  EXPECT_EQ(b.input_ids.data<int64_t>()[4], tok.pad_id());
  EXPECT_EQ(b.attention_mask.data<int64_t>()[3], 1);
  EXPECT_EQ(b.attention_mask.data<int64_t>()[4], 0);
  BatchOptions fixed;
  fixed.max_length = 5;
  fixed.pad_to_max = true;
  b = tok.encode_batch({"two cats play in the garden", "a"}, fixed);
  ASSERT_EQ(b.input_ids.shape(), (Shape{2, 5}));
  EXPECT_EQ(b.input_ids.data<int64_t>()[4], tok.sep_id());  // truncated, [SEP] kept
  EXPECT_EQ(b.attention_mask.data<int64_t>()[5 + 3], 0);
}

TEST(Tokenizer, InvalidUtf8IsAnErrorNamingTheByte) {
  const WordPieceTokenizer tok = default_uncased_tokenizer();
  for (const std::string& bad :
       {std::string("ok \xff"), std::string("\xc3"), std::string("a\xed\xa0\x80z")}) {
    try {
      tok.encode(bad);
      FAIL() << "accepted invalid UTF-8";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find("not valid UTF-8 at byte"), std::string::npos) << e.what();
    }
  }
}

TEST(Tokenizer, ReadsTokenizerJson) {
  // A minimal tokenizer.json: the normaliser's options and the vocabulary come from the file.
  const std::string path = ::testing::TempDir() + "/frost_tokenizer.json";
  std::ofstream(path) << R"({"normalizer":{"type":"BertNormalizer","lowercase":false,"clean_text":true,)"
                         R"("handle_chinese_chars":true,"strip_accents":null},)"
                         R"("model":{"type":"WordPiece","max_input_chars_per_word":100,)"
                         R"("vocab":{"[PAD]":0,"[UNK]":1,"[CLS]":2,"[SEP]":3,"Hi":4,"hi":5}}})";
  const WordPieceTokenizer tok = WordPieceTokenizer::from_tokenizer_json(path);
  EXPECT_FALSE(tok.options().lowercase);
  EXPECT_EQ(tok.encode("Hi hi"), (std::vector<int32_t>{2, 4, 5, 3}));
}

}  // namespace
}  // namespace frost::loader

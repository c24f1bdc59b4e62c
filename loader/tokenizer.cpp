#include "loader/tokenizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "loader/files.h"
#include "loader/hash.h"

namespace frost::loader {
namespace {

using CodePoints = std::vector<utf8proc_int32_t>;

CodePoints decode(std::string_view text) {
  CodePoints out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  size_t i = 0;
  while (i < text.size()) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(p + i, utf8proc_ssize_t(text.size() - i), &cp);
    FROST_CHECK(n > 0 && cp >= 0, InvalidArgument, "tokenizer: text is not valid UTF-8 at byte " << i);
    out.push_back(cp);
    i += size_t(n);
  }
  return out;
}

std::string encode_utf8(const CodePoints& cps) {
  std::string out;
  out.reserve(cps.size());
  utf8proc_uint8_t buf[4];
  for (utf8proc_int32_t cp : cps) {
    const utf8proc_ssize_t n = utf8proc_encode_char(cp, buf);
    out.append(reinterpret_cast<const char*>(buf), size_t(n));
  }
  return out;
}

utf8proc_category_t category(utf8proc_int32_t cp) {
  return utf8proc_category(cp);
}

// Rust's char::is_whitespace (the White_Space property), which the tokenizers library uses: the space
// separators, line and paragraph separators, and the controls U+0009..U+000D and U+0085.
bool is_whitespace(utf8proc_int32_t cp) {
  const utf8proc_category_t c = category(cp);
  return (cp >= 0x9 && cp <= 0xD) || cp == 0x85 || c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL ||
         c == UTF8PROC_CATEGORY_ZP;
}

// BertNormalizer's is_control: tab, newline and carriage return count as whitespace; everything in the
// "other" categories (Cc, Cf, Cn, Co, Cs) is dropped.
bool is_control(utf8proc_int32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  const utf8proc_category_t c = category(cp);
  return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CN ||
         c == UTF8PROC_CATEGORY_CO || c == UTF8PROC_CATEGORY_CS;
}

// BERT's definition of a CJK ideograph (the CJK Unified Ideographs blocks and their extensions); these are
// the algorithm's ranges, not a Unicode property.
bool is_chinese_char(utf8proc_int32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// ASCII punctuation (which includes symbols such as $ + < = > ^ ` | ~) or any Unicode punctuation (P*).
bool is_punctuation(utf8proc_int32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
    return true;
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

// Canonical decomposition (NFD) of the whole string, with canonical reordering of combining marks.
CodePoints nfd(const CodePoints& in) {
  const std::string utf8 = encode_utf8(in);
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(utf8.data()), utf8proc_ssize_t(utf8.size()),
                   &out, utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE));
  FROST_CHECK(n >= 0, InvalidArgument, "tokenizer: NFD failed: " << utf8proc_errmsg(n));
  CodePoints result = decode(std::string_view(reinterpret_cast<const char*>(out), size_t(n)));
  std::free(out);
  return result;
}

// A vocabulary is a regular file (a FIFO or device named as one is refused, never opened) of one token a
// line; 64 MiB is far past any WordPiece vocabulary (BERT's is 226 kB).
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

std::vector<std::string> read_lines(const std::string& path) {
  return split_lines(read_regular_file(path, "vocabulary", size_t(64) << 20));
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, const TokenizerOptions& options,
                                       const std::string& source)
    : vocab_(std::move(vocab)), options_(options) {
  for (size_t i = 0; i < vocab_.size(); ++i) {
    FROST_CHECK(!vocab_[i].empty(), BadFile, source << ": line " << i + 1 << " of the vocabulary is empty");
    FROST_CHECK(is_valid_utf8(vocab_[i]), BadFile,
                source << ": line " << i + 1 << " of the vocabulary is not valid UTF-8");
    FROST_CHECK(ids_.emplace(vocab_[i], int32_t(i)).second, BadFile,
                source << ": token '" << vocab_[i] << "' appears twice (line " << i + 1 << ")");
  }
  // Special tokens are looked up, never assumed to sit at BERT's ids.
  auto special = [&](const char* name) {
    auto it = ids_.find(name);
    FROST_CHECK(it != ids_.end(), BadFile, source << ": the vocabulary has no " << name << " token");
    return it->second;
  };
  cls_ = special("[CLS]");
  sep_ = special("[SEP]");
  pad_ = special("[PAD]");
  unk_ = special("[UNK]");
  FROST_CHECK(options_.max_input_chars_per_word > 0, InvalidArgument,
              "tokenizer: max_input_chars_per_word must be positive");
}

WordPieceTokenizer WordPieceTokenizer::from_vocab(const std::string& path, const TokenizerOptions& options) {
  return WordPieceTokenizer(read_lines(path), options, path);
}

WordPieceTokenizer WordPieceTokenizer::from_vocab_text(const std::string& text, const std::string& source,
                                                       const TokenizerOptions& options) {
  return WordPieceTokenizer(split_lines(text), options, source);
}

WordPieceTokenizer WordPieceTokenizer::from_tokenizer_json(const std::string& path) {
  const std::string text = read_regular_file(path, "tokenizer.json", size_t(256) << 20);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    FROST_FAIL(BadFile, path << ": not valid JSON: " << json_error_text(e.what()));
  }
  FROST_CHECK(
      j.contains("model") && j["model"].value("type", "") == "WordPiece" && j["model"]["vocab"].is_object(),
      BadFile, path << ": not a WordPiece tokenizer.json (model.type must be WordPiece with a vocab)");
  TokenizerOptions options;
  const nlohmann::json& norm = j.value("normalizer", nlohmann::json());
  if (norm.is_object()) {
    FROST_CHECK(
        norm.value("type", "") == "BertNormalizer", Unsupported,
        path << ": normalizer '" << norm.value("type", "") << "' is not supported (BertNormalizer is)");
    options.lowercase = norm.value("lowercase", true);
    options.clean_text = norm.value("clean_text", true);
    options.handle_chinese_chars = norm.value("handle_chinese_chars", true);
    if (norm.contains("strip_accents") && norm["strip_accents"].is_boolean())
      options.strip_accents = norm["strip_accents"].get<bool>();
  }
  options.max_input_chars_per_word = j["model"].value("max_input_chars_per_word", 100);
  const nlohmann::json& v = j["model"]["vocab"];
  std::vector<std::string> vocab(v.size());
  for (auto it = v.begin(); it != v.end(); ++it) {
    FROST_CHECK(it.value().is_number_unsigned() && it.value().get<uint64_t>() < vocab.size(), BadFile,
                path << ": token '" << it.key() << "' has an id outside 0.." << vocab.size() - 1);
    std::string& slot = vocab[it.value().get<size_t>()];
    FROST_CHECK(slot.empty(), BadFile, path << ": two tokens share id " << it.value().get<size_t>());
    slot = it.key();
  }
  return WordPieceTokenizer(std::move(vocab), options, path);
}

std::string WordPieceTokenizer::normalize(std::string_view text) const {
  CodePoints cps = decode(text);
  if (options_.clean_text) {
    CodePoints kept;
    kept.reserve(cps.size());
    for (utf8proc_int32_t cp : cps) {
      if (cp == 0 || cp == 0xFFFD || is_control(cp)) continue;
      kept.push_back(is_whitespace(cp) ? ' ' : cp);
    }
    cps.swap(kept);
  }
  if (options_.handle_chinese_chars) {
    CodePoints spaced;
    spaced.reserve(cps.size());
    for (utf8proc_int32_t cp : cps) {
      if (is_chinese_char(cp)) {
        spaced.push_back(' ');
        spaced.push_back(cp);
        spaced.push_back(' ');
      } else {
        spaced.push_back(cp);
      }
    }
    cps.swap(spaced);
  }
  if (options_.strip_accents.value_or(options_.lowercase)) {
    CodePoints decomposed = nfd(cps);
    cps.clear();
    for (utf8proc_int32_t cp : decomposed)
      if (category(cp) != UTF8PROC_CATEGORY_MN) cps.push_back(cp);
  }
  if (options_.lowercase) {
    CodePoints lower;
    lower.reserve(cps.size());
    for (utf8proc_int32_t cp : cps) {
      if (cp == 0x130) {  // the one code point whose full lowercase is two: "i" + combining dot above
        lower.push_back(0x69);
        lower.push_back(0x307);
      } else {
        lower.push_back(utf8proc_tolower(cp));
      }
    }
    cps.swap(lower);
  }
  return encode_utf8(cps);
}

std::vector<std::string> WordPieceTokenizer::pre_tokenize(std::string_view text) const {
  const CodePoints cps = decode(normalize(text));
  std::vector<std::string> words;
  CodePoints word;
  auto flush = [&] {
    if (!word.empty()) words.push_back(encode_utf8(word));
    word.clear();
  };
  for (utf8proc_int32_t cp : cps) {
    if (is_whitespace(cp)) {
      flush();
    } else if (is_punctuation(cp)) {
      flush();
      words.push_back(encode_utf8({cp}));
    } else {
      word.push_back(cp);
    }
  }
  flush();
  return words;
}

void WordPieceTokenizer::wordpiece(const std::string& word, std::vector<int32_t>& out) const {
  // Offsets of code point boundaries: pieces are cut on them, never inside a UTF-8 sequence.
  std::vector<size_t> bounds;
  for (size_t i = 0; i < word.size(); ++i)
    if ((static_cast<unsigned char>(word[i]) & 0xC0) != 0x80) bounds.push_back(i);
  bounds.push_back(word.size());
  const size_t chars = bounds.size() - 1;
  if (chars > size_t(options_.max_input_chars_per_word)) {
    out.push_back(unk_);
    return;
  }
  std::vector<int32_t> pieces;
  size_t start = 0;
  while (start < chars) {
    size_t end = chars;
    int32_t found = -1;
    while (end > start) {
      std::string piece = word.substr(bounds[start], bounds[end] - bounds[start]);
      if (start > 0) piece = "##" + piece;
      auto it = ids_.find(piece);
      if (it != ids_.end()) {
        found = it->second;
        break;
      }
      --end;
    }
    if (found < 0) {  // one unmatchable piece makes the whole word [UNK]
      out.push_back(unk_);
      return;
    }
    pieces.push_back(found);
    start = end;
  }
  out.insert(out.end(), pieces.begin(), pieces.end());
}

std::vector<int32_t> WordPieceTokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::vector<int32_t> ids;
  if (add_special_tokens) ids.push_back(cls_);
  for (const std::string& word : pre_tokenize(text)) wordpiece(word, ids);
  if (add_special_tokens) ids.push_back(sep_);
  return ids;
}

TokenBatch WordPieceTokenizer::encode_batch(const std::vector<std::string>& texts,
                                            const BatchOptions& options) const {
  FROST_CHECK(options.max_length >= 2, InvalidArgument,
              "tokenizer: max_length " << options.max_length << " leaves no room for [CLS] and [SEP]");
  std::vector<std::vector<int32_t>> all;
  int64_t longest = 0;
  for (const std::string& t : texts) {
    std::vector<int32_t> ids = encode(t, false);
    // Truncate the word pieces so that [CLS] + pieces + [SEP] fits max_length.
    if (int64_t(ids.size()) > options.max_length - 2) ids.resize(size_t(options.max_length - 2));
    ids.insert(ids.begin(), cls_);
    ids.push_back(sep_);
    longest = std::max(longest, int64_t(ids.size()));
    all.push_back(std::move(ids));
  }
  const int64_t L = options.pad_to_max ? options.max_length : longest;
  TokenBatch b{HostTensor(DType::I64, {int64_t(texts.size()), L}),
               HostTensor(DType::I64, {int64_t(texts.size()), L})};
  for (size_t i = 0; i < all.size(); ++i) {
    for (int64_t j = 0; j < L; ++j) {
      const bool real = j < int64_t(all[i].size());
      b.input_ids.data<int64_t>()[int64_t(i) * L + j] = real ? all[i][size_t(j)] : pad_;
      b.attention_mask.data<int64_t>()[int64_t(i) * L + j] = real ? 1 : 0;
    }
  }
  return b;
}

std::optional<int32_t> WordPieceTokenizer::token_id(const std::string& token) const {
  auto it = ids_.find(token);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

const std::string& WordPieceTokenizer::token(int32_t id) const {
  FROST_CHECK(id >= 0 && size_t(id) < vocab_.size(), InvalidArgument,
              "tokenizer: id " << id << " is outside the vocabulary");
  return vocab_[size_t(id)];
}

std::string default_vocab_path() {
  return std::string(FROST_SOURCE_DIR) + "/loader/data/bert-base-uncased-vocab.txt";
}

WordPieceTokenizer default_uncased_tokenizer() {
  const std::string path = default_vocab_path();
  const std::string text = read_regular_file(path, "default vocabulary", size_t(64) << 20);  // read once
  const std::string digest = sha256_hex(text);
  FROST_CHECK(digest == kDefaultVocabSha256, BadFile,
              path << ": SHA-256 " << digest << " is not the recorded " << kDefaultVocabSha256);
  return WordPieceTokenizer(split_lines(text), {}, path);
}

}  // namespace frost::loader

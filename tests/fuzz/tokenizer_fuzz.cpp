// libFuzzer target: any bytes given to the WordPiece tokenizer either tokenize — ids within the vocabulary,
// framed by [CLS] and [SEP] — or raise frost::Error (invalid UTF-8). No crash, no hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/error.h"
#include "loader/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const frost::loader::WordPieceTokenizer tok = frost::loader::default_uncased_tokenizer();
  try {
    const std::vector<int32_t> ids = tok.encode(std::string_view(reinterpret_cast<const char*>(data), size));
    if (ids.size() < 2 || ids.front() != tok.cls_id() || ids.back() != tok.sep_id()) __builtin_trap();
    for (int32_t id : ids)
      if (id < 0 || size_t(id) >= tok.vocab_size()) __builtin_trap();
  } catch (const frost::Error&) {
  }
  return 0;
}

// Data files built into the library (cmake/embed_text.cmake writes them into a generated source at build
// time), so an installed or moved library reads nothing from the source tree.
#pragma once

#include <string_view>

namespace frost::loader {

// loader/data/bert-base-uncased-vocab.txt, byte for byte: the default vocabulary (default_uncased_tokenizer).
std::string_view default_vocab_text();
// loader/data/NOTICE.md: where that vocabulary comes from and its licence (Apache 2.0), shipped with it.
std::string_view default_vocab_notice();

}  // namespace frost::loader

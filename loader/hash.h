// SHA-256 through OpenSSL (a well-kept library for what frost is not about; docs/decisions.md), whole or
// incremental.
//
//   std::string h = sha256_hex(text);                  // 64 lowercase hex digits
//   Sha256 s; s.update(p, n); s.update(q, m); s.hex();  // the same over the concatenation
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace frost::loader {

std::string sha256_hex(const std::string& bytes);

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t bytes);
  void update(const std::string& s) { update(s.data(), s.size()); }
  // The digest of everything given so far, as hex; the object may not be updated after it.
  std::string hex();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace frost::loader

#include "loader/hash.h"

#include <openssl/evp.h>

#include "engine/error.h"

namespace frost::loader {

namespace {
std::string to_hex(const unsigned char* digest, unsigned int len) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}
}  // namespace

std::string sha256_hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  FROST_CHECK(EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr) == 1, Internal,
              "SHA-256 failed");
  return to_hex(digest, len);
}

struct Sha256::State {
  EVP_MD_CTX* ctx = nullptr;
  bool done = false;
  ~State() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  FROST_CHECK(state_->ctx != nullptr && EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr) == 1, Internal,
              "SHA-256 init failed");
}

Sha256::~Sha256() = default;

void Sha256::update(const void* data, size_t bytes) {
  FROST_CHECK(!state_->done, Internal, "Sha256::update after hex()");
  FROST_CHECK(EVP_DigestUpdate(state_->ctx, data, bytes) == 1, Internal, "SHA-256 update failed");
}

std::string Sha256::hex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  FROST_CHECK(!state_->done && EVP_DigestFinal_ex(state_->ctx, digest, &len) == 1, Internal,
              "SHA-256 final failed");
  state_->done = true;
  return to_hex(digest, len);
}

}  // namespace frost::loader

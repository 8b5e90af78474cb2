#include "reference_runtime/image/sha256.h"

#include <openssl/evp.h>

namespace crisp::crispd {

Sha256::Sha256() : context_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(context_, EVP_sha256(), nullptr); }

Sha256::~Sha256() { EVP_MD_CTX_free(context_); }

void Sha256::Update(const void* data, size_t size) { EVP_DigestUpdate(context_, data, size); }

std::string Sha256::Digest() {
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context_, hash, &length);
  std::string hex = "sha256:";
  for (unsigned int i = 0; i < length; ++i) {
    hex += "0123456789abcdef"[hash[i] >> 4];
    hex += "0123456789abcdef"[hash[i] & 15];
  }
  return hex;
}

std::string Sha256Digest(std::string_view data) {
  Sha256 hash;
  hash.Update(data.data(), data.size());
  return hash.Digest();
}

}  // namespace crisp::crispd

// Streaming SHA-256 (OpenSSL EVP), digests written as "sha256:<hex>".
#pragma once

#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace crisp::crispd {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  // "sha256:<64 lowercase hex>"; call once.
  std::string Digest();

 private:
  evp_md_ctx_st* context_;
};

std::string Sha256Digest(std::string_view data);

}  // namespace crisp::crispd

// Manifests, indexes and image configs, read the way crispd imports an OCI
// layout (`crispd import`; pulls read them through the same Store). The
// input is a JSON bundle {"index": {...}, "blobs": ["...", ...]}; "@blobN"
// in a blob or the index becomes the digest of blob N (blobs are written
// last to first, so a blob may name any later one), which keeps a mutated
// manifest reachable from the index. Layers go to a helper that refuses
// every one (/bin/false): their extraction has its own target.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "reference_runtime/image/image_store.h"
#include "reference_runtime/image/sha256.h"

namespace {

std::string Substitute(std::string text, const std::vector<std::string>& digests) {
  for (size_t i = digests.size(); i-- > 0;) {  // @blob12 before @blob1
    const std::string token = "@blob" + std::to_string(i);
    if (digests[i].empty()) continue;
    for (size_t at = text.find(token); at != std::string::npos; at = text.find(token, at + digests[i].size())) {
      text.replace(at, token.size(), digests[i]);
    }
  }
  return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json bundle =
      nlohmann::json::parse(reinterpret_cast<const char*>(data), reinterpret_cast<const char*>(data) + size, nullptr,
                            /*allow_exceptions=*/false);
  if (!bundle.is_object() || !bundle.contains("index") || !bundle.contains("blobs") || !bundle["blobs"].is_array() ||
      bundle["blobs"].size() > 16) {
    return 0;
  }
  static const std::string scratch =
      std::filesystem::temp_directory_path() / ("crisp-fuzz-layout-" + std::to_string(getpid()));
  std::error_code ignored;
  std::filesystem::remove_all(scratch, ignored);
  const std::string layout = scratch + "/layout";
  std::filesystem::create_directories(layout + "/blobs/sha256");
  std::vector<std::string> digests(bundle["blobs"].size());
  for (size_t i = digests.size(); i-- > 0;) {
    const nlohmann::json& blob = bundle["blobs"][i];
    std::string content = Substitute(blob.is_string() ? blob.get<std::string>() : blob.dump(), digests);
    digests[i] = crisp::crispd::Sha256Digest(content);
    std::ofstream(layout + "/blobs/sha256/" + digests[i].substr(7), std::ios::binary) << content;
  }
  std::ofstream(layout + "/index.json") << Substitute(bundle["index"].dump(), digests);
  auto store = crisp::crispd::ImageStore::Open(scratch + "/store", {}, "/bin/false");
  if (!store.ok()) return 0;
  auto imported = (*store)->ImportLayout(layout, "fuzz.example/image:1");
  if (imported.ok()) {
    for (const auto& image : *imported) (void)(*store)->Find(image.id);
  }
  return 0;
}

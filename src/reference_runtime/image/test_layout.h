// For tests: OCI image layouts of images without layers (so importing needs
// no unpacking and no root).
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include "nlohmann/json.hpp"
#include "reference_runtime/image/sha256.h"

namespace crisp::crispd::testing {

// Writes `data` as a blob of the layout in `dir`; returns its digest.
inline std::string LayoutBlob(const std::string& dir, const std::string& data) {
  std::string digest = Sha256Digest(data);
  std::filesystem::create_directories(dir + "/blobs/sha256");
  std::ofstream(dir + "/blobs/sha256/" + digest.substr(7), std::ios::binary) << data;
  return digest;
}

// A layout in `dir` of one image without layers whose config has `user`,
// named `ref_name` in index.json (empty: unnamed); `as_index` puts an image
// index (linux/amd64) in front of the manifest.
inline void WriteEmptyImageLayout(const std::string& dir, const std::string& ref_name, const std::string& user,
                                  bool as_index = false) {
  using nlohmann::json;
  std::string config = json{{"architecture", "amd64"}, {"os", "linux"},
                            {"config", {{"User", user}, {"Cmd", {"sh"}}, {"Env", {"DIR=" + dir}}}},
                            {"rootfs", {{"type", "layers"}, {"diff_ids", json::array()}}}}.dump();
  std::string config_digest = LayoutBlob(dir, config);
  std::string manifest = json{{"schemaVersion", 2},
                              {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                              {"config", {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                                          {"digest", config_digest}, {"size", config.size()}}},
                              {"layers", json::array()}}.dump();
  std::string top_digest = LayoutBlob(dir, manifest);
  std::string top_type = "application/vnd.oci.image.manifest.v1+json";
  size_t top_size = manifest.size();
  if (as_index) {
    std::string index = json{{"schemaVersion", 2},
                             {"mediaType", "application/vnd.oci.image.index.v1+json"},
                             {"manifests", {{{"mediaType", top_type}, {"digest", top_digest}, {"size", top_size},
                                             {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}}}}}.dump();
    top_digest = LayoutBlob(dir, index);
    top_type = "application/vnd.oci.image.index.v1+json";
    top_size = index.size();
  }
  json entry = {{"mediaType", top_type}, {"digest", top_digest}, {"size", top_size}};
  if (!ref_name.empty()) entry["annotations"] = {{"org.opencontainers.image.ref.name", ref_name}};
  std::ofstream(dir + "/index.json") << json{{"schemaVersion", 2}, {"manifests", {entry}}}.dump();
  std::ofstream(dir + "/oci-layout") << R"({"imageLayoutVersion": "1.0.0"})";
}

}  // namespace crisp::crispd::testing

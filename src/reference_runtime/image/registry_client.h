// A client of the OCI distribution API over libcurl: manifests and blobs,
// the anonymous or credentialed bearer-token handshake, registry mirrors,
// and SHA-256 verification of everything fetched.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "reference_runtime/image/reference.h"

namespace crisp::crispd {

struct RegistryConfig {
  // Registry host -> endpoints tried first, in order ("http://127.0.0.1:5000").
  // The repository path stays the same on a mirror.
  std::map<std::string, std::vector<std::string>> mirrors;
  // Hosts reached over plain HTTP (localhost and 127.0.0.1 always are).
  std::set<std::string> insecure;
};

struct Credentials {
  std::string username;
  std::string password;
  std::string auth;            // base64 "user:password"
  std::string identity_token;  // OAuth2 refresh token
  std::string registry_token;  // a bearer token to use as is
};

struct Manifest {
  std::string body;          // the raw bytes, as the digest covers them
  std::string media_type;    // from Content-Type
  std::string digest;        // sha256 of body
  std::string endpoint;      // where it came from; blobs come from there too
};

// Whether to give up (the gRPC call was cancelled).
using CancelCheck = std::function<bool()>;

class RegistryClient {
 public:
  explicit RegistryClient(RegistryConfig config);

  // Fetches the manifest (or index) named by `reference` (a tag or digest)
  // from the first endpoint that has it; verifies a requested digest.
  absl::StatusOr<Manifest> GetManifest(const ImageReference& image, const std::string& reference,
                                       const Credentials& credentials, const CancelCheck& cancelled);

  // Streams a blob into `path`, checking its size and digest; on any
  // mismatch `path` is removed and the error names the blob.
  absl::Status FetchBlob(const ImageReference& image, const std::string& endpoint,
                         const std::string& digest, int64_t size, const std::string& path,
                         const Credentials& credentials, const CancelCheck& cancelled);

  // The endpoints tried for `registry`, mirrors first.
  std::vector<std::string> Endpoints(const std::string& registry) const;

 private:
  struct Response;
  absl::StatusOr<Response> Get(const std::string& url, const ImageReference& image,
                               const std::string& endpoint, const std::vector<std::string>& headers,
                               const Credentials& credentials, const CancelCheck& cancelled,
                               const std::string& to_file);
  absl::StatusOr<std::string> Token(const std::string& challenge, const ImageReference& image,
                                    const Credentials& credentials, const CancelCheck& cancelled);

  RegistryConfig config_;
  std::mutex mutex_;
  std::map<std::string, std::string> tokens_;  // "endpoint repository" -> bearer token
};

}  // namespace crisp::crispd

#include "reference_runtime/image/registry_client.h"

#include "reference_runtime/image/sha256.h"

#include <curl/curl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "absl/strings/escaping.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"

namespace crisp::crispd {
namespace {

constexpr char kAcceptManifests[] =
    "Accept: application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

struct Transfer {
  std::string body;
  std::FILE* file = nullptr;
  Sha256 hash;
  int64_t bytes = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  const CancelCheck* cancelled = nullptr;
  int write_errno = 0;  // why writing to `file` failed (ENOSPC: the disk is full)
};

// The error of a blob that could not be written where it goes.
absl::Status WriteError(const std::string& path, int error) {
  std::string what = crisp::StrCat("writing ", path, ": ", std::strerror(error));
  return error == ENOSPC || error == EDQUOT ? absl::ResourceExhaustedError(what) : absl::InternalError(what);
}

size_t OnData(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t total = size * count;
  transfer->bytes += static_cast<int64_t>(total);
  if (transfer->file != nullptr) {
    transfer->hash.Update(data, total);
    if (std::fwrite(data, 1, total, transfer->file) != total) {
      transfer->write_errno = errno != 0 ? errno : EIO;
      return 0;  // curl stops with CURLE_WRITE_ERROR
    }
  } else {
    transfer->body.append(data, total);
  }
  return total;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::string line(data, size * count);
  if (line.starts_with("HTTP/")) transfer->headers.clear();  // a new response (redirects)
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    transfer->headers[name] = value;
  }
  return size * count;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  return (transfer->cancelled != nullptr && *transfer->cancelled && (*transfer->cancelled)()) ? 1 : 0;
}

// Parses `Bearer realm="...",service="...",scope="..."`.
std::map<std::string, std::string> ParseChallenge(const std::string& header) {
  std::map<std::string, std::string> fields;
  size_t space = header.find(' ');
  fields["scheme"] = header.substr(0, space);
  std::string rest = space == std::string::npos ? "" : header.substr(space + 1);
  size_t i = 0;
  while (i < rest.size()) {
    size_t eq = rest.find('=', i);
    if (eq == std::string::npos) break;
    std::string key = rest.substr(i, eq - i);
    while (!key.empty() && (key.front() == ' ' || key.front() == ',')) key.erase(0, 1);
    std::string value;
    size_t j = eq + 1;
    if (j < rest.size() && rest[j] == '"') {
      size_t close = rest.find('"', j + 1);
      value = rest.substr(j + 1, close - j - 1);
      i = close == std::string::npos ? rest.size() : close + 1;
    } else {
      size_t comma = rest.find(',', j);
      value = rest.substr(j, comma - j);
      i = comma == std::string::npos ? rest.size() : comma;
    }
    fields[key] = value;
  }
  return fields;
}

std::string BasicAuth(const Credentials& credentials) {
  if (!credentials.auth.empty()) return credentials.auth;
  if (credentials.username.empty()) return "";
  return absl::Base64Escape(credentials.username + ":" + credentials.password);
}

}  // namespace

struct RegistryClient::Response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
  std::string digest;  // of a body streamed to a file
  int64_t bytes = 0;
};

RegistryClient::RegistryClient(RegistryConfig config) : config_(std::move(config)) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

std::vector<std::string> RegistryClient::Endpoints(const std::string& registry) const {
  std::vector<std::string> endpoints;
  if (auto mirrors = config_.mirrors.find(registry); mirrors != config_.mirrors.end()) {
    endpoints = mirrors->second;
  }
  if (registry == "docker.io") {
    endpoints.push_back("https://registry-1.docker.io");
  } else {
    bool plain = config_.insecure.count(registry) || registry.starts_with("localhost") ||
                 registry.starts_with("127.0.0.1");
    endpoints.push_back(crisp::StrCat(plain ? "http://" : "https://", registry));
  }
  return endpoints;
}

absl::StatusOr<RegistryClient::Response> RegistryClient::Get(
    const std::string& url, const ImageReference& image, const std::string& endpoint,
    const std::vector<std::string>& headers, const Credentials& credentials,
    const CancelCheck& cancelled, const std::string& to_file) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
    Transfer transfer;
    transfer.cancelled = &cancelled;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(nullptr, std::fclose);
    if (!to_file.empty()) {
      file.reset(std::fopen(to_file.c_str(), "wb"));
      if (!file) return absl::InternalError(crisp::StrCat("cannot write ", to_file));
      transfer.file = file.get();
    }
    curl_slist* list = nullptr;
    for (const std::string& header : headers) list = curl_slist_append(list, header.c_str());
    std::string key = endpoint + " " + image.repository;
    {
      std::lock_guard lock(mutex_);
      std::string token = !credentials.registry_token.empty() ? credentials.registry_token : tokens_[key];
      if (!token.empty()) list = curl_slist_append(list, ("Authorization: Bearer " + token).c_str());
    }
    std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_list(list, curl_slist_free_all);
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 10L);
    // A registry that accepts and then sends nothing would hold the pull
    // (and a thread) forever: under 1 byte/s for 30 s ends the transfer.
    curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, OnData);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(curl.get(), CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(curl.get(), CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl.get(), CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(curl.get(), CURLOPT_XFERINFODATA, &transfer);
    CURLcode code = curl_easy_perform(curl.get());
    if (code == CURLE_ABORTED_BY_CALLBACK) return absl::CancelledError("the pull was cancelled");
    if (code == CURLE_WRITE_ERROR && transfer.write_errno != 0) return WriteError(to_file, transfer.write_errno);
    // What the stream's buffer still holds must reach the disk too, or the
    // blob on disk is shorter than the digest computed on the way says.
    if (code == CURLE_OK && file && (std::fflush(file.get()) != 0 || std::ferror(file.get()))) {
      return WriteError(to_file, errno != 0 ? errno : EIO);
    }
    if (code != CURLE_OK) {
      return absl::UnavailableError(crisp::StrCat(url, ": ", curl_easy_strerror(code)));
    }
    Response response;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &response.status);
    response.headers = transfer.headers;
    response.bytes = transfer.bytes;
    if (transfer.file != nullptr) {
      response.digest = transfer.hash.Digest();
    } else {
      response.body = std::move(transfer.body);
    }
    if (response.status == 401 && attempt == 0 && response.headers.count("www-authenticate")) {
      absl::StatusOr<std::string> token =
          Token(response.headers["www-authenticate"], image, credentials, cancelled);
      if (!token.ok()) return token.status();
      std::lock_guard lock(mutex_);
      tokens_[key] = *token;
      continue;
    }
    return response;
  }
  return absl::PermissionDeniedError(crisp::StrCat(url, ": still unauthorized after authenticating"));
}

absl::StatusOr<std::string> RegistryClient::Token(const std::string& challenge, const ImageReference& image,
                                                  const Credentials& credentials,
                                                  const CancelCheck& cancelled) {
  std::map<std::string, std::string> fields = ParseChallenge(challenge);
  std::string basic = BasicAuth(credentials);
  if (fields["scheme"] == "Basic") {
    if (basic.empty()) return absl::UnauthenticatedError("the registry wants credentials (Basic) and none were given");
    return absl::UnimplementedError("Basic auth against the registry API is not supported yet; use a token service");
  }
  if (fields["scheme"] != "Bearer" || fields["realm"].empty()) {
    return absl::UnauthenticatedError(crisp::StrCat("unsupported authentication challenge: ", challenge));
  }
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  std::string scope = fields.count("scope") ? fields["scope"] : crisp::StrCat("repository:", image.repository, ":pull");
  char* service = curl_easy_escape(curl.get(), fields["service"].c_str(), 0);
  char* escaped_scope = curl_easy_escape(curl.get(), scope.c_str(), 0);
  std::string url = crisp::StrCat(fields["realm"], "?service=", service, "&scope=", escaped_scope);
  curl_free(service);
  curl_free(escaped_scope);
  Transfer transfer;
  transfer.cancelled = &cancelled;
  curl_slist* list = nullptr;
  if (!basic.empty()) list = curl_slist_append(list, ("Authorization: Basic " + basic).c_str());
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_list(list, curl_slist_free_all);
  std::string form;
  if (!credentials.identity_token.empty()) {
    form = crisp::StrCat("grant_type=refresh_token&service=", fields["service"], "&scope=", scope,
                         "&client_id=crispd&refresh_token=", credentials.identity_token);
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, form.c_str());
    url = fields["realm"];
  }
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_LIMIT, 1L);  // a silent token server, as above
  curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_TIME, 30L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, OnData);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &transfer);
  CURLcode code = curl_easy_perform(curl.get());
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  if (code != CURLE_OK || status != 200) {
    return absl::UnauthenticatedError(crisp::StrCat("token service ", fields["realm"], " answered ",
                                                    code != CURLE_OK ? curl_easy_strerror(code) : std::to_string(status)));
  }
  nlohmann::json reply = nlohmann::json::parse(transfer.body, nullptr, false);
  if (reply.is_object()) {
    if (reply.contains("token")) return reply["token"].get<std::string>();
    if (reply.contains("access_token")) return reply["access_token"].get<std::string>();
  }
  return absl::UnauthenticatedError(crisp::StrCat("token service ", fields["realm"], " gave no token"));
}

absl::StatusOr<Manifest> RegistryClient::GetManifest(const ImageReference& image, const std::string& reference,
                                                     const Credentials& credentials, const CancelCheck& cancelled) {
  std::string errors;
  for (const std::string& endpoint : Endpoints(image.registry)) {
    std::string url = crisp::StrCat(endpoint, "/v2/", image.repository, "/manifests/", reference);
    absl::StatusOr<Response> response = Get(url, image, endpoint, {kAcceptManifests}, credentials, cancelled, "");
    if (!response.ok()) {
      if (response.status().code() == absl::StatusCode::kCancelled) return response.status();
      crisp::StrAppend(&errors, errors.empty() ? "" : "; ", crisp::View(response.status().message()));
      continue;
    }
    if (response->status == 404) {
      crisp::StrAppend(&errors, errors.empty() ? "" : "; ", url, ": not found");
      continue;
    }
    if (response->status != 200) {
      crisp::StrAppend(&errors, errors.empty() ? "" : "; ", url, ": HTTP ", response->status);
      continue;
    }
    Manifest manifest{response->body, response->headers["content-type"], Sha256Digest(response->body), endpoint};
    if (IsDigest(reference) && manifest.digest != reference) {
      return absl::DataLossError(crisp::StrCat(url, ": the manifest's digest is ", manifest.digest, ", not ", reference));
    }
    if (auto header = response->headers.find("docker-content-digest");
        header != response->headers.end() && header->second != manifest.digest) {
      return absl::DataLossError(crisp::StrCat(url, ": the manifest's digest is ", manifest.digest,
                                               " but the registry says ", header->second));
    }
    return manifest;
  }
  return absl::NotFoundError(crisp::StrCat("cannot get ", image.Name(), ":", reference, ": ", errors));
}

absl::Status RegistryClient::FetchBlob(const ImageReference& image, const std::string& endpoint,
                                       const std::string& digest, int64_t size, const std::string& path,
                                       const Credentials& credentials, const CancelCheck& cancelled) {
  std::string url = crisp::StrCat(endpoint, "/v2/", image.repository, "/blobs/", digest);
  absl::StatusOr<Response> response = Get(url, image, endpoint, {}, credentials, cancelled, path);
  auto fail = [&](absl::Status status) {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
    return status;
  };
  if (!response.ok()) return fail(response.status());
  if (response->status != 200) return fail(absl::UnavailableError(crisp::StrCat(url, ": HTTP ", response->status)));
  if (response->digest != digest) {
    return fail(absl::DataLossError(crisp::StrCat("blob ", digest, " from ", url, " has digest ", response->digest)));
  }
  if (size >= 0 && response->bytes != size) {
    return fail(absl::DataLossError(crisp::StrCat("blob ", digest, " is ", response->bytes, " bytes, not ", size)));
  }
  return absl::OkStatus();
}

}  // namespace crisp::crispd

#include "reference_runtime/image/image_store.h"

#include "reference_runtime/host/stage_clock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <set>

#include "absl/status/status.h"
#include "common/strings.h"
#include "reference_runtime/image/reference.h"
#include "reference_runtime/image/sha256.h"
#include "reference_runtime/image/unpack.h"
#include "reference_runtime/state/atomic_file.h"

namespace crisp::crispd {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::string_view kIndexTypes[] = {"application/vnd.oci.image.index.v1+json",
                                            "application/vnd.docker.distribution.manifest.list.v2+json"};
constexpr std::string_view kManifestTypes[] = {"application/vnd.oci.image.manifest.v1+json",
                                               "application/vnd.docker.distribution.manifest.v2+json"};

bool OneOf(std::string_view value, const std::string_view (&set)[2]) {
  return value == set[0] || value == set[1];
}

std::string Hex(const std::string& digest) { return digest.substr(digest.find(':') + 1); }

// A name for scratch files and directories that no concurrent pull shares.
std::string ScratchName(std::string_view stem) {
  static std::atomic<uint64_t> counter{0};
  return crisp::StrCat(stem, ".", getpid(), ".", counter.fetch_add(1));
}

json RecordToJson(const ImageRecord& r) {
  return {{"id", r.id}, {"repo_tags", r.repo_tags}, {"repo_digests", r.repo_digests}, {"size", r.size},
          {"layers", r.layers}, {"blobs", r.blobs}, {"config", r.config}};
}

ImageRecord RecordFromJson(const json& j) {
  ImageRecord r;
  r.id = j.at("id");
  r.repo_tags = j.value("repo_tags", std::vector<std::string>{});
  r.repo_digests = j.value("repo_digests", std::vector<std::string>{});
  r.size = j.value("size", int64_t{0});
  r.layers = j.value("layers", std::vector<std::string>{});
  r.blobs = j.value("blobs", std::vector<std::string>{});
  r.config = j.value("config", json::object());
  return r;
}

void AddUnique(std::vector<std::string>& list, const std::string& value) {
  if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
}

// The manifest's media type, from its JSON or else the Content-Type.
// Fields of a document a registry or a layout served. One that is missing,
// or of another type than the field's, reads as empty (and the checks that
// follow refuse it) rather than throwing: a hostile manifest is an error
// of the pull, not of crispd.
const json& Member(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto found = object.find(key);
  return found == object.end() ? kNull : *found;
}
std::string Text(const json& object, const char* key) {
  const json& value = Member(object, key);
  return value.is_string() ? value.get<std::string>() : "";
}
int64_t Number(const json& object, const char* key, int64_t fallback) {
  const json& value = Member(object, key);
  return value.is_number_integer() ? value.get<int64_t>() : fallback;
}
const json& ArrayAt(const json& object, const char* key) {
  static const json kEmpty = json::array();
  const json& value = Member(object, key);
  return value.is_array() ? value : kEmpty;
}
const json& Object(const json& object, const char* key) {
  static const json kEmpty = json::object();
  const json& value = Member(object, key);
  return value.is_object() ? value : kEmpty;
}
// A list of strings; other elements read as "" (so counts still match and
// the digest checks refuse them).
std::vector<std::string> Texts(const json& list) {
  std::vector<std::string> out;
  for (const json& element : list) out.push_back(element.is_string() ? element.get<std::string>() : "");
  return out;
}

std::string MediaType(const Manifest& manifest, const json& body) {
  std::string declared = Text(body, "mediaType");
  std::string header = manifest.media_type.substr(0, manifest.media_type.find(';'));
  return declared.empty() ? header : declared;
}

}  // namespace

void SplitImageUser(const std::string& user, std::optional<int64_t>* uid, std::string* username) {
  std::string first = user.substr(0, user.find(':'));
  uid->reset();
  username->clear();
  if (first.empty()) return;
  if (std::all_of(first.begin(), first.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    *uid = std::stoll(first);
  } else {
    *username = first;
  }
}

ImageStore::ImageStore(std::string root, RegistryConfig registry, std::string helper)
    : root_(std::move(root)), helper_(std::move(helper)), registry_(std::move(registry)) {}

absl::StatusOr<std::unique_ptr<ImageStore>> ImageStore::Open(const std::string& root, RegistryConfig registry,
                                                             std::string helper) {
  std::error_code error;
  for (const char* sub : {"content/sha256", "layers", "tmp"}) {
    fs::create_directories(fs::path(root) / sub, error);
    if (error) return absl::InternalError(crisp::StrCat("cannot create ", root, "/", sub, ": ", error.message()));
  }
  // Half-done downloads and unpacks of a previous life.
  fs::remove_all(fs::path(root) / "tmp", error);
  fs::create_directories(fs::path(root) / "tmp", error);
  // One process owns a store at a time: the daemon, or `crispd import`.
  int lock = open((fs::path(root) / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) != 0) {
    if (lock >= 0) close(lock);
    return absl::FailedPreconditionError(crisp::StrCat("another crispd uses the image store ", root,
                                                       " (stop it first, or use another --root)"));
  }
  std::unique_ptr<ImageStore> store(new ImageStore(root, std::move(registry), std::move(helper)));
  store->lock_fd_ = lock;  // held for the store's life
  if (absl::Status loaded = store->Load(); !loaded.ok()) return loaded;
  return store;
}

ImageStore::~ImageStore() {
  if (lock_fd_ >= 0) close(lock_fd_);
}

absl::Status ImageStore::Load() {
  std::string path = root_ + "/images.json";
  if (!fs::exists(path)) return absl::OkStatus();
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  json records = json::parse(*text, nullptr, false);
  if (!records.is_array()) return absl::DataLossError(crisp::StrCat(path, " is not a JSON list of images"));
  for (const json& record : records) images_.push_back(RecordFromJson(record));
  return absl::OkStatus();
}

absl::Status ImageStore::Save() {
  json records = json::array();
  for (const ImageRecord& image : images_) records.push_back(RecordToJson(image));
  return WriteFileAtomically(root_ + "/images.json", records.dump(1));
}

std::string ImageStore::BlobPath(const std::string& digest) const {
  return crisp::StrCat(root_, "/content/sha256/", Hex(digest));
}

absl::Status ImageStore::EnsureBlob(const Source& source, const std::string& digest, int64_t size) {
  if (!IsDigest(digest)) return absl::InvalidArgumentError(crisp::StrCat("bad blob digest \"", digest, "\""));
  if (fs::exists(BlobPath(digest))) return absl::OkStatus();
  std::string temporary = crisp::StrCat(root_, "/tmp/", ScratchName(Hex(digest)));
  absl::Status fetched = source.blob(digest, size, temporary);
  if (!fetched.ok()) return fetched;
  std::error_code error;
  fs::rename(temporary, BlobPath(digest), error);
  if (error) return absl::InternalError(crisp::StrCat("storing blob ", digest, ": ", error.message()));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ImageStore::EnsureLayer(const std::string& blob_digest, const std::string& diff_id,
                                                    const std::string& parent_chain) {
  // Unpacked already: that layer was checked against its diff_id then, and
  // the chain (of diff_ids, which the image ID covers) names its content.
  // Checking this blob again would decompress it on every pull.
  if (!IsDigest(diff_id)) return absl::DataLossError(crisp::StrCat("bad diff_id \"", diff_id, "\" in the image config"));
  std::string chain = parent_chain.empty() ? diff_id : Sha256Digest(parent_chain + " " + diff_id);
  fs::path final_dir = fs::path(root_) / "layers" / Hex(chain);
  if (fs::exists(final_dir / "fs")) return chain;
  absl::StatusOr<std::string> uncompressed = UncompressedDigest(BlobPath(blob_digest));
  if (!uncompressed.ok()) return uncompressed.status();
  if (*uncompressed != diff_id) {
    return absl::DataLossError(crisp::StrCat("layer ", blob_digest, " unpacks to ", *uncompressed,
                                             ", but the image config says ", diff_id));
  }
  fs::path work = fs::path(root_) / "tmp" / ScratchName("layer-" + Hex(chain).substr(0, 12));
  std::error_code error;
  fs::create_directories(work / "fs", error);
  if (error) return absl::InternalError(crisp::StrCat("cannot create ", work.string(), ": ", error.message()));
  absl::Status unpacked = UnpackLayer(helper_, BlobPath(blob_digest), (work / "fs").string());
  if (!unpacked.ok()) {
    fs::remove_all(work, error);
    return absl::InvalidArgumentError(crisp::StrCat("layer ", blob_digest, ": ", crisp::View(unpacked.message())));
  }
  fs::rename(work, final_dir, error);
  if (error && !fs::exists(final_dir / "fs")) {
    return absl::InternalError(crisp::StrCat("storing layer ", chain, ": ", error.message()));
  }
  fs::remove_all(work, error);  // another pull got there first
  return chain;
}

absl::StatusOr<ImageRecord> ImageStore::Pull(const std::string& image, const Credentials& credentials,
                                             const CancelCheck& cancelled) {
  absl::StatusOr<ImageReference> reference = ParseImageReference(image);
  if (!reference.ok()) return reference.status();
  StageClock clock("PullImage " + image);  // stages: manifest, config, layer (each), record
  std::shared_lock pulling(gc_mutex_);
  auto endpoint = std::make_shared<std::string>();
  Source source;
  source.cancelled = cancelled;
  source.manifest = [&, endpoint](const std::string& wanted) -> absl::StatusOr<Manifest> {
    absl::StatusOr<Manifest> manifest = registry_.GetManifest(*reference, wanted, credentials, cancelled);
    if (manifest.ok()) *endpoint = manifest->endpoint;  // blobs come from where the manifest did
    return manifest;
  };
  source.blob = [&, endpoint](const std::string& digest, int64_t size, const std::string& path) {
    return registry_.FetchBlob(*reference, *endpoint, digest, size, path, credentials, cancelled);
  };
  return Store(*reference, source);
}

absl::StatusOr<ImageRecord> ImageStore::Store(const ImageReference& ref, const Source& source) {
  const ImageReference* reference = &ref;
  const std::string image = ref.ToString();
  const CancelCheck& cancelled = source.cancelled;
  std::string wanted = reference->digest.empty() ? reference->tag : reference->digest;
  absl::StatusOr<Manifest> top = source.manifest(wanted);
  if (!top.ok()) return top.status();
  Stage("manifest");
  json body = json::parse(top->body, nullptr, false);
  if (!body.is_object()) return absl::DataLossError(crisp::StrCat(image, ": the manifest is not JSON"));
  std::string type = MediaType(*top, body);
  std::string header_type = top->media_type.substr(0, top->media_type.find(';'));
  if (!Text(body, "mediaType").empty() && !header_type.empty() && header_type != type &&
      header_type != "application/json") {
    return absl::DataLossError(crisp::StrCat(image, ": the manifest says ", type, " but was served as ", header_type));
  }
  std::vector<std::string> blobs = {top->digest};
  Manifest manifest = *top;
  if (OneOf(type, kIndexTypes)) {
    std::string chosen;
    for (const json& entry : ArrayAt(body, "manifests")) {
      const json& platform = Object(entry, "platform");
      if (Text(platform, "os") == "linux" && Text(platform, "architecture") == "amd64") {
        chosen = Text(entry, "digest");
        break;
      }
    }
    if (chosen.empty()) return absl::NotFoundError(crisp::StrCat(image, ": the index has no linux/amd64 image"));
    absl::StatusOr<Manifest> platform = source.manifest(chosen);
    if (!platform.ok()) return platform.status();
    manifest = *platform;
    body = json::parse(manifest.body, nullptr, false);
    type = MediaType(manifest, body);
    blobs.push_back(manifest.digest);
  }
  if (!OneOf(type, kManifestTypes)) {
    return absl::InvalidArgumentError(crisp::StrCat(image, ": unsupported manifest type \"", type,
                                                    "\" (OCI and Docker schema 2 are supported)"));
  }
  // Keep the manifests as blobs too, by their digests.
  for (const Manifest* raw : {&*top, &manifest}) {
    if (!fs::exists(BlobPath(raw->digest))) {
      if (absl::Status stored = WriteFileAtomically(BlobPath(raw->digest), raw->body); !stored.ok()) return stored;
    }
  }

  const json& config_descriptor = Object(body, "config");
  std::string config_digest = Text(config_descriptor, "digest");
  if (absl::Status fetched = EnsureBlob(source, config_digest, Number(config_descriptor, "size", -1));
      !fetched.ok()) {
    return fetched;
  }
  absl::StatusOr<std::string> config_text = ReadFile(BlobPath(config_digest));
  if (!config_text.ok()) return config_text.status();
  json config = json::parse(*config_text, nullptr, false);
  if (!config.is_object()) return absl::DataLossError(crisp::StrCat(image, ": the image config is not JSON"));
  Stage("config");
  std::vector<std::string> diff_ids = Texts(ArrayAt(Object(config, "rootfs"), "diff_ids"));
  const json& layer_descriptors = ArrayAt(body, "layers");
  if (diff_ids.size() != layer_descriptors.size()) {
    return absl::DataLossError(crisp::StrCat(image, ": ", layer_descriptors.size(), " layers but ",
                                             diff_ids.size(), " diff_ids in the config"));
  }

  ImageRecord record;
  record.id = config_digest;
  record.config = Object(config, "config");
  record.size = Number(config_descriptor, "size", 0);
  record.blobs = blobs;
  record.blobs.push_back(config_digest);
  std::string chain;
  for (size_t i = 0; i < layer_descriptors.size(); ++i) {
    std::string digest = Text(layer_descriptors[i], "digest");
    int64_t size = Number(layer_descriptors[i], "size", -1);
    if (absl::Status fetched = EnsureBlob(source, digest, size); !fetched.ok()) {
      return fetched;
    }
    if (cancelled && cancelled()) return absl::CancelledError("the pull was cancelled");
    absl::StatusOr<std::string> layer = EnsureLayer(digest, diff_ids[i], chain);
    if (!layer.ok()) return layer.status();
    chain = *layer;
    record.layers.push_back(chain);
    record.blobs.push_back(digest);
    record.size += std::max<int64_t>(size, 0);
    Stage("layer");
  }

  std::lock_guard lock(mutex_);
  std::string tag_ref = reference->digest.empty() ? reference->ToString() : "";
  // A tag moves to the image it now names.
  if (!tag_ref.empty()) {
    for (ImageRecord& other : images_) {
      if (other.id != record.id) std::erase(other.repo_tags, tag_ref);
    }
  }
  auto existing = std::find_if(images_.begin(), images_.end(), [&](const ImageRecord& r) { return r.id == record.id; });
  if (existing == images_.end()) {
    images_.push_back(record);
    existing = images_.end() - 1;
  } else {
    for (const std::string& blob : record.blobs) AddUnique(existing->blobs, blob);
  }
  if (!tag_ref.empty()) AddUnique(existing->repo_tags, tag_ref);
  AddUnique(existing->repo_digests, crisp::StrCat(reference->Name(), "@", top->digest));
  if (absl::Status saved = Save(); !saved.ok()) return saved;
  Stage("record");
  return *existing;
}

absl::StatusOr<std::vector<ImageRecord>> ImageStore::ImportLayout(const std::string& layout_dir,
                                                                  const std::string& name) {
  absl::StatusOr<std::string> index_text = ReadFile(layout_dir + "/index.json");
  if (!index_text.ok()) return absl::InvalidArgumentError(crisp::StrCat(layout_dir, " is not an OCI image layout (no index.json)"));
  json index = json::parse(*index_text, nullptr, false);
  if (!index.is_object() || !index.contains("manifests")) {
    return absl::InvalidArgumentError(crisp::StrCat(layout_dir, "/index.json is not an OCI index"));
  }
  auto blob_path = [&](const std::string& digest) { return crisp::StrCat(layout_dir, "/blobs/sha256/", Hex(digest)); };
  Source source;
  source.cancelled = [] { return false; };
  source.manifest = [&](const std::string& wanted) -> absl::StatusOr<Manifest> {
    if (!IsDigest(wanted)) return absl::InvalidArgumentError(crisp::StrCat("the layout names no manifest ", wanted));
    absl::StatusOr<std::string> body = ReadFile(blob_path(wanted));
    if (!body.ok()) return absl::NotFoundError(crisp::StrCat("blob ", wanted, " is missing from the layout"));
    Manifest manifest{*body, "", Sha256Digest(*body), layout_dir};
    if (manifest.digest != wanted) return absl::DataLossError(crisp::StrCat("blob ", wanted, " has digest ", manifest.digest));
    return manifest;
  };
  source.blob = [&](const std::string& digest, int64_t size, const std::string& path) -> absl::Status {
    std::error_code error;
    fs::copy_file(blob_path(digest), path, fs::copy_options::overwrite_existing, error);
    if (error) return absl::NotFoundError(crisp::StrCat("blob ", digest, " is missing from the layout"));
    absl::StatusOr<std::string> data = ReadFile(path);
    if (!data.ok() || Sha256Digest(*data) != digest || (size >= 0 && static_cast<int64_t>(data->size()) != size)) {
      fs::remove(path, error);
      return absl::DataLossError(crisp::StrCat("blob ", digest, " in the layout does not match its digest or size"));
    }
    return absl::OkStatus();
  };
  std::shared_lock importing(gc_mutex_);
  std::vector<ImageRecord> imported;
  for (const json& entry : ArrayAt(index, "manifests")) {
    std::string ref_name = Text(Object(entry, "annotations"), "org.opencontainers.image.ref.name");
    std::string full = ref_name;
    if (ref_name.empty() || ref_name.find('/') == std::string::npos) {
      if (name.empty()) {
        return absl::InvalidArgumentError(crisp::StrCat("manifest ", Text(entry, "digest"), " is named \"", ref_name,
                                                        "\", not a full reference: give --name REPOSITORY"));
      }
      full = ref_name.empty() ? name : name + ":" + ref_name;
    }
    absl::StatusOr<ImageReference> reference = ParseImageReference(full);
    if (!reference.ok()) return reference.status();
    // Resolve by the manifest's digest, keeping the tag for the record.
    ImageReference by_digest = *reference;
    std::string digest = Text(entry, "digest");
    Source pinned = source;
    pinned.manifest = [&, digest](const std::string& wanted) {
      return source.manifest(wanted == reference->tag || wanted.empty() ? digest : wanted);
    };
    absl::StatusOr<ImageRecord> record = Store(by_digest, pinned);
    if (!record.ok()) return record.status();
    imported.push_back(*record);
  }
  return imported;
}

std::optional<size_t> ImageStore::IndexOf(const std::string& text) const {
  for (size_t i = 0; i < images_.size(); ++i) {
    if (images_[i].id == text || Hex(images_[i].id) == text) return i;
  }
  absl::StatusOr<ImageReference> reference = ParseImageReference(text);
  if (!reference.ok()) return std::nullopt;
  std::string full = reference->ToString();
  for (size_t i = 0; i < images_.size(); ++i) {
    const auto& list = reference->digest.empty() ? images_[i].repo_tags : images_[i].repo_digests;
    if (std::find(list.begin(), list.end(), full) != list.end()) return i;
  }
  return std::nullopt;
}

std::optional<ImageRecord> ImageStore::Find(const std::string& reference) const {
  std::lock_guard lock(mutex_);
  std::optional<size_t> index = IndexOf(reference);
  if (!index) return std::nullopt;
  return images_[*index];
}

std::optional<ImageRecord> ImageStore::FindAndPin(const std::string& reference) {
  std::lock_guard lock(mutex_);
  std::optional<size_t> index = IndexOf(reference);
  if (!index) return std::nullopt;
  ++pins_[images_[*index].id];
  return images_[*index];
}

std::vector<ImageRecord> ImageStore::List() const {
  std::lock_guard lock(mutex_);
  return images_;
}

absl::Status ImageStore::Remove(const std::string& reference) {
  std::unique_lock no_pulls(gc_mutex_);
  std::lock_guard lock(mutex_);
  std::optional<size_t> index = IndexOf(reference);
  if (!index) return absl::OkStatus();
  if (pins_[images_[*index].id] > 0) pinned_removed_[images_[*index].id] = images_[*index];
  images_.erase(images_.begin() + static_cast<std::ptrdiff_t>(*index));
  absl::Status saved = Save();
  CollectGarbage();
  return saved;
}

void ImageStore::Pin(const std::string& image_id) {
  std::lock_guard lock(mutex_);
  ++pins_[image_id];
}

void ImageStore::Unpin(const std::string& image_id) {
  std::unique_lock no_pulls(gc_mutex_);
  std::lock_guard lock(mutex_);
  if (--pins_[image_id] > 0) return;
  pins_.erase(image_id);
  if (pinned_removed_.erase(image_id) > 0) CollectGarbage();
}

// Removes blobs and layers that neither a remaining image nor a container
// (through an image removed while in use) needs.
void ImageStore::CollectGarbage() {
  std::set<std::string> blobs, layers;
  std::vector<const ImageRecord*> kept;
  for (const ImageRecord& image : images_) kept.push_back(&image);
  for (const auto& [id, image] : pinned_removed_) kept.push_back(&image);
  for (const ImageRecord* record : kept) {
    const ImageRecord& image = *record;
    for (const std::string& blob : image.blobs) blobs.insert(Hex(blob));
    for (const std::string& layer : image.layers) layers.insert(Hex(layer));
  }
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(fs::path(root_) / "content/sha256", error)) {
    if (!blobs.count(entry.path().filename().string())) fs::remove(entry.path(), error);
  }
  for (const auto& entry : fs::directory_iterator(fs::path(root_) / "layers", error)) {
    if (!layers.count(entry.path().filename().string())) fs::remove_all(entry.path(), error);
  }
}

ImageStore::Usage ImageStore::FilesystemUsage() const {
  Usage usage;
  usage.mountpoint = root_;
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(root_, fs::directory_options::skip_permission_denied, error);
       it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (error) break;
    ++usage.inodes;
    if (it->is_regular_file(error) && !it->is_symlink(error)) usage.bytes += it->file_size(error);
  }
  return usage;
}

std::vector<std::string> ImageStore::LayerDirectories(const ImageRecord& image) const {
  std::vector<std::string> directories;
  for (const std::string& layer : image.layers) {
    directories.push_back(crisp::StrCat(root_, "/layers/", Hex(layer), "/fs"));
  }
  return directories;
}

}  // namespace crisp::crispd

// ImageStore: images pulled from registries, kept under ROOT as
//   content/sha256/<hex>     blobs (manifests, configs, layers), verified
//   layers/<chain id hex>/fs one unpacked directory per layer (overlay form)
//   images.json              the records, written atomically
// Image ID = config digest; RepoTags and RepoDigests as containerd keeps them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "reference_runtime/image/registry_client.h"

namespace crisp::crispd {

struct ImageRecord {
  std::string id;  // "sha256:<config hex>"
  std::vector<std::string> repo_tags;
  std::vector<std::string> repo_digests;
  int64_t size = 0;            // config + compressed layers
  std::vector<std::string> layers;  // chain IDs, bottom first
  std::vector<std::string> blobs;   // every blob digest the image needs
  nlohmann::json config;            // the image config's "config" object
};

// The images a container is made from: what the container side needs of
// the store (a seam: its unit tests give a fake).
class ImageCatalog {
 public:
  virtual ~ImageCatalog() = default;
  // By ID ("sha256:<hex>" or the bare hex), a tag reference, or a digest reference.
  virtual std::optional<ImageRecord> Find(const std::string& reference) const = 0;
  // The unpacked layer directories of an image, bottom first.
  virtual std::vector<std::string> LayerDirectories(const ImageRecord& image) const = 0;
  // Containers pin their image: its blobs and layers survive RemoveImage
  // (the record goes) until the last container using it is gone.
  virtual void Pin(const std::string& image_id) = 0;
  virtual void Unpin(const std::string& image_id) = 0;
  // Find and Pin at once: no RemoveImage can take the layers of an image
  // between being found and being pinned. The caller unpins it.
  virtual std::optional<ImageRecord> FindAndPin(const std::string& reference) = 0;
};

class ImageStore : public ImageCatalog {
 public:
  // Opens (creating) the store at `root`. `helper` is the binary that runs
  // `unpack-layer` (crispd itself).
  static absl::StatusOr<std::unique_ptr<ImageStore>> Open(const std::string& root, RegistryConfig registry,
                                                          std::string helper);
  ~ImageStore() override;  // gives the store up (its lock)

  // Pulls `image` (any reference form) and returns its record. Errors name
  // the blob or entry at fault; a malicious layer leaves nothing behind.
  absl::StatusOr<ImageRecord> Pull(const std::string& image, const Credentials& credentials,
                                   const CancelCheck& cancelled);

  // Imports the images of an OCI image layout directory (what an OCI archive
  // unpacks to), offline: each manifest its index names, under the name in
  // its org.opencontainers.image.ref.name annotation when that is a full
  // reference, else `name` (with the annotation as tag). Verified as pulls are.
  absl::StatusOr<std::vector<ImageRecord>> ImportLayout(const std::string& layout_dir, const std::string& name);

  std::optional<ImageRecord> Find(const std::string& reference) const override;
  std::vector<ImageRecord> List() const;

  // Removes the image with all its tags; not finding it is not an error.
  absl::Status Remove(const std::string& reference);

  struct Usage {
    std::string mountpoint;
    uint64_t bytes = 0;
    uint64_t inodes = 0;
  };
  Usage FilesystemUsage() const;

  std::vector<std::string> LayerDirectories(const ImageRecord& image) const override;
  void Pin(const std::string& image_id) override;
  void Unpin(const std::string& image_id) override;
  std::optional<ImageRecord> FindAndPin(const std::string& reference) override;

  const std::string& root() const { return root_; }

 private:
  ImageStore(std::string root, RegistryConfig registry, std::string helper);
  absl::Status Load();
  absl::Status Save();  // mutex_ held
  std::string BlobPath(const std::string& digest) const;
  // Where manifests and blobs come from: a registry, or a local layout.
  struct Source {
    std::function<absl::StatusOr<Manifest>(const std::string& reference)> manifest;
    // Fetches into `path`, verified by digest and size.
    std::function<absl::Status(const std::string& digest, int64_t size, const std::string& path)> blob;
    CancelCheck cancelled;
  };
  absl::StatusOr<ImageRecord> Store(const ImageReference& reference, const Source& source);
  absl::Status EnsureBlob(const Source& source, const std::string& digest, int64_t size);
  absl::StatusOr<std::string> EnsureLayer(const std::string& blob_digest, const std::string& diff_id,
                                          const std::string& parent_chain);
  std::optional<size_t> IndexOf(const std::string& reference) const;  // mutex_ held
  void CollectGarbage();  // mutex_ held

  std::string root_;
  std::string helper_;
  int lock_fd_ = -1;
  RegistryClient registry_;
  mutable std::mutex mutex_;
  std::vector<ImageRecord> images_;
  std::map<std::string, int> pins_;               // image ID -> containers using it
  std::map<std::string, ImageRecord> pinned_removed_;  // removed while pinned
  // Pulls hold it shared for their whole length; garbage collection holds it
  // exclusively, so it never deletes a blob or layer a pull is about to use.
  std::shared_mutex gc_mutex_;
};

// The part of a config User before ':' split into uid (numeric) or name.
void SplitImageUser(const std::string& user, std::optional<int64_t>* uid, std::string* username);

}  // namespace crisp::crispd

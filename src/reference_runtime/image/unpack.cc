#include "reference_runtime/image/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "reference_runtime/image/sha256.h"

namespace crisp::crispd {
namespace {

// libarchive's message for the last error, which may be none (null).
std::string ArchiveError(archive* handle) {
  const char* message = archive_error_string(handle);
  return message != nullptr ? message : "unreadable archive (libarchive gives no reason)";
}


using ArchivePtr = std::unique_ptr<archive, int (*)(archive*)>;

// A relative path with no `..` component; "./a/b" and "a/b/" are fine.
absl::Status CheckEntryPath(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("an entry has an empty name");
  if (path.front() == '/') {
    return absl::PermissionDeniedError(crisp::StrCat("entry \"", path, "\" has an absolute path"));
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (path.compare(start, end - start, "..") == 0 && end - start == 2) {
      return absl::PermissionDeniedError(crisp::StrCat("entry \"", path, "\" climbs out with '..'"));
    }
    start = end + 1;
  }
  return absl::OkStatus();
}

// An entry must not be written through a symlink an earlier entry made:
// that is how a layer would reach outside itself (the chroot would contain
// it, but the layer is malicious all the same and the pull must fail).
absl::Status CheckNoSymlinkParent(const std::string& path) {
  for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    std::string parent = path.substr(0, slash);
    if (parent.empty() || parent == ".") continue;
    struct stat info {};
    if (lstat(parent.c_str(), &info) == 0 && S_ISLNK(info.st_mode)) {
      return absl::PermissionDeniedError(crisp::StrCat("entry \"", path, "\" refused: it would be written through the symlink \"",
                                                       parent, "\""));
    }
  }
  return absl::OkStatus();
}

// mkdir -p for the parents of a whiteout (inside the chroot).
void MakeParents(const std::string& path) {
  for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    mkdir(path.substr(0, slash).c_str(), 0755);
  }
}

absl::Status ApplyWhiteout(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string parent = slash == std::string::npos ? "." : path.substr(0, slash);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  MakeParents(path);
  if (base == ".wh..wh..opq") {
    if (setxattr(parent.c_str(), "trusted.overlay.opaque", "y", 1, 0) != 0) {
      return absl::InternalError(crisp::StrCat("opaque marker \"", path, "\": setxattr: ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }
  std::string hidden = base.substr(4);
  if (hidden.empty()) return absl::InvalidArgumentError(crisp::StrCat("whiteout \"", path, "\" names nothing"));
  std::string target = parent + "/" + hidden;
  unlink(target.c_str());
  if (mknod(target.c_str(), S_IFCHR | 0000, makedev(0, 0)) != 0) {
    return absl::InternalError(crisp::StrCat("whiteout \"", path, "\": mknod: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ExtractLayerInChroot(int blob_fd, const std::string& layer_dir) {
  if (chroot(layer_dir.c_str()) != 0 || chdir("/") != 0) {
    return absl::InternalError(crisp::StrCat("chroot ", layer_dir, ": ", std::strerror(errno)));
  }
  ArchivePtr reader(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(reader.get());
  archive_read_support_format_tar(reader.get());
  archive_read_support_format_gnutar(reader.get());
  if (archive_read_open_fd(reader.get(), blob_fd, 1 << 16) != ARCHIVE_OK) {
    return absl::InvalidArgumentError(crisp::StrCat("not a layer archive: ", ArchiveError(reader.get())));
  }
  ArchivePtr writer(archive_write_disk_new(), archive_write_free);
  archive_write_disk_set_options(
      writer.get(), ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_TIME |
                        ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_FFLAGS |
                        ARCHIVE_EXTRACT_UNLINK | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                        ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
  archive_write_disk_set_standard_lookup(writer.get());

  archive_entry* entry = nullptr;
  while (true) {
    int read = archive_read_next_header(reader.get(), &entry);
    if (read == ARCHIVE_EOF) break;
    if (read < ARCHIVE_WARN) {
      return absl::InvalidArgumentError(crisp::StrCat("corrupt layer: ", ArchiveError(reader.get())));
    }
    std::string path = archive_entry_pathname(entry);
    if (absl::Status checked = CheckEntryPath(path); !checked.ok()) return checked;
    if (const char* link = archive_entry_hardlink(entry)) {
      if (absl::Status checked = CheckEntryPath(link); !checked.ok()) {
        return absl::PermissionDeniedError(crisp::StrCat("hard link \"", path, "\" points outside: ",
                                                         crisp::View(checked.message())));
      }
    }
    if (absl::Status checked = CheckNoSymlinkParent(path); !checked.ok()) return checked;
    size_t slash = path.rfind('/');
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    if (base.starts_with(".wh.")) {
      if (absl::Status applied = ApplyWhiteout(path); !applied.ok()) return applied;
      continue;
    }
    int written = archive_write_header(writer.get(), entry);
    if (written >= ARCHIVE_WARN && archive_entry_size(entry) > 0) {
      const void* block = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      int data;
      while ((data = archive_read_data_block(reader.get(), &block, &size, &offset)) == ARCHIVE_OK) {
        if (archive_write_data_block(writer.get(), block, size, offset) < ARCHIVE_WARN) {
          written = ARCHIVE_FAILED;
          break;
        }
      }
      if (data < ARCHIVE_WARN) {
        return absl::InvalidArgumentError(crisp::StrCat("corrupt layer at \"", path, "\": ",
                                                        ArchiveError(reader.get())));
      }
    }
    if (written < ARCHIVE_WARN || archive_write_finish_entry(writer.get()) < ARCHIVE_WARN) {
      return absl::PermissionDeniedError(crisp::StrCat("entry \"", path, "\" refused: ",
                                                       ArchiveError(writer.get())));
    }
  }
  if (archive_write_close(writer.get()) != ARCHIVE_OK) {
    return absl::InternalError(crisp::StrCat("finishing the layer: ", ArchiveError(writer.get())));
  }
  return absl::OkStatus();
}

absl::Status UnpackLayer(const std::string& helper, const std::string& blob_path,
                         const std::string& layer_dir) {
  RunOptions options;
  options.spawn.argv = {helper, "unpack-layer", blob_path, layer_dir};
  options.max_output = 64 * 1024;
  absl::StatusOr<RunResult> result = RunProgram(options);
  if (!result.ok()) return result.status();
  if (result->status.success()) return absl::OkStatus();
  std::string message = result->stderr_text;
  while (!message.empty() && message.back() == '\n') message.pop_back();
  return absl::InvalidArgumentError(message.empty() ? crisp::StrCat("the unpack helper failed: ", result->status.Describe())
                                                    : message);
}

absl::StatusOr<std::string> UncompressedDigest(const std::string& blob_path) {
  ArchivePtr reader(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(reader.get());
  archive_read_support_format_raw(reader.get());
  if (archive_read_open_filename(reader.get(), blob_path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return absl::InvalidArgumentError(crisp::StrCat(blob_path, ": ", ArchiveError(reader.get())));
  }
  archive_entry* entry = nullptr;
  if (archive_read_next_header(reader.get(), &entry) != ARCHIVE_OK) {
    return absl::InvalidArgumentError(crisp::StrCat(blob_path, ": ", ArchiveError(reader.get())));
  }
  Sha256 hash;
  std::vector<char> buffer(1 << 16);
  la_ssize_t n;
  while ((n = archive_read_data(reader.get(), buffer.data(), buffer.size())) > 0) {
    hash.Update(buffer.data(), static_cast<size_t>(n));
  }
  if (n < 0) return absl::InvalidArgumentError(crisp::StrCat(blob_path, ": ", ArchiveError(reader.get())));
  std::string digest = hash.Digest();
  return digest;
}

}  // namespace crisp::crispd

// Unpacking image layers safely. Each layer goes into a directory of its
// own, in overlayfs form: a whiteout `.wh.NAME` becomes a 0/0 character
// device NAME, an opaque marker `.wh..wh..opq` becomes the xattr
// trusted.overlay.opaque=y on its directory.
//
// The extraction runs in a helper process that chroot()s into the layer
// directory first, so no entry, link or symlink can reach outside it;
// entries with `..` components or absolute paths, and writes through
// symlinks, are refused outright with an error naming the entry.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace crisp::crispd {

// In the helper process: chroot into `layer_dir` (which must exist) and
// extract the layer read from `blob_fd` (any compression libarchive knows).
// Not for a threaded process: it changes the root and working directory.
absl::Status ExtractLayerInChroot(int blob_fd, const std::string& layer_dir);

// From the daemon: runs `helper unpack-layer BLOB LAYER_DIR` and waits.
// `helper` is crispd's own binary. The error carries the helper's message.
absl::Status UnpackLayer(const std::string& helper, const std::string& blob_path,
                         const std::string& layer_dir);

// The digest of the uncompressed tar stream of a layer blob (its DiffID).
absl::StatusOr<std::string> UncompressedDigest(const std::string& blob_path);

}  // namespace crisp::crispd

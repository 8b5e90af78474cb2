#include "reference_runtime/state/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "common/strings.h"

namespace crisp::crispd {

absl::Status WriteFileAtomically(const std::string& path, std::string_view content) {
  // Unique per call: two threads may write the same file at once (two pulls
  // of one image), and each must rename a whole file of its own.
  static std::atomic<uint64_t> counter{0};
  std::string temporary = crisp::StrCat(path, ".tmp.", getpid(), ".", counter.fetch_add(1));
  int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(crisp::StrCat("cannot create ", temporary, ": ", std::strerror(errno)));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int error = errno;
      close(fd);
      unlink(temporary.c_str());
      return absl::InternalError(crisp::StrCat("cannot write ", temporary, ": ", std::strerror(error)));
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    unlink(temporary.c_str());
    return absl::InternalError(crisp::StrCat("cannot sync ", temporary, ": ", std::strerror(errno)));
  }
  if (rename(temporary.c_str(), path.c_str()) != 0) {
    int error = errno;
    unlink(temporary.c_str());
    return absl::InternalError(crisp::StrCat("cannot rename to ", path, ": ", std::strerror(error)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(crisp::StrCat("cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace crisp::crispd

#include "reference_runtime/sandbox/host_local_ipam.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

#include "absl/status/status.h"
#include "common/strings.h"
#include "reference_runtime/state/atomic_file.h"

namespace crisp::crispd {
namespace {

namespace fs = std::filesystem;

constexpr char kLineBreak[] = "\r\n";  // host-local's

std::string Trim(const std::string& text) {
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

std::optional<uint32_t> ParseIpv4(const std::string& text) {
  in_addr address{};
  if (inet_pton(AF_INET, text.c_str(), &address) != 1) return std::nullopt;
  return ntohl(address.s_addr);
}

// host-local's lock: an flock on <dir>/lock, held while the files change.
class DirLock {
 public:
  explicit DirLock(const std::string& dir) {
    std::error_code error;
    fs::create_directories(dir, error);
    fd_ = open((dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0750);
    if (fd_ >= 0 && flock(fd_, LOCK_EX) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~DirLock() {
    if (fd_ >= 0) close(fd_);  // closing drops the flock
  }
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace

absl::StatusOr<Ipv4Subnet> Ipv4Subnet::Parse(const std::string& cidr) {
  size_t slash = cidr.find('/');
  std::optional<uint32_t> address = ParseIpv4(cidr.substr(0, slash));
  int prefix = -1;
  if (slash != std::string::npos) {
    std::string bits = cidr.substr(slash + 1);
    if (!bits.empty() && bits.size() <= 2 && bits.find_first_not_of("0123456789") == std::string::npos) {
      prefix = std::stoi(bits);
    }
  }
  if (!address || prefix < 8 || prefix > 30) {
    return absl::InvalidArgumentError(crisp::StrCat("\"", cidr, "\" is not an IPv4 subnet from /8 to /30"));
  }
  uint32_t mask = ~0u << (32 - prefix);
  return Ipv4Subnet{*address & mask, prefix};
}

std::string FormatIpv4(uint32_t address) {
  return crisp::StrCat(address >> 24, ".", (address >> 16) & 255, ".", (address >> 8) & 255, ".", address & 255);
}

HostLocalIpam::HostLocalIpam(std::string data_dir, std::string network, Ipv4Subnet subnet)
    : dir_(std::move(data_dir) + "/" + network), subnet_(subnet) {}

absl::StatusOr<uint32_t> HostLocalIpam::Reserve(const std::string& id, const std::string& ifname) {
  DirLock lock(dir_);
  if (!lock.held()) return absl::InternalError(crisp::StrCat("cannot lock ", dir_, "/lock: ", std::strerror(errno)));
  const uint32_t first = subnet_.network + 1, last = subnet_.broadcast() - 1;
  uint32_t start = first;
  if (absl::StatusOr<std::string> previous = ReadFile(dir_ + "/last_reserved_ip.0"); previous.ok()) {
    std::optional<uint32_t> address = ParseIpv4(Trim(*previous));
    if (address && *address >= first && *address < last) start = *address + 1;
  }
  for (uint64_t tried = 0, count = uint64_t{last} - first + 1; tried < count; ++tried) {
    uint32_t candidate = first + static_cast<uint32_t>((uint64_t{start} - first + tried) % count);
    if (candidate == subnet_.gateway()) continue;
    std::string path = dir_ + "/" + FormatIpv4(candidate);
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      return absl::InternalError(crisp::StrCat("reserving ", path, ": ", std::strerror(errno)));
    }
    std::string owner = Trim(id) + kLineBreak + ifname;
    bool written = write(fd, owner.data(), owner.size()) == static_cast<ssize_t>(owner.size());
    close(fd);
    if (!written) {
      unlink(path.c_str());
      return absl::InternalError(crisp::StrCat("writing ", path));
    }
    if (absl::Status saved = WriteFileAtomically(dir_ + "/last_reserved_ip.0", FormatIpv4(candidate)); !saved.ok()) {
      unlink(path.c_str());
      return saved;
    }
    return candidate;
  }
  return absl::ResourceExhaustedError(crisp::StrCat("no free address left in ", FormatIpv4(subnet_.network), "/",
                                                    subnet_.prefix));
}

absl::Status HostLocalIpam::Release(const std::string& id, const std::string& ifname) {
  std::error_code error;
  if (!fs::exists(dir_, error)) return absl::OkStatus();
  DirLock lock(dir_);
  if (!lock.held()) return absl::InternalError(crisp::StrCat("cannot lock ", dir_, "/lock: ", std::strerror(errno)));
  const std::string owner = Trim(id) + kLineBreak + ifname;
  for (const auto& entry : fs::directory_iterator(dir_, error)) {
    const std::string name = entry.path().filename().string();
    if (!ParseIpv4(name)) continue;  // lock, last_reserved_ip.0
    absl::StatusOr<std::string> text = ReadFile(entry.path().string());
    // Also an address reserved by an older host-local, which wrote the ID alone.
    if (text.ok() && (Trim(*text) == owner || Trim(*text) == Trim(id))) fs::remove(entry.path(), error);
  }
  return absl::OkStatus();
}

}  // namespace crisp::crispd

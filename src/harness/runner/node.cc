#include "harness/runner/node.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/strings.h"
#include "harness/scenario/host_actions.h"

namespace crisp::runner {
namespace {

constexpr std::array<std::string_view, 4> kNamespaces = {"mnt", "net", "pid", "ipc"};

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

// PRETTY_NAME="Debian GNU/Linux 12 (bookworm)" -> Debian GNU/Linux 12 (bookworm)
std::string PrettyName(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("PRETTY_NAME=")) continue;
    std::string value = line.substr(12);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    return value;
  }
  return "";
}

std::string NamespaceLink(const std::string& process, std::string_view name) {
  std::array<char, 128> buffer{};
  std::string path = crisp::StrCat("/proc/", process, "/ns/", name);
  ssize_t n = readlink(path.c_str(), buffer.data(), buffer.size() - 1);
  return n <= 0 ? "" : std::string(buffer.data(), static_cast<size_t>(n));
}

// The PID of the process at the other end of a unix socket, as this PID
// namespace numbers it: 0 when it is outside, -1 when the socket does not
// answer.
int PeerPid(const std::string& socket_path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(address.sun_path)) {
    close(fd);
    return -1;
  }
  std::memcpy(address.sun_path, socket_path.data(), socket_path.size());
  int pid = -1;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    ucred credentials{};
    socklen_t size = sizeof(credentials);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size) == 0) pid = credentials.pid;
  }
  close(fd);
  return pid;
}

bool* Field(NodeView& view, std::string_view name) {
  if (name == "mnt") return &view.mnt;
  if (name == "net") return &view.net;
  if (name == "pid") return &view.pid;
  if (name == "ipc") return &view.ipc;
  return nullptr;
}

}  // namespace

NodeFacts NodeFacts::Probe() {
  NodeFacts facts;
  facts.name = Env("CRISP_NODE_NAME");
  utsname uts{};
  if (uname(&uts) == 0) {
    if (facts.name.empty()) facts.name = uts.nodename;
    facts.kernel = uts.release;
    facts.arch = uts.machine;
  }
  std::string os_release = Env("CRISP_NODE_OS_RELEASE");
  facts.os = PrettyName(os_release.empty() ? "/etc/os-release" : os_release);
  return facts;
}

nlohmann::json NodeFacts::ToJson() const {
  return {{"name", name}, {"kernel", kernel}, {"os", os}, {"arch", arch}};
}

NodeView NodeView::FromPeer(int peer_pid, const std::map<std::string, std::string>& mine,
                            const std::map<std::string, std::string>& theirs) {
  NodeView view;
  if (peer_pid == 0) {
    view.mnt = view.net = view.pid = view.ipc = false;
    view.how = "the runtime is out of sight of crisp's PID namespace";
    return view;
  }
  std::vector<std::string> parts;
  for (std::string_view name : kNamespaces) {
    auto a = mine.find(std::string(name));
    auto b = theirs.find(std::string(name));
    bool known = a != mine.end() && b != theirs.end() && !a->second.empty() && !b->second.empty();
    // Unreadable (a pod with hostPID but without the capabilities to
    // inspect the runtime): nothing is proved, so not shared;
    // $CRISP_NODE_NAMESPACES can state it.
    *Field(view, name) = known && a->second == b->second;
    parts.push_back(crisp::StrCat(known ? (*Field(view, name) ? "same " : "other ") : "unreadable ", name));
  }
  view.how = crisp::StrCat("runtime PID ", peer_pid, ": ", absl::StrJoin(parts, ", "));
  return view;
}

absl::StatusOr<NodeView> NodeView::FromList(std::string_view list) {
  NodeView view;
  view.mnt = view.net = view.pid = view.ipc = false;
  view.how = crisp::StrCat("$CRISP_NODE_NAMESPACES=", list);
  if (list == "none") return view;
  for (absl::string_view piece : absl::StrSplit(absl::string_view(list.data(), list.size()), ',')) {
    std::string_view word = crisp::View(piece);
    bool* field = Field(view, word);
    if (field == nullptr) {
      return absl::InvalidArgumentError(crisp::StrCat("$CRISP_NODE_NAMESPACES: unknown namespace \"", word,
                                                      "\" (mnt, net, pid, ipc, or none)"));
    }
    *field = true;
  }
  return view;
}

NodeView NodeView::Probe(const std::string& socket_path) {
  NodeView view = ProbeNamespaces(socket_path);
  for (absl::string_view piece : absl::StrSplit(Env("CRISP_NODE_PATHS"), ':', absl::SkipEmpty())) {
    view.node_paths.emplace_back(piece);
  }
  return view;
}

bool NodeView::PodLogs() const {
  if (mnt) return true;
  const std::filesystem::path root(kPodLogRoot);
  for (const std::string& path : node_paths) {
    const std::filesystem::path given = std::filesystem::path(path).lexically_normal();
    auto [end, at] = std::mismatch(given.begin(), given.end(), root.begin(), root.end());
    if (end == given.end() || (std::next(end) == given.end() && end->empty())) return true;
  }
  return false;
}

NodeView NodeView::ProbeNamespaces(const std::string& socket_path) {
  if (std::string list = Env("CRISP_NODE_NAMESPACES"); !list.empty()) {
    absl::StatusOr<NodeView> stated = FromList(list);
    if (stated.ok()) return *stated;
    NodeView view;
    view.mnt = view.net = view.pid = view.ipc = false;
    view.how = std::string(stated.status().message());
    return view;
  }
  if (socket_path.empty()) {
    NodeView view;
    view.how = "the bundled runtime runs beside crisp";
    return view;
  }
  int peer = PeerPid(socket_path);
  if (peer < 0) {
    NodeView view;
    view.how = crisp::StrCat("could not ask ", socket_path, " for its peer; taken as shared");
    return view;
  }
  std::map<std::string, std::string> mine, theirs;
  for (std::string_view name : kNamespaces) {
    mine[std::string(name)] = NamespaceLink("self", name);
    if (peer > 0) theirs[std::string(name)] = NamespaceLink(std::to_string(peer), name);
  }
  return FromPeer(peer, mine, theirs);
}

std::string NodeView::Unshared(std::string_view requirement) const {
  auto check = [&](bool shared, std::string_view name, std::string_view what) {
    return shared ? std::string()
                  : crisp::StrCat("crisp is not in the runtime's ", name, " namespace (", how, "), so it cannot ",
                                  what, "; see docs/fleet.md");
  };
  if (requirement == scenario::kNodeMount) return check(mnt, "mount", "see the runtime's files");
  if (requirement == scenario::kNodeNetwork) return check(net, "network", "reach what the runtime reaches");
  if (requirement == scenario::kNodePid) return check(pid, "PID", "see the runtime's processes");
  if (requirement == scenario::kNodeIpc) return check(ipc, "IPC", "share its IPC objects");
  if (requirement == scenario::kNodePodLogs) {
    return PodLogs() ? std::string()
                     : crisp::StrCat("crisp is not in the runtime's mount namespace (", how, ") and ", kPodLogRoot,
                                     " is not among the node's paths it has ($CRISP_NODE_PATHS), so it cannot read "
                                     "the pods' logs; see docs/fleet.md");
  }
  return crisp::StrCat("unknown requirement \"", requirement, "\"");
}

nlohmann::json NodeView::ToJson() const {
  return {{"mnt", mnt}, {"net", net}, {"pid", pid}, {"ipc", ipc}, {"node_paths", node_paths}, {"how", how}};
}

}  // namespace crisp::runner

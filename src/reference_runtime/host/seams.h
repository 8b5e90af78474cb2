// The seams of crispd: every side effect of the sandbox and container
// managers goes through one of these interfaces. main() wires the real ones
// (real_host.h: runc/crun, CNI plugins and `ip netns`, conmon, mount(2));
// the managers' unit tests wire fakes (fake_host.h) and drive both state
// machines without root, runc or a network.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"
#include "reference_runtime/image/image_store.h"

namespace crisp::crispd {

// A process crispd is the parent of but did not spawn: an infra process
// (reparented when runc create exits) or a conmon monitor.
class ProcessHandle {
 public:
  virtual ~ProcessHandle() = default;
  virtual int pid() const = 0;
  virtual bool HasExited() const = 0;
  virtual std::optional<ExitStatus> PeekExit() const = 0;  // how it ended, once it has
  virtual bool TryReap() = 0;                              // true once it is gone
  virtual bool Signal(int signal) = 0;
};

// Reaps `process` once it has exited, giving it `within`; true once it is gone.
bool AwaitReap(ProcessHandle& process, absl::Duration within);

// What an OCI runtime (runc, crun) does for crispd, by CRI runtime handler
// ("" is the default). Errors carry the runtime's own message.
class OciRuntime {
 public:
  virtual ~OciRuntime() = default;
  // NotFound names the handler and the ones there are.
  virtual absl::Status Check(const std::string& handler) const = 0;
  virtual std::vector<std::string> Handlers() const = 0;  // without ""
  virtual std::string Binary(const std::string& handler) const = 0;
  virtual std::string Root(const std::string& handler) const = 0;  // its state directory
  // Whether the handler can make a mount read-only with its submounts
  // (Mount.recursive_read_only): its `features` lists the "rro" option.
  virtual bool RecursiveReadOnly(const std::string& handler) const = 0;

  // create: the bundle's config.json, stdio /dev/null, log in the bundle;
  // returns the container's init process, held.
  virtual absl::StatusOr<std::shared_ptr<ProcessHandle>> Create(const std::string& handler, const std::string& id,
                                                                const std::string& bundle) = 0;
  virtual absl::Status Start(const std::string& handler, const std::string& id) = 0;
  // `all`: every process of the container, not only its init.
  virtual absl::Status Kill(const std::string& handler, const std::string& id, int signal, bool all) = 0;
  // delete --force: ends what still runs; an unknown ID is not an error.
  virtual absl::Status Delete(const std::string& handler, const std::string& id) = 0;
  // Sets the container's cgroup limits to `resources` (an OCI
  // linux.resources object; what it leaves out is left as it is).
  virtual absl::Status Update(const std::string& handler, const std::string& id, const nlohmann::json& resources) = 0;
  // "created", "running", "stopped"...; NotFound once deleted.
  virtual absl::StatusOr<std::string> State(const std::string& handler, const std::string& id) = 0;
  // The command line that runs `cmd` in the container (for streaming exec);
  // with a `console_socket`, in a new terminal whose master the runtime
  // sends there, detached: the runtime exits once the command runs, and the
  // command's PID is in `<console_socket>.pid` (crispd, the child
  // subreaper, becomes its parent).
  virtual std::vector<std::string> ExecCommand(const std::string& handler, const std::string& id,
                                               const std::vector<std::string>& cmd,
                                               const std::string& console_socket) const = 0;
  // Runs `cmd` in the container to its end; past `timeout` (when not zero)
  // it is ended and the result says timed_out.
  virtual absl::StatusOr<RunResult> ExecSync(const std::string& handler, const std::string& id,
                                             const std::vector<std::string>& cmd, absl::Duration timeout,
                                             size_t max_output) = 0;
};

// The pod network: a network namespace per sandbox, attached by CNI.
class PodNetwork {
 public:
  virtual ~PodNetwork() = default;
  // Whether a network and its plugins are there; `why` says what is missing.
  virtual bool Ready(std::string* why) const = 0;
  // Where the sandbox's netns will be (known before it exists, so that the
  // record can name it before anything is made).
  virtual std::string NetnsPath(const std::string& sandbox_id) const = 0;
  // Makes the netns and runs CNI ADD; returns the pod's IPv4 address.
  virtual absl::StatusOr<std::string> Setup(const std::string& sandbox_id, const nlohmann::json& port_mappings) = 0;
  // CNI DEL and the netns removed; what is already gone is not an error.
  virtual absl::Status Teardown(const std::string& sandbox_id, const std::string& netns,
                                const nlohmann::json& port_mappings) = 0;
};

// The container monitor (conmon): holds the container's stdio, writes the
// CRI log and the exit file <dir>/exits/<id>, marks an OOM kill in <dir>/oom.
class Monitor {
 public:
  struct Request {
    std::string id;
    std::string name;      // the container's metadata name
    std::string dir;       // the bundle, also the monitor's working directory
    std::string runtime_binary;
    std::string runtime_root;
    std::string log_path;  // the CRI log
    std::string attach_dir;
    bool stdin = false;       // keep a pipe to the container's stdin (ContainerConfig.stdin)
    bool stdin_once = false;  // close it when the first attach session ends
    bool tty = false;         // the container runs in a terminal
  };
  struct Started {
    int container_pid = 0;
    std::shared_ptr<ProcessHandle> monitor;  // null when it could not be held
  };
  virtual ~Monitor() = default;
  // Creates the container through the runtime and stays as its monitor.
  virtual absl::StatusOr<Started> Start(const Request& request) = 0;
  // Asks the monitor of the container in `dir` to reopen its log.
  virtual absl::Status ReopenLog(const std::string& dir) = 0;
};

// What an infra process would hold, without one (as CRI-O's pinns does),
// for pods that share no PID namespace: new UTS and (unless the pod shares
// the node's) IPC namespaces held by bind mounts, with the pod's hostname
// and namespaced sysctls set in them and in its network namespace; and the
// pod's own cgroup, where the infra's would be, so that the pod has usage
// figures before it has a container.
class NamespacePinner {
 public:
  struct Request {
    std::string dir;       // the pins go in <dir>/ns/<type>
    bool ipc = true;       // a new IPC namespace too
    std::string hostname;  // set in the new UTS namespace
    std::string netns;     // where net.* sysctls are set (empty: the pod has the node's network)
    std::map<std::string, std::string> sysctls;  // dotted keys, checked by PodSysctls
    std::string cgroup;    // e.g. /crispd/<sandbox id>: made in each hierarchy stats are read from
  };
  virtual ~NamespacePinner() = default;
  // The pinned namespaces by OCI type ("uts", "ipc") and path. On error
  // nothing stays pinned.
  virtual absl::StatusOr<std::map<std::string, std::string>> Pin(const Request& request) = 0;
  // Releases what Pin made; what is gone already is fine.
  virtual void Unpin(const std::string& dir, const std::string& cgroup) = 0;
};

// Mounts the managers make: a container's overlay root, a pod's /dev/shm.
class Mounter {
 public:
  virtual ~Mounter() = default;
  virtual absl::Status Mount(const std::string& source, const std::string& target, const std::string& type,
                             unsigned long flags, const std::string& data) = 0;
  // Detaches; not mounted is fine.
  virtual void Unmount(const std::string& target) = 0;
};

// (The images a container is made from: ImageCatalog, in image_store.h.)

// The seams the managers are given; none is owned.
struct Host {
  OciRuntime* oci = nullptr;
  PodNetwork* network = nullptr;
  Monitor* monitor = nullptr;
  Mounter* mounter = nullptr;
  NamespacePinner* pinner = nullptr;  // null: every pod has an infra process
};

}  // namespace crisp::crispd

#include "reference_runtime/sandbox/sandbox_manager.h"

#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/strings.h"
#include "google/protobuf/util/json_util.h"
#include "reference_runtime/sandbox/infra_spec.h"
#include "reference_runtime/state/atomic_file.h"
#include "reference_runtime/state/records.h"
#include "reference_runtime/state/ids.h"
#include "reference_runtime/host/process.h"
#include "reference_runtime/host/stage_clock.h"

namespace crisp::crispd {
namespace {

namespace fs = std::filesystem;
namespace v1 = runtime::v1;
using nlohmann::json;

// Never ask for an oom_score_adj below crispd's own: lowering it needs
// CAP_SYS_RESOURCE, which this host's root lacks.
int InfraOomScoreAdj() {
  int own = 0;
  std::ifstream("/proc/self/oom_score_adj") >> own;
  return std::max(-998, own);
}

// The name the CRI reserves for a sandbox: its whole metadata.
std::string NameKey(const v1::PodSandboxMetadata& m) {
  return crisp::StrCat(m.namespace_(), "/", m.name(), "/", m.uid(), "/", m.attempt());
}

std::string ResolvConf(const v1::DNSConfig& dns) {
  // search, nameserver, options: the order containerd and CRI-O write.
  std::string text;
  if (!dns.searches().empty()) {
    text += "search";
    for (const auto& search : dns.searches()) crisp::StrAppend(&text, " ", search);
    text += "\n";
  }
  for (const auto& server : dns.servers()) crisp::StrAppend(&text, "nameserver ", server, "\n");
  if (!dns.options().empty()) {
    text += "options";
    for (const auto& option : dns.options()) crisp::StrAppend(&text, " ", option);
    text += "\n";
  }
  return text;
}

}  // namespace

SandboxManager::SandboxManager(SandboxOptions options, Host host) : options_(std::move(options)), host_(host) {}

absl::StatusOr<std::unique_ptr<SandboxManager>> SandboxManager::Open(SandboxOptions options, Host host) {
  std::error_code error;
  fs::create_directories(fs::path(options.state_dir) / "sandboxes", error);
  if (error) return absl::InternalError(crisp::StrCat("cannot create ", options.state_dir, ": ", error.message()));
  if (!fs::exists(options.pause_binary)) {
    return absl::FailedPreconditionError(crisp::StrCat("the pause program ", options.pause_binary, " is missing"));
  }
  std::unique_ptr<SandboxManager> manager(new SandboxManager(std::move(options), host));
  if (absl::Status loaded = manager->Load(); !loaded.ok()) return loaded;
  return manager;
}

std::string SandboxManager::Dir(const std::string& id) const {
  return crisp::StrCat(options_.state_dir, "/sandboxes/", id);
}

absl::Status SandboxManager::Save(const Sandbox& sandbox) const {
  ::crispd::state::v1::SandboxRecord record;
  record.set_id(sandbox.id);
  *record.mutable_config() = sandbox.config;
  record.set_handler(sandbox.handler);
  record.set_state(sandbox.state);
  record.set_created_at(sandbox.created_at);
  record.set_ip(sandbox.ip);
  record.set_netns(sandbox.netns);
  record.mutable_pinned_namespaces()->insert(sandbox.pinned.begin(), sandbox.pinned.end());
  for (const json& mapping : sandbox.port_mappings) {
    auto* port = record.add_port_mappings();
    port->set_host_port(mapping.value("hostPort", 0));
    port->set_container_port(mapping.value("containerPort", 0));
    port->set_protocol(mapping.value("protocol", "tcp"));
    port->set_host_ip(mapping.value("hostIP", ""));
  }
  return WriteRecord(Dir(sandbox.id) + "/sandbox.json", record);
}

absl::Status SandboxManager::Load() {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(fs::path(options_.state_dir) / "sandboxes", error)) {
    ::crispd::state::v1::SandboxRecord record;
    absl::Status read = LoadRecordOrSetAside(options_.state_dir, "sandbox", entry.path().string(), "sandbox.json", &record);
    if (absl::IsNotFound(read)) {
      // A sandbox that died half-made, before its record: nothing can name it.
      host_.mounter->Unmount((entry.path() / "shm").string());
      fs::remove_all(entry.path(), error);
      continue;
    }
    if (!read.ok()) continue;  // said and set aside
    Sandbox sandbox;
    sandbox.id = record.id();
    sandbox.config = record.config();
    sandbox.handler = record.handler();
    sandbox.state = record.state();
    sandbox.created_at = record.created_at();
    sandbox.ip = record.ip();
    sandbox.netns = record.netns();
    sandbox.pinned.insert(record.pinned_namespaces().begin(), record.pinned_namespaces().end());
    sandbox.port_mappings = CniPortMappings(record);
    std::string id = sandbox.id, key = NameKey(sandbox.config.metadata());
    sandboxes_.Reserve(id, key, std::move(sandbox), "sandbox").IgnoreError();  // IDs and names were unique when saved
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SandboxManager::Run(const v1::PodSandboxConfig& config, const std::string& handler) {
  const v1::PodSandboxMetadata& metadata = config.metadata();
  if (metadata.name().empty() || metadata.uid().empty() || metadata.namespace_().empty()) {
    return absl::InvalidArgumentError("sandbox metadata needs name, uid and namespace");
  }
  if (absl::Status known = host_.oci->Check(handler); !known.ok()) return known;
  if (absl::StatusOr<std::map<std::string, std::string>> sysctls = PodSysctls(config); !sysctls.ok()) {
    return sysctls.status();
  }
  Sandbox sandbox;
  sandbox.id = NewId();
  sandbox.config = config;
  sandbox.handler = handler;
  sandbox.created_at = absl::ToUnixNanos(absl::Now());
  sandbox.creating = true;
  // One sandbox per metadata: the kubelet relies on names being reserved.
  absl::StatusOr<EntryPtr> entry = sandboxes_.Reserve(
      sandbox.id, NameKey(metadata), sandbox,
      crisp::StrCat("a sandbox named ", metadata.namespace_(), "/", metadata.name(), " (uid ", metadata.uid(),
                    ", attempt ", metadata.attempt(), ")"));
  if (!entry.ok()) return entry.status();
  absl::MutexLock lifecycle(&(*entry)->lifecycle);
  StageClock clock(crisp::StrCat("RunPodSandbox ", sandbox.id.substr(0, 12)));
  if (absl::Status started = StartInfra(sandbox); !started.ok()) {
    StopInfra(sandbox).IgnoreError();  // best effort: the start's own error is the one to report
    std::error_code error;
    fs::remove_all(Dir(sandbox.id), error);
    sandboxes_.Erase(sandbox.id);
    return started;
  }
  sandbox.state = v1::SANDBOX_READY;
  sandbox.creating = false;
  absl::Status saved = Save(sandbox);
  Stage("record");
  // As containerd and CRI-O do: a sandbox's events carry its own ID.
  Publish(sandbox.id, v1::CONTAINER_CREATED_EVENT);
  Publish(sandbox.id, v1::CONTAINER_STARTED_EVENT);
  absl::MutexLock lock(&(*entry)->mu);
  (*entry)->record = std::move(sandbox);
  if (!saved.ok()) return saved;
  return (*entry)->record.id;
}

absl::Status SandboxManager::StartInfra(Sandbox& sandbox) {
  const std::string dir = Dir(sandbox.id);
  const auto& namespaces = sandbox.config.linux().security_context().namespace_options();
  // No process needs to hold namespaces that can be pinned: only a shared
  // PID namespace needs one (its init).
  const bool pinned = host_.pinner != nullptr && namespaces.pid() != v1::POD;
  std::error_code error;
  fs::create_directories(dir, error);
  if (!pinned) {
    fs::create_directories(dir + "/rootfs", error);
    for (const char* sub : {"proc", "dev", "sys"}) fs::create_directories(fs::path(dir) / "rootfs" / sub, error);
    fs::copy_file(options_.pause_binary, dir + "/rootfs/pause", fs::copy_options::overwrite_existing, error);
  }
  if (error) return absl::InternalError(crisp::StrCat("preparing the sandbox's directory: ", error.message()));
  if (absl::Status saved = Save(sandbox); !saved.ok()) return saved;
  Stage("rootfs");

  // The network: a netns of its own with the CNI network, or the host's.
  if (namespaces.network() != v1::NODE) {
    sandbox.netns = host_.network->NetnsPath(sandbox.id);
    for (const auto& mapping : sandbox.config.port_mappings()) {
      if (mapping.host_port() == 0) continue;
      sandbox.port_mappings.push_back(
          {{"hostPort", mapping.host_port()},
           {"containerPort", mapping.container_port()},
           {"protocol", mapping.protocol() == v1::UDP ? "udp" : mapping.protocol() == v1::SCTP ? "sctp" : "tcp"},
           {"hostIP", mapping.host_ip()}});
    }
    // Recorded before it is made: a crash in between leaves a record that
    // names what to tear down (crispd reset reads it).
    if (absl::Status saved = Save(sandbox); !saved.ok()) return saved;
    absl::StatusOr<std::string> ip = host_.network->Setup(sandbox.id, sandbox.port_mappings);
    if (!ip.ok()) return ip.status();
    sandbox.ip = *ip;
  }
  Stage("net.rest");

  // Files the pod's containers will share (bind-mounted: they must exist).
  std::string hostname = sandbox.config.hostname().empty() ? sandbox.id.substr(0, 12) : sandbox.config.hostname();
  for (const auto& [name, text] : std::vector<std::pair<std::string, std::string>>{
           {"hostname", hostname + "\n"},
           {"hosts", crisp::StrCat("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
                                   sandbox.ip.empty() ? "" : sandbox.ip + "\t" + hostname + "\n")}}) {
    if (absl::Status written = WriteFileAtomically(dir + "/" + name, text); !written.ok()) return written;
  }
  if (sandbox.config.has_dns_config()) {
    if (absl::Status written = WriteFileAtomically(dir + "/resolv.conf", ResolvConf(sandbox.config.dns_config()));
        !written.ok()) {
      return written;
    }
  } else {
    fs::copy_file("/etc/resolv.conf", dir + "/resolv.conf", fs::copy_options::overwrite_existing, error);
    if (error) return absl::InternalError(crisp::StrCat("copying the host's /etc/resolv.conf: ", error.message()));
  }
  std::string shm;
  if (namespaces.ipc() != v1::NODE) {
    shm = dir + "/shm";
    fs::create_directories(shm, error);
    if (absl::Status mounted = host_.mounter->Mount("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                                    "mode=1777,size=65536k");
        !mounted.ok()) {
      return mounted;
    }
  }

  Stage("files");
  absl::StatusOr<std::map<std::string, std::string>> sysctls = PodSysctls(sandbox.config);
  if (!sysctls.ok()) return sysctls.status();
  if (pinned) {
    NamespacePinner::Request pin{dir, namespaces.ipc() != v1::NODE, hostname, sandbox.netns, *sysctls,
                                 InfraCgroup(sandbox.config, sandbox.id)};
    absl::StatusOr<std::map<std::string, std::string>> pins = host_.pinner->Pin(pin);
    if (!pins.ok()) return pins.status();
    sandbox.pinned = *std::move(pins);
    Stage("namespaces.pin");
    return absl::OkStatus();
  }
  json spec = InfraSpec(sandbox.config, sandbox.netns, shm, sandbox.id, InfraOomScoreAdj(), *sysctls);
  if (absl::Status written = WriteFileAtomically(dir + "/config.json", spec.dump(1)); !written.ok()) return written;
  Stage("infra.spec");
  absl::StatusOr<std::shared_ptr<ProcessHandle>> infra = host_.oci->Create(sandbox.handler, sandbox.id, dir);
  if (!infra.ok()) return infra.status();
  Stage("infra.create");
  sandbox.infra = *infra;
  absl::Status started = host_.oci->Start(sandbox.handler, sandbox.id);
  Stage("infra.start");
  return started;
}

absl::Status SandboxManager::StopInfra(Sandbox& sandbox) {
  const std::string dir = Dir(sandbox.id);
  absl::Status status;
  // A pod of the pinned kind whose record names no pins yet (crispd died
  // between pinning and saving): release what pinning may have made, and
  // ask the OCI runtime too, in case the record is older than pins.
  const bool pinned_kind =
      host_.pinner != nullptr && sandbox.config.linux().security_context().namespace_options().pid() != v1::POD;
  if (sandbox.infra_released) {
    // Stopped before: nothing of the infra is left.
  } else if (!sandbox.pinned.empty() || pinned_kind) {
    if (host_.pinner != nullptr) host_.pinner->Unpin(dir, InfraCgroup(sandbox.config, sandbox.id));
    sandbox.infra_released = !sandbox.pinned.empty();
    sandbox.pinned.clear();
  }
  if (!sandbox.infra_released) {
    // The infra process: SIGKILL, wait until the runtime sees it stopped, delete.
    host_.oci->Kill(sandbox.handler, sandbox.id, SIGKILL, false).IgnoreError();  // not running is fine: delete follows
    for (int i = 0; i < 100; ++i) {
      absl::StatusOr<std::string> state = host_.oci->State(sandbox.handler, sandbox.id);
      if (!state.ok() || *state == "stopped") break;  // deleted already, or stopped
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    status = host_.oci->Delete(sandbox.handler, sandbox.id);
    sandbox.infra_released = status.ok();
  }
  // crispd is the child subreaper of its infra processes: reap this one, so
  // no zombie outlives the sandbox.
  if (sandbox.infra) {
    AwaitReap(*sandbox.infra, absl::Seconds(2));  // still there: it is not our child (crispd restarted)
    sandbox.infra.reset();
  }
  if (!sandbox.netns.empty()) {
    if (absl::Status released = host_.network->Teardown(sandbox.id, sandbox.netns, sandbox.port_mappings);
        !released.ok()) {
      status = released;
    }
  }
  host_.mounter->Unmount(dir + "/shm");
  if (status.ok()) sandbox.netns.clear();  // reclaimed: a later stop has nothing to do
  sandbox.state = v1::SANDBOX_NOTREADY;
  return status;
}

absl::StatusOr<SandboxInfo> SandboxManager::InfoOf(const SandboxEntry& entry) const {
  const Sandbox& sandbox = entry.record;
  if (entry.removed || sandbox.creating) return absl::NotFoundError(crisp::StrCat("no pod sandbox \"", sandbox.id, "\""));
  SandboxInfo info{sandbox.id, sandbox.config, Dir(sandbox.id),
                   sandbox.config.hostname().empty() ? sandbox.id.substr(0, 12) : sandbox.config.hostname(),
                   sandbox.handler, 0, sandbox.state == v1::SANDBOX_READY, sandbox.netns, {}};
  if (sandbox.infra) {
    // Its namespaces are joined by /proc/<pid>/ns/*: a dead infra process
    // would send runc to a missing (or, once reaped, another's) path.
    if (sandbox.infra->HasExited()) {
      std::optional<ExitStatus> how = sandbox.infra->PeekExit();
      return absl::FailedPreconditionError(crisp::StrCat("pod sandbox ", sandbox.id, ": its infra process (PID ",
                                                         sandbox.infra->pid(), ") has ended",
                                                         how ? " (" + how->Describe() + ")" : std::string()));
    }
    info.infra_pid = sandbox.infra->pid();
  } else if (sandbox.pinned.empty()) {
    std::ifstream(Dir(sandbox.id) + "/pid") >> info.infra_pid;  // recovered after a restart
  }
  // Where the containers join the pod's namespaces: the netns by its
  // bind mount, the others pinned or the infra's.
  const auto& modes = sandbox.config.linux().security_context().namespace_options();
  const struct {
    const char* type;
    const char* proc_name;
    bool own;  // the pod has one of its own, not the node's
  } kinds[] = {{"network", "net", modes.network() != v1::NODE},
               {"ipc", "ipc", modes.ipc() != v1::NODE},
               {"uts", "uts", true},
               {"pid", "pid", modes.pid() != v1::NODE}};
  for (const auto& kind : kinds) {
    if (!kind.own) continue;
    auto pin = sandbox.pinned.find(kind.type);
    if (kind.type == std::string("network") && !sandbox.netns.empty()) {
      info.namespaces[kind.type] = sandbox.netns;
    } else if (pin != sandbox.pinned.end()) {
      info.namespaces[kind.type] = pin->second;
    } else if (info.infra_pid > 0) {
      info.namespaces[kind.type] = crisp::StrCat("/proc/", info.infra_pid, "/ns/", kind.proc_name);
    }
  }
  return info;
}

absl::StatusOr<SandboxInfo> SandboxManager::Info(const std::string& id) {
  EntryPtr entry = sandboxes_.Find(id);
  if (!entry) return absl::NotFoundError(crisp::StrCat("no pod sandbox \"", id, "\""));
  absl::ReaderMutexLock lock(&entry->mu);
  return InfoOf(*entry);
}

absl::Status SandboxManager::WhileReady(const std::string& id,
                                        absl::FunctionRef<absl::Status(const SandboxInfo&)> fn) {
  EntryPtr entry = sandboxes_.Find(id);
  if (!entry) return absl::NotFoundError(crisp::StrCat("no pod sandbox \"", id, "\""));
  absl::ReaderMutexLock lifecycle(&entry->lifecycle);
  absl::StatusOr<SandboxInfo> info;
  {
    absl::ReaderMutexLock lock(&entry->mu);
    info = InfoOf(*entry);
  }
  if (!info.ok()) return info.status();
  if (!info->ready) return absl::FailedPreconditionError(crisp::StrCat("pod sandbox ", info->id, " is not ready"));
  return fn(*info);
}

absl::Status SandboxManager::Stop(const std::string& id) {
  EntryPtr entry = sandboxes_.Find(id);
  if (!entry) return absl::OkStatus();  // already reclaimed
  absl::MutexLock lifecycle(&entry->lifecycle);
  std::optional<Sandbox> current = entry->SnapshotUnlessRemoved();
  if (!current) return absl::OkStatus();
  Sandbox& sandbox = *current;
  // "If there are any running containers in the sandbox, they must be forcibly terminated."
  if (container_hook_) container_hook_(sandbox.id, PodTeardown::kStop);
  if (sandbox.state == v1::SANDBOX_NOTREADY && sandbox.netns.empty()) return absl::OkStatus();
  const bool was_ready = sandbox.state == v1::SANDBOX_READY;
  absl::Status stopped = StopInfra(sandbox);
  if (was_ready && sandbox.state == v1::SANDBOX_NOTREADY) Publish(sandbox.id, v1::CONTAINER_STOPPED_EVENT);
  if (fs::exists(Dir(sandbox.id))) Save(sandbox).IgnoreError();  // the record is rewritten by the next change anyway
  absl::MutexLock lock(&entry->mu);
  entry->record = std::move(sandbox);
  return stopped;
}

absl::Status SandboxManager::Remove(const std::string& id) {
  EntryPtr entry = sandboxes_.Find(id);
  if (!entry) return absl::OkStatus();  // already removed
  absl::MutexLock lifecycle(&entry->lifecycle);
  std::optional<Sandbox> current = entry->SnapshotUnlessRemoved();
  if (!current) return absl::OkStatus();
  Sandbox& sandbox = *current;
  // "If there are any running containers in the sandbox, they must be forcibly terminated and removed."
  if (container_hook_) container_hook_(sandbox.id, PodTeardown::kRemove);
  const bool was_ready = sandbox.state == v1::SANDBOX_READY;
  absl::Status stopped = StopInfra(sandbox);
  if (was_ready && sandbox.state == v1::SANDBOX_NOTREADY) Publish(sandbox.id, v1::CONTAINER_STOPPED_EVENT);
  if (!stopped.ok()) {
    // Keep the record, so that a retry can reclaim the network.
    // The teardown's error is the one to report; the record in memory is right either way.
    if (fs::exists(Dir(sandbox.id))) Save(sandbox).IgnoreError();
    absl::MutexLock lock(&entry->mu);
    entry->record = std::move(sandbox);
    return absl::InternalError(crisp::StrCat("the sandbox's network could not be torn down; RemovePodSandbox "
                                             "again to retry: ", crisp::View(stopped.message())));
  }
  std::error_code error;
  fs::remove_all(Dir(sandbox.id), error);
  if (error) return absl::InternalError(crisp::StrCat("removing ", Dir(sandbox.id), ": ", error.message()));
  sandboxes_.Erase(sandbox.id);
  Publish(sandbox.id, v1::CONTAINER_DELETED_EVENT);
  return absl::OkStatus();
}

void SandboxManager::Publish(const std::string& id, v1::ContainerEventType type) {
  if (options_.events != nullptr) options_.events->Publish(id, id, type);
}

absl::StatusOr<v1::PodSandboxStatusResponse> SandboxManager::Status(const std::string& id, bool verbose) {
  EntryPtr entry = sandboxes_.Find(id);
  if (!entry) return absl::NotFoundError(crisp::StrCat("no pod sandbox \"", id, "\""));
  absl::ReaderMutexLock lock(&entry->mu);
  if (entry->removed || entry->record.creating) return absl::NotFoundError(crisp::StrCat("no pod sandbox \"", id, "\""));
  const Sandbox* sandbox = &entry->record;
  v1::PodSandboxStatusResponse response;
  v1::PodSandboxStatus* status = response.mutable_status();
  status->set_id(sandbox->id);
  *status->mutable_metadata() = sandbox->config.metadata();
  status->set_state(sandbox->state);
  status->set_created_at(sandbox->created_at);
  if (!sandbox->ip.empty()) status->mutable_network()->set_ip(sandbox->ip);
  *status->mutable_linux()->mutable_namespaces()->mutable_options() =
      sandbox->config.linux().security_context().namespace_options();
  *status->mutable_labels() = sandbox->config.labels();
  *status->mutable_annotations() = sandbox->config.annotations();
  status->set_runtime_handler(sandbox->handler);
  if (verbose) {
    (*response.mutable_info())["info"] =
        json{{"netns", sandbox->netns}, {"bundle", Dir(sandbox->id)}, {"runtime", host_.oci->Binary(sandbox->handler)}}.dump();
  }
  return response;
}

std::vector<v1::PodSandbox> SandboxManager::List(const v1::PodSandboxFilter& filter) {
  std::vector<v1::PodSandbox> items;
  for (const EntryPtr& held : sandboxes_.All()) {
    const SandboxEntry& entry = *held;
    absl::ReaderMutexLock lock(&entry.mu);
    const Sandbox& sandbox = entry.record;
    const std::string& id = sandbox.id;
    if (sandbox.creating || entry.removed) continue;
    if (!filter.id().empty() && !id.starts_with(filter.id())) continue;
    if (filter.has_state() && filter.state().state() != sandbox.state) continue;
    if (!LabelsMatch(filter.label_selector(), sandbox.config.labels())) continue;
    v1::PodSandbox item;
    item.set_id(id);
    *item.mutable_metadata() = sandbox.config.metadata();
    item.set_state(sandbox.state);
    item.set_created_at(sandbox.created_at);
    *item.mutable_labels() = sandbox.config.labels();
    *item.mutable_annotations() = sandbox.config.annotations();
    item.set_runtime_handler(sandbox.handler);
    items.push_back(std::move(item));
  }
  return items;
}

}  // namespace crisp::crispd

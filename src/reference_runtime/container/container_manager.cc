#include "reference_runtime/host/namespace_pins.h"
#include "reference_runtime/host/stage_clock.h"
#include "reference_runtime/container/container_manager.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <random>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "google/protobuf/util/json_util.h"
#include "reference_runtime/container/mount_source.h"
#include "reference_runtime/container/spec.h"
#include "reference_runtime/container/stats.h"
#include "reference_runtime/state/atomic_file.h"
#include "reference_runtime/state/records.h"
#include "reference_runtime/state/ids.h"
#include "reference_runtime/host/process.h"

namespace crisp::crispd {
namespace {

namespace fs = std::filesystem;
namespace v1 = runtime::v1;
using nlohmann::json;

// "ExecSync ... should cap stdout and stderr at 16 MiB each and discard the rest."
constexpr size_t kExecOutputCap = 16 << 20;

int OwnOomScoreAdj() {
  int own = 0;
  std::ifstream("/proc/self/oom_score_adj") >> own;
  return own;
}

std::string Join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (const auto& part : parts) crisp::StrAppend(&out, out.empty() ? "" : separator, part);
  return out;
}

// The name the CRI reserves for a container: its metadata within its sandbox.
std::string NameKey(const std::string& sandbox_id, const v1::ContainerMetadata& m) {
  return crisp::StrCat(sandbox_id, "/", m.name(), "/", m.attempt());
}

// The IDs of the images a container's image volumes mount (set at create).
std::vector<std::string> VolumeImageIds(const v1::ContainerConfig& config) {
  std::vector<std::string> ids;
  for (const v1::Mount& mount : config.mounts()) {
    if (mount.has_image() && !mount.image().image_ref().empty()) ids.push_back(mount.image().image_ref());
  }
  return ids;
}

// ContainerStatus.user from an OCI spec's process.user: the primary group
// and the additional ones, as `id -G` lists them. nullopt without one.
std::optional<v1::LinuxContainerUser> UserOfSpec(const json& spec) {
  const json user = spec.is_object() ? spec.value("/process/user"_json_pointer, json()) : json();
  if (!user.is_object() || !user.contains("uid") || !user.contains("gid")) return std::nullopt;
  v1::LinuxContainerUser linux_user;
  linux_user.set_uid(user.value("uid", int64_t{0}));
  linux_user.set_gid(user.value("gid", int64_t{0}));
  std::set<int64_t> groups = {linux_user.gid()};
  for (const json& gid : user.value("additionalGids", json::array())) {
    if (gid.is_number_integer()) groups.insert(gid.get<int64_t>());
  }
  for (int64_t gid : groups) linux_user.add_supplemental_groups(gid);
  return linux_user;
}

}  // namespace

ContainerManager::ContainerManager(ContainerOptions options, ImageCatalog& images, SandboxManager& sandboxes, Host host)
    : options_(std::move(options)), images_(images), sandboxes_(sandboxes), host_(host) {}

absl::StatusOr<std::unique_ptr<ContainerManager>> ContainerManager::Open(ContainerOptions options, ImageCatalog& images,
                                                                         SandboxManager& sandboxes, Host host) {
  std::error_code error;
  fs::create_directories(fs::path(options.state_dir) / "containers", error);
  fs::create_directories(fs::path(options.state_dir) / "attach", error);
  if (error) return absl::InternalError(crisp::StrCat("cannot create ", options.state_dir, ": ", error.message()));
  std::unique_ptr<ContainerManager> manager(new ContainerManager(std::move(options), images, sandboxes, host));
  manager->Load();
  ContainerManager* raw = manager.get();
  sandboxes.SetContainerHook(
      [raw](const std::string& sandbox_id, PodTeardown teardown) { raw->ForSandbox(sandbox_id, teardown); });
  return manager;
}

std::string ContainerManager::Dir(const std::string& id) const {
  return crisp::StrCat(options_.state_dir, "/containers/", id);
}

absl::Status ContainerManager::Save(const Container& c) const {
  ::crispd::state::v1::ContainerRecord record;
  record.set_id(c.id);
  record.set_sandbox_id(c.sandbox_id);
  record.set_handler(c.handler);
  *record.mutable_config() = c.config;
  record.set_image_id(c.image_id);
  record.set_image_ref(c.image_ref);
  record.set_state(c.state);
  record.set_created_at(c.created_at);
  record.set_started_at(c.started_at);
  record.set_finished_at(c.finished_at);
  record.set_exit_code(c.exit_code);
  record.set_reason(c.reason);
  record.set_message(c.message);
  record.set_log_path(c.log_path);
  record.set_conmon_pid(c.conmon_pid);
  record.set_cgroups_path(c.cgroups_path);
  return WriteRecord(Dir(c.id) + "/container.json", record);
}

void ContainerManager::Load() {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(fs::path(options_.state_dir) / "containers", error)) {
    ::crispd::state::v1::ContainerRecord record;
    absl::Status read =
        LoadRecordOrSetAside(options_.state_dir, "container", entry.path().string(), "container.json", &record);
    if (absl::IsNotFound(read)) {
      // A crispd died in CreateContainer after it made the container and
      // before its record: no client knows the ID, so it is removed now
      // (its monitor, OCI state, rootfs mount, cgroup and directory).
      Container orphan;
      orphan.id = entry.path().filename().string();
      for (const std::string& handler : host_.oci->Handlers()) host_.oci->Delete(handler, orphan.id).IgnoreError();
      absl::Status destroyed = Destroy(orphan);
      std::cerr << "crispd: container " << orphan.id << " was made but never recorded (crispd ended in "
                << "CreateContainer): " << (destroyed.ok() ? "removed" : std::string(destroyed.message())) << std::endl;
      continue;
    }
    if (!read.ok()) continue;  // said and set aside
    Container c;
    c.id = record.id();
    c.sandbox_id = record.sandbox_id();
    c.handler = record.handler();
    c.config = record.config();
    c.image_id = record.image_id();
    c.image_ref = record.image_ref();
    c.state = record.state();
    c.created_at = record.created_at();
    c.started_at = record.started_at();
    c.finished_at = record.finished_at();
    c.exit_code = record.exit_code();
    c.reason = record.reason();
    c.message = record.message();
    c.log_path = record.log_path();
    c.conmon_pid = record.conmon_pid();
    // Records from before the field: crispd's default parent (a pod's own parent is not known here).
    c.cgroups_path = record.cgroups_path().empty() ? "/crispd/" + c.id : record.cgroups_path();
    images_.Pin(c.image_id);
    for (const std::string& volume : VolumeImageIds(c.config)) images_.Pin(volume);
    if (absl::StatusOr<std::string> spec = ReadFile(Dir(c.id) + "/config.json"); spec.ok()) {
      c.user = UserOfSpec(json::parse(*spec, nullptr, false));  // discarded (not an object) when corrupt
    }
    std::string id = c.id, key = NameKey(c.sandbox_id, c.config.metadata());
    containers_.Reserve(id, key, std::move(c), "container").IgnoreError();  // IDs and names were unique when saved
  }
}

absl::StatusOr<ContainerManager::EntryPtr> ContainerManager::FindRunning(const std::string& id) {
  EntryPtr entry = containers_.Find(id);
  if (!entry) return absl::NotFoundError(crisp::StrCat("no container \"", id, "\""));
  absl::MutexLock lock(&entry->mu);
  if (entry->removed) return absl::NotFoundError(crisp::StrCat("no container \"", id, "\""));
  Refresh(entry->record);
  if (entry->record.state != v1::CONTAINER_RUNNING) {
    return absl::FailedPreconditionError(crisp::StrCat("container ", entry->record.id, " is not running"));
  }
  return entry;
}

namespace {

// What a container config may not ask, checked before anything is made
// (suites/robustness; docs/robustness.md says where this is stricter than
// containerd).
absl::Status CheckConfig(const v1::ContainerConfig& config) {
  if (config.metadata().name().empty()) return absl::InvalidArgumentError("container metadata needs a name");
  // "log_path: Path relative to PodSandboxConfig.LogDirectory": nothing
  // absolute, nothing that climbs out.
  const fs::path log_path(config.log_path());
  if (log_path.is_absolute()) {
    return absl::InvalidArgumentError(
        crisp::StrCat("log_path \"", config.log_path(), "\" is absolute; it is relative to the pod's log_directory"));
  }
  for (const fs::path& part : log_path) {
    if (part == "..") {
      return absl::InvalidArgumentError(
          crisp::StrCat("log_path \"", config.log_path(), "\" climbs out of the pod's log_directory"));
    }
  }
  for (const v1::Mount& mount : config.mounts()) {
    if (mount.container_path().empty() || mount.container_path().front() != '/') {
      return absl::InvalidArgumentError(
          crisp::StrCat("mount container_path \"", mount.container_path(), "\" is not an absolute path"));
    }
    // "If set to true, readonly must also be set to true, and propagation
    // must be PROPAGATION_PRIVATE."
    if (mount.recursive_read_only() &&
        (!mount.readonly() || mount.propagation() != v1::PROPAGATION_PRIVATE)) {
      return absl::InvalidArgumentError(crisp::StrCat("mount ", mount.container_path(),
                                                      ": recursive_read_only needs readonly and PROPAGATION_PRIVATE"));
    }
    if (mount.has_image()) {
      // An image volume: the image's files, read-only, in place of host_path.
      if (!mount.host_path().empty()) {
        return absl::InvalidArgumentError(crisp::StrCat("mount ", mount.container_path(),
                                                        " names both an image and a host_path; they are exclusive"));
      }
      if (!mount.readonly()) {
        return absl::InvalidArgumentError(
            crisp::StrCat("mount ", mount.container_path(), ": image volumes are read-only; set readonly"));
      }
      fs::path sub = fs::path(mount.image_sub_path()).lexically_normal();
      if (sub.is_absolute() || (!sub.empty() && *sub.begin() == "..")) {
        return absl::InvalidArgumentError(crisp::StrCat("mount ", mount.container_path(), ": image_sub_path \"",
                                                        mount.image_sub_path(), "\" is not a path inside the image"));
      }
      continue;
    }
    // "If the hostPath doesn't exist, then runtimes should report error."
    // (exists() follows a symlink: a dangling one is missing too.)
    std::error_code error;
    if (mount.host_path().empty() || !fs::exists(mount.host_path(), error)) {
      return absl::InvalidArgumentError(crisp::StrCat("mount host_path \"", mount.host_path(), "\" does not exist"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ContainerManager::MountImageVolume(const std::string& dir, int index,
                                                               const ImageRecord& volume, const v1::Mount& mount) {
  // The image's layers, read-only: one layer is its own directory, more are
  // a read-only overlay (lower directories only, no upper).
  std::vector<std::string> lower = images_.LayerDirectories(volume);
  std::reverse(lower.begin(), lower.end());  // overlay lists the top layer first
  const std::string target = crisp::StrCat(dir, "/image-volumes/", index);
  std::error_code error;
  fs::create_directories(target, error);
  std::string base = target;
  if (lower.size() == 1) {
    base = lower.front();
  } else if (lower.size() > 1) {
    if (absl::Status mounted =
            host_.mounter->Mount("overlay", target, "overlay", MS_RDONLY, crisp::StrCat("lowerdir=", Join(lower, ":")));
        !mounted.ok()) {
      return mounted;
    }
  }
  if (mount.image_sub_path().empty()) return base;
  // "The runtime should return an error if the sub path does not exist."
  // It must stay inside the image, symlinks resolved.
  const fs::path root = fs::weakly_canonical(base, error);
  const fs::path sub = fs::weakly_canonical(fs::path(base) / mount.image_sub_path(), error);
  const auto [end, ignored] = std::mismatch(root.begin(), root.end(), sub.begin(), sub.end());
  if (error || end != root.end() || !fs::is_directory(sub, error)) {
    return absl::InvalidArgumentError(crisp::StrCat("image volume ", mount.container_path(), ": image_sub_path \"",
                                                    mount.image_sub_path(), "\" is not a directory in image ",
                                                    mount.image().image()));
  }
  return sub.string();
}

absl::StatusOr<std::string> ContainerManager::Create(const std::string& sandbox_id, const v1::ContainerConfig& config) {
  if (absl::Status checked = CheckConfig(config); !checked.ok()) return checked;
  // Pinned as it is found: its layers stay while the container lives.
  std::optional<ImageRecord> image = images_.FindAndPin(config.image().image());
  if (!image) return absl::NotFoundError(crisp::StrCat("image \"", config.image().image(), "\" is not present; pull it first"));
  std::string created;
  bool handed_over = false;  // CreateIn releases the pin itself on failure
  StageClock clock("CreateContainer " + config.metadata().name());
  // The sandbox cannot be stopped or removed until this returns.
  absl::Status status = sandboxes_.WhileReady(sandbox_id, [&](const SandboxInfo& sandbox) -> absl::Status {
    handed_over = true;
    absl::StatusOr<std::string> id = CreateIn(sandbox, config, *image);
    if (!id.ok()) return id.status();
    created = *id;
    return absl::OkStatus();
  });
  if (!status.ok() && !handed_over) images_.Unpin(image->id);
  if (!status.ok()) return status;
  return created;
}

absl::StatusOr<std::string> ContainerManager::TargetPidNamespace(const std::string& sandbox_id,
                                                                 const std::string& target_id) {
  EntryPtr target = target_id.empty() ? nullptr : containers_.Find(target_id);
  std::optional<Container> record = target ? target->SnapshotUnlessRemoved() : std::nullopt;
  if (!record || record->sandbox_id != sandbox_id) {
    return absl::NotFoundError(crisp::StrCat("pid namespace TARGET: \"", target_id, "\" is not a container of pod ",
                                             sandbox_id));
  }
  absl::StatusOr<std::string> pid = ReadFile(Dir(record->id) + "/pidfile");
  int number = 0;
  if (!pid.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*pid), &number) || number <= 0 ||
      record->state == v1::CONTAINER_EXITED) {
    return absl::FailedPreconditionError(crisp::StrCat("pid namespace TARGET: container ", target_id, " has no process"));
  }
  return crisp::StrCat("/proc/", number, "/ns/pid");
}

absl::StatusOr<std::string> ContainerManager::CreateIn(const SandboxInfo& sandbox, const v1::ContainerConfig& config,
                                                       const ImageRecord& image) {
  Container container;
  container.id = NewId();
  container.sandbox_id = sandbox.id;
  container.handler = sandbox.handler;
  container.config = config;
  container.image_id = image.id;
  container.image_ref = image.repo_digests.empty() ? image.id : image.repo_digests.front();
  container.created_at = absl::ToUnixNanos(absl::Now());
  // `image` comes pinned; until the container is reserved (after which
  // Destroy releases them), a failure releases the pins taken so far.
  std::vector<std::string> pinned = {image.id};
  auto release = [&](absl::Status status) {
    for (const std::string& id : pinned) images_.Unpin(id);
    return status;
  };
  for (const v1::Mount& mount : config.mounts()) {
    if (mount.recursive_read_only() && !host_.oci->RecursiveReadOnly(sandbox.handler)) {
      return release(absl::InvalidArgumentError(crisp::StrCat("mount ", mount.container_path(), ": runtime handler \"",
                                                      sandbox.handler, "\" cannot make a mount recursively read-only")));
    }
  }
  // Image volumes name images the kubelet pulled first; the status names
  // each by its ID (ImageSpec.image_ref).
  std::map<int, ImageRecord> volume_images;
  for (int i = 0; i < config.mounts_size(); ++i) {
    if (!config.mounts(i).has_image()) continue;
    std::optional<ImageRecord> volume = images_.FindAndPin(config.mounts(i).image().image());
    if (!volume) {
      return release(absl::NotFoundError(crisp::StrCat("image volume ", config.mounts(i).container_path(), ": image \"",
                                                       config.mounts(i).image().image(), "\" is not present; pull it first")));
    }
    pinned.push_back(volume->id);
    container.config.mutable_mounts(i)->mutable_image()->set_image_ref(volume->id);
    volume_images[i] = *std::move(volume);
  }
  absl::StatusOr<EntryPtr> entry =
      containers_.Reserve(container.id, NameKey(sandbox.id, config.metadata()), container,
                          crisp::StrCat("a container named ", config.metadata().name(), " (attempt ",
                                        config.metadata().attempt(), ") in the sandbox"));
  if (!entry.ok()) return release(entry.status());
  absl::MutexLock lifecycle(&(*entry)->lifecycle);  // from here Destroy releases the pins
  auto fail = [&](absl::Status status) {
    Destroy(container).IgnoreError();  // best effort: the create's own error is the one to report
    containers_.Erase(container.id);
    return status;
  };

  const std::string dir = Dir(container.id);
  std::error_code error;
  for (const char* sub : {"rootfs", "upper", "work", "exits"}) fs::create_directories(fs::path(dir) / sub, error);
  std::vector<std::string> lower = images_.LayerDirectories(image);
  std::reverse(lower.begin(), lower.end());  // overlay lists the top layer first
  if (lower.empty()) {
    fs::create_directories(dir + "/empty", error);
    lower.push_back(dir + "/empty");
  }
  std::string options = crisp::StrCat("lowerdir=", Join(lower, ":"), ",upperdir=", dir, "/upper,workdir=", dir, "/work");
  if (absl::Status mounted = host_.mounter->Mount("overlay", dir + "/rootfs", "overlay", 0, options); !mounted.ok()) {
    return fail(mounted);
  }
  Stage("rootfs");
  // Image volumes: make sure the directories exist (CRI-O's "mkdir" way).
  const json volumes = image.config.value("Volumes", json::object());
  for (const auto& [path, ignored] : volumes.items()) {
    fs::create_directories(dir + "/rootfs" + path, error);
  }

  std::map<int, std::string> volume_sources;
  for (const auto& [index, volume] : volume_images) {
    absl::StatusOr<std::string> source = MountImageVolume(dir, index, volume, config.mounts(index));
    if (!source.ok()) return fail(source.status());
    volume_sources[index] = *source;
  }

  // A mount that is to propagate needs a source whose mount propagates.
  std::string mountinfo;
  for (const v1::Mount& mount : config.mounts()) {
    if (mount.propagation() == v1::PROPAGATION_PRIVATE || mount.has_image()) continue;
    if (mountinfo.empty()) mountinfo = ReadFile("/proc/self/mountinfo").value_or("");
    fs::path source = fs::weakly_canonical(mount.host_path(), error);
    if (absl::Status checked = CheckMountSource(error ? mount.host_path() : source.string(), mount.propagation(), mountinfo);
        !checked.ok()) {
      return fail(checked);
    }
  }

  SpecInputs inputs;
  // pid TARGET: "This container must have been previously created in the
  // same pod"; its init process's PID namespace is joined.
  if (config.linux().security_context().namespace_options().pid() == v1::TARGET) {
    absl::StatusOr<std::string> target = TargetPidNamespace(sandbox.id, config.linux().security_context().namespace_options().target_id());
    if (!target.ok()) return fail(target.status());
    inputs.target_pid_namespace = *target;
  }
  inputs.config = &config;
  inputs.mount_sources = std::move(volume_sources);
  inputs.sandbox_config = &sandbox.config;
  inputs.image_config = image.config;
  inputs.id = container.id;
  inputs.sandbox_id = sandbox.id;
  inputs.rootfs = dir + "/rootfs";
  inputs.sandbox_dir = sandbox.dir;
  inputs.namespaces = sandbox.namespaces;
  inputs.hostname = sandbox.hostname;
  inputs.bounding_capabilities = OwnBoundingCapabilities();
  inputs.min_oom_score_adj = OwnOomScoreAdj();
  absl::StatusOr<json> spec = BuildContainerSpec(inputs);
  if (!spec.ok()) return fail(spec.status());
  if (absl::Status written = WriteFileAtomically(dir + "/config.json", spec->dump(1)); !written.ok()) return fail(written);
  container.cgroups_path = (*spec)["linux"].value("cgroupsPath", "");
  container.user = UserOfSpec(*spec);
  Stage("spec");

  // The log: the sandbox's log directory joined with the container's log path.
  if (!sandbox.config.log_directory().empty() && !config.log_path().empty()) {
    container.log_path = (fs::path(sandbox.config.log_directory()) / config.log_path()).string();
  } else {
    container.log_path = dir + "/container.log";
  }
  if (options_.make_log_directory) fs::create_directories(fs::path(container.log_path).parent_path(), error);

  Monitor::Request request{container.id,
                           config.metadata().name(),
                           dir,
                           host_.oci->Binary(container.handler),
                           host_.oci->Root(container.handler),
                           container.log_path,
                           options_.state_dir + "/attach",
                           config.stdin(),
                           config.stdin_once(),
                           config.tty()};
  absl::StatusOr<Monitor::Started> started = host_.monitor->Start(request);
  if (!started.ok()) {
    fs::remove(container.log_path, error);  // "a failed create must not leave a log file behind"
    return fail(started.status());
  }
  Stage("monitor+create");
  container.conmon = started->monitor;
  container.conmon_pid = container.conmon ? container.conmon->pid() : 0;
  if (absl::Status saved = Save(container); !saved.ok()) return fail(saved);
  absl::MutexLock lock(&(*entry)->mu);
  (*entry)->record = container;
  Publish(container, v1::CONTAINER_CREATED_EVENT);
  return container.id;
}

absl::Status ContainerManager::Start(const std::string& id) {
  EntryPtr entry = containers_.Find(id);
  if (!entry) return absl::NotFoundError(crisp::StrCat("no container \"", id, "\""));
  absl::MutexLock lifecycle(&entry->lifecycle);
  std::optional<Container> current = entry->SnapshotUnlessRemoved();
  if (!current) return absl::NotFoundError(crisp::StrCat("no container \"", id, "\""));
  const Container& container = *current;
  if (container.state != v1::CONTAINER_CREATED) {
    return absl::FailedPreconditionError(crisp::StrCat("container ", container.id, " is not in the CREATED state"));
  }
  // The process starts during the call: a short command may exit (and its
  // exit be stamped) before the call returns, and started_at must not come
  // after finished_at.
  const int64_t started_at = absl::ToUnixNanos(absl::Now());
  StageClock clock("StartContainer " + container.config.metadata().name());
  if (absl::Status started = host_.oci->Start(container.handler, container.id); !started.ok()) return started;
  Stage("runtime.start");
  absl::MutexLock lock(&entry->mu);
  entry->record.state = v1::CONTAINER_RUNNING;
  entry->record.started_at = started_at;
  Publish(entry->record, v1::CONTAINER_STARTED_EVENT);
  return Save(entry->record);
}

void ContainerManager::Publish(const Container& container, v1::ContainerEventType type) {
  if (options_.events != nullptr) options_.events->Publish(container.id, container.sandbox_id, type);
}

void ContainerManager::NoticeExits() {
  for (const EntryPtr& entry : containers_.All()) Running(*entry);
}

void ContainerManager::Refresh(Container& container) {
  if (container.state != v1::CONTAINER_RUNNING) return;
  std::string exit_file = crisp::StrCat(Dir(container.id), "/exits/", container.id);
  std::ifstream in(exit_file);
  int code = 0;
  if (!(in >> code)) return;
  container.state = v1::CONTAINER_EXITED;
  container.exit_code = code;
  std::error_code error;
  auto written = fs::last_write_time(exit_file, error);
  container.finished_at = error ? absl::ToUnixNanos(absl::Now())
                                : std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::file_clock::to_sys(written).time_since_epoch()).count();
  container.reason = fs::exists(Dir(container.id) + "/oom") ? "OOMKilled" : code == 0 ? "Completed" : "Error";
  Publish(container, v1::CONTAINER_STOPPED_EVENT);
  if (container.conmon && container.conmon->TryReap()) container.conmon.reset();  // crispd is its subreaper
  Save(container).IgnoreError();  // the exit file stays the truth; the record catches up at the next change
}

bool ContainerManager::Running(ContainerEntry& entry) {
  absl::MutexLock lock(&entry.mu);
  Refresh(entry.record);
  return entry.record.state == v1::CONTAINER_RUNNING;
}

absl::Status ContainerManager::Kill(ContainerEntry& entry, absl::Duration grace) {
  if (!Running(entry)) return absl::OkStatus();
  const Container container = entry.Snapshot();
  // Status and List read the record meanwhile: only `lifecycle` is held
  // while waiting, and `mu` for each look.
  auto exited = [&](absl::Duration within) {
    absl::Time until = absl::Now() + within;
    while (absl::Now() < until) {
      if (!Running(entry)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  if (grace > absl::ZeroDuration()) {
    host_.oci->Kill(container.handler, container.id, SIGTERM, false).IgnoreError();  // an exit meanwhile is fine
    if (exited(grace)) return absl::OkStatus();
  }
  // "The runtime must forcibly kill the container after the grace period is reached."
  host_.oci->Kill(container.handler, container.id, SIGKILL, true).IgnoreError();  // an exit meanwhile is fine
  if (exited(absl::Seconds(10))) return absl::OkStatus();
  return absl::InternalError(crisp::StrCat("container ", container.id, " did not exit after SIGKILL"));
}

absl::Status ContainerManager::Destroy(Container& container) {
  if (container.id.empty()) return absl::InternalError("crispd bug: destroying a container without an ID");
  absl::Status deleted = host_.oci->Delete(container.handler, container.id);
  const std::string dir = Dir(container.id);
  host_.mounter->Unmount(dir + "/rootfs");
  std::error_code listed;
  for (const fs::directory_entry& volume : fs::directory_iterator(dir + "/image-volumes", listed)) {
    host_.mounter->Unmount(volume.path().string());
  }
  if (container.conmon) {
    // It exits right after writing the exit file; a hung one is ended.
    if (!AwaitReap(*container.conmon, absl::Seconds(1))) {
      container.conmon->Signal(SIGKILL);
      AwaitReap(*container.conmon, absl::Seconds(1));  // still there: not our child (crispd restarted)
    }
    container.conmon.reset();
  }
  std::error_code error;
  fs::remove_all(dir, error);
  images_.Unpin(container.image_id);
  for (const std::string& volume : VolumeImageIds(container.config)) images_.Unpin(volume);
  if (error) return absl::InternalError(crisp::StrCat("removing ", dir, ": ", error.message()));
  return deleted;
}

absl::Status ContainerManager::Stop(const std::string& id, int64_t timeout_seconds) {
  // "This call is idempotent, and must not return an error if the container
  // has already been stopped." A container that is gone is stopped too.
  EntryPtr entry = containers_.Find(id);
  if (!entry) return absl::OkStatus();
  absl::MutexLock lifecycle(&entry->lifecycle);
  if (!entry->SnapshotUnlessRemoved()) return absl::OkStatus();
  return Kill(*entry, absl::Seconds(std::max<int64_t>(timeout_seconds, 0)));
}

absl::Status ContainerManager::Remove(const std::string& id) {
  // "This call is idempotent, and must not return an error if the container has already been removed."
  EntryPtr entry = containers_.Find(id);
  if (!entry) return absl::OkStatus();
  absl::MutexLock lifecycle(&entry->lifecycle);
  return KillAndDestroy(*entry);
}

absl::Status ContainerManager::KillAndDestroy(ContainerEntry& entry) {
  if (!entry.SnapshotUnlessRemoved()) return absl::OkStatus();
  // "If the container is running, the container must be forcibly removed."
  Kill(entry, kNoGrace).IgnoreError();  // Destroy's runc delete --force ends it regardless
  Container container = entry.Snapshot();
  absl::Status destroyed = Destroy(container);
  containers_.Erase(container.id);
  Publish(container, v1::CONTAINER_DELETED_EVENT);
  {
    absl::MutexLock lock(&samples_mu_);
    samples_.erase(container.id);
  }
  return destroyed;
}

absl::Status ContainerManager::ReopenLog(const std::string& id) {
  // "If the container is not running, container runtime can choose to either
  // create a new log file and return nil, or return an error. Once it returns
  // error, new container log file MUST NOT be created."
  absl::StatusOr<EntryPtr> entry = FindRunning(id);
  if (!entry.ok()) return entry.status();
  const Container container = (*entry)->Snapshot();
  if (absl::Status asked = host_.monitor->ReopenLog(Dir(container.id)); !asked.ok()) return asked;
  // The monitor reopens asynchronously; answer once the new file is there,
  // as containerd and CRI-O do, so that a caller that rotated the log finds
  // it. Not there within 2 s: still OK (it was asked, and may yet come; an
  // error now would break the MUST NOT above).
  for (int i = 0; i < 200 && !fs::exists(container.log_path); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return absl::OkStatus();
}

void ContainerManager::ForSandbox(const std::string& sandbox_id, PodTeardown teardown) {
  if (teardown == PodTeardown::kRemove) {
    absl::MutexLock lock(&samples_mu_);
    samples_.erase("pod/" + sandbox_id);
  }
  for (const EntryPtr& entry : containers_.All()) {
    if (entry->Snapshot().sandbox_id != sandbox_id) continue;
    absl::MutexLock lifecycle(&entry->lifecycle);
    if (teardown == PodTeardown::kRemove) {
      KillAndDestroy(*entry).IgnoreError();  // what could not be removed stays listed, for a retry
    } else {
      Kill(*entry, kNoGrace).IgnoreError();  // reported by the container's own status
    }
  }
}

absl::Status ContainerManager::UpdateResources(const std::string& id, const v1::LinuxContainerResources& resources) {
  EntryPtr entry = containers_.Find(id);
  if (!entry) return absl::NotFoundError(crisp::StrCat("no container \"", id, "\""));
  absl::MutexLock lifecycle(&entry->lifecycle);  // not while it starts, stops or goes
  Running(*entry);  // notices an exit
  std::optional<Container> current = entry->SnapshotUnlessRemoved();
  if (!current) return absl::NotFoundError(crisp::StrCat("no container \"", id, "\""));
  Container& container = *current;
  if (container.state != v1::CONTAINER_CREATED && container.state != v1::CONTAINER_RUNNING) {
    return absl::FailedPreconditionError(
        crisp::StrCat("container ", container.id, " has exited: its resources can no longer be updated"));
  }
  if (absl::Status updated = host_.oci->Update(container.handler, container.id, OciResources(resources));
      !updated.ok()) {
    return updated;
  }
  v1::LinuxContainerResources kept = resources;
  kept.set_oom_score_adj(container.config.linux().resources().oom_score_adj());
  *container.config.mutable_linux()->mutable_resources() = kept;
  absl::Status saved = Save(container);
  absl::MutexLock lock(&entry->mu);
  *entry->record.config.mutable_linux()->mutable_resources() = kept;
  return saved;
}

absl::StatusOr<v1::ContainerStatusResponse> ContainerManager::Status(const std::string& id, bool verbose) {
  EntryPtr entry = containers_.Find(id);
  // "If the container is not present, returns an error."
  if (!entry) return absl::NotFoundError(crisp::StrCat("no container \"", id, "\""));
  absl::MutexLock lock(&entry->mu);
  if (entry->removed) return absl::NotFoundError(crisp::StrCat("no container \"", id, "\""));
  Container* container = &entry->record;
  Refresh(*container);
  v1::ContainerStatusResponse response;
  v1::ContainerStatus* status = response.mutable_status();
  status->set_id(container->id);
  *status->mutable_metadata() = container->config.metadata();
  status->set_state(container->state);
  status->set_created_at(container->created_at);
  status->set_started_at(container->started_at);
  status->set_finished_at(container->finished_at);
  status->set_exit_code(container->exit_code);
  *status->mutable_image() = container->config.image();
  status->set_image_ref(container->image_ref);
  status->set_image_id(container->image_id);
  status->set_reason(container->reason);
  status->set_message(container->message);
  *status->mutable_labels() = container->config.labels();
  *status->mutable_annotations() = container->config.annotations();
  for (const v1::Mount& mount : container->config.mounts()) *status->add_mounts() = mount;
  status->set_log_path(container->log_path);
  *status->mutable_resources()->mutable_linux() = container->config.linux().resources();
  if (container->user) *status->mutable_user()->mutable_linux() = *container->user;
  if (verbose) {
    (*response.mutable_info())["info"] =
        json{{"bundle", Dir(container->id)}, {"sandbox_id", container->sandbox_id}, {"conmon_pid", container->conmon_pid}}.dump();
  }
  return response;
}

std::vector<v1::Container> ContainerManager::List(const v1::ContainerFilter& filter) {
  std::vector<v1::Container> items;
  for (const EntryPtr& entry : containers_.All()) {
    absl::MutexLock lock(&entry->mu);
    if (entry->removed) continue;
    Container& container = entry->record;
    const std::string& id = container.id;
    Refresh(container);
    if (!filter.id().empty() && !id.starts_with(filter.id())) continue;
    if (filter.has_state() && filter.state().state() != container.state) continue;
    if (!filter.pod_sandbox_id().empty() && !container.sandbox_id.starts_with(filter.pod_sandbox_id())) continue;
    if (!LabelsMatch(filter.label_selector(), container.config.labels())) continue;
    v1::Container item;
    item.set_id(id);
    item.set_pod_sandbox_id(container.sandbox_id);
    *item.mutable_metadata() = container.config.metadata();
    *item.mutable_image() = container.config.image();
    item.set_image_ref(container.image_ref);
    item.set_image_id(container.image_id);
    item.set_state(container.state);
    item.set_created_at(container.created_at);
    *item.mutable_labels() = container.config.labels();
    *item.mutable_annotations() = container.config.annotations();
    items.push_back(std::move(item));
  }
  return items;
}

v1::ContainerStats ContainerManager::StatsOf(const Container& c) {
  v1::ContainerStats stats;
  v1::ContainerAttributes* attributes = stats.mutable_attributes();
  attributes->set_id(c.id);
  *attributes->mutable_metadata() = c.config.metadata();
  *attributes->mutable_labels() = c.config.labels();
  *attributes->mutable_annotations() = c.config.annotations();
  const int64_t now = absl::ToUnixNanos(absl::Now());
  if (absl::StatusOr<CgroupUsage> usage = ReadCgroupUsage(options_.cgroup_root, c.cgroups_path); usage.ok()) {
    FillUsage(c.id, *usage, now, stats.mutable_cpu(), stats.mutable_memory());
    if (stats.cpu().timestamp() == 0) stats.clear_cpu();
    if (stats.memory().timestamp() == 0) stats.clear_memory();
  }
  // The writable layer: the overlay's upper directory.
  DiskUsage layer = DirectoryUsage(Dir(c.id) + "/upper");
  v1::FilesystemUsage* writable = stats.mutable_writable_layer();
  writable->set_timestamp(now);
  writable->mutable_fs_id()->set_mountpoint(Dir(c.id) + "/upper");
  writable->mutable_used_bytes()->set_value(layer.bytes);
  writable->mutable_inodes_used()->set_value(layer.inodes);
  return stats;
}

void ContainerManager::FillUsage(const std::string& key, const CgroupUsage& usage, int64_t now, v1::CpuUsage* cpu,
                                 v1::MemoryUsage* memory) {
  if (usage.cpu_usage_ns) {
    cpu->set_timestamp(now);
    cpu->mutable_usage_core_nano_seconds()->set_value(*usage.cpu_usage_ns);
    const int64_t monotonic = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::steady_clock::now().time_since_epoch()).count();
    absl::MutexLock lock(&samples_mu_);
    auto previous = samples_.find(key);
    if (previous != samples_.end()) {
      if (std::optional<uint64_t> cores =
              NanoCores(previous->second.usage_ns, previous->second.at_ns, *usage.cpu_usage_ns, monotonic)) {
        cpu->mutable_usage_nano_cores()->set_value(*cores);
      }
    }
    samples_[key] = {*usage.cpu_usage_ns, monotonic};
  }
  if (usage.memory_usage) {
    memory->set_timestamp(now);
    memory->mutable_usage_bytes()->set_value(*usage.memory_usage);
    if (usage.working_set) memory->mutable_working_set_bytes()->set_value(*usage.working_set);
    if (usage.memory_limit && usage.working_set) {
      memory->mutable_available_bytes()->set_value(
          *usage.memory_limit > *usage.working_set ? *usage.memory_limit - *usage.working_set : 0);
    }
    if (usage.rss) memory->mutable_rss_bytes()->set_value(*usage.rss);
    if (usage.page_faults) memory->mutable_page_faults()->set_value(*usage.page_faults);
    if (usage.major_page_faults) memory->mutable_major_page_faults()->set_value(*usage.major_page_faults);
  }
}

std::vector<ContainerManager::Container> ContainerManager::RunningContainers() {
  std::vector<Container> running;
  for (const EntryPtr& entry : containers_.All()) {
    absl::MutexLock lock(&entry->mu);
    if (entry->removed) continue;
    Refresh(entry->record);
    if (entry->record.state == v1::CONTAINER_RUNNING) running.push_back(entry->record);
  }
  return running;
}

absl::StatusOr<v1::PodSandboxStats> ContainerManager::PodStats(const std::string& sandbox_id) {
  // "If the pod sandbox does not exist, the call returns an error."
  absl::StatusOr<SandboxInfo> sandbox = sandboxes_.Info(sandbox_id);
  if (!sandbox.ok()) return sandbox.status();
  v1::PodSandboxStats stats;
  v1::PodSandboxAttributes* attributes = stats.mutable_attributes();
  attributes->set_id(sandbox->id);
  *attributes->mutable_metadata() = sandbox->config.metadata();
  *attributes->mutable_labels() = sandbox->config.labels();
  *attributes->mutable_annotations() = sandbox->config.annotations();
  const int64_t now = absl::ToUnixNanos(absl::Now());
  v1::LinuxPodSandboxStats* linux_stats = stats.mutable_linux();
  // The pod's usage: its infra's cgroup and each container's, summed (a
  // pod without a cgroup parent of its own shares crispd's default one).
  const std::string parent =
      sandbox->config.linux().cgroup_parent().empty() ? "/crispd" : sandbox->config.linux().cgroup_parent();
  std::vector<CgroupUsage> parts;
  if (absl::StatusOr<CgroupUsage> infra = ReadCgroupUsage(options_.cgroup_root, parent + "/" + sandbox->id);
      infra.ok()) {
    parts.push_back(*infra);
  }
  for (const Container& container : RunningContainers()) {
    if (container.sandbox_id != sandbox->id) continue;
    if (absl::StatusOr<CgroupUsage> usage = ReadCgroupUsage(options_.cgroup_root, container.cgroups_path); usage.ok()) {
      parts.push_back(*usage);
    }
    *linux_stats->add_containers() = StatsOf(container);
  }
  CgroupUsage total = Sum(parts);
  FillUsage("pod/" + sandbox->id, total, now, linux_stats->mutable_cpu(), linux_stats->mutable_memory());
  if (linux_stats->cpu().timestamp() == 0) linux_stats->clear_cpu();
  if (linux_stats->memory().timestamp() == 0) linux_stats->clear_memory();
  if (total.process_count) {
    linux_stats->mutable_process()->set_timestamp(now);
    linux_stats->mutable_process()->mutable_process_count()->set_value(*total.process_count);
  }
  // The network: the counters of the pod's own namespace, as its infra sees them.
  if (!sandbox->netns.empty()) {
    std::vector<InterfaceUsage> interfaces;
    if (sandbox->infra_pid > 0) {
      interfaces = ReadNetDev(crisp::StrCat(options_.proc_root, "/", sandbox->infra_pid, "/net/dev"));
    } else if (absl::StatusOr<std::string> text = ReadProcInNetns(sandbox->netns, "net/dev"); text.ok()) {
      interfaces = ParseNetDev(*text);
    }
    if (!interfaces.empty()) {
      v1::NetworkUsage* network = linux_stats->mutable_network();
      network->set_timestamp(now);
      for (const InterfaceUsage& usage : interfaces) {
        v1::NetworkInterfaceUsage* item = network->add_interfaces();
        item->set_name(usage.name);
        item->mutable_rx_bytes()->set_value(usage.rx_bytes);
        item->mutable_rx_errors()->set_value(usage.rx_errors);
        item->mutable_tx_bytes()->set_value(usage.tx_bytes);
        item->mutable_tx_errors()->set_value(usage.tx_errors);
        if (usage.name == "eth0") *network->mutable_default_interface() = *item;
      }
    }
  }
  return stats;
}

std::vector<v1::PodSandboxStats> ContainerManager::ListPodStats(const v1::PodSandboxStatsFilter& filter) {
  v1::PodSandboxFilter sandboxes;
  sandboxes.set_id(filter.id());
  *sandboxes.mutable_label_selector() = filter.label_selector();
  sandboxes.mutable_state()->set_state(v1::SANDBOX_READY);
  std::vector<v1::PodSandboxStats> items;
  for (const v1::PodSandbox& sandbox : sandboxes_.List(sandboxes)) {
    absl::StatusOr<v1::PodSandboxStats> stats = PodStats(sandbox.id());
    if (stats.ok()) items.push_back(*std::move(stats));  // one stopped meanwhile is no longer listed
  }
  return items;
}

absl::StatusOr<v1::ContainerStats> ContainerManager::Stats(const std::string& id) {
  EntryPtr entry = containers_.Find(id);
  // "If the container does not exist, the call returns an error."
  if (!entry) return absl::NotFoundError(crisp::StrCat("no container \"", id, "\""));
  std::optional<Container> container = entry->SnapshotUnlessRemoved();
  if (!container) return absl::NotFoundError(crisp::StrCat("no container \"", id, "\""));
  return StatsOf(*container);
}

std::vector<v1::ContainerStats> ContainerManager::ListStats(const v1::ContainerStatsFilter& filter) {
  std::vector<v1::ContainerStats> items;
  // "ListContainerStats returns stats of all running containers."
  for (const Container& container : RunningContainers()) {
    if (!filter.id().empty() && !container.id.starts_with(filter.id())) continue;
    if (!filter.pod_sandbox_id().empty() && !container.sandbox_id.starts_with(filter.pod_sandbox_id())) continue;
    if (!LabelsMatch(filter.label_selector(), container.config.labels())) continue;
    items.push_back(StatsOf(container));
  }
  return items;
}

absl::StatusOr<std::vector<std::string>> ContainerManager::ExecArgv(const std::string& id,
                                                                    const std::vector<std::string>& cmd,
                                                                    const std::string& console_socket) {
  absl::StatusOr<EntryPtr> entry = FindRunning(id);
  if (!entry.ok()) return entry.status();
  const Container container = (*entry)->Snapshot();
  if (cmd.empty()) return absl::InvalidArgumentError("no command to execute");
  return host_.oci->ExecCommand(container.handler, container.id, cmd, console_socket);
}

absl::StatusOr<ContainerManager::AttachPoint> ContainerManager::Attach(const std::string& id, bool stdin) {
  absl::StatusOr<EntryPtr> entry = FindRunning(id);
  if (!entry.ok()) return entry.status();
  const Container container = (*entry)->Snapshot();
  if (stdin && !container.config.stdin()) {
    return absl::FailedPreconditionError(
        crisp::StrCat("container ", container.id, " has no stdin to attach to (it was created without stdin: true)"));
  }
  return AttachPoint{Dir(container.id), container.config.tty()};
}

absl::StatusOr<v1::ExecSyncResponse> ContainerManager::ExecSync(const std::string& id, const std::vector<std::string>& cmd,
                                                                int64_t timeout_seconds) {
  absl::StatusOr<EntryPtr> entry = FindRunning(id);
  if (!entry.ok()) return entry.status();
  if (cmd.empty()) return absl::InvalidArgumentError("no command to execute");
  const Container container = (*entry)->Snapshot();
  absl::StatusOr<RunResult> result = host_.oci->ExecSync(container.handler, container.id, cmd,
                                                         absl::Seconds(std::max<int64_t>(timeout_seconds, 0)),
                                                         kExecOutputCap);
  if (!result.ok()) return result.status();
  if (result->timed_out) {
    return absl::DeadlineExceededError(crisp::StrCat("command timed out after ", timeout_seconds, "s"));
  }
  v1::ExecSyncResponse response;
  response.set_stdout(result->stdout_text);
  response.set_stderr(result->stderr_text);
  response.set_exit_code(result->status.code);
  return response;
}

}  // namespace crisp::crispd

// crispd: crisp's reference CRI runtime. A thin main over the libraries.
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "CLI/CLI.hpp"
#include "common/build_info.h"
#include "common/strings.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "reference_runtime/image/image_store.h"
#include "reference_runtime/host/bridge_network.h"
#include "reference_runtime/host/namespace_pins.h"
#include "reference_runtime/host/real_host.h"
#include "reference_runtime/host/stage_clock.h"
#include "reference_runtime/image/unpack.h"
#include "reference_runtime/reset/reset.h"
#include "reference_runtime/server/services.h"

namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_stop{false};
extern "C" void OnStop(int) { g_stop = true; }

int UnpackLayerMain(const std::string& blob, const std::string& layer_dir) {
  int fd = open(blob.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::cerr << "cannot open " << blob << '\n';
    return 1;
  }
  absl::Status status = crisp::crispd::ExtractLayerInChroot(fd, layer_dir);
  if (!status.ok()) {
    std::cerr << status.message() << '\n';
    return 1;
  }
  return 0;
}

struct Flags {
  std::string listen = "unix:///run/crispd/crispd.sock";
  std::string streaming_address = "127.0.0.1";
  int streaming_url_lifetime = 60;
  int streaming_max_sessions = 256;
  int streaming_idle_timeout = 4 * 3600;
  std::string root = "/var/lib/crispd";
  std::string state = "/run/crispd";
  std::vector<std::string> mirrors;
  std::vector<std::string> insecure;
  std::string pause;
  std::string cni_conf_dir;
  std::string cni_bin_dir = "/usr/lib/cni";
  std::string pod_cidr = crisp::crispd::CniConfig{}.subnet;
  std::string bridge = crisp::crispd::CniConfig{}.bridge;
  std::string log_level = "info";
  int owner_pid = 0;  // --owner-pid: a private runtime, removed when its owner ends
  std::vector<std::string> quirks;  // --quirk: deviations from the reference, for testing crisp
};

crisp::crispd::CniConfig CniFromFlags(const Flags& flags) {
  crisp::crispd::CniConfig cni;
  cni.conf_dir = flags.cni_conf_dir.empty() ? flags.root + "/net.d" : flags.cni_conf_dir;
  cni.bin_dir = flags.cni_bin_dir;
  cni.ipam_dir = flags.state + "/ipam";
  cni.subnet = flags.pod_cidr;
  cni.bridge = flags.bridge;
  return cni;
}

// `crispd reset`: everything a crispd on --root/--state made, removed.
int Reset(const Flags& flags, bool keep_bridge) {
  if (geteuid() != 0) {
    std::cerr << "crispd reset: error: it removes containers, mounts and network namespaces: run it as root\n";
    return 2;
  }
  crisp::crispd::ResetOptions options{flags.root, flags.state, CniFromFlags(flags), !keep_bridge};
  crisp::crispd::ResetReport report = crisp::crispd::Reset(options);
  for (const std::string& line : report.removed) std::cout << line << '\n';
  for (const std::string& line : report.errors) std::cerr << "crispd reset: error: " << line << '\n';
  std::cout << "crispd reset: removed " << report.removed.size() << " thing(s), " << report.errors.size()
            << " error(s)" << std::endl;
  return report.errors.empty() ? 0 : 1;
}

// `crispd import`: loads an OCI archive (or an OCI layout directory) into
// the image store under --root, offline, while no daemon uses that root.
int Import(const Flags& flags, const std::string& file, const std::string& name) {
  std::error_code error;
  std::string helper = fs::read_symlink("/proc/self/exe", error).string();
  auto store = crisp::crispd::ImageStore::Open(flags.root + "/images", {}, helper);
  if (!store.ok()) {
    std::cerr << "crispd import: error: " << store.status().message() << '\n';
    return 1;
  }
  std::string layout = file;
  std::string scratch;
  if (!fs::is_directory(file)) {
    if (!fs::exists(file)) {
      std::cerr << "crispd import: error: " << file << " does not exist\n";
      return 2;
    }
    // An archive: unpacked with the same chrooted, refusing extraction as layers.
    scratch = (*store)->root() + "/tmp/import-" + std::to_string(getpid());
    fs::create_directories(scratch, error);
    if (absl::Status unpacked = crisp::crispd::UnpackLayer(helper, fs::absolute(file).string(), scratch); !unpacked.ok()) {
      std::cerr << "crispd import: error: " << file << ": " << unpacked.message() << '\n';
      fs::remove_all(scratch, error);
      return 1;
    }
    layout = scratch;
  }
  auto imported = (*store)->ImportLayout(layout, name);
  if (!scratch.empty()) fs::remove_all(scratch, error);
  if (!imported.ok()) {
    std::cerr << "crispd import: error: " << imported.status().message() << '\n';
    return 1;
  }
  for (const auto& image : *imported) {
    std::cout << image.id;
    for (const auto& tag : image.repo_tags) std::cout << ' ' << tag;
    std::cout << '\n';
  }
  return 0;
}

// Whether the process behind `pidfd` has ended.
bool Ended(int pidfd) {
  pollfd fd{pidfd, POLLIN, 0};
  return poll(&fd, 1, 0) > 0 && (fd.revents & POLLIN) != 0;
}

int RunDaemon(const Flags& flags) {
  crisp::crispd::SetStageLogging(flags.log_level == "debug");
  // The owner is held by pidfd: a PID reused after it ends is not it.
  int owner = -1;
  if (flags.owner_pid > 0) {
    owner = static_cast<int>(syscall(SYS_pidfd_open, flags.owner_pid, 0));
    if (owner < 0) {
      std::cerr << "crispd: error: --owner-pid " << flags.owner_pid << ": no such process\n";
      return 2;
    }
  }
  crisp::crispd::Quirks quirks;
  for (const std::string& names : flags.quirks) {
    if (absl::Status added = crisp::crispd::AddQuirks(names, quirks); !added.ok()) {
      std::cerr << "crispd: error: --quirk: " << added.message() << '\n';
      return 2;
    }
  }
  const std::string& listen = flags.listen;
  const std::string& root = flags.root;
  const std::vector<std::string>& mirrors = flags.mirrors;
  const std::vector<std::string>& insecure = flags.insecure;
  std::string socket_path = listen.starts_with("unix://") ? listen.substr(7) : listen;
  if (socket_path.empty() || socket_path.front() != '/') {
    std::cerr << "crispd: error: --listen must be unix:///absolute/path\n";
    return 2;
  }
  crisp::crispd::RegistryConfig registry;
  for (const std::string& mirror : mirrors) {
    size_t eq = mirror.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "crispd: error: --registry-mirror \"" << mirror << "\" is not REGISTRY=URL\n";
      return 2;
    }
    registry.mirrors[mirror.substr(0, eq)].push_back(mirror.substr(eq + 1));
  }
  registry.insecure.insert(insecure.begin(), insecure.end());

  std::error_code error;
  fs::create_directories(fs::path(socket_path).parent_path(), error);
  if (fs::is_socket(socket_path)) fs::remove(socket_path, error);  // a stale socket of ours
  std::string helper = fs::read_symlink("/proc/self/exe", error).string();
  auto store = crisp::crispd::ImageStore::Open(root + "/images", registry, helper);
  if (!store.ok()) {
    std::cerr << "crispd: error: " << store.status().message() << '\n';
    return 1;
  }
  // The real seams: runc/crun, the CNI network, conmon, mount(2).
  crisp::crispd::RuncRuntime oci(flags.state);
  auto network = crisp::crispd::BridgePodNetwork::Open(CniFromFlags(flags));
  if (!network.ok()) {
    std::cerr << "crispd: error: " << network.status().message() << '\n';
    return 1;
  }
  crisp::crispd::ConmonMonitor monitor("/usr/bin/conmon");
  crisp::crispd::SystemMounter mounter;
  crisp::crispd::ThreadNamespacePinner pinner;
  crisp::crispd::Host host{&oci, network->get(), &monitor, &mounter, &pinner};

  crisp::crispd::EventBus events;
  crisp::crispd::SandboxOptions sandbox_options;
  sandbox_options.state_dir = flags.state;
  sandbox_options.events = &events;
  sandbox_options.pause_binary =
      flags.pause.empty() ? (fs::path(helper).parent_path() / "crisp-pause").string() : flags.pause;
  auto sandboxes = crisp::crispd::SandboxManager::Open(sandbox_options, host);
  if (!sandboxes.ok()) {
    std::cerr << "crispd: error: " << sandboxes.status().message() << '\n';
    return 1;
  }
  crisp::crispd::ContainerOptions container_options;
  container_options.state_dir = flags.state;
  container_options.events = &events;
  container_options.make_log_directory = !quirks.no_log_directory;
  auto containers = crisp::crispd::ContainerManager::Open(container_options, **store, **sandboxes, host);
  if (!containers.ok()) {
    std::cerr << "crispd: error: " << containers.status().message() << '\n';
    return 1;
  }
  if (!flags.streaming_address.starts_with("127.")) {
    std::cerr << "crispd: warning: the streaming server on " << flags.streaming_address
              << " serves exec to anyone who learns a URL, over plain HTTP" << std::endl;
  }
  auto streaming = crisp::crispd::StreamingServer::Start(
      {.address = flags.streaming_address,
       .url_lifetime = std::chrono::seconds(flags.streaming_url_lifetime),
       .max_sessions = flags.streaming_max_sessions,
       .idle_timeout = std::chrono::seconds(flags.streaming_idle_timeout),
       .console_dir = flags.state + "/console"});
  if (!streaming.ok()) {
    std::cerr << "crispd: error: " << streaming.status().message() << '\n';
    return 1;
  }
  const nlohmann::json config = {{"root", root},
                                 {"state", flags.state},
                                 {"listen", "unix://" + socket_path},
                                 {"streamingAddress", flags.streaming_address},
                                 {"streamingURLLifetimeSeconds", flags.streaming_url_lifetime},
                                 {"streamingMaxSessions", flags.streaming_max_sessions},
                                 {"streamingIdleTimeoutSeconds", flags.streaming_idle_timeout},
                                 {"cni", {{"confDir", CniFromFlags(flags).conf_dir},
                                          {"binDir", flags.cni_bin_dir},
                                          {"bridge", flags.bridge},
                                          {"podCIDR", flags.pod_cidr}}},
                                 {"runtimeHandlers", oci.Handlers()},
                                 {"cgroupDriver", "cgroupfs"},
                                 {"registryMirrors", mirrors},
                                 {"insecureRegistries", insecure},
                                 {"quirks", crisp::crispd::QuirkList(quirks)}};
  crisp::crispd::RuntimeServiceImpl runtime_service(**sandboxes, **containers, **streaming, &events, config, quirks);
  crisp::crispd::ImageServiceImpl image_service(**store);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix://" + socket_path, grpc::InsecureServerCredentials());
  builder.SetMaxReceiveMessageSize(16 << 20);
  builder.SetMaxSendMessageSize(64 << 20);
  builder.RegisterService(&runtime_service);
  builder.RegisterService(&image_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::cerr << "crispd: error: cannot listen on " << socket_path << '\n';
    return 1;
  }
  chmod(socket_path.c_str(), 0660);
  std::cerr << "crispd " << crisp::kCrispVersion << " listening on unix://" << socket_path << ", root " << root
            << std::endl;
  if (quirks.any()) {
    std::cerr << "crispd: warning: quirks on (" << crisp::crispd::QuirkList(quirks)
              << "): this crispd is not the reference runtime" << std::endl;
  }
  std::signal(SIGINT, OnStop);
  std::signal(SIGTERM, OnStop);
  std::thread waiter([&] { server->Wait(); });
  bool owner_gone = false;
  while (!g_stop && !owner_gone) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    owner_gone = owner >= 0 && Ended(owner);
  }
  std::cerr << "crispd: stopping" << (owner_gone ? crisp::StrCat(": its owner (PID ", flags.owner_pid, ") has ended") : "")
            << std::endl;
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  waiter.join();
  fs::remove(socket_path, error);
  if (!owner_gone) return 0;
  // Nobody is left to clean up after this private runtime: what it made
  // goes, as `crispd reset` would remove it, and so do its directories.
  int reset = Reset(flags, /*keep_bridge=*/false);
  // Not through a mount reset could not detach.
  if (reset == 0) {
    for (const std::string& dir : {flags.root, flags.state}) fs::remove_all(dir, error);
  }
  return reset;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"crispd: crisp's reference CRI v1 runtime", "crispd"};
  app.fallthrough();  // --root and friends also after a subcommand
  Flags flags;
  app.add_option("--listen", flags.listen, "gRPC socket")->capture_default_str();
  app.add_option("--root", flags.root, "Persistent state: images, layers, records, the CNI config")->capture_default_str();
  app.add_option("--state", flags.state, "Runtime state: sandboxes, runc's state, IP allocations")
      ->capture_default_str();
  app.add_option("--registry-mirror", flags.mirrors,
                 "REGISTRY=URL: try URL first for REGISTRY (repeatable), e.g. docker.io=http://127.0.0.1:5000");
  app.add_option("--insecure-registry", flags.insecure, "Reach this registry host over plain HTTP (repeatable)");
  app.add_option("--pause", flags.pause, "The static pause program (default: crisp-pause beside crispd)");
  app.add_option("--cni-conf-dir", flags.cni_conf_dir, "CNI network configs (default: ROOT/net.d; a bridge network is written there when empty)");
  app.add_option("--cni-bin-dir", flags.cni_bin_dir, "CNI plugins")->capture_default_str();
  app.add_option("--pod-cidr", flags.pod_cidr, "Subnet of the default network")->capture_default_str();
  app.add_option("--bridge", flags.bridge, "Bridge of the default network")->capture_default_str();
  app.add_option("--streaming-address", flags.streaming_address,
                 "IPv4 address of the server behind Exec, Attach and PortForward URLs (the port is picked)")
      ->capture_default_str();
  app.add_option("--streaming-url-lifetime", flags.streaming_url_lifetime,
                 "Seconds a streaming URL stays good for its one use")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  app.add_option("--streaming-max-sessions", flags.streaming_max_sessions,
                 "Streaming connections served at once; more are refused")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--streaming-idle-timeout", flags.streaming_idle_timeout,
                 "Seconds a streaming connection may carry no data either way before it is closed "
                 "(the kubelet's streamingConnectionIdleTimeout)")
      ->capture_default_str()
      ->check(CLI::Range(1, 7 * 24 * 3600));
  app.add_option("--log-level", flags.log_level,
                 "info, or debug: also one line per RunPodSandbox, CreateContainer and StartContainer with the "
                 "milliseconds of each stage")
      ->capture_default_str()
      ->check(CLI::IsMember({"info", "debug"}));
  app.add_option("--owner-pid", flags.owner_pid,
                 "Serve as this process's private runtime: when it ends (even killed), stop, remove everything "
                 "made (as crispd reset does) and the --root and --state directories")
      ->check(CLI::PositiveNumber);
  std::string quirk_help = "For testing crisp: behave like a minimal runtime, not the reference (repeatable or A,B):";
  for (const auto& [name, what] : crisp::crispd::QuirkNames()) crisp::StrAppend(&quirk_help, "\n  ", name, ": ", what);
  app.add_option("--quirk", flags.quirks, quirk_help);
  app.add_flag_function("--version", [](int64_t) {
    std::cout << "crispd " << crisp::kCrispVersion << " (CRI runtime.v1, cri-api " << crisp::kCriApiVersion << ")\n";
    throw CLI::Success();
  }, "Print the version");

  std::string blob, layer_dir;
  CLI::App* unpack = app.add_subcommand("unpack-layer", "Internal: extract one layer, chrooted (used by crispd itself)");
  unpack->add_option("blob", blob)->required();
  unpack->add_option("layer_dir", layer_dir)->required();
  unpack->group("");  // hidden from --help

  std::string import_file, import_name;
  CLI::App* import = app.add_subcommand(
      "import", "Load an OCI archive (or OCI layout directory) into the image store under --root, offline");
  import->add_option("file", import_file, "The archive or directory")->required();
  import->add_option("--name", import_name,
                     "Repository for manifests whose ref.name is only a tag (e.g. docker.io/library/busybox)");
  import->footer("crispd must not be running on the same --root while importing.");

  bool keep_bridge = false;
  CLI::App* reset = app.add_subcommand(
      "reset", "Remove everything a crispd on --root/--state made: containers, sandboxes, monitors, network "
               "namespaces and their CNI allocations, mounts, records, and the --bridge");
  reset->add_flag("--keep-bridge", keep_bridge, "Leave the bridge (another crispd shares it)");
  reset->footer("Give the same --root, --state, --bridge, --pod-cidr and --cni-* as the crispd had. Stop that crispd "
                "first: it would still answer about what is gone. Images are kept.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (unpack->parsed()) return UnpackLayerMain(blob, layer_dir);
  if (import->parsed()) return Import(flags, import_file, import_name);
  if (reset->parsed()) return Reset(flags, keep_bridge);
  std::signal(SIGPIPE, SIG_IGN);  // a helper that exits early must not kill crispd
  // Infra processes and conmon monitors are reparented to crispd, which
  // reaps them by pidfd (see AdoptedProcess).
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  return RunDaemon(flags);
}

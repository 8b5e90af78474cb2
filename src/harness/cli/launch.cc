#include "harness/cli/launch.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_join.h"
#include "common/build_info.h"
#include "common/strings.h"
#include "harness/cli/app.h"
#include "harness/client/json_request.h"
#include "harness/runner/kubelet.h"
#include "harness/runner/node.h"
#include "harness/runner/runner.h"
#include "runtime/v1/api.pb.h"

namespace crisp::cli {
namespace {

namespace v1 = runtime::v1;

// Where the pod finds what the node gives it.
constexpr char kSocketInPod[] = "/run/crisp/cri.sock";
constexpr char kResultsInPod[] = "/results";
constexpr char kOsReleaseInPod[] = "/run/crisp/node/os-release";
// The pods' log directories (the suites' log_directory values): crisp in
// the pod makes them as the kubelet does, so they must be the node's.
using runner::kPodLogRoot;

struct LaunchFlags {
  std::string endpoint = std::string(client::kReferenceEndpoint);
  std::string image = crisp::StrCat("docker.io/crispproject/crisp:", kCrispVersion);
  std::string node;
  std::string results;
  bool host_network = false;
  bool host_pid = false;
  std::string wait = "30m";
  bool keep = false;
  std::vector<std::string> args;
};

std::string HostName() {
  utsname uts{};
  return uname(&uts) == 0 ? std::string(uts.nodename) : "node";
}

template <typename Response>
absl::StatusOr<Response> Call(Connection& connection, std::string_view method, const nlohmann::json& request,
                              absl::Duration timeout, bool cancellable = true) {
  absl::StatusOr<const client::MethodDescriptor*> found = client::FindCriMethod(method);
  if (!found.ok()) return found.status();
  std::unique_ptr<google::protobuf::Message> message = client::NewRequest(**found);
  if (absl::Status parsed = client::ParseJsonInto(request.dump(), message.get()); !parsed.ok()) return parsed;
  absl::StatusOr<Response> answer =
      client::CallAs<Response>(*connection.client, method, *message,
                               {.timeout = timeout, .cancel = cancellable ? &g_cancel : nullptr});
  if (!answer.ok()) {
    return absl::Status(answer.status().code(), crisp::StrCat(method, ": ", answer.status().message()));
  }
  return answer;
}

// Prints the container's CRI log as it grows: each complete record's
// message, from `offset` on.
void FollowLog(const std::string& path, std::streamoff& offset, std::ostream& out) {
  std::ifstream in(path);
  if (!in) return;
  in.seekg(offset);
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // no newline yet: the record is not complete
    offset = in.tellg();
    // <time> <stream> <P|F> <message>
    size_t at = 0;
    for (int field = 0; field < 3 && at != std::string::npos; ++field) {
      at = line.find(' ', at);
      if (at != std::string::npos) ++at;
    }
    out << "  | " << (at == std::string::npos ? line : line.substr(at)) << '\n';
  }
  out.flush();
}

int Launch(const GlobalOptions& global, const LaunchFlags& flags, std::ostream& out, std::ostream& err) {
  StopSignals stop_signals;
  absl::Duration wait;
  if (!absl::ParseDuration(flags.wait, &wait) || wait <= absl::ZeroDuration()) {
    return ExitWithError(err, absl::InvalidArgumentError(crisp::StrCat("--wait: \"", flags.wait,
                                                                       "\" is not a positive duration")));
  }
  std::error_code error;
  std::filesystem::create_directories(flags.results, error);
  const std::string results = std::filesystem::absolute(flags.results).lexically_normal().string();
  if (error || !std::filesystem::is_directory(results)) {
    return ExitWithError(err, absl::InvalidArgumentError(crisp::StrCat("--results: cannot make ", results)));
  }
  absl::StatusOr<Connection> connection = Connect(global, flags.endpoint);
  if (!connection.ok()) return ExitWithError(err, connection.status());
  const std::string socket =
      connection->reference ? connection->reference->socket_path() : connection->endpoint.socket_path;
  const std::string node = flags.node.empty() ? HostName() : flags.node;
  const absl::Duration timeout = connection->timeout;
  if (stop_signals.StoppedEarly(err)) return kExitInterrupted;

  const std::string name = crisp::StrCat("crisp-launch-", getpid());
  const std::string log_directory = crisp::StrCat(kPodLogRoot, "/crisp_", name, "_", name);
  nlohmann::json sandbox = {
      {"metadata", {{"name", name}, {"namespace", "crisp"}, {"uid", crisp::StrCat("uid-", name)}, {"attempt", 0}}},
      {"hostname", name},
      {"log_directory", log_directory},
      {"labels", {{"crisp.io/launch", name}}},
      {"linux",
       {{"security_context",
         {{"namespace_options",
           {{"network", flags.host_network ? "NODE" : "POD"}, {"pid", flags.host_pid ? "NODE" : "CONTAINER"},
            {"ipc", "POD"}}}}}}}};
  runner::kubelet::AddSandboxLabels(sandbox);
  // As the kubelet does before RunPodSandbox and CreateContainer.
  for (const std::string& directory : {std::string(kPodLogRoot), crisp::StrCat(log_directory, "/crisp")}) {
    if (absl::Status made = runner::kubelet::MakeDirectory(directory); !made.ok()) return ExitWithError(err, made);
  }

  std::vector<std::string> args = flags.args;
  if (args.empty()) {
    args = {"run", "-e", crisp::StrCat(connection->endpoint.name, "=unix://", kSocketInPod), "--suite", "suites/seed",
            "--report-dir", kResultsInPod};
  }
  char resolved[PATH_MAX];
  std::string os_release = realpath("/etc/os-release", resolved) != nullptr ? resolved : "";
  nlohmann::json mounts = nlohmann::json::array(
      {{{"host_path", socket}, {"container_path", kSocketInPod}},
       {{"host_path", results}, {"container_path", kResultsInPod}},
       {{"host_path", kPodLogRoot}, {"container_path", kPodLogRoot}}});
  if (!os_release.empty()) {
    mounts.push_back({{"host_path", os_release}, {"container_path", kOsReleaseInPod}, {"readonly", true}});
  }
  nlohmann::json container = {
      {"metadata", {{"name", "crisp"}, {"attempt", 0}}},
      {"image", {{"image", flags.image}}},
      {"args", args},
      {"envs", nlohmann::json::array({{{"key", "CRISP_NODE_NAME"}, {"value", node}},
                                      {{"key", "CRISP_NODE_PATHS"}, {"value", kPodLogRoot}},
                                      {{"key", "CRISP_NODE_OS_RELEASE"}, {"value", kOsReleaseInPod}}})},
      {"mounts", mounts},
      {"log_path", "crisp/0.log"}};
  runner::kubelet::InheritNamespaces(sandbox, container);
  runner::kubelet::AddContainerLabels(sandbox, container);
  runner::kubelet::AddContainerAnnotations(container);

  out << "crisp launch: " << flags.image << " as pod " << name << " on " << connection->endpoint.name << " ("
      << connection->version.runtime_name() << " " << connection->version.runtime_version() << "), node " << node
      << "\n  crisp " << absl::StrJoin(args, " ") << "\n" << std::flush;

  std::string pod_id, container_id;
  // Not cancelled by the signal that may have asked for it. crisp in the
  // pod gets SIGTERM and 30 s to clean up its own scenarios' pods first.
  auto remove_pod = [&]() -> absl::Status {
    if (pod_id.empty() || flags.keep) return absl::OkStatus();
    if (!container_id.empty()) {
      (void)Call<v1::StopContainerResponse>(*connection, "StopContainer",
                                            {{"container_id", container_id}, {"timeout", 30}},
                                            timeout + absl::Seconds(30), false);
    }
    absl::Status stopped = Call<v1::StopPodSandboxResponse>(*connection, "StopPodSandbox",
                                                            {{"pod_sandbox_id", pod_id}}, timeout, false).status();
    absl::Status removed = Call<v1::RemovePodSandboxResponse>(*connection, "RemovePodSandbox",
                                                              {{"pod_sandbox_id", pod_id}}, timeout, false).status();
    std::filesystem::remove_all(log_directory, error);
    return stopped.ok() ? removed : stopped;
  };
  auto fail = [&](const absl::Status& status) {
    absl::Status removed = remove_pod();
    if (!removed.ok()) {
      err << "crisp: warning: pod " << pod_id << " not removed: " << removed.message()
          << " (crisp clean -l crisp.io/launch=" << name << ")\n";
    }
    if (g_cancel) return kExitInterrupted;
    return ExitWithError(err, status);
  };

  absl::StatusOr<v1::PullImageResponse> pulled =
      Call<v1::PullImageResponse>(*connection, "PullImage", {{"image", {{"image", flags.image}}}},
                                  std::max(timeout, absl::Minutes(5)));
  if (!pulled.ok()) return fail(pulled.status());
  absl::StatusOr<v1::RunPodSandboxResponse> pod =
      Call<v1::RunPodSandboxResponse>(*connection, "RunPodSandbox", {{"config", sandbox}}, timeout);
  if (!pod.ok()) return fail(pod.status());
  pod_id = pod->pod_sandbox_id();
  absl::StatusOr<v1::CreateContainerResponse> created = Call<v1::CreateContainerResponse>(
      *connection, "CreateContainer", {{"pod_sandbox_id", pod_id}, {"config", container}, {"sandbox_config", sandbox}},
      timeout);
  if (!created.ok()) return fail(created.status());
  container_id = created->container_id();
  if (auto started = Call<v1::StartContainerResponse>(*connection, "StartContainer",
                                                      {{"container_id", container_id}}, timeout);
      !started.ok()) {
    return fail(started.status());
  }

  // Until crisp in the pod exits, its output as it comes.
  const std::string log_file = crisp::StrCat(log_directory, "/crisp/0.log");
  std::streamoff offset = 0;
  const absl::Time deadline = absl::Now() + wait;
  int exit_code = -1;
  while (true) {
    FollowLog(log_file, offset, out);
    if (g_cancel) return fail(absl::CancelledError("stopped"));
    absl::StatusOr<v1::ContainerStatusResponse> status =
        Call<v1::ContainerStatusResponse>(*connection, "ContainerStatus", {{"container_id", container_id}}, timeout);
    if (!status.ok()) return fail(status.status());
    if (status->status().state() == v1::CONTAINER_EXITED) {
      exit_code = status->status().exit_code();
      if (!status->status().reason().empty() && exit_code != 0) {
        out << "  (" << status->status().reason() << (status->status().message().empty() ? "" : ": ")
            << status->status().message() << ")\n";
      }
      break;
    }
    if (absl::Now() > deadline) {
      return fail(absl::DeadlineExceededError(crisp::StrCat("crisp in pod ", name, " still runs after ", flags.wait,
                                                            " (--wait)")));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  FollowLog(log_file, offset, out);
  out << "crisp launch: crisp in the pod exited " << exit_code << "; its reports are in " << results
      << (flags.keep ? crisp::StrCat("; pod ", pod_id, " kept (--keep)") : "") << '\n';
  if (absl::Status removed = remove_pod(); !removed.ok()) {
    err << "crisp: warning: pod " << pod_id << " not removed: " << removed.message()
        << " (crisp clean -l crisp.io/launch=" << name << ")\n";
  }
  if (exit_code == kExitOk || exit_code == kExitFailures || exit_code == kExitUsage) return exit_code;
  return kExitFailures;
}

}  // namespace

void AddLaunchCommand(CLI::App& app, const GlobalOptions& global, Actions& actions, std::ostream& out,
                      std::ostream& err) {
  auto flags = std::make_shared<LaunchFlags>();
  CLI::App* launch = app.add_subcommand(
      "launch", "Run crisp itself as a pod on a runtime, through CRI, as a DaemonSet's pod runs on its node");
  launch->add_option("-e,--endpoint", flags->endpoint,
                     "The runtime to run the pod on (and the one it tests); default: $CRISP_ENDPOINT, else reference")
      ->envname("CRISP_ENDPOINT")
      ->capture_default_str();
  launch->add_option("--image", flags->image, "crisp's image (ci/env crisp-image pushes it)")->capture_default_str();
  launch->add_option("--node", flags->node, "The node name results.json records (default: this host's name)");
  launch->add_option("--results", flags->results, "Host directory mounted at /results, where the reports go")
      ->required();
  launch->add_flag("--host-network", flags->host_network, "Give the pod the node's network namespace (hostNetwork)");
  launch->add_flag("--host-pid", flags->host_pid, "Give the pod the node's PID namespace (hostPID)");
  launch->add_option("--wait", flags->wait, "How long crisp in the pod may run")->capture_default_str();
  launch->add_flag("--keep", flags->keep, "Leave the pod after crisp exits, to look at it");
  launch->add_option("args", flags->args, "crisp's arguments in the pod, after --");
  launch->footer(
      "The pod gets the runtime's socket at /run/crisp/cri.sock, --results at /results, the node's /tmp/crisp/pods "
      "(pod log directories) at the same path, and its os-release; CRISP_NODE_NAME names the node.\n"
      "Default arguments: run -e NAME=unix:///run/crisp/cri.sock --suite suites/seed --report-dir /results.\n"
      "Host-side steps that need a namespace of the node the pod lacks are n.a. in the pod (docs/fleet.md).\n"
      "Exit codes: crisp's in the pod (0, 1, 2), 2 when the pod could not run, 130 interrupted.");
  actions[launch] = [&global, flags, &out, &err] { return Launch(global, *flags, out, err); };
}

}  // namespace crisp::cli

#include "harness/cli/app.h"

#include <algorithm>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/time/time.h"
#include "common/build_info.h"
#include "harness/cli/command_support.h"
#include "harness/cli/config.h"
#include "harness/cli/info.h"
#include "harness/cli/streaming_probe.h"
#include "harness/cli/launch.h"
#include "harness/cli/suite_commands.h"
#include "harness/client/connect.h"
#include "harness/client/proto_json.h"
#include "harness/runner/sweep.h"
#include "harness/client/json_request.h"
#include "harness/client/cri_client.h"
#include "harness/client/endpoint.h"
#include "common/strings.h"

namespace crisp::cli {
namespace {

// Help for `where`, with its usage line spelled as typed: "crisp info ...".
std::string HelpFor(const CLI::App& app, const CLI::App* where) {
  return where == &app ? app.help() : where->help("crisp");
}

std::string UsageLine(const std::string& help) {
  size_t start = help.find("Usage:");
  if (start == std::string::npos) return help.substr(0, help.find('\n'));
  return help.substr(start, help.find('\n', start) - start);
}

std::string SubcommandNames(const CLI::App& app) {
  std::string names;
  for (const CLI::App* sub : app.get_subcommands({})) {
    crisp::StrAppend(&names, names.empty() ? "" : ", ", sub->get_name());
  }
  return names;
}

// The subcommand the user was typing when parsing stopped, or the app itself.
const CLI::App* DeepestParsed(const CLI::App& app) {
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (sub->parsed()) return DeepestParsed(*sub);
  }
  return &app;
}

int UsageError(const CLI::App& app, std::string_view what, std::ostream& err) {
  const CLI::App* where = DeepestParsed(app);
  err << "crisp: error: " << what << '\n'
      << UsageLine(HelpFor(app, where)) << '\n'
      << "Run '" << (where == &app ? "crisp" : "crisp " + where->get_name())
      << " --help' for more.\n";
  return kExitUsage;
}

int RunVersion(const std::string& output, std::ostream& out) {
  if (output == "json") {
    nlohmann::json json = {{"crisp_version", kCrispVersion},
                           {"cri_api", {{"package", "runtime.v1"},
                                        {"cri_api_version", kCriApiVersion},
                                        {"kubernetes", kCriApiKubernetes}}}};
    out << json.dump(2) << '\n';
  } else {
    out << "crisp " << kCrispVersion << '\n'
        << "CRI API runtime.v1 (cri-api " << kCriApiVersion << ", Kubernetes "
        << kCriApiKubernetes << ")\n";
  }
  return kExitOk;
}

struct InfoOptions {
  std::string endpoint = std::string(client::kReferenceEndpoint);
  std::string output = "table";
  bool verbose = false;
  bool streaming = false;
  std::string probe_image = "registry.k8s.io/e2e-test-images/busybox:1.29-2";
};

int RunInfo(const GlobalOptions& global, const InfoOptions& options,
            std::ostream& out, std::ostream& err) {
  absl::StatusOr<Connection> connection = Connect(global, options.endpoint);
  if (!connection.ok()) return ExitWithError(err, connection.status());
  RuntimeInfo info = GatherRuntimeInfo(*connection->client, connection->endpoint,
                                       connection->version, connection->timeout, options.verbose);
  std::optional<StreamingProbeReport> streaming;
  if (options.streaming) {
    if (options.output != "json") err << "crisp: probing the streaming server (a pod is made and removed) ...\n";
    streaming = ProbeStreaming(*connection->client, std::max(connection->timeout, absl::Minutes(2)), options.probe_image);
  }
  if (options.output == "json") {
    nlohmann::json json = InfoToJson(info);
    if (streaming) json["streaming"] = StreamingToJson(*streaming);
    out << json.dump(2) << '\n';
  } else {
    PrintInfoTable(info, out, streaming ? StreamingRows(*streaming) : std::vector<std::pair<std::string, std::string>>{});
  }
  return streaming && !streaming->error.empty() ? kExitFailures : kExitOk;
}

struct CleanOptions {
  std::string endpoint = std::string(client::kReferenceEndpoint);
  std::vector<std::string> labels;
  bool all = false;
};

// Stop and remove deserve longer than a query: a runtime may wait out a
// container's grace period.
constexpr absl::Duration kMinCleanTimeout = absl::Minutes(2);

int RunClean(const GlobalOptions& global, const CleanOptions& options,
             std::ostream& out, std::ostream& err) {
  if (options.all == !options.labels.empty()) {
    err << "crisp: error: clean needs exactly one of --all or --label KEY=VALUE\n";
    return kExitUsage;
  }
  std::map<std::string, std::string> labels;
  for (const std::string& label : options.labels) {
    size_t eq = label.find('=');
    if (eq == std::string::npos || eq == 0) {
      err << "crisp: error: --label \"" << label << "\" is not KEY=VALUE\n";
      return kExitUsage;
    }
    labels[label.substr(0, eq)] = label.substr(eq + 1);
  }
  absl::StatusOr<Connection> connection = Connect(global, options.endpoint);
  if (!connection.ok()) return ExitWithError(err, connection.status());
  runner::CleanResult result =
      runner::CleanSandboxes(*connection->client, labels,
                             std::max(connection->timeout, kMinCleanTimeout), out);
  for (const std::string& failure : result.failures) {
    err << "crisp: could not remove " << failure << '\n';
  }
  out << "clean: removed " << result.removed << " pod sandbox"
      << (result.removed == 1 ? "" : "es") << " from " << connection->endpoint.Display();
  if (!result.failures.empty()) out << ", " << result.failures.size() << " failed";
  out << '\n';
  return result.failures.empty() ? kExitOk : kExitFailures;
}

struct CallOptions {
  std::string endpoint = std::string(client::kReferenceEndpoint);
  std::string method;
  std::string data;
  std::string file;
};

// Reads a whole file, or standard input for "-".
absl::StatusOr<std::string> ReadInput(const std::string& path) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path);
    if (!file) return absl::NotFoundError(crisp::StrCat("cannot read ", path));
    in = &file;
  }
  std::ostringstream text;
  text << in->rdbuf();
  return text.str();
}

int RunCall(const GlobalOptions& global, const CallOptions& options,
            std::ostream& out, std::ostream& err) {
  absl::StatusOr<const client::MethodDescriptor*> method = client::FindCriMethod(options.method);
  if (!method.ok()) {
    err << "crisp: error: " << method.status().message() << '\n';
    return kExitUsage;
  }
  std::unique_ptr<google::protobuf::Message> request = client::NewRequest(**method);
  std::string json = options.data;
  if (!options.file.empty()) {
    absl::StatusOr<std::string> text = ReadInput(options.file);
    if (!text.ok()) {
      err << "crisp: error: " << text.status().message() << '\n';
      return kExitUsage;
    }
    json = *std::move(text);
  }
  if (!json.empty()) {
    if (absl::Status parsed = client::ParseJsonInto(json, request.get()); !parsed.ok()) {
      err << "crisp: error: " << (options.file.empty() ? "--data" : options.file) << ": "
          << parsed.message() << '\n';
      return kExitUsage;
    }
  }
  absl::StatusOr<Connection> connection = Connect(global, options.endpoint);
  if (!connection.ok()) return ExitWithError(err, connection.status());
  client::CallRecord record = connection->client->Call(**method, *request);
  if (!record.ok()) {
    err << "crisp: " << record.method << ": " << client::GrpcCodeName(record.code) << ": "
        << record.message << '\n';
    return kExitFailures;
  }
  out << client::ProtoToJson(*record.response).dump(2) << '\n';
  return kExitOk;
}

}  // namespace

int RunCrisp(int argc, const char* const* argv, std::ostream& out,
             std::ostream& err) {
  CLI::App app{"crisp: conformance and interoperability tests for CRI v1 runtimes",
               "crisp"};
  app.require_subcommand(1);
  app.fallthrough();
  app.footer("Endpoints: unix:///path/to/socket, /path/to/socket, or NAME=either; "
             "'reference' (the default) starts the bundled runtime, crispd, for the command.\n"
             "Exit codes: 0 success, 1 checks failed, 2 usage or endpoint error.");

  GlobalOptions global;
  app.add_option("--timeout", global.timeout,
                 "Deadline for each CRI call (500ms, 10s, 2m)")
      ->capture_default_str();
  CLI::Option* mirror_flag = app.add_option("--registry-mirror", global.registry_mirrors,
                                            "REGISTRY=URL the bundled reference runtime pulls through (repeatable)");
  CLI::Option* timeout_flag = app.get_option("--timeout");
  app.add_option("--config", global.config_path,
                 "crisp.yaml to read (default: ./crisp.yaml, else $XDG_CONFIG_HOME/crisp/crisp.yaml); flags win over it");

  Actions actions;

  std::string version_output = "text";
  CLI::App* version = app.add_subcommand("version", "Print crisp's version and the CRI API it speaks");
  version->add_option("-o,--output", version_output, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  actions[version] = [&] { return RunVersion(version_output, out); };

  InfoOptions info_options;
  CLI::App* info = app.add_subcommand(
      "info", "Show what a runtime reports: version, conditions, cgroup driver, image filesystems");
  info->add_option("-e,--endpoint", info_options.endpoint,
                   "CRI endpoint (unix:///path, /path, NAME=..., or reference); default: $CRISP_ENDPOINT, else reference")
      ->envname("CRISP_ENDPOINT")
      ->capture_default_str();
  info->add_option("-o,--output", info_options.output, "Output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  info->add_flag("-v,--verbose", info_options.verbose,
                 "Ask Status for the runtime's verbose info map too");
  info->add_flag("--streaming", info_options.streaming,
                 "Probe the streaming server: which transports (SPDY/3.1, WebSocket) and protocol versions its "
                 "Exec and PortForward URLs accept. Runs a pod with a container (--probe-image) and removes it");
  info->add_option("--probe-image", info_options.probe_image, "Image of the --streaming probe's container (has sleep and true)")
      ->capture_default_str();
  actions[info] = [&] { return RunInfo(global, info_options, out, err); };

  CleanOptions clean_options;
  CLI::App* clean = app.add_subcommand(
      "clean", "Stop and remove pod sandboxes (and their containers) left on a runtime");
  clean->add_option("-e,--endpoint", clean_options.endpoint,
                    "CRI endpoint (unix:///path, /path, NAME=..., or reference); default: $CRISP_ENDPOINT, else reference")
      ->envname("CRISP_ENDPOINT")
      ->capture_default_str();
  clean->add_option("-l,--label", clean_options.labels,
                    "Only sandboxes with this label (KEY=VALUE; repeat to require several)");
  clean->add_flag("--all", clean_options.all, "Every sandbox on the runtime");
  actions[clean] = [&] { return RunClean(global, clean_options, out, err); };

  AddSuiteCommands(app, global, actions, out, err);
  AddLaunchCommand(app, global, actions, out, err);

  CallOptions call_options;
  CLI::App* call = app.add_subcommand(
      "call", "Call one CRI RPC with a JSON request and print the JSON response");
  call->add_option("method", call_options.method,
                   "RPC name: Version, RunPodSandbox, ImageService/PullImage, ...")
      ->required();
  call->add_option("-e,--endpoint", call_options.endpoint,
                   "CRI endpoint (unix:///path, /path, NAME=..., or reference); default: $CRISP_ENDPOINT, else reference")
      ->envname("CRISP_ENDPOINT")
      ->capture_default_str();
  auto* data = call->add_option("-d,--data", call_options.data,
                                "The request as JSON (api.proto field names)");
  call->add_option("-f,--file", call_options.file, "Read the request from a JSON file ('-' for stdin)")
      ->excludes(data);
  call->footer("Exit codes: 0 the RPC succeeded, 1 the runtime answered an error, 2 usage or endpoint error.");
  actions[call] = [&] { return RunCall(global, call_options, out, err); };

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out << HelpFor(app, DeepestParsed(app)) << '\n';
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help("", CLI::AppFormatMode::All);
    return kExitOk;
  } catch (const CLI::RequiredError& e) {
    if (app.get_subcommands().empty()) {
      for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg.starts_with('-')) {
          // Skip the value of a global option given as "--timeout 3s".
          const CLI::Option* option = app.get_option_no_throw(std::string(arg));
          if (option != nullptr && option->get_expected_min() > 0) ++i;
        } else {
          return UsageError(app,
                            crisp::StrCat("unknown subcommand \"", arg,
                                          "\" (known: ", SubcommandNames(app), ")"),
                            err);
        }
      }
      // `crisp` alone: show what there is to do.
      err << app.help() << '\n';
      return kExitUsage;
    }
    return UsageError(app, e.what(), err);
  } catch (const CLI::ParseError& e) {
    return UsageError(app, e.what(), err);
  }

  // crisp.yaml fills in what the command line left out.
  absl::StatusOr<CrispConfig> config = LoadConfig(global.config_path);
  if (!config.ok()) return ExitWithError(err, config.status());
  global.config = *std::move(config);
  if (timeout_flag->count() == 0 && !global.config.timeout.empty()) global.timeout = global.config.timeout;
  if (mirror_flag->count() == 0) global.registry_mirrors = global.config.registry_mirrors;
  for (const CLI::App* sub : app.get_subcommands()) {
    if (auto action = actions.find(sub); action != actions.end()) {
      return action->second();
    }
  }
  return UsageError(app, "no subcommand given", err);
}

}  // namespace crisp::cli

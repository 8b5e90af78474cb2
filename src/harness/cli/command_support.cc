#include "harness/cli/command_support.h"

#include <unistd.h>

#include <csignal>

#include "common/strings.h"
#include "harness/cli/app.h"
#include "harness/client/connect.h"

namespace crisp::cli {

// Parses --timeout into a positive duration.
absl::StatusOr<absl::Duration> ParseTimeout(const std::string& text) {
  absl::Duration duration;
  if (!absl::ParseDuration(text, &duration) || duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(crisp::StrCat(
        "--timeout: \"", text, "\" is not a positive duration (examples: 500ms, 10s, 2m)"));
  }
  return duration;
}

// Parses an endpoint for a command that talks to a runtime; reports the
// problem on `err` when it cannot be used.
int ExitWithError(std::ostream& err, const absl::Status& status) {
  err << "crisp: error: " << status.message() << '\n';
  return kExitUsage;
}

absl::StatusOr<Connection> Connect(const GlobalOptions& global, const std::string& endpoint_text,
                                   client::CallRecorder* recorder) {
  absl::StatusOr<absl::Duration> timeout = ParseTimeout(global.timeout);
  if (!timeout.ok()) return timeout.status();
  absl::StatusOr<client::Endpoint> endpoint = client::ParseEndpoint(global.config.ResolveEndpoint(endpoint_text));
  if (!endpoint.ok()) return endpoint.status();
  std::unique_ptr<PrivateCrispd> reference;
  if (endpoint->kind == client::Endpoint::Kind::kReference) {
    std::vector<std::string> args;
    for (const std::string& mirror : global.registry_mirrors) args.push_back("--registry-mirror=" + mirror);
    absl::StatusOr<std::unique_ptr<PrivateCrispd>> started = PrivateCrispd::Start(args);
    if (!started.ok()) {
      return absl::Status(started.status().code(), crisp::StrCat("endpoint reference: ", started.status().message()));
    }
    reference = *std::move(started);
    std::string name = endpoint->name;
    endpoint = client::Endpoint{name, client::Endpoint::Kind::kUnix, reference->socket_path()};
  }
  Connection connection{std::move(reference), *endpoint,
                        client::NewGrpcCriClient(*endpoint, {.default_timeout = *timeout,
                                                             .recorder = recorder}),
                        *timeout,
                        {}};
  absl::StatusOr<runtime::v1::VersionResponse> version =
      client::Handshake(*connection.client, *endpoint, *timeout);
  if (!version.ok()) return version.status();
  connection.version = *std::move(version);
  return connection;
}

// --- signals ---

std::atomic<bool> g_cancel{false};

namespace {

extern "C" void OnStopSignal(int) {
  if (g_cancel.exchange(true)) {
    // A second signal: the user insists. Leave at once.
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    std::raise(SIGINT);
  }
  static const char kMessage[] = "\ncrisp: stopping: cleaning up what this run created (again to abort)\n";
  ssize_t ignored = write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
  (void)ignored;
}

}  // namespace

StopSignals::StopSignals() {
  g_cancel = false;
  previous_int_ = std::signal(SIGINT, OnStopSignal);
  previous_term_ = std::signal(SIGTERM, OnStopSignal);
}

StopSignals::~StopSignals() {
  std::signal(SIGINT, previous_int_);
  std::signal(SIGTERM, previous_term_);
}

bool StopSignals::StoppedEarly(std::ostream& err) const {
  if (g_cancel) err << "crisp: stopped before anything ran\n";
  return g_cancel;
}

}  // namespace crisp::cli

#include "harness/runner/runner.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <variant>

#include "absl/synchronization/mutex.h"
#include "common/strings.h"
#include "harness/client/json_request.h"
#include "harness/client/proto_json.h"
#include "harness/runner/host_actions.h"
#include "harness/scenario/host_actions.h"
#include "harness/runner/kubelet.h"
#include "harness/runner/shared_pool.h"
#include "harness/runner/sweep.h"
#include "harness/scenario/cri_log.h"
#include "harness/scenario/expect.h"
#include "harness/scenario/variables.h"
#include "runtime/v1/api.pb.h"

namespace crisp::runner {
namespace {

namespace v1 = runtime::v1;
using scenario::Scenario;
using scenario::Step;

std::string RandomHex(int digits) {
  static std::mutex mutex;
  static std::mt19937_64 engine(std::random_device{}());
  std::lock_guard lock(mutex);
  std::string out;
  for (int i = 0; i < digits; ++i) out += "0123456789abcdef"[engine() % 16];
  return out;
}

// What a scenario requires: its own `requires:`, then what its host and
// log steps need of the node (scenario/host_actions.h), each word once.
std::vector<std::string> Requirements(const Scenario& scenario) {
  std::vector<std::string> words = scenario.requires_;
  auto add = [&](std::string_view word) {
    if (std::find(words.begin(), words.end(), word) == words.end()) words.emplace_back(word);
  };
  for (const std::vector<Step>* steps : {&scenario.uses, &scenario.steps}) {
    for (const Step& step : *steps) {
      if (step.kind == Step::Kind::kLog) add(scenario::kNodePodLogs);
      if (step.kind != Step::Kind::kHost) continue;
      if (const scenario::HostAction* action = scenario::FindHostAction(step.host_action)) {
        for (std::string_view word : action->node_requirements) add(word);
      }
    }
  }
  return words;
}

// A TCP port on the host that nothing listens on now, and that this process
// has not handed out before: a port mapping binds nothing, so the kernel
// may offer a mapped port again, and in a matrix two runtimes' scenarios
// (one process) would then map the same host port.
int FreeHostPort() {
  static std::mutex mutex;
  static std::set<int> handed_out;
  for (int attempt = 0; attempt < 32; ++attempt) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    socklen_t length = sizeof(address);
    int port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      port = ntohs(address.sin_port);
    }
    close(fd);
    if (port == 0) return 0;
    std::lock_guard lock(mutex);
    if (handed_out.insert(port).second) return port;
  }
  return 0;
}

// Calls that are slow by nature get more than the default deadline.
absl::Duration DefaultTimeout(std::string_view method, absl::Duration call_timeout) {
  if (method == "PullImage") return std::max(call_timeout, absl::Minutes(5));
  for (std::string_view slow : {"RunPodSandbox", "StopPodSandbox", "RemovePodSandbox", "CreateContainer",
                                "StartContainer", "StopContainer", "RemoveContainer", "RemoveImage",
                                "ExecSync", "UpdateContainerResources"}) {
    if (method == slow) return std::max(call_timeout, absl::Minutes(2));
  }
  return call_timeout;
}

// Things a scenario made, undone in reverse order when it ends.
struct Created {
  enum class Kind { kSandbox, kContainer, kImage } kind;
  std::string id;            // sandbox or container ID, or image reference
  std::string log_directory; // sandboxes: the per-run log directory to remove
};

// A result that names its scenario, started now, passing so far.
ScenarioResult ResultFor(const Scenario& scenario) {
  ScenarioResult result;
  result.id = scenario.id;
  result.title = scenario.title;
  result.suite = scenario.suite;
  result.file = scenario.where.file;
  result.tags = scenario.tags;
  result.spec_ref = scenario.spec_ref;
  result.normalise = scenario.normalise;
  result.start = absl::Now();
  return result;
}

class Execution {
 public:
  // `pool`: where shared steps' results are kept between scenarios (null:
  // each scenario makes its own).
  Execution(const Scenario& scenario, client::CriClient& client, const RunOptions& options,
            const Capabilities& capabilities, SharedPool* pool)
      : scenario_(scenario), client_(client), options_(options), capabilities_(capabilities), pool_(pool),
        suffix_(RandomHex(6)), host_(suffix_) {
    own_suffixes_.push_back(suffix_);
    variables_.Set("run", {{"id", options.run_id}, {"suffix", suffix_}});
    variables_.Set("scenario", {{"id", scenario.id}});
    deadline_ = absl::Now() + scenario.timeout;
  }

  ScenarioResult Run() {
    ScenarioResult result = ResultFor(scenario_);
    result.substitutions[options_.run_id] = "${run.id}";
    result.substitutions[suffix_] = "${run.suffix}";

    for (const std::string& requirement : Requirements(scenario_)) {
      std::string unmet = capabilities_.Unmet(requirement);
      if (unmet.empty()) continue;
      result.verdict = IsHarnessRequirement(requirement) ? Verdict::kSkip : Verdict::kNotApplicable;
      result.reason = crisp::StrCat("requires ", requirement, ": ", unmet);
      result.duration = absl::Now() - result.start;
      return result;
    }

    // The shared steps it uses first, then its own.
    std::vector<std::pair<const Step*, bool>> all;
    for (const Step& step : scenario_.uses) all.emplace_back(&step, true);
    for (const Step& step : scenario_.steps) all.emplace_back(&step, false);
    int index = 0;
    for (const auto& [step_pointer, shared] : all) {
      const Step& step = *step_pointer;
      ++index;
      if (Cancelled()) {
        result.verdict = Verdict::kError;
        result.reason = crisp::StrCat("interrupted before step ", index, " (", step.name, ")");
        break;
      }
      if (absl::Now() > deadline_) {
        result.verdict = Verdict::kError;
        result.reason = crisp::StrCat("scenario timed out after ", absl::FormatDuration(scenario_.timeout),
                                      ", before step ", index, " (", step.name, ")");
        break;
      }
      if (options_.progress != nullptr) options_.progress->StepStarted(scenario_, step, index);
      // A shared step is made as a kubelet would, pooled or not (AsKubelet).
      making_shared_ = shared;
      StepResult step_result = shared && pool_ != nullptr ? UseShared(step, index, result) : RunStep(step, index);
      making_shared_ = false;
      const bool passed = step_result.verdict == Verdict::kPass;
      if (!passed) {
        result.verdict = step_result.verdict;
        result.reason = crisp::StrCat("step ", index, " (", step.name, "): ", step_result.message);
      }
      result.steps.push_back(std::move(step_result));
      if (!passed) break;
    }
    if (!host_.area().empty()) result.substitutions[host_.area()] = "${host.area}";
    CleanUp(result);
    // What this scenario was handed or made for sharing goes back, after its
    // containers are gone; the next user checks it first.
    for (SharedInstance& instance : leases_) pool_->Give(std::move(instance));
    leases_.clear();
    result.work = work_;
    int port_number = 0;
    for (int port : host_ports_) result.substitutions[std::to_string(port)] = crisp::StrCat("${host-port#", ++port_number, "}");
    result.duration = absl::Now() - result.start;
    return result;
  }

 private:
  bool Cancelled() const { return options_.cancel != nullptr && options_.cancel->load(); }

  // Whether crisp does around this call what the kubelet does (kubelet.h).
  // A shared step always: a pod or image that serves other scenarios is
  // made as the kubelet makes it, even for a kubelet_fidelity: false
  // scenario, whose own steps alone go as written.
  bool AsKubelet() const { return scenario_.kubelet_fidelity || making_shared_; }

  // A shared step with suite-scoped fixtures: an idle instance from the
  // pool when there is a healthy one, else the call made now, its result
  // then kept for the pool instead of undone. Either way the step shows the
  // call that made it, so that runtimes compare the same.
  StepResult UseShared(const Step& step, int index, ScenarioResult& scenario_result) {
    const std::string key = options_.fixture_scope == FixtureScope::kSuite
                                ? crisp::StrCat(scenario_.suite, "/", step.save)
                                : crisp::StrCat(step.method, " ", step.request.dump());
    std::string dropped;
    std::optional<SharedInstance> instance = pool_->Take(key, &dropped);
    StepResult result;
    if (instance) {
      result.index = index;
      result.name = step.name;
      result.kind = "shared";
      result.method = step.method;
      result.attempts = 0;
      result.message = crisp::StrCat("reused: made by ", instance->made_by, ", serving its scenario #",
                                     instance->uses + 1);
      variables_.Set(step.save, instance->saved);
      if (step.method == "RunPodSandbox") sandbox_configs_[instance->id] = instance->sandbox_config;
      // The pod's names carry its maker's suffix: compared as this run's own.
      scenario_result.substitutions[instance->suffix] = "${run.suffix}";
      own_suffixes_.push_back(instance->suffix);
      result.observations.push_back(instance->observation);
      leases_.push_back(*std::move(instance));
      return result;
    }
    result = RunStep(step, index);
    result.kind = "shared";
    result.message = dropped.empty() ? result.message
                                     : crisp::StrCat(result.message, result.message.empty() ? "" : "; ", dropped);
    if (result.verdict != Verdict::kPass || result.observations.empty()) return result;
    absl::StatusOr<nlohmann::json> saved = variables_.Resolve("${" + step.save + "}");
    if (!saved.ok()) return result;
    SharedInstance made;
    made.key = key;
    made.method = step.method;
    made.saved = *saved;
    made.observation = result.observations.back();
    made.suffix = suffix_;
    made.made_by = scenario_.id;
    made.uses = 1;
    if (step.method == "RunPodSandbox") {
      made.id = saved->value("pod_sandbox_id", "");
      made.sandbox_config = sandbox_configs_[made.id];
      made.log_directory = made.sandbox_config.value("log_directory", "");
      // The pool undoes it now, not this scenario's cleanup: the pod and its
      // log directory (which PrepareHost listed apart, for a failed run).
      for (Created& created : created_) {
        if (created.kind == Created::Kind::kSandbox &&
            (created.id == made.id || (created.id.empty() && created.log_directory == made.log_directory))) {
          created.id.clear();
          created.log_directory.clear();
        }
      }
    } else {
      made.id = saved->value("request", nlohmann::json::object()).value("image", nlohmann::json::object()).value("image", "");
    }
    leases_.push_back(std::move(made));
    return result;
  }

  StepResult RunStep(const Step& step, int index) {
    StepResult result;
    result.index = index;
    result.name = step.name;
    result.kind = step.kind == Step::Kind::kCall    ? "call"
                  : step.kind == Step::Kind::kHost  ? "host"
                  : step.kind == Step::Kind::kAwait ? "await"
                                                    : "log";
    result.method = step.method;
    absl::Time start = absl::Now();
    if (!step.when.is_null()) {
      absl::StatusOr<nlohmann::json> when = variables_.Resolve(step.when);
      const bool known = when.ok() && (when->is_boolean() || *when == "true" || *when == "false");
      if (!known) {
        result.verdict = Verdict::kError;
        result.message = when.ok() ? crisp::StrCat("when: ", step.when.dump(), " is ", when->dump(), ", not true or false")
                                   : std::string(crisp::View(when.status().message()));
        return result;
      }
      if (*when == false || *when == "false") {
        result.message = crisp::StrCat("skipped: when: ", step.when.get<std::string>(), " is false");
        result.observations.push_back({{"skipped", true}});
        // Later steps may ask whether it ran: "${NAME.ok}" is false.
        if (!step.save.empty()) variables_.Set(step.save, {{"ok", false}, {"skipped", true}});
        return result;
      }
    }
    absl::Time wait_until = step.wait ? start + step.wait->timeout : start;
    // An await of a background call judges its one answer, once.
    const bool awaits_call = step.kind == Step::Kind::kAwait && step.awaits_call;
    while (true) {
      ++result.attempts;
      Attempt attempt = step.kind == Step::Kind::kCall && step.opens_stream ? OpenStream(step)
                        : step.kind == Step::Kind::kCall && step.background ? StartCall(step)
                        : step.kind == Step::Kind::kCall                 ? Call(step)
                        : step.kind == Step::Kind::kHost                 ? HostStep(step)
                        : awaits_call                                    ? AwaitCall(step)
                        : step.kind == Step::Kind::kAwait                ? Await(step, /*last=*/false)
                                                                         : ReadLog(step);
      if (step.kind == Step::Kind::kAwait && !awaits_call &&
          (attempt.verdict != Verdict::kFail || attempt.final || !step.wait || absl::Now() >= wait_until ||
           absl::Now() >= deadline_ || Cancelled())) {
        attempt = Await(step, /*last=*/true);  // the stream is closed and judged once more, as it ended
      }
      result.observations.push_back(std::move(attempt.observation));
      result.verdict = attempt.verdict;
      result.message = attempt.message;
      // Only a failed expectation is worth another try; errors are final.
      if (attempt.verdict != Verdict::kFail || attempt.final || !step.wait || absl::Now() >= wait_until ||
          absl::Now() >= deadline_ || Cancelled()) {
        if (attempt.verdict == Verdict::kFail && step.wait) {
          result.message += crisp::StrCat(" (still so after ", result.attempts, " attempts in ",
                                          absl::FormatDuration(absl::Now() - start), ")");
        }
        break;
      }
      absl::SleepFor(std::min(step.wait->Pause(result.attempts), wait_until - absl::Now()));
    }
    result.duration = absl::Now() - start;
    return result;
  }

  struct Attempt {
    Verdict verdict = Verdict::kPass;
    std::string message;
    nlohmann::json observation;
    bool final = false;  // a failure no later attempt can change
  };

  Attempt HarnessError(std::string message, nlohmann::json observation = nlohmann::json::object()) {
    return {Verdict::kError, std::move(message), std::move(observation)};
  }

  // The request of a call step, with references resolved and the
  // per-run changes that keep parallel runs apart.
  absl::StatusOr<nlohmann::json> BuildRequest(const Step& step) {
    absl::StatusOr<nlohmann::json> request = variables_.Resolve(step.request);
    if (!request.ok()) return request.status();
    if (step.method == "RunPodSandbox" && request->contains("config")) {
      MakeSandboxUnique((*request)["config"]);
      if (AsKubelet()) kubelet::AddSandboxLabels((*request)["config"]);
    }
    if (step.method == "CreateContainer") {
      // The sandbox config is the one the sandbox was run with.
      auto sandbox = sandbox_configs_.find((*request).value("pod_sandbox_id", ""));
      if (sandbox != sandbox_configs_.end() && !request->contains("sandbox_config")) {
        (*request)["sandbox_config"] = sandbox->second;
      }
      if (AsKubelet() && request->contains("config")) {
        const nlohmann::json& pod = sandbox != sandbox_configs_.end() ? sandbox->second
                                                                      : request->value("sandbox_config", nlohmann::json());
        kubelet::InheritNamespaces(pod, (*request)["config"]);
        kubelet::AddContainerLabels(pod, (*request)["config"]);
        kubelet::AddContainerAnnotations((*request)["config"]);
        kubelet::AddLogPath(pod, (*request)["config"]);
      }
    }
    return request;
  }

  // What the kubelet makes on the host before the call (kubelet.h): the
  // pod's log directory before RunPodSandbox, the container's before
  // CreateContainer. Only per-run directories (they carry the suffix), and
  // each is removed with the pod's log directory when the scenario ends.
  absl::Status PrepareHost(const Step& step, const nlohmann::json& request) {
    if (!AsKubelet()) return absl::OkStatus();
    std::string directory;
    if (step.method == "RunPodSandbox") {
      directory = kubelet::PodLogDirectory(request.value("config", nlohmann::json()));
      if (directory.find(suffix_) == std::string::npos) return absl::OkStatus();
      // Removed at the end even if the sandbox never comes to be.
      created_.push_back({Created::Kind::kSandbox, "", directory});
    } else if (step.method == "CreateContainer") {
      directory = kubelet::ContainerLogDirectory(request.value("sandbox_config", nlohmann::json()),
                                                 request.value("config", nlohmann::json()));
      // In this run's pod directories only: the scenario's own or a shared pod's.
      if (std::none_of(own_suffixes_.begin(), own_suffixes_.end(),
                       [&](const std::string& own) { return directory.find(own) != std::string::npos; })) {
        return absl::OkStatus();
      }
    }
    if (directory.empty()) return absl::OkStatus();
    return kubelet::MakeDirectory(directory);
  }

  void MakeSandboxUnique(nlohmann::json& config) {
    // A name or uid the scenario left empty, or metadata it left out, is
    // the point of the scenario (suites/robustness): it stays so, and the
    // run-id label still finds the pod for cleanup.
    if (config.contains("metadata") && config["metadata"].is_object()) {
      nlohmann::json& metadata = config["metadata"];
      for (const char* key : {"name", "uid"}) {
        std::string value = metadata.value(key, "crisp");
        if (!value.empty()) metadata[key] = crisp::StrCat(value, "-", suffix_);
      }
      if (!metadata.contains("namespace")) metadata["namespace"] = "crisp";
    }
    config["labels"][kRunIdLabel] = options_.run_id;
    config["labels"][kScenarioLabel] = scenario_.id;
    if (config.contains("log_directory") && !config["log_directory"].get<std::string>().empty()) {
      config["log_directory"] = crisp::StrCat(config["log_directory"].get<std::string>(), "-", suffix_);
    }
    if (config.contains("port_mappings")) {
      for (auto& mapping : config["port_mappings"]) {
        if (mapping.value("host_port", 0) == 0) continue;
        // No free port found (0): the scenario's own port stays.
        if (int port = FreeHostPort(); port != 0) {
          mapping["host_port"] = port;
          host_ports_.push_back(port);
        }
      }
    }
  }

  // Opens a server-streaming call, which collects messages while the next
  // steps run. The step waits up to 2 s for the runtime to take the call
  // (its headers), so that what those steps do is not missed; a runtime
  // that sends no headers before its first message is not waited for longer.
  Attempt OpenStream(const Step& step) {
    absl::StatusOr<nlohmann::json> request_json = variables_.Resolve(step.request);
    if (!request_json.ok()) return HarnessError(std::string(crisp::View(request_json.status().message())));
    const client::MethodDescriptor* method = *client::FindCriMethod(step.method);
    std::unique_ptr<google::protobuf::Message> request = client::NewRequest(*method);
    if (absl::Status parsed = client::ParseJsonInto(request_json->dump(), request.get()); !parsed.ok()) {
      return HarnessError(std::string(crisp::View(parsed.message())), {{"request", *request_json}});
    }
    // The stream may stay open until the scenario's end.
    absl::Duration timeout = step.timeout.value_or(std::max(absl::ZeroDuration(), deadline_ - absl::Now()));
    std::unique_ptr<client::CriStream> stream = client_.OpenStream(*method, *request, {.timeout = timeout});
    bool started = stream->AwaitStarted(absl::Seconds(2));
    streams_[step.save] = {step.method, *request_json, std::move(stream)};
    return {Verdict::kPass, "", {{"request", *request_json}, {"stream", "opened"}, {"headers", started}}};
  }

  // Checks what an open stream has collected: {"messages": [...]}, and its
  // code once it has ended. `last`: close it first (cancel if it runs on),
  // so the verdict is on everything it will ever say.
  Attempt Await(const Step& step, bool last) {
    auto found = streams_.find(step.await_of);
    if (found == streams_.end() || !found->second.stream) {
      return HarnessError(crisp::StrCat("no stream \"", step.await_of, "\" is open (it was awaited before)"));
    }
    OpenedStream& opened = found->second;
    client::CallRecord record;
    bool ended = last || opened.stream->Ended();
    if (ended) record = opened.stream->Close();
    nlohmann::json messages = nlohmann::json::array();
    for (const auto& message : opened.stream->Messages()) messages.push_back(client::ProtoToJson(*message));
    if (last) opened.stream.reset();
    nlohmann::json observation = {{"method", step.method},
                                  {"request", opened.request},
                                  {"code_name", ended ? std::string(client::GrpcCodeName(record.code)) : "OK"},
                                  {"response", {{"messages", messages}}}};
    if (ended && !record.ok()) record.method = step.method;
    if (ended) {
      if (std::optional<Attempt> judged = JudgeCode(step, step.expect, record)) {
        judged->observation = std::move(observation);
        return *std::move(judged);
      }
    }
    Attempt attempt = Check(step.expect, {{"messages", messages}}, nlohmann::json());
    attempt.observation = std::move(observation);
    return attempt;
  }

  // A call step's request, built, parsed and prepared for as the kubelet
  // would (PrepareHost); or the harness error that stops it.
  struct PreparedCall {
    nlohmann::json request_json;
    std::unique_ptr<google::protobuf::Message> request;
    const client::MethodDescriptor* method = nullptr;
    absl::Duration timeout;
  };
  std::variant<PreparedCall, Attempt> PrepareCall(const Step& step) {
    absl::StatusOr<nlohmann::json> request_json = BuildRequest(step);
    if (!request_json.ok()) {
      return HarnessError(std::string(crisp::View(request_json.status().message())));
    }
    if (absl::Status prepared = PrepareHost(step, *request_json); !prepared.ok()) {
      return HarnessError(crisp::StrCat("doing what the kubelet does before ", step.method, ": ",
                                        crisp::View(prepared.message())),
                          {{"request", *request_json}});
    }
    const client::MethodDescriptor* method = *client::FindCriMethod(step.method);
    std::unique_ptr<google::protobuf::Message> request = client::NewRequest(*method);
    if (absl::Status parsed = client::ParseJsonInto(request_json->dump(), request.get()); !parsed.ok()) {
      return HarnessError(std::string(crisp::View(parsed.message())), {{"request", *request_json}});
    }
    absl::Duration timeout = step.timeout.value_or(DefaultTimeout(step.method, options_.call_timeout));
    if (step.method == "ExecSync") {
      // The runtime's own exec timeout must run out before our deadline.
      auto* exec = static_cast<v1::ExecSyncRequest*>(request.get());
      timeout = std::max(timeout, absl::Seconds(exec->timeout()) + absl::Seconds(30));
    }
    static const std::set<std::string> kWork = {"RunPodSandbox", "CreateContainer", "ExecSync", "Exec", "Attach",
                                                "PullImage"};
    if (kWork.count(step.method)) work_[step.method] += step.concurrent;
    return PreparedCall{*std::move(request_json), std::move(request), method, timeout};
  }

  Attempt Call(const Step& step) {
    std::variant<PreparedCall, Attempt> prepared = PrepareCall(step);
    if (Attempt* stopped = std::get_if<Attempt>(&prepared)) return *std::move(stopped);
    PreparedCall& call = std::get<PreparedCall>(prepared);
    // Usually one call; `concurrent: N` issues N at once, and each must end
    // as expected.
    std::vector<client::CallRecord> records(static_cast<size_t>(step.concurrent));
    const client::CallOptions options{.timeout = call.timeout, .cancel = options_.cancel};
    if (records.size() == 1) {
      records[0] = client_.Call(*call.method, *call.request, options);
    } else {
      std::vector<std::thread> threads;
      for (size_t i = 0; i < records.size(); ++i) {
        threads.emplace_back([&, i] { records[i] = client_.Call(*call.method, *call.request, options); });
      }
      for (std::thread& thread : threads) thread.join();
    }
    return Judge(step, call.request_json, records);
  }

  // Starts a `background: true` call and goes on; a later await: step
  // (AwaitCall) waits for its answer and judges it.
  Attempt StartCall(const Step& step) {
    std::variant<PreparedCall, Attempt> prepared = PrepareCall(step);
    if (Attempt* stopped = std::get_if<Attempt>(&prepared)) return *std::move(stopped);
    PreparedCall& call = std::get<PreparedCall>(prepared);
    auto pending = std::make_unique<PendingCall>();
    pending->step = &step;
    pending->request_json = call.request_json;
    pending->request = std::move(call.request);
    PendingCall* raw = pending.get();
    raw->thread = std::thread([this, raw, method = call.method, timeout = call.timeout] {
      raw->record = client_.Call(*method, *raw->request, {.timeout = timeout, .cancel = options_.cancel});
    });
    pending_[step.save] = std::move(pending);
    return {Verdict::kPass, "", {{"request", call.request_json}, {"call", "started"}}};
  }

  // Waits for a background call's answer and judges it with the await
  // step's expectations; the answer is saved under the starting step's name.
  Attempt AwaitCall(const Step& step) {
    auto found = pending_.find(step.await_of);
    if (found == pending_.end()) {
      absl::StatusOr<nlohmann::json> skipped = variables_.Resolve("${" + step.await_of + ".skipped}");
      if (skipped.ok() && *skipped == true) {
        return {Verdict::kPass, crisp::StrCat("skipped: the call ", step.await_of, " was skipped"), {{"skipped", true}}};
      }
      return HarnessError(crisp::StrCat("no call \"", step.await_of, "\" is in flight"));
    }
    std::unique_ptr<PendingCall> pending = std::move(found->second);
    pending_.erase(found);
    pending->thread.join();
    Step judged = *pending->step;  // its method and save, with the await step's expectations
    judged.name = step.name;
    judged.expect = step.expect;
    std::vector<client::CallRecord> records = {std::move(pending->record)};
    return Judge(judged, pending->request_json, records);
  }

  // The verdict on a call step's answers (one, or `concurrent:` many);
  // what they made is kept for cleanup and their answer saved.
  Attempt Judge(const Step& step, const nlohmann::json& request_json, const std::vector<client::CallRecord>& records) {
    // Whatever the verdict, what the calls made is removed at the end.
    for (const client::CallRecord& record : records) Keep(step, request_json, record);
    nlohmann::json observation;
    if (records.size() == 1) {
      observation = client::ToJson(records[0]);
    } else {
      nlohmann::json calls = nlohmann::json::array();
      std::set<std::string> codes;
      for (const client::CallRecord& record : records) {
        calls.push_back(client::ToJson(record));
        codes.insert(std::string(client::GrpcCodeName(record.code)));
      }
      observation = {{"request", request_json},
                     {"concurrent", step.concurrent},
                     {"code_name", codes.size() == 1 ? *codes.begin() : "mixed"},
                     {"calls", std::move(calls)}};
    }
    if (Cancelled() && std::any_of(records.begin(), records.end(), [](const client::CallRecord& record) {
          return record.code == absl::StatusCode::kCancelled;
        })) {
      return HarnessError("interrupted during the call", std::move(observation));
    }
    auto which = [&](size_t i) {
      return records.size() == 1 ? std::string() : crisp::StrCat("call ", i + 1, " of ", records.size(), ": ");
    };
    if (!step.expect.any_of.empty()) return JudgeAlternatives(step, records[0], std::move(observation));
    for (size_t i = 0; i < records.size(); ++i) {
      if (std::optional<Attempt> judged = JudgeCode(step, step.expect, records[i])) {
        judged->message = which(i) + judged->message;
        judged->observation = std::move(observation);
        return *std::move(judged);
      }
    }
    for (size_t i = 0; i < records.size(); ++i) {
      Attempt attempt = Check(step.expect, Answer(records[i]), nlohmann::json());
      if (attempt.verdict != Verdict::kPass) {
        attempt.message = which(i) + attempt.message;
        attempt.observation = std::move(observation);
        return attempt;
      }
    }
    return {Verdict::kPass, "", std::move(observation)};
  }

  // What the code of one answer says, when it settles the step: the runtime
  // unreachable, UNIMPLEMENTED where the scenario allows it (n.a.), or not
  // the code expected. nullopt: go on to the checks.
  std::optional<Attempt> JudgeCode(const Step& step, const scenario::Expectation& expect,
                                   const client::CallRecord& record) {
    if (!record.transport_ready && !record.ok()) {
      return HarnessError(crisp::StrCat("the runtime is unreachable (", client::GrpcCodeName(record.code), ": ",
                                        record.message, ")"));
    }
    const std::string& want = expect.code;
    if (scenario::CodeMatches(want, static_cast<int>(record.code))) return std::nullopt;
    if (record.code == absl::StatusCode::kUnimplemented) {
      const auto& allowed = scenario_.allow_unimplemented;
      if (std::find(allowed.begin(), allowed.end(), step.method) != allowed.end()) {
        return Attempt{Verdict::kNotApplicable,
                       crisp::StrCat("the runtime does not implement ", step.method,
                                     " (Unimplemented), which this scenario allows"),
                       {}};
      }
      // It will not be implemented by the next attempt of a wait.
      return Attempt{Verdict::kFail, crisp::StrCat("expected code ", want, ", got Unimplemented: ", record.message), {},
                     /*final=*/true};
    }
    std::string got = record.ok() ? "OK" : crisp::StrCat(client::GrpcCodeName(record.code), ": ", record.message);
    return Attempt{Verdict::kFail, crisp::StrCat("expected code ", want, ", got ", got), {}};
  }

  // One answer against each answer the step allows (`any_of`): the first
  // that holds passes the step; when none does, each says why.
  Attempt JudgeAlternatives(const Step& step, const client::CallRecord& record, nlohmann::json observation) {
    nlohmann::json checked = Answer(record);
    std::string why;
    int number = 0;
    for (const scenario::Expectation& alternative : step.expect.any_of) {
      ++number;
      std::optional<Attempt> judged = JudgeCode(step, alternative, record);
      if (judged && judged->verdict == Verdict::kError) {
        judged->observation = std::move(observation);
        return *std::move(judged);
      }
      Attempt attempt = judged ? *std::move(judged) : Check(alternative, checked, nlohmann::json());
      if (attempt.verdict == Verdict::kPass || attempt.verdict == Verdict::kNotApplicable) {
        attempt.observation = std::move(observation);
        return attempt;
      }
      crisp::StrAppend(&why, why.empty() ? "" : "; ", "(", number, ") ", attempt.message);
    }
    return {Verdict::kFail, crisp::StrCat("none of the ", number, " allowed answers: ", why), std::move(observation)};
  }

  Attempt HostStep(const Step& step) {
    absl::StatusOr<nlohmann::json> args = variables_.Resolve(step.request);
    if (!args.ok()) return HarnessError(std::string(crisp::View(args.status().message())));
    nlohmann::json observation = {{"host", step.host_action}, {"args", *args}};
    absl::StatusOr<nlohmann::json> result = host_.Run(step.host_action, *args);
    if (!result.ok()) {
      return HarnessError(crisp::StrCat("host ", step.host_action, ": ", crisp::View(result.status().message())),
                          std::move(observation));
    }
    observation["result"] = *result;
    if (!step.save.empty()) variables_.Set(step.save, *result);
    if (step.expect.any_of.empty()) return Check(step.expect, *result, std::move(observation));
    // Several allowed observations: the first that holds passes the step.
    std::string why;
    int number = 0;
    for (const scenario::Expectation& alternative : step.expect.any_of) {
      ++number;
      Attempt attempt = Check(alternative, *result, observation);
      if (attempt.verdict != Verdict::kFail) return attempt;
      crisp::StrAppend(&why, why.empty() ? "" : "; ", "(", number, ") ", attempt.message);
    }
    return {Verdict::kFail, crisp::StrCat("none of the ", number, " allowed observations: ", why), std::move(observation)};
  }

  Attempt Check(const scenario::Expectation& expect, const nlohmann::json& checked, nlohmann::json observation) {
    // Expected values may refer to saved results too.
    std::vector<scenario::Check> checks = expect.checks;
    for (scenario::Check& check : checks) {
      absl::StatusOr<nlohmann::json> operand = variables_.Resolve(check.operand);
      if (!operand.ok()) return HarnessError(std::string(crisp::View(operand.status().message())), std::move(observation));
      check.operand = *std::move(operand);
    }
    std::vector<scenario::Mismatch> mismatches = scenario::Evaluate(checks, checked);
    if (mismatches.empty()) return {Verdict::kPass, "", std::move(observation)};
    std::string message;
    for (const auto& mismatch : mismatches) {
      crisp::StrAppend(&message, message.empty() ? "" : "; ", mismatch.Describe());
    }
    return {Verdict::kFail, std::move(message), std::move(observation)};
  }

  // Saves what later steps may refer to, and what cleanup must undo.
  void Remember(const Step& step, const nlohmann::json& request, const client::CallRecord& record) {
    nlohmann::json saved = client::ProtoToJson(*record.response);
    saved["request"] = request;
    saved["ok"] = true;
    saved["code_name"] = "OK";
    if (step.method == "RunPodSandbox") {
      std::string id = saved.value("pod_sandbox_id", "");
      sandbox_configs_[id] = request.value("config", nlohmann::json::object());
      if (step.cleanup.value_or(true)) {
        Track({Created::Kind::kSandbox, id, sandbox_configs_[id].value("log_directory", "")});
      }
    } else if (step.method == "CreateContainer") {
      std::string id = saved.value("container_id", "");
      nlohmann::json sandbox = request.value("sandbox_config", nlohmann::json::object());
      if (sandbox.empty()) {
        auto known = sandbox_configs_.find(request.value("pod_sandbox_id", ""));
        if (known != sandbox_configs_.end()) sandbox = known->second;
      }
      std::string log_path = request.value("config", nlohmann::json::object()).value("log_path", "");
      std::string log_directory = sandbox.value("log_directory", "");
      if (!log_path.empty() && !log_directory.empty()) {
        saved["log_file"] = (std::filesystem::path(log_directory) / log_path).string();
      }
      if (step.cleanup.value_or(true)) Track({Created::Kind::kContainer, id, ""});
    } else if (step.method == "PullImage" && step.cleanup.value_or(false)) {
      Track({Created::Kind::kImage, request.value("image", nlohmann::json::object()).value("image", ""), ""});
    } else if (step.method == "RemovePodSandbox") {
      Forget(Created::Kind::kSandbox, request.value("pod_sandbox_id", ""));
    } else if (step.method == "RemoveContainer") {
      Forget(Created::Kind::kContainer, request.value("container_id", ""));
    }
    if (!step.save.empty()) variables_.Set(step.save, std::move(saved));
  }

  // What `that:` checks of an answer: the response, or the error's message.
  static nlohmann::json Answer(const client::CallRecord& record) {
    return record.ok() ? client::ProtoToJson(*record.response) : nlohmann::json{{"message", record.message}};
  }

  // Keeps an answer the step accepted: an OK one as Remember does; one the
  // runtime refused is saved too, so a later step can depend on which
  // answer came: {ok: false, code_name, message, request}.
  void Keep(const Step& step, const nlohmann::json& request, const client::CallRecord& record) {
    if (record.ok()) {
      Remember(step, request, record);
      return;
    }
    if (step.save.empty()) return;
    variables_.Set(step.save, {{"ok", false},
                               {"code_name", std::string(client::GrpcCodeName(record.code))},
                               {"message", record.message},
                               {"request", request}});
  }

  // Something to undo at the end, once: a runtime that answers a second
  // create with the first one's ID (CRI-O, for a container name in use)
  // made nothing new, and removing it twice would blame the runtime for
  // crisp's second call.
  void Track(Created created) {
    if (!created.id.empty() && std::any_of(created_.begin(), created_.end(), [&](const Created& known) {
          return known.kind == created.kind && known.id == created.id;
        })) {
      return;
    }
    created_.push_back(std::move(created));
  }

  void Forget(Created::Kind kind, const std::string& id) {
    for (auto& created : created_) {
      if (created.kind == kind && created.id == id) created.id.clear();
    }
  }

  Attempt ReadLog(const Step& step) {
    absl::StatusOr<nlohmann::json> file = variables_.Resolve("${" + step.log_of + ".log_file}");
    if (!file.ok()) {
      return HarnessError(crisp::StrCat("no log file is known for \"", step.log_of,
                                        "\": its CreateContainer request needs log_path and the "
                                        "sandbox a log_directory"));
    }
    std::string path = file->get<std::string>();
    std::ifstream in(path);
    nlohmann::json log;
    if (in) {
      std::ostringstream text;
      text << in.rdbuf();
      log = scenario::LogObservation(scenario::ParseCriLog(text.str()));
      log["exists"] = true;
    } else {
      log = scenario::LogObservation(scenario::ParsedLog{});
      log["exists"] = false;
    }
    log["path"] = path;
    if (!step.save.empty()) variables_.Set(step.save, log);
    return Check(step.expect, log, {{"path", path}, {"log", log}});
  }

  // One cleanup call; NotFound means already gone. `failure` is "" on success.
  struct UndoAnswer {
    std::string method;
    std::string code_name;
    std::string failure;
  };

  void CleanUp(ScenarioResult& result) {
    for (auto& [name, opened] : streams_) {
      if (opened.stream) opened.stream->Close();  // a stream no step awaited
    }
    streams_.clear();
    // A background call no step awaited (the scenario stopped before): its
    // answer is waited for, so that what it made is removed too.
    for (auto& [name, pending] : pending_) {
      pending->thread.join();
      Keep(*pending->step, pending->request_json, pending->record);
    }
    pending_.clear();
    CleanUpRuntime(result);
    // Host-side things last: the runtime's containers may have used them.
    for (const std::string& problem : host_.Undo()) {
      result.cleanup.push_back("host: FAILED: " + problem);
      if (result.verdict == Verdict::kPass) {
        result.verdict = Verdict::kError;
        result.reason = "cleanup failed: " + result.cleanup.back();
      }
    }
  }

  // Sandboxes go first: removing a sandbox stops and removes its containers
  // in one call, where removing each container first costs a stop apiece.
  // The containers' own removal follows and finds them gone (NotFound), so a
  // runtime that left one behind is still caught.
  //
  // Containers left then (those in a shared pod) are removed at once, each
  // on a thread of its own, as a kubelet kills a pod's containers: a
  // runtime that gives a container ignoring SIGTERM a grace period before
  // killing it gives them all one, not one each.
  void CleanUpRuntime(ScenarioResult& result) {
    for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
      if (it->kind == Created::Kind::kSandbox) UndoOne(*it, result);
    }
    std::vector<const Created*> containers;
    for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
      if (it->kind == Created::Kind::kContainer && !it->id.empty()) containers.push_back(&*it);
    }
    std::vector<UndoAnswer> removed(containers.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < containers.size(); ++i) {
      threads.emplace_back([&, i] { removed[i] = RemoveContainer(containers[i]->id); });
    }
    for (std::thread& thread : threads) thread.join();
    for (size_t i = 0; i < containers.size(); ++i) SettleContainer(containers[i]->id, removed[i], result);
    for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
      if (it->kind == Created::Kind::kImage) UndoOne(*it, result);
    }
  }

  UndoAnswer RemoveContainer(const std::string& id) {
    v1::RemoveContainerRequest remove;
    remove.set_container_id(id);
    return Undo("RemoveContainer", remove);
  }

  void SettleContainer(const std::string& id, const UndoAnswer& removed, ScenarioResult& result) {
    v1::ContainerStatusRequest status;
    status.set_container_id(id);
    std::string failure = Settle({&removed}, "ContainerStatus", status, "container", result);
    failure = RetryRemoval(std::move(failure), "container", result, [&] { return RemoveContainer(id).failure; });
    result.cleanup.push_back(crisp::StrCat("container ", id.substr(0, 13), failure.empty() ? ": removed" : ": FAILED: " + failure));
    if (!failure.empty() && result.verdict == Verdict::kPass) {
      result.verdict = Verdict::kError;
      result.reason = "cleanup failed: " + result.cleanup.back();
    }
  }

  void UndoOne(const Created& created, ScenarioResult& result) {
    if (created.id.empty()) {
      if (!created.log_directory.empty()) RemoveLogDirectory(created.log_directory, result);
      return;
    }
    std::string failure;
    switch (created.kind) {
      case Created::Kind::kSandbox: {
        v1::StopPodSandboxRequest stop;
        stop.set_pod_sandbox_id(created.id);
        UndoAnswer stopped = Undo("StopPodSandbox", stop);
        v1::RemovePodSandboxRequest remove;
        remove.set_pod_sandbox_id(created.id);
        UndoAnswer removed = Undo("RemovePodSandbox", remove);
        v1::PodSandboxStatusRequest status;
        status.set_pod_sandbox_id(created.id);
        failure = Settle({&stopped, &removed}, "PodSandboxStatus", status, "pod sandbox", result);
        failure = RetryRemoval(std::move(failure), "pod sandbox", result, [&] {
          std::string again = Undo("StopPodSandbox", stop).failure;
          return again.empty() ? Undo("RemovePodSandbox", remove).failure : again;
        });
        result.cleanup.push_back(crisp::StrCat("pod sandbox ", created.id.substr(0, 13),
                                               failure.empty() ? ": removed" : ": FAILED: " + failure));
        RemoveLogDirectory(created.log_directory, result);
        break;
      }
      case Created::Kind::kContainer: {
        SettleContainer(created.id, RemoveContainer(created.id), result);
        return;  // SettleContainer judged it
      }
      case Created::Kind::kImage: {
        // An image the scenario removed itself is not removed again: a
        // kubelet removes only images it sees, and runtimes differ in how
        // they answer a second removal (idempotence.* judges that).
        v1::ImageStatusRequest status;
        status.mutable_image()->set_image(created.id);
        client::CallRecord seen = client_.Call(**client::FindCriMethod("ImageStatus"), status,
                                               {.timeout = options_.call_timeout});
        if (seen.ok() && !static_cast<const v1::ImageStatusResponse&>(*seen.response).has_image()) {
          result.cleanup.push_back(crisp::StrCat("image ", created.id, ": already gone"));
          break;
        }
        v1::RemoveImageRequest remove;
        remove.mutable_image()->set_image(created.id);
        failure = Undo("RemoveImage", remove).failure;
        result.cleanup.push_back(crisp::StrCat("image ", created.id,
                                               failure.empty() ? ": removed" : ": FAILED: " + failure));
        break;
      }
    }
    if (!failure.empty() && result.verdict == Verdict::kPass) {
      result.verdict = Verdict::kError;
      result.reason = "cleanup failed: " + result.cleanup.back();
    }
  }

  // One cleanup call.
  UndoAnswer Undo(std::string_view method, const google::protobuf::Message& request) {
    client::CallRecord record = client_.Call(**client::FindCriMethod(method), request,
                                             {.timeout = DefaultTimeout(method, options_.call_timeout)});
    if (record.ok() || record.code == absl::StatusCode::kNotFound) return {std::string(method), "", ""};
    std::string code(client::GrpcCodeName(record.code));
    return {std::string(method), code, crisp::StrCat(method, ": ", code, ": ", record.message)};
  }

  // The failures of an object's cleanup calls, unless its status call says
  // it is gone (NotFound): then each failed call is a finding about the
  // runtime (it answered an error for something already gone: a kubelet
  // retrying a removal would see the same), recorded on the scenario and
  // not an error of it. Returns what is left to report as a failure.
  std::string Settle(std::initializer_list<const UndoAnswer*> answers, std::string_view status_method,
                     const google::protobuf::Message& status, std::string_view what, ScenarioResult& result) {
    std::string failure;
    for (const UndoAnswer* answer : answers) {
      if (!answer->failure.empty()) crisp::StrAppend(&failure, failure.empty() ? "" : "; ", answer->failure);
    }
    if (failure.empty()) return "";
    client::CallRecord seen = client_.Call(**client::FindCriMethod(status_method), status,
                                           {.timeout = options_.call_timeout});
    if (seen.code != absl::StatusCode::kNotFound) return failure;
    for (const UndoAnswer* answer : answers) {
      if (answer->failure.empty()) continue;
      result.findings.push_back(crisp::StrCat(answer->method, " of a ", what, " already gone answered ",
                                              answer->code_name, ", not OK or NotFound"));
    }
    result.cleanup.push_back(crisp::StrCat("(", failure, "; ", status_method, " answers NotFound: gone)"));
    return "";
  }

  // A removal that failed while the object remains is tried once more
  // after a pause, as the kubelet's garbage collection tries again on its
  // next pass (a container that exits as it is removed can make containerd
  // 1.6 answer "still running"). If the second try removes it, the first
  // failure is a finding about the runtime, not an error of the scenario.
  std::string RetryRemoval(std::string failure, std::string_view what, ScenarioResult& result,
                           const std::function<std::string()>& again) {
    if (failure.empty() || Cancelled()) return failure;
    absl::SleepFor(kRemovalRetryPause);
    std::string second = again();
    if (!second.empty()) return crisp::StrCat(failure, "; again after ", absl::FormatDuration(kRemovalRetryPause), ": ", second);
    result.findings.push_back(crisp::StrCat("a ", what, " removal at cleanup failed (", failure,
                                            ") and succeeded when tried again"));
    return "";
  }
  static constexpr absl::Duration kRemovalRetryPause = absl::Milliseconds(500);

  // Log directories are per run (they carry the suffix); the runtime made
  // them on this host.
  void RemoveLogDirectory(const std::string& directory, ScenarioResult& result) {
    if (directory.empty() || directory.find(suffix_) == std::string::npos) return;
    std::error_code error;
    std::filesystem::remove_all(directory, error);
    if (error) result.cleanup.push_back(crisp::StrCat("log directory ", directory, ": ", error.message()));
  }

  const Scenario& scenario_;
  client::CriClient& client_;
  const RunOptions& options_;
  const Capabilities& capabilities_;
  SharedPool* const pool_;
  const std::string suffix_;
  std::vector<std::string> own_suffixes_;  // this scenario's, and those of shared pods it was handed
  std::vector<SharedInstance> leases_;     // shared results it holds, given back at its end
  std::map<std::string, int> work_;        // calls that made runtime work, by RPC
  HostSide host_;
  std::vector<int> host_ports_;
  absl::Time deadline_;
  scenario::Variables variables_;
  std::map<std::string, nlohmann::json> sandbox_configs_;  // by sandbox ID
  std::vector<Created> created_;
  bool making_shared_ = false;  // the step being run is a shared one (uses:)
  struct OpenedStream {
    std::string method;
    nlohmann::json request;
    std::unique_ptr<client::CriStream> stream;  // null once awaited
  };
  std::map<std::string, OpenedStream> streams_;  // by the opening step's save
  struct PendingCall {
    const Step* step = nullptr;  // the scenario's: it outlives the call
    nlohmann::json request_json;
    std::unique_ptr<google::protobuf::Message> request;  // the thread's to read until it ends
    client::CallRecord record;                           // the thread's to write until joined
    std::thread thread;
    ~PendingCall() {
      if (thread.joinable()) thread.join();  // cleanup joins first; this is for an exception on the way
    }
  };
  std::map<std::string, std::unique_ptr<PendingCall>> pending_;  // background calls, by the starting step's save
};

// The order scenarios start in: by how long each took last time, the
// longest first, so that the last to finish is a short one; those with no
// figure (new, or no --durations) before them, in the order given.
std::vector<size_t> StartOrder(const std::vector<const Scenario*>& scenarios,
                               const std::map<std::string, absl::Duration>& durations) {
  std::vector<size_t> order(scenarios.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (durations.empty()) return order;
  auto took = [&](size_t i) {
    auto found = durations.find(scenarios[i]->id);
    return found == durations.end() ? absl::InfiniteDuration() : found->second;
  };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return took(a) > took(b); });
  return order;
}

}  // namespace

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass: return "pass";
    case Verdict::kFail: return "fail";
    case Verdict::kError: return "error";
    case Verdict::kSkip: return "skip";
    case Verdict::kNotApplicable: return "na";
    case Verdict::kKnown: return "known";
  }
  return "?";
}

int RunResult::Count(Verdict verdict) const {
  return static_cast<int>(std::count_if(scenarios.begin(), scenarios.end(),
                                        [&](const ScenarioResult& r) { return r.verdict == verdict; }));
}

std::string NewRunId() {
  return crisp::StrCat(absl::FormatTime("%Y%m%d-%H%M%S", absl::Now(), absl::UTCTimeZone()), "-",
                       RandomHex(6));
}

Runner::Runner(client::CriClient& client, client::Endpoint endpoint, RunOptions options)
    : client_(client), endpoint_(std::move(endpoint)), options_(std::move(options)) {
  if (options_.run_id.empty()) options_.run_id = NewRunId();
  options_.jobs = std::max(1, options_.jobs);
}

ScenarioResult Runner::RunScenario(const Scenario& scenario, const nlohmann::json& version, SharedPool* pool) {
  if (options_.progress != nullptr) options_.progress->ScenarioStarted(scenario);
  ScenarioResult result = Execution(scenario, client_, options_, *options_.capabilities, pool).Run();
  if (options_.baseline != nullptr) ApplyBaseline(*options_.baseline, endpoint_.name, version, result);
  if (options_.progress != nullptr) options_.progress->ScenarioFinished(result);
  return result;
}

RunResult Runner::Run(const std::vector<const Scenario*>& scenarios, const nlohmann::json& version) {
  RunResult run;
  run.run_id = options_.run_id;
  run.endpoint = endpoint_;
  run.runtime_version = version;
  run.node = NodeFacts::Probe().ToJson();
  run.start = absl::Now();
  Capabilities probed;
  if (options_.capabilities == nullptr) {
    probed = Capabilities::Probe(client_, options_.call_timeout, endpoint_.socket_path);
    options_.capabilities = &probed;
  }
  run.capabilities = options_.capabilities->ToJson();
  run.scenarios.resize(scenarios.size());
  std::vector<char> started(scenarios.size(), 0);  // not vector<bool>: written by several threads
  std::vector<size_t> order = StartOrder(scenarios, options_.durations);
  std::optional<SharedPool> pool;
  if (options_.fixture_scope != FixtureScope::kScenario) pool.emplace(client_, options_.call_timeout);

  // A runtime that stops answering (killed, restarting) fails the
  // scenarios in flight; the next ones wait for it to answer again, for at
  // most options_.reconnect_wait from when it was found gone, instead of
  // all failing at once while it restarts.
  absl::Mutex reconnect_mu;
  std::optional<absl::Time> lost_since;  // guarded by reconnect_mu
  auto answers = [&](absl::Duration timeout) {
    runtime::v1::VersionRequest request;
    client::CallRecord record = client_.Call(**client::FindCriMethod("Version"), request, {.timeout = timeout});
    return record.code != absl::StatusCode::kUnavailable && record.code != absl::StatusCode::kDeadlineExceeded;
  };
  auto await_runtime = [&] {
    absl::MutexLock lock(&reconnect_mu);
    // A runtime that died between scenarios is found before the next starts.
    if (!lost_since && !answers(absl::Seconds(2))) lost_since = absl::Now();
    if (!lost_since) return;
    while (absl::Now() < *lost_since + options_.reconnect_wait) {
      if (options_.cancel != nullptr && options_.cancel->load()) return;
      if (answers(absl::Seconds(1))) {
        lost_since.reset();
        return;
      }
      absl::SleepFor(absl::Milliseconds(250));
    }
  };
  std::atomic<size_t> next{0};
  auto worker = [&] {
    while (true) {
      size_t position = next.fetch_add(1);
      if (position >= order.size()) return;
      if (options_.cancel != nullptr && options_.cancel->load()) return;
      await_runtime();
      const size_t index = order[position];
      started[index] = 1;
      run.scenarios[index] = RunScenario(*scenarios[index], version, pool ? &*pool : nullptr);
      if (run.scenarios[index].verdict == Verdict::kError && !answers(absl::Seconds(2))) {
        absl::MutexLock lock(&reconnect_mu);
        if (!lost_since) lost_since = absl::Now();
      }
    }
  };
  std::vector<std::thread> workers;
  size_t jobs = std::min(static_cast<size_t>(options_.jobs), std::max<size_t>(scenarios.size(), 1));
  for (size_t i = 0; i < jobs; ++i) workers.emplace_back(worker);
  for (auto& thread : workers) thread.join();

  run.interrupted = options_.cancel != nullptr && options_.cancel->load();
  for (size_t i = 0; i < scenarios.size(); ++i) {
    if (started[i]) continue;
    ScenarioResult& result = run.scenarios[i];
    result = ResultFor(*scenarios[i]);
    result.verdict = Verdict::kError;
    result.reason = "not run: the run was interrupted";
  }

  // What the scenarios shared is removed by the pool; anything else still
  // labelled with this run is a leak of cleanup: remove it.
  std::vector<std::string> shared_failures;
  if (pool) shared_failures = pool->TearDown();
  std::ostringstream ignored;
  const absl::Duration sweep_timeout = std::max(options_.call_timeout, absl::Minutes(2));
  CleanResult sweep = CleanSandboxes(client_, {{kRunIdLabel, options_.run_id}}, sweep_timeout, ignored);
  // A call crisp gave up on (interrupted, timed out, connection lost) may
  // still complete on the runtime, which does not stop a RunPodSandbox
  // because its client went away: such a pod turns up after the sweep.
  // So after any error, sweep again until nothing new has turned up for
  // kSettleQuiet (at most kSettleMax). Found by tests/e2e/interrupt_loop.sh.
  const bool settle = run.interrupted || std::any_of(run.scenarios.begin(), run.scenarios.end(), [](const auto& s) {
    return s.verdict == Verdict::kError;
  });
  if (settle) {
    constexpr absl::Duration kSettleQuiet = absl::Seconds(3), kSettleMax = absl::Seconds(30);
    const absl::Time deadline = absl::Now() + kSettleMax;
    absl::Time quiet_since = absl::Now();
    while (absl::Now() < deadline && absl::Now() - quiet_since < kSettleQuiet) {
      absl::SleepFor(absl::Milliseconds(500));
      CleanResult again = CleanSandboxes(client_, {{kRunIdLabel, options_.run_id}}, sweep_timeout, ignored);
      if (again.removed > 0) quiet_since = absl::Now();
      sweep.removed += again.removed;
      sweep.failures.insert(sweep.failures.end(), again.failures.begin(), again.failures.end());
    }
  }
  run.swept = sweep.removed;
  run.sweep_failures = sweep.failures;
  run.sweep_failures.insert(run.sweep_failures.begin(), shared_failures.begin(), shared_failures.end());
  run.end = absl::Now();
  if (options_.capabilities == &probed) options_.capabilities = nullptr;
  return run;
}

}  // namespace crisp::runner

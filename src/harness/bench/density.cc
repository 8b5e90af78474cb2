#include "harness/bench/density.h"

#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/strings.h"
#include "fmt/format.h"
#include "harness/bench/stats.h"
#include "harness/runner/runner.h"
#include "harness/runner/sweep.h"
#include "runtime/v1/api.pb.h"

namespace crisp::bench {
namespace {

namespace v1 = runtime::v1;

// One runtime's pods, and the latencies of its current batch.
struct Density {
  const Target* target = nullptr;
  std::string run_id;
  std::string purpose = "density";  // the crisp.io/bench label and the pods' name prefix
  std::vector<std::string> pods;
  std::vector<std::string> log_directories;
  std::map<std::string, std::vector<double>> latency_ms;
  int errors = 0;
  std::vector<std::string> error_messages;
  std::mutex mutex;
};

// The call, timed; the answer's status.
template <typename Response>
absl::StatusOr<Response> Timed(Density& d, std::string_view method, const google::protobuf::Message& request,
                               absl::Duration timeout) {
  const absl::Time start = absl::Now();
  absl::StatusOr<Response> answer = client::CallAs<Response>(*d.target->client, method, request, {.timeout = timeout});
  const double ms = absl::ToDoubleMilliseconds(absl::Now() - start);
  std::lock_guard lock(d.mutex);
  d.latency_ms[std::string(method)].push_back(ms);
  if (!answer.ok()) {
    ++d.errors;
    if (d.error_messages.size() < 5) d.error_messages.push_back(crisp::StrCat(method, ": ", answer.status().message()));
  }
  return answer;
}

void StartOne(Density& d, int index, const DensityOptions& options) {
  const std::string name = crisp::StrCat(d.purpose, "-", index, "-", d.run_id);
  v1::PodSandboxConfig config;
  config.mutable_metadata()->set_name(name);
  config.mutable_metadata()->set_namespace_("crisp");
  config.mutable_metadata()->set_uid(crisp::StrCat("uid-", name));
  config.set_hostname(crisp::StrCat(d.purpose, "-", index));
  config.set_log_directory(crisp::StrCat("/tmp/crisp/pods/crisp_", name));
  std::error_code ignored;
  std::filesystem::create_directories(config.log_directory() + "/sleeper", ignored);  // as the kubelet does
  (*config.mutable_labels())["crisp.io/bench"] = d.purpose;
  (*config.mutable_labels())[runner::kRunIdLabel] = d.run_id;
  v1::RunPodSandboxRequest run;
  *run.mutable_config() = config;
  absl::StatusOr<v1::RunPodSandboxResponse> pod = Timed<v1::RunPodSandboxResponse>(d, "RunPodSandbox", run, options.call_timeout);
  {
    std::lock_guard lock(d.mutex);
    d.log_directories.push_back(config.log_directory());
    if (pod.ok()) d.pods.push_back(pod->pod_sandbox_id());
  }
  if (!pod.ok()) return;
  v1::CreateContainerRequest create;
  create.set_pod_sandbox_id(pod->pod_sandbox_id());
  create.mutable_config()->mutable_metadata()->set_name("sleeper");
  create.mutable_config()->mutable_image()->set_image(options.image);
  create.mutable_config()->add_command("sleep");
  create.mutable_config()->add_command("3600");
  create.mutable_config()->set_log_path("sleeper/0.log");
  *create.mutable_sandbox_config() = config;
  absl::StatusOr<v1::CreateContainerResponse> container =
      Timed<v1::CreateContainerResponse>(d, "CreateContainer", create, options.call_timeout);
  if (!container.ok()) return;
  v1::StartContainerRequest start;
  start.set_container_id(container->container_id());
  (void)Timed<v1::StartContainerResponse>(d, "StartContainer", start, options.call_timeout);
  v1::ListPodSandboxRequest list;
  (void)Timed<v1::ListPodSandboxResponse>(d, "ListPodSandbox", list, options.call_timeout);
}

// Stops and removes every pod of `d`, and their log directories; how many went.
int RemovePods(Density& d, const DensityOptions& options) {
  int removed = 0;
  for (const std::string& id : d.pods) removed += runner::RemoveSandbox(*d.target->client, id, options.call_timeout).empty();
  std::error_code ignored;
  for (const std::string& directory : d.log_directories) std::filesystem::remove_all(directory, ignored);
  d.pods.clear();
  d.log_directories.clear();
  return removed;
}

// Starts pods index first.. first+count-1 on `d`, `batch` at a time.
void StartPods(Density& d, int first, int count, const DensityOptions& options) {
  for (int started = 0; started < count; started += options.batch) {
    if (options.cancel != nullptr && options.cancel->load()) return;
    std::vector<std::thread> threads;
    for (int i = 0; i < std::min(options.batch, count - started); ++i) {
      threads.emplace_back([&, index = first + started + i] { StartOne(d, index, options); });
    }
    for (std::thread& thread : threads) thread.join();
  }
}

void PullOnce(Density& d, const DensityOptions& options) {
  v1::PullImageRequest pull;
  pull.mutable_image()->set_image(options.image);
  (void)client::CallAs<v1::PullImageResponse>(*d.target->client, "PullImage", pull, {.timeout = absl::Minutes(5)});
}

}  // namespace

struct PodPopulation::State : Density {};

PodPopulation::PodPopulation(const std::vector<Target>& targets, DensityOptions options) : options_(std::move(options)) {
  for (const Target& target : targets) {
    auto d = std::make_unique<State>();
    d->target = &target;
    d->run_id = runner::NewRunId();
    d->purpose = "population";
    PullOnce(*d, options_);
    runtimes_.push_back(std::move(d));
  }
}

PodPopulation::~PodPopulation() { RemoveAll(); }

void PodPopulation::GrowTo(int pods) {
  for (auto& d : runtimes_) {
    const int more = pods - static_cast<int>(d->pods.size());
    if (more <= 0) continue;
    if (options_.progress) {
      options_.progress(crisp::StrCat("population: ", d->pods.size(), " -> ", pods, " pods on ", d->target->endpoint.name));
    }
    StartPods(*d, next_index_, more, options_);
    next_index_ += more;
  }
}

nlohmann::json PodPopulation::Present() const {
  nlohmann::json present = nlohmann::json::object();
  for (const auto& d : runtimes_) {
    present[d->target->endpoint.name] = {{"pods", d->pods.size()}, {"errors", d->errors}, {"error_messages", d->error_messages}};
  }
  return present;
}

nlohmann::json PodPopulation::RemoveAll() {
  nlohmann::json removed = nlohmann::json::object();
  for (auto& d : runtimes_) {
    if (d->pods.empty() && d->log_directories.empty()) continue;
    if (options_.progress) options_.progress(crisp::StrCat("population: removing ", d->pods.size(), " pods on ", d->target->endpoint.name));
    removed[d->target->endpoint.name] = RemovePods(*d, options_);
    // A pod whose RunPodSandbox timed out here but went on in the runtime
    // is not in the list: it carries the run's label.
    std::ostringstream ignored;
    runner::CleanSandboxes(*d->target->client, {{runner::kRunIdLabel, d->run_id}}, options_.call_timeout, ignored);
  }
  return removed;
}

nlohmann::json RunDensity(const std::vector<Target>& targets, const DensityOptions& options) {
  std::vector<std::unique_ptr<Density>> runtimes;
  for (const Target& target : targets) {
    auto d = std::make_unique<Density>();
    d->target = &target;
    d->run_id = runner::NewRunId();
    runtimes.push_back(std::move(d));
  }
  nlohmann::json out = {{"pods", options.pods}, {"batch", options.batch}, {"runtimes", nlohmann::json::object()}};
  for (const Target& target : targets) {
    out["runtimes"][target.endpoint.name] = {{"batches", nlohmann::json::array()}};
  }
  // Pull once, not measured.
  for (auto& d : runtimes) PullOnce(*d, options);
  for (int started = 0; started < options.pods; started += options.batch) {
    const int batch = std::min(options.batch, options.pods - started);
    for (auto& d : runtimes) {
      if (options.cancel != nullptr && options.cancel->load()) break;
      if (options.progress) options.progress(crisp::StrCat("density ", started + batch, "/", options.pods, " on ", d->target->endpoint.name));
      d->latency_ms.clear();
      std::vector<std::thread> threads;
      for (int i = 0; i < batch; ++i) threads.emplace_back([&, index = started + i] { StartOne(*d, index, options); });
      for (std::thread& thread : threads) thread.join();
      nlohmann::json rpcs = nlohmann::json::object();
      for (const auto& [rpc, values] : d->latency_ms) rpcs[rpc] = SummaryJson(Summarise(values));
      out["runtimes"][d->target->endpoint.name]["batches"].push_back(
          {{"pods", static_cast<int>(d->pods.size())}, {"rpcs", std::move(rpcs)}});
    }
  }
  // Every pod goes, whatever happened.
  for (auto& d : runtimes) {
    if (options.progress) options.progress(crisp::StrCat("density: removing ", d->pods.size(), " pods on ", d->target->endpoint.name));
    const int removed = RemovePods(*d, options);
    nlohmann::json& runtime = out["runtimes"][d->target->endpoint.name];
    runtime["errors"] = d->errors;
    runtime["error_messages"] = d->error_messages;
    runtime["removed"] = removed;
    runtime["run_id"] = d->run_id;
  }
  return out;
}

std::string DensityMarkdown(const nlohmann::json& density) {
  std::vector<std::string> names;
  for (const auto& [name, unused] : density["runtimes"].items()) names.push_back(name);
  std::string md = crisp::StrCat("\n### density: pods with a running container, ", density["batch"].get<int>(),
                                 " at a time, up to ", density["pods"].get<int>(),
                                 "\n\np50 ms of the batch's RunPodSandbox / CreateContainer / StartContainer / "
                                 "ListPodSandbox, by pods present after it\n\n| pods |");
  for (const std::string& name : names) crisp::StrAppend(&md, " ", name, " |");
  md += "\n|---|";
  for (size_t i = 0; i < names.size(); ++i) md += "---|";
  md += "\n";
  size_t rows = 0;
  for (const std::string& name : names) rows = std::max(rows, density["runtimes"][name]["batches"].size());
  for (size_t row = 0; row < rows; ++row) {
    std::string label;
    std::string cells;
    for (const std::string& name : names) {
      const nlohmann::json& batches = density["runtimes"][name]["batches"];
      if (row >= batches.size()) {
        cells += " — |";
        continue;
      }
      const nlohmann::json& batch = batches[row];
      if (label.empty()) label = std::to_string(batch["pods"].get<int>());
      auto p50 = [&](const char* rpc) {
        return batch["rpcs"].contains(rpc) ? fmt::format("{:.0f}", batch["rpcs"][rpc]["p50_ms"].get<double>()) : "—";
      };
      crisp::StrAppend(&cells, " ", p50("RunPodSandbox"), " / ", p50("CreateContainer"), " / ", p50("StartContainer"),
                       " / ", p50("ListPodSandbox"), " |");
    }
    crisp::StrAppend(&md, "| ", label, " |", cells, "\n");
  }
  md += "| errors, removed |";
  for (const std::string& name : names) {
    const nlohmann::json& runtime = density["runtimes"][name];
    crisp::StrAppend(&md, " ", runtime.value("errors", 0), ", ", runtime.value("removed", 0), " |");
  }
  md += "\n";
  return md;
}

}  // namespace crisp::bench

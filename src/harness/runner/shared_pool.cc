#include "harness/runner/shared_pool.h"

#include <filesystem>
#include <thread>

#include "common/strings.h"
#include "harness/client/methods.h"
#include "harness/runner/sweep.h"
#include "runtime/v1/api.pb.h"

namespace crisp::runner {
namespace {

namespace v1 = runtime::v1;

}  // namespace

std::optional<SharedInstance> SharedPool::Take(const std::string& key, std::string* why) {
  while (true) {
    std::optional<SharedInstance> instance;
    {
      absl::MutexLock lock(&mu_);
      auto found = idle_.find(key);
      if (found == idle_.end()) return std::nullopt;
      instance = std::move(found->second);
      idle_.erase(found);
    }
    std::string unhealthy = Unhealthy(*instance);
    if (unhealthy.empty()) {
      ++instance->uses;
      ClearLogs(*instance);
      return instance;
    }
    *why = crisp::StrCat("the shared ", instance->method == "PullImage" ? "image" : "pod", " made by ",
                         instance->made_by, " was not reused: ", unhealthy);
    std::string failed = Destroy(*instance);
    if (!failed.empty()) crisp::StrAppend(why, " (and removing it failed: ", failed, ")");
  }
}

void SharedPool::Give(SharedInstance instance) {
  absl::MutexLock lock(&mu_);
  std::string key = instance.key;
  idle_.emplace(std::move(key), std::move(instance));
}

std::vector<std::string> SharedPool::TearDown() {
  std::multimap<std::string, SharedInstance> all;
  {
    absl::MutexLock lock(&mu_);
    all.swap(idle_);
  }
  // At once, as a kubelet tears pods down, each on a thread of its own:
  // the run waits for the slowest, not for the sum.
  std::vector<std::pair<const std::string*, const SharedInstance*>> items;
  for (const auto& [key, instance] : all) items.emplace_back(&key, &instance);
  std::vector<std::string> failed(items.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < items.size(); ++i) {
    threads.emplace_back([&, i] { failed[i] = Destroy(*items[i].second); });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<std::string> failures;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!failed[i].empty()) {
      failures.push_back(crisp::StrCat("shared ", *items[i].first, " (", items[i].second->id, "): ", failed[i]));
    }
  }
  return failures;
}

// The logs the last user's containers left (one it removed itself, with
// a RemoveContainer step, kept its log): the next user's container of the
// same name and attempt starts a log of its own, as in a pod of its own.
void SharedPool::ClearLogs(const SharedInstance& instance) {
  if (instance.log_directory.empty() || instance.suffix.empty() ||
      instance.log_directory.find(instance.suffix) == std::string::npos) {
    return;
  }
  std::error_code error;
  for (auto it = std::filesystem::directory_iterator(instance.log_directory, error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    std::error_code ignored;
    std::filesystem::remove_all(it->path(), ignored);
  }
}

std::string SharedPool::Unhealthy(const SharedInstance& instance) {
  const client::CallOptions options{.timeout = call_timeout_};
  if (instance.method == "PullImage") {
    v1::ImageStatusRequest status;
    status.mutable_image()->set_image(instance.id);
    client::CallRecord seen = client_.Call(**client::FindCriMethod("ImageStatus"), status, options);
    if (!seen.ok()) return crisp::StrCat("ImageStatus answered ", client::GrpcCodeName(seen.code), ": ", seen.message);
    if (!static_cast<const v1::ImageStatusResponse&>(*seen.response).has_image()) return "the image is gone";
    return "";
  }
  v1::PodSandboxStatusRequest status;
  status.set_pod_sandbox_id(instance.id);
  client::CallRecord seen = client_.Call(**client::FindCriMethod("PodSandboxStatus"), status, options);
  if (!seen.ok()) return crisp::StrCat("PodSandboxStatus answered ", client::GrpcCodeName(seen.code), ": ", seen.message);
  if (static_cast<const v1::PodSandboxStatusResponse&>(*seen.response).status().state() != v1::SANDBOX_READY) {
    return "the pod is not READY";
  }
  v1::ListContainersRequest list;
  list.mutable_filter()->set_pod_sandbox_id(instance.id);
  client::CallRecord listed = client_.Call(**client::FindCriMethod("ListContainers"), list, options);
  if (!listed.ok()) return crisp::StrCat("ListContainers answered ", client::GrpcCodeName(listed.code), ": ", listed.message);
  int left = static_cast<const v1::ListContainersResponse&>(*listed.response).containers_size();
  if (left > 0) return crisp::StrCat(left, " container(s) are still in the pod");
  return "";
}

std::string SharedPool::Destroy(const SharedInstance& instance) {
  if (instance.method == "PullImage") return "";
  std::string failed = RemoveSandbox(client_, instance.id, std::max(call_timeout_, absl::Minutes(2)));
  // The log directory is this run's (it carries the maker's suffix).
  if (!instance.log_directory.empty() && !instance.suffix.empty() &&
      instance.log_directory.find(instance.suffix) != std::string::npos) {
    std::error_code error;
    std::filesystem::remove_all(instance.log_directory, error);
  }
  return failed;
}

}  // namespace crisp::runner

#include "harness/runner/sweep.h"

#include "common/strings.h"
#include "runtime/v1/api.pb.h"

namespace crisp::runner {
namespace {

namespace v1 = runtime::v1;

std::string Failure(const client::CallRecord& record) {
  return crisp::StrCat(record.method, ": ", client::GrpcCodeName(record.code), ": ",
                       record.message);
}

client::CallRecord CallByName(client::CriClient& client, std::string_view method,
                              const google::protobuf::Message& request,
                              absl::Duration timeout) {
  return client.Call(**client::FindCriMethod(method), request, {.timeout = timeout});
}

}  // namespace

std::string RemoveSandbox(client::CriClient& client, const std::string& id, absl::Duration timeout) {
  v1::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(id);
  client::CallRecord stopped = CallByName(client, "StopPodSandbox", stop, timeout);
  v1::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(id);
  client::CallRecord removed = CallByName(client, "RemovePodSandbox", remove, timeout);
  if (removed.ok() || removed.code == absl::StatusCode::kNotFound) return "";
  return crisp::StrCat(stopped.ok() || stopped.code == absl::StatusCode::kNotFound ? "" : Failure(stopped) + "; ",
                       Failure(removed));
}

CleanResult CleanSandboxes(client::CriClient& client,
                           const std::map<std::string, std::string>& labels,
                           absl::Duration timeout, std::ostream& log) {
  CleanResult result;
  v1::ListPodSandboxRequest list;
  for (const auto& [key, value] : labels) {
    (*list.mutable_filter()->mutable_label_selector())[key] = value;
  }
  client::CallRecord listed = CallByName(client, "ListPodSandbox", list, timeout);
  if (listed.code == absl::StatusCode::kUnimplemented) {
    // A runtime without ListPodSandbox has no sandboxes to leave behind.
    return result;
  }
  if (!listed.ok()) {
    result.failures.push_back(Failure(listed));
    return result;
  }
  const auto& items = static_cast<const v1::ListPodSandboxResponse&>(*listed.response).items();
  for (const v1::PodSandbox& sandbox : items) {
    std::string name = crisp::StrCat(sandbox.metadata().namespace_(), "/",
                                     sandbox.metadata().name(), " (",
                                     sandbox.id().substr(0, 13), ")");
    if (std::string failed = RemoveSandbox(client, sandbox.id(), timeout); failed.empty()) {
      ++result.removed;
      log << "removed pod sandbox " << name << '\n';
    } else {
      result.failures.push_back(crisp::StrCat(name, ": ", failed));
    }
  }
  return result;
}

}  // namespace crisp::runner

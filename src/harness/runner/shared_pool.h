// What a suite's shared steps (`shared:` in the suite, `uses:` in a
// scenario) made, kept between the scenarios that use them when fixtures are
// suite-scoped: a pod made by one scenario hosts the next one's containers,
// an image pulled once is not pulled again. One instance serves one scenario
// at a time (a run with -j N has at most N of each); before each use it is
// checked (a pod READY with no container in it, an image still present),
// and one that a scenario broke is removed and made anew. At the end of the
// run everything left is removed.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "harness/client/cri_client.h"
#include "nlohmann/json.hpp"

namespace crisp::runner {

struct SharedInstance {
  std::string key;             // "<suite>/<name>", or the call and its request (shared across suites)
  std::string method;          // RunPodSandbox or PullImage
  std::string id;              // the pod sandbox ID, or the image reference
  nlohmann::json saved;        // what the step saved, as later steps refer to it
  nlohmann::json observation;  // the call that made it
  nlohmann::json sandbox_config;  // RunPodSandbox: the config it ran with
  std::string suffix;          // the maker's name suffix (in names and directories)
  std::string log_directory;   // RunPodSandbox: the per-run log directory, removed with the pod
  std::string made_by;         // the scenario that made it
  int uses = 0;                // scenarios it has served
};

class SharedPool {
 public:
  SharedPool(client::CriClient& client, absl::Duration call_timeout)
      : client_(client), call_timeout_(call_timeout) {}

  // An idle, healthy instance of `key`, now the caller's; nullopt when there
  // is none (the caller makes one). `why` says why an idle one was dropped.
  std::optional<SharedInstance> Take(const std::string& key, std::string* why);
  // Back to the pool, idle.
  void Give(SharedInstance instance);
  // Removes every instance; returns what could not be removed.
  std::vector<std::string> TearDown();

 private:
  // "" when it can serve another scenario; else why not.
  std::string Unhealthy(const SharedInstance& instance);
  // Empties a pod's log directory before its next use.
  static void ClearLogs(const SharedInstance& instance);
  // Removes a pod (an image is left: removing it is no scenario's ask); "" or what failed.
  std::string Destroy(const SharedInstance& instance);

  client::CriClient& client_;
  const absl::Duration call_timeout_;
  absl::Mutex mu_;
  std::multimap<std::string, SharedInstance> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crisp::runner

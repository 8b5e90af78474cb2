// Container and sandbox lifecycle events, from the managers to whoever
// listens (GetContainerEvents streams). Publishing never blocks on a
// listener: each subscription has its own queue, bounded; a listener that
// falls more than kQueueLimit behind loses the oldest events and is told so.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "runtime/v1/api.pb.h"

namespace crisp::crispd {

struct LifecycleEvent {
  std::string id;          // the container's, or the sandbox's for a sandbox event
  std::string sandbox_id;  // the pod it belongs to (a sandbox's own ID for its events)
  runtime::v1::ContainerEventType type = runtime::v1::CONTAINER_CREATED_EVENT;
  int64_t at = 0;          // Unix nanoseconds
};

class EventBus {
 public:
  static constexpr size_t kQueueLimit = 4096;

  class Subscription {
   public:
    // The next event, waiting up to `within`; nullopt when none came.
    std::optional<LifecycleEvent> Next(absl::Duration within);
    // Events dropped because this listener fell behind.
    uint64_t dropped() const;

   private:
    friend class EventBus;
    mutable absl::Mutex mu_;
    std::deque<LifecycleEvent> queue_ ABSL_GUARDED_BY(mu_);
    uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  };

  // Events published from now on reach the subscription until it is dropped.
  std::shared_ptr<Subscription> Subscribe();
  void Publish(const LifecycleEvent& event);
  // Stamps `at` with now.
  void Publish(std::string id, std::string sandbox_id, runtime::v1::ContainerEventType type);

 private:
  absl::Mutex mu_;
  std::vector<std::weak_ptr<Subscription>> subscriptions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crisp::crispd

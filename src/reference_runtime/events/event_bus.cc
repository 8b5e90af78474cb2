#include "reference_runtime/events/event_bus.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace crisp::crispd {

std::optional<LifecycleEvent> EventBus::Subscription::Next(absl::Duration within) {
  absl::MutexLock lock(&mu_);
  auto has_event = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !queue_.empty(); };
  mu_.AwaitWithTimeout(absl::Condition(&has_event), within);
  if (queue_.empty()) return std::nullopt;
  LifecycleEvent event = std::move(queue_.front());
  queue_.pop_front();
  return event;
}

uint64_t EventBus::Subscription::dropped() const {
  absl::MutexLock lock(&mu_);
  return dropped_;
}

std::shared_ptr<EventBus::Subscription> EventBus::Subscribe() {
  auto subscription = std::make_shared<Subscription>();
  absl::MutexLock lock(&mu_);
  subscriptions_.push_back(subscription);
  return subscription;
}

void EventBus::Publish(const LifecycleEvent& event) {
  absl::MutexLock lock(&mu_);
  std::erase_if(subscriptions_, [](const std::weak_ptr<Subscription>& weak) { return weak.expired(); });
  for (const std::weak_ptr<Subscription>& weak : subscriptions_) {
    std::shared_ptr<Subscription> subscription = weak.lock();
    if (!subscription) continue;
    absl::MutexLock queue_lock(&subscription->mu_);
    if (subscription->queue_.size() >= kQueueLimit) {
      subscription->queue_.pop_front();
      ++subscription->dropped_;
    }
    subscription->queue_.push_back(event);
  }
}

void EventBus::Publish(std::string id, std::string sandbox_id, runtime::v1::ContainerEventType type) {
  Publish(LifecycleEvent{std::move(id), std::move(sandbox_id), type, absl::ToUnixNanos(absl::Now())});
}

}  // namespace crisp::crispd

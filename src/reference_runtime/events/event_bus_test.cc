// Every subscription sees every event published after it subscribed, in
// order; a slow one loses the oldest and is told how many.
#include "reference_runtime/events/event_bus.h"

#include <thread>

#include "gtest/gtest.h"

namespace crisp::crispd {
namespace {

namespace v1 = runtime::v1;

TEST(EventBusTest, EachSubscriptionSeesWhatCameAfterItInOrder) {
  EventBus bus;
  bus.Publish("before", "pod", v1::CONTAINER_CREATED_EVENT);
  auto first = bus.Subscribe();
  bus.Publish("c1", "pod", v1::CONTAINER_CREATED_EVENT);
  auto second = bus.Subscribe();
  bus.Publish("c1", "pod", v1::CONTAINER_STARTED_EVENT);

  std::optional<LifecycleEvent> event = first->Next(absl::ZeroDuration());
  ASSERT_TRUE(event);
  EXPECT_EQ(event->id, "c1");
  EXPECT_EQ(event->type, v1::CONTAINER_CREATED_EVENT);
  EXPECT_GT(event->at, 0);
  EXPECT_EQ(first->Next(absl::ZeroDuration())->type, v1::CONTAINER_STARTED_EVENT);
  EXPECT_FALSE(first->Next(absl::Milliseconds(10)));
  EXPECT_EQ(second->Next(absl::ZeroDuration())->type, v1::CONTAINER_STARTED_EVENT);
  EXPECT_FALSE(second->Next(absl::ZeroDuration()));
}

TEST(EventBusTest, NextWaitsForAnEventFromAnotherThread) {
  EventBus bus;
  auto subscription = bus.Subscribe();
  std::thread publisher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    bus.Publish("c1", "pod", v1::CONTAINER_STOPPED_EVENT);
  });
  std::optional<LifecycleEvent> event = subscription->Next(absl::Seconds(10));
  publisher.join();
  ASSERT_TRUE(event);
  EXPECT_EQ(event->type, v1::CONTAINER_STOPPED_EVENT);
}

TEST(EventBusTest, ASlowListenerLosesTheOldestAndADroppedOneNothing) {
  EventBus bus;
  auto slow = bus.Subscribe();
  auto gone = bus.Subscribe();
  gone.reset();
  for (size_t i = 0; i < EventBus::kQueueLimit + 3; ++i) bus.Publish(std::to_string(i), "pod", v1::CONTAINER_CREATED_EVENT);
  EXPECT_EQ(slow->dropped(), 3u);
  EXPECT_EQ(slow->Next(absl::ZeroDuration())->id, "3");
}

}  // namespace
}  // namespace crisp::crispd

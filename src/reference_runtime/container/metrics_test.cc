// Metrics from stats: names, types, labels, and nothing made up.
#include "reference_runtime/container/metrics.h"

#include <map>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::crispd {
namespace {

namespace v1 = runtime::v1;

TEST(MetricDescriptorsTest, EachHasAUniqueNameAndHelp) {
  std::set<std::string> names;
  for (const v1::MetricDescriptor& descriptor : MetricDescriptors()) {
    EXPECT_TRUE(names.insert(descriptor.name()).second) << descriptor.name();
    EXPECT_FALSE(descriptor.help().empty()) << descriptor.name();
  }
  EXPECT_TRUE(names.count("container_memory_working_set_bytes"));
}

TEST(PodMetricsTest, FromAPodsStats) {
  v1::PodSandboxStats stats;
  stats.mutable_attributes()->set_id("pod1");
  v1::LinuxPodSandboxStats* pod = stats.mutable_linux();
  pod->mutable_cpu()->set_timestamp(10);
  pod->mutable_cpu()->mutable_usage_core_nano_seconds()->set_value(3'500'000'000);
  pod->mutable_memory()->set_timestamp(10);
  pod->mutable_memory()->mutable_working_set_bytes()->set_value(4096);
  pod->mutable_network()->set_timestamp(11);
  v1::NetworkInterfaceUsage* eth0 = pod->mutable_network()->add_interfaces();
  eth0->set_name("eth0");
  eth0->mutable_rx_bytes()->set_value(100);
  eth0->mutable_tx_bytes()->set_value(200);
  v1::ContainerStats* container = pod->add_containers();
  container->mutable_attributes()->set_id("ctr1");
  container->mutable_memory()->set_timestamp(12);
  container->mutable_memory()->mutable_page_faults()->set_value(7);
  container->mutable_writable_layer()->set_timestamp(12);
  container->mutable_writable_layer()->mutable_fs_id()->set_mountpoint("/state/ctr1/upper");
  container->mutable_writable_layer()->mutable_used_bytes()->set_value(8192);

  v1::PodSandboxMetrics metrics = PodMetrics(stats);
  EXPECT_EQ(metrics.pod_sandbox_id(), "pod1");
  std::map<std::string, const v1::Metric*> by_key;
  for (const v1::Metric& metric : metrics.metrics()) {
    std::string key = metric.name();
    for (const std::string& label : metric.label_values()) key += "{" + label + "}";
    by_key[key] = &metric;
  }
  // Only what the stats hold: no usage_bytes, no errors, no process count.
  EXPECT_EQ(by_key.size(), 4u);
  EXPECT_EQ(by_key.at("container_cpu_usage_seconds_total")->value().value(), 3u);
  EXPECT_EQ(by_key.at("container_cpu_usage_seconds_total")->metric_type(), v1::COUNTER);
  EXPECT_EQ(by_key.at("container_memory_working_set_bytes")->metric_type(), v1::GAUGE);
  EXPECT_EQ(by_key.at("container_network_receive_bytes_total{eth0}")->value().value(), 100u);
  EXPECT_EQ(by_key.at("container_network_transmit_bytes_total{eth0}")->timestamp(), 11);

  ASSERT_EQ(metrics.container_metrics_size(), 1);
  const v1::ContainerMetrics& ctr = metrics.container_metrics(0);
  EXPECT_EQ(ctr.container_id(), "ctr1");
  ASSERT_EQ(ctr.metrics_size(), 2);
  EXPECT_EQ(ctr.metrics(0).name(), "container_memory_failures_total");
  EXPECT_THAT(ctr.metrics(0).label_values(), ::testing::ElementsAre("pgfault", "container"));
  EXPECT_EQ(ctr.metrics(1).name(), "container_fs_usage_bytes");
  EXPECT_THAT(ctr.metrics(1).label_values(), ::testing::ElementsAre("/state/ctr1/upper"));
  EXPECT_EQ(ctr.metrics(1).value().value(), 8192u);
}

}  // namespace
}  // namespace crisp::crispd

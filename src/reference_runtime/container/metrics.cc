#include "reference_runtime/container/metrics.h"

#include <string>

namespace crisp::crispd {
namespace {

namespace v1 = runtime::v1;

struct Descriptor {
  const char* name;
  const char* help;
  v1::MetricType type;
  std::vector<std::string> label_keys;
};

const std::vector<Descriptor>& Descriptors() {
  static const std::vector<Descriptor> descriptors = {
      {"container_cpu_usage_seconds_total", "Cumulative CPU time consumed, in whole seconds", v1::COUNTER, {}},
      {"container_memory_usage_bytes", "Current memory usage, page cache included, in bytes", v1::GAUGE, {}},
      {"container_memory_working_set_bytes", "Current working set (usage less inactive file pages), in bytes",
       v1::GAUGE, {}},
      {"container_memory_rss", "Size of RSS (anonymous memory and swap cache), in bytes", v1::GAUGE, {}},
      {"container_memory_failures_total", "Cumulative count of memory allocation failures (page faults)", v1::COUNTER,
       {"failure_type", "scope"}},
      {"container_fs_usage_bytes", "Bytes used by the container's writable layer", v1::GAUGE, {"device"}},
      {"container_fs_inodes_used", "Inodes used by the container's writable layer", v1::GAUGE, {"device"}},
      {"container_processes", "Number of processes running in the pod", v1::GAUGE, {}},
      {"container_network_receive_bytes_total", "Cumulative count of bytes received", v1::COUNTER, {"interface"}},
      {"container_network_receive_errors_total", "Cumulative count of errors encountered while receiving",
       v1::COUNTER, {"interface"}},
      {"container_network_transmit_bytes_total", "Cumulative count of bytes transmitted", v1::COUNTER, {"interface"}},
      {"container_network_transmit_errors_total", "Cumulative count of errors encountered while transmitting",
       v1::COUNTER, {"interface"}},
  };
  return descriptors;
}

class MetricList {
 public:
  explicit MetricList(google::protobuf::RepeatedPtrField<v1::Metric>* out) : out_(out) {}
  void Add(const std::string& name, int64_t timestamp, bool present, uint64_t value,
           std::vector<std::string> labels = {}) {
    if (!present || timestamp == 0) return;
    v1::Metric* metric = out_->Add();
    metric->set_name(name);
    metric->set_timestamp(timestamp);
    for (const Descriptor& descriptor : Descriptors()) {
      if (descriptor.name == name) metric->set_metric_type(descriptor.type);
    }
    for (std::string& label : labels) metric->add_label_values(std::move(label));
    metric->mutable_value()->set_value(value);
  }
  void CpuAndMemory(const v1::CpuUsage& cpu, const v1::MemoryUsage& memory) {
    Add("container_cpu_usage_seconds_total", cpu.timestamp(), cpu.has_usage_core_nano_seconds(),
        cpu.usage_core_nano_seconds().value() / 1'000'000'000);
    Add("container_memory_usage_bytes", memory.timestamp(), memory.has_usage_bytes(), memory.usage_bytes().value());
    Add("container_memory_working_set_bytes", memory.timestamp(), memory.has_working_set_bytes(),
        memory.working_set_bytes().value());
    Add("container_memory_rss", memory.timestamp(), memory.has_rss_bytes(), memory.rss_bytes().value());
    Add("container_memory_failures_total", memory.timestamp(), memory.has_page_faults(), memory.page_faults().value(),
        {"pgfault", "container"});
    Add("container_memory_failures_total", memory.timestamp(), memory.has_major_page_faults(),
        memory.major_page_faults().value(), {"pgmajfault", "container"});
  }

 private:
  google::protobuf::RepeatedPtrField<v1::Metric>* out_;
};

}  // namespace

std::vector<v1::MetricDescriptor> MetricDescriptors() {
  std::vector<v1::MetricDescriptor> out;
  for (const Descriptor& descriptor : Descriptors()) {
    v1::MetricDescriptor& item = out.emplace_back();
    item.set_name(descriptor.name);
    item.set_help(descriptor.help);
    for (const std::string& key : descriptor.label_keys) item.add_label_keys(key);
  }
  return out;
}

v1::PodSandboxMetrics PodMetrics(const v1::PodSandboxStats& stats) {
  v1::PodSandboxMetrics out;
  out.set_pod_sandbox_id(stats.attributes().id());
  const v1::LinuxPodSandboxStats& pod = stats.linux();
  MetricList metrics(out.mutable_metrics());
  metrics.CpuAndMemory(pod.cpu(), pod.memory());
  metrics.Add("container_processes", pod.process().timestamp(), pod.process().has_process_count(),
              pod.process().process_count().value());
  const v1::NetworkUsage& network = pod.network();
  for (const v1::NetworkInterfaceUsage& interface : network.interfaces()) {
    metrics.Add("container_network_receive_bytes_total", network.timestamp(), interface.has_rx_bytes(),
                interface.rx_bytes().value(), {interface.name()});
    metrics.Add("container_network_receive_errors_total", network.timestamp(), interface.has_rx_errors(),
                interface.rx_errors().value(), {interface.name()});
    metrics.Add("container_network_transmit_bytes_total", network.timestamp(), interface.has_tx_bytes(),
                interface.tx_bytes().value(), {interface.name()});
    metrics.Add("container_network_transmit_errors_total", network.timestamp(), interface.has_tx_errors(),
                interface.tx_errors().value(), {interface.name()});
  }
  for (const v1::ContainerStats& container : pod.containers()) {
    v1::ContainerMetrics* item = out.add_container_metrics();
    item->set_container_id(container.attributes().id());
    MetricList container_metrics(item->mutable_metrics());
    container_metrics.CpuAndMemory(container.cpu(), container.memory());
    const v1::FilesystemUsage& layer = container.writable_layer();
    container_metrics.Add("container_fs_usage_bytes", layer.timestamp(), layer.has_used_bytes(),
                          layer.used_bytes().value(), {layer.fs_id().mountpoint()});
    container_metrics.Add("container_fs_inodes_used", layer.timestamp(), layer.has_inodes_used(),
                          layer.inodes_used().value(), {layer.fs_id().mountpoint()});
  }
  return out;
}

}  // namespace crisp::crispd

// Pod and container metrics for ListMetricDescriptors and
// ListPodSandboxMetrics: the same figures as the stats RPCs, under the
// cAdvisor names the kubelet serves on /metrics/cadvisor when it takes its
// metrics from the CRI. One mechanism: metrics are made from stats, so the
// two RPC families never disagree. Pure.
#pragma once

#include <vector>

#include "runtime/v1/api.pb.h"

namespace crisp::crispd {

// Every metric PodMetrics can give, with its help text and label keys.
std::vector<runtime::v1::MetricDescriptor> MetricDescriptors();

// A pod's metrics (its cgroup and network) and its containers' (cgroup and
// writable layer), from its stats. A figure the stats lack is left out;
// CPU time is in whole seconds, since metric values are integers.
runtime::v1::PodSandboxMetrics PodMetrics(const runtime::v1::PodSandboxStats& stats);

}  // namespace crisp::crispd

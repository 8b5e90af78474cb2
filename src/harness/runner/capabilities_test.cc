#include "harness/runner/capabilities.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::runner {
namespace {

using ::testing::HasSubstr;

Capabilities Probed() {
  Capabilities capabilities;
  capabilities.host.root = true;
  capabilities.host.cgroup_v1 = true;
  capabilities.status = {{"status", {{"conditions", {{{"type", "RuntimeReady"}, {"status", true}},
                                                     {{"type", "NetworkReady"}, {"status", false}}}}}},
                         {"runtime_handlers", {{{"name", ""}, {"features", {{"recursive_read_only_mounts", true},
                                                                           {"user_namespaces", false}}}}}},
                         {"features", {{"supplemental_groups_policy", true}}}};
  capabilities.status_error.clear();
  capabilities.runtime_config = {{"linux", {{"cgroup_driver", "CGROUPFS"}}}};
  capabilities.runtime_config_error.clear();
  return capabilities;
}

TEST(CapabilitiesTest, RequirementsFromStatusRuntimeConfigAndHost) {
  Capabilities capabilities = Probed();
  EXPECT_EQ(capabilities.Unmet("root"), "");
  EXPECT_EQ(capabilities.Unmet("runtime-ready"), "");
  EXPECT_EQ(capabilities.Unmet("network-ready"), "Status reports NetworkReady false");
  EXPECT_EQ(capabilities.Unmet("apparmor"), "the host has no AppArmor");
  EXPECT_EQ(capabilities.Unmet("cgroup-v1"), "");
  EXPECT_EQ(capabilities.Unmet("cgroup-driver:cgroupfs"), "");
  EXPECT_EQ(capabilities.Unmet("cgroup-driver:systemd"), "the runtime's cgroup driver is cgroupfs");
  EXPECT_EQ(capabilities.Unmet("handler-feature:recursive-read-only-mounts"), "");
  EXPECT_EQ(capabilities.Unmet("handler-feature:user-namespaces"), "the default runtime handler lacks user_namespaces");
  EXPECT_EQ(capabilities.Unmet("runtime-feature:supplemental-groups-policy"), "");
  EXPECT_EQ(capabilities.Unmet("runtime-feature:user-namespaces-host-network"),
            "Status does not report features.user_namespaces_host_network");
  nlohmann::json json = capabilities.ToJson();
  EXPECT_EQ(json["met"]["runtime-ready"], true);
  EXPECT_EQ(json["met"]["selinux"], false);
}

TEST(CapabilitiesTest, WhatACallThatFailedCannotTell) {
  Capabilities capabilities;  // nothing probed: old runtimes answer Unimplemented
  capabilities.status_error = "Unimplemented: unknown method Status";
  capabilities.runtime_config_error = "Unimplemented: unknown method RuntimeConfig";
  EXPECT_THAT(capabilities.Unmet("runtime-config"), HasSubstr("RuntimeConfig did not answer (Unimplemented"));
  EXPECT_THAT(capabilities.Unmet("cgroup-driver:systemd"), HasSubstr("RuntimeConfig did not answer"));
  EXPECT_THAT(capabilities.Unmet("runtime-ready"), HasSubstr("Status did not answer"));
  capabilities.status = {{"status", {{"conditions", nlohmann::json::array()}}}};
  EXPECT_EQ(capabilities.Unmet("handler-feature:user-namespaces"), "Status lists no runtime handlers (features unknown)");
  EXPECT_EQ(capabilities.Unmet("network-ready"), "Status reports NetworkReady absent");
}

}  // namespace
}  // namespace crisp::runner

#include "reference_runtime/container/stats.h"

#include <filesystem>
#include <fstream>

#include "common/temp_dir.h"
#include "gtest/gtest.h"

namespace crisp::crispd {
namespace {

namespace fs = std::filesystem;

class StatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> temp = TempDir::Make("crispd-stats-test");
    ASSERT_TRUE(temp.ok()) << temp.status();
    temp_ = std::move(*temp);
  }
  void Write(const std::string& relative, const std::string& text) {
    fs::path path = fs::path(temp_.path()) / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  TempDir temp_;
};

TEST_F(StatsTest, CgroupV1ControllersAsTheKubeletReadsThem) {
  Write("cpuacct/crispd/c1/cpuacct.usage", "123456789\n");
  Write("memory/crispd/c1/memory.usage_in_bytes", "10000000\n");
  Write("memory/crispd/c1/memory.limit_in_bytes", "15728640\n");
  Write("memory/crispd/c1/memory.stat", "cache 100\nrss 9\ntotal_rss 4000000\ntotal_inactive_file 3000000\n"
                                        "total_pgfault 77\ntotal_pgmajfault 2\n");
  absl::StatusOr<CgroupUsage> usage = ReadCgroupUsage(temp_.path(), "/crispd/c1");
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_EQ(usage->cpu_usage_ns, 123456789u);
  EXPECT_EQ(usage->memory_usage, 10000000u);
  EXPECT_EQ(usage->memory_limit, 15728640u);
  EXPECT_EQ(usage->working_set, 7000000u) << "usage minus inactive file pages";
  EXPECT_EQ(usage->rss, 4000000u);
  EXPECT_EQ(usage->page_faults, 77u);
  EXPECT_EQ(usage->major_page_faults, 2u);
}

TEST_F(StatsTest, AnUnlimitedV1CgroupHasNoLimit) {
  Write("memory/p/c/memory.usage_in_bytes", "5\n");
  Write("memory/p/c/memory.limit_in_bytes", "9223372036854771712\n");
  absl::StatusOr<CgroupUsage> usage = ReadCgroupUsage(temp_.path(), "/p/c");
  ASSERT_TRUE(usage.ok());
  EXPECT_FALSE(usage->memory_limit.has_value());
  EXPECT_EQ(usage->working_set, 5u);
  EXPECT_FALSE(usage->cpu_usage_ns.has_value()) << "no cpuacct file: no CPU figure, not zero";
}

TEST_F(StatsTest, CgroupV2UnifiedAtTheRootOrBesideV1) {
  for (const std::string& base : {std::string(""), std::string("unified/")}) {
    StatsTest::TearDown();
    SetUp();
    Write(base + "kubepods/c2/cgroup.procs", "1\n");
    Write(base + "kubepods/c2/cpu.stat", "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n");
    Write(base + "kubepods/c2/memory.current", "8000\n");
    Write(base + "kubepods/c2/memory.max", "max\n");
    Write(base + "kubepods/c2/memory.stat", "anon 5000\ninactive_file 1000\npgfault 12\npgmajfault 1\n");
    absl::StatusOr<CgroupUsage> usage = ReadCgroupUsage(temp_.path(), "kubepods/c2");
    ASSERT_TRUE(usage.ok()) << base << usage.status();
    EXPECT_EQ(usage->cpu_usage_ns, 2500000u) << base;
    EXPECT_EQ(usage->working_set, 7000u) << base;
    EXPECT_EQ(usage->rss, 5000u) << base;
    EXPECT_FALSE(usage->memory_limit.has_value()) << base;
    EXPECT_EQ(usage->major_page_faults, 1u) << base;
  }
}

TEST_F(StatsTest, NoCgroupIsNotFound) {
  EXPECT_TRUE(absl::IsNotFound(ReadCgroupUsage(temp_.path(), "/crispd/gone").status()));
}

TEST_F(StatsTest, DirectoryUsageCountsEachInodeOnceAndAllocatedBytes) {
  Write("upper/a", std::string(10000, 'x'));
  Write("upper/sub/b", "y");
  fs::create_hard_link(temp_.path() + "/upper/a", temp_.path() + "/upper/a-again");
  fs::create_symlink("a", temp_.path() + "/upper/link");
  DiskUsage usage = DirectoryUsage(temp_.path() + "/upper");
  EXPECT_EQ(usage.inodes, 5u);  // upper, a (twice linked), sub, b, link
  EXPECT_GE(usage.bytes, 10000u);
  EXPECT_EQ(DirectoryUsage(temp_.path() + "/none").inodes, 0u);
}

TEST_F(StatsTest, NetDevListsEveryInterfaceButLoopback) {
  Write("net/dev",
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
        "    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n"
        "  eth0:    7000      50    3    0    0     0          0         0     2920      30    1    0    0     0       0          0\n");
  std::vector<InterfaceUsage> interfaces = ReadNetDev(temp_.path() + "/net/dev");
  ASSERT_EQ(interfaces.size(), 1u);
  EXPECT_EQ(interfaces[0].name, "eth0");
  EXPECT_EQ(interfaces[0].rx_bytes, 7000u);
  EXPECT_EQ(interfaces[0].rx_errors, 3u);
  EXPECT_EQ(interfaces[0].tx_bytes, 2920u);
  EXPECT_EQ(interfaces[0].tx_errors, 1u);
  EXPECT_TRUE(ReadNetDev(temp_.path() + "/none").empty());
}

TEST(SumTest, AFigureIsThereWhenAnyPartHasIt) {
  CgroupUsage a, b;
  a.cpu_usage_ns = 10;
  b.cpu_usage_ns = 5;
  b.memory_usage = 7;
  a.memory_limit = 100;
  CgroupUsage total = Sum({a, b});
  EXPECT_EQ(total.cpu_usage_ns, 15u);
  EXPECT_EQ(total.memory_usage, 7u);
  EXPECT_FALSE(total.memory_limit.has_value()) << "a pod's parts each have their own limit";
  EXPECT_FALSE(total.rss.has_value());
}

TEST(NanoCoresTest, RateBetweenTwoSamples) {
  EXPECT_EQ(NanoCores(1'000'000'000, 0, 1'500'000'000, 1'000'000'000), 500'000'000u);  // half a core
  EXPECT_FALSE(NanoCores(10, 5, 20, 5).has_value()) << "no time passed";
  EXPECT_FALSE(NanoCores(20, 0, 10, 5).has_value()) << "the counter went back (a new cgroup)";
}

}  // namespace
}  // namespace crisp::crispd

// Which mount a CRI mount's source is on, and whether its propagation lets
// the asked-for propagation work.
#include "reference_runtime/container/mount_source.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::crispd {
namespace {

namespace v1 = runtime::v1;
using ::testing::HasSubstr;

constexpr const char* kMountinfo =
    "27 1 0:25 / / rw,relatime - overlay overlay rw\n"
    "40 27 0:30 / /srv/shared rw shared:7 - tmpfs tmpfs rw\n"
    "41 27 0:31 / /srv/slave rw master:7 - tmpfs tmpfs rw\n"
    "42 40 0:32 / /srv/shared/private\\040dir rw - tmpfs tmpfs rw\n";

TEST(CheckMountSourceTest, PrivateIsAlwaysFine) {
  EXPECT_TRUE(CheckMountSource("/home/x", v1::PROPAGATION_PRIVATE, kMountinfo).ok());
}

TEST(CheckMountSourceTest, BidirectionalNeedsASharedMount) {
  EXPECT_TRUE(CheckMountSource("/srv/shared/data", v1::PROPAGATION_BIDIRECTIONAL, kMountinfo).ok());
  EXPECT_TRUE(CheckMountSource("/srv/shared", v1::PROPAGATION_BIDIRECTIONAL, kMountinfo).ok());
  absl::Status slave = CheckMountSource("/srv/slave/data", v1::PROPAGATION_BIDIRECTIONAL, kMountinfo);
  EXPECT_TRUE(absl::IsFailedPrecondition(slave));
  EXPECT_THAT(slave.message(), HasSubstr("is on /srv/slave, which is not a shared mount"));
  // The deepest mount counts, with its escaped name read back.
  absl::Status nested = CheckMountSource("/srv/shared/private dir/x", v1::PROPAGATION_BIDIRECTIONAL, kMountinfo);
  EXPECT_THAT(nested.message(), HasSubstr("is on /srv/shared/private dir,"));
  // /srv/sharedother is not under /srv/shared.
  EXPECT_THAT(CheckMountSource("/srv/sharedother", v1::PROPAGATION_BIDIRECTIONAL, kMountinfo).message(),
              HasSubstr("is on /,"));
}

TEST(CheckMountSourceTest, HostToContainerNeedsSharedOrSlave) {
  EXPECT_TRUE(CheckMountSource("/srv/shared/a", v1::PROPAGATION_HOST_TO_CONTAINER, kMountinfo).ok());
  EXPECT_TRUE(CheckMountSource("/srv/slave/a", v1::PROPAGATION_HOST_TO_CONTAINER, kMountinfo).ok());
  EXPECT_THAT(CheckMountSource("/home/a", v1::PROPAGATION_HOST_TO_CONTAINER, kMountinfo).message(),
              HasSubstr("neither shared nor a slave"));
}

}  // namespace
}  // namespace crisp::crispd

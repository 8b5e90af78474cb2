#include "reference_runtime/image/reference.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::crispd {
namespace {

using ::testing::HasSubstr;

TEST(ImageReferenceTest, NormalisesLikeDockerDistribution) {
  struct Case { const char* text; const char* full; };
  for (const Case& c : {Case{"redis", "docker.io/library/redis:latest"},
                        Case{"redis:alpine", "docker.io/library/redis:alpine"},
                        Case{"docker.io/library/busybox:1.35", "docker.io/library/busybox:1.35"},
                        Case{"registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9"},
                        Case{"gcr.io/k8s-staging-cri-tools/test-image-1", "gcr.io/k8s-staging-cri-tools/test-image-1:latest"},
                        Case{"localhost/x/y:1", "localhost/x/y:1"},
                        Case{"127.0.0.1:5000/library/redis:7", "127.0.0.1:5000/library/redis:7"},
                        Case{"someone/tool", "docker.io/someone/tool:latest"}}) {
    auto reference = ParseImageReference(c.text);
    ASSERT_TRUE(reference.ok()) << c.text << ": " << reference.status();
    EXPECT_EQ(reference->ToString(), c.full) << c.text;
  }
}

TEST(ImageReferenceTest, DigestsWinOverTags) {
  std::string digest = "sha256:" + std::string(64, 'a');
  auto reference = ParseImageReference("redis:alpine@" + digest);
  ASSERT_TRUE(reference.ok());
  EXPECT_EQ(reference->digest, digest);
  EXPECT_TRUE(reference->tag.empty());
  EXPECT_EQ(reference->ToString(), "docker.io/library/redis@" + digest);
  EXPECT_TRUE(IsDigest(digest));
  EXPECT_FALSE(IsDigest("sha256:abc"));
}

TEST(ImageReferenceTest, RejectsWithAReason) {
  EXPECT_THAT(ParseImageReference("").status().message(), HasSubstr("empty"));
  EXPECT_THAT(ParseImageReference("Redis").status().message(), HasSubstr("lowercase"));
  EXPECT_THAT(ParseImageReference("redis@sha256:1").status().message(), HasSubstr("64 hex"));
  EXPECT_THAT(ParseImageReference("redis:-bad").status().message(), HasSubstr("bad tag"));
  EXPECT_THAT(ParseImageReference("a//b").status().message(), HasSubstr("lowercase"));
}

}  // namespace
}  // namespace crisp::crispd

#include "harness/client/endpoint.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::client {
namespace {

using ::testing::HasSubstr;

TEST(ParseEndpointTest, UnixSchemeWithAbsolutePath) {
  auto endpoint = ParseEndpoint("unix:///run/containerd/containerd.sock");
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_EQ(endpoint->kind, Endpoint::Kind::kUnix);
  EXPECT_EQ(endpoint->socket_path, "/run/containerd/containerd.sock");
  EXPECT_EQ(endpoint->name, "containerd");
  EXPECT_EQ(endpoint->GrpcTarget(), "unix:///run/containerd/containerd.sock");
  EXPECT_EQ(endpoint->Display(), "unix:///run/containerd/containerd.sock");
}

TEST(ParseEndpointTest, BareAbsolutePathIsAUnixSocket) {
  auto endpoint = ParseEndpoint("/var/run/crio/crio.sock");
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_EQ(endpoint->kind, Endpoint::Kind::kUnix);
  EXPECT_EQ(endpoint->socket_path, "/var/run/crio/crio.sock");
  EXPECT_EQ(endpoint->name, "crio");
  EXPECT_EQ(endpoint->GrpcTarget(), "unix:///var/run/crio/crio.sock");
}

TEST(ParseEndpointTest, NamePrefixOverridesDerivedName) {
  auto endpoint = ParseEndpoint("cd-1.6=unix:///tmp/x/containerd.sock");
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_EQ(endpoint->name, "cd-1.6");
  EXPECT_EQ(endpoint->socket_path, "/tmp/x/containerd.sock");

  auto bare = ParseEndpoint("crio=/run/crio/crio.sock");
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_EQ(bare->name, "crio");
  EXPECT_EQ(bare->socket_path, "/run/crio/crio.sock");
}

TEST(ParseEndpointTest, ReferenceIsReservedForTheBundledRuntime) {
  auto plain = ParseEndpoint("reference");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->kind, Endpoint::Kind::kReference);
  EXPECT_EQ(plain->name, "reference");
  EXPECT_EQ(plain->Display(), "reference");

  auto named = ParseEndpoint("crispd=reference");
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(named->kind, Endpoint::Kind::kReference);
  EXPECT_EQ(named->name, "crispd");
}

TEST(ParseEndpointTest, EqualsSignInsideAPathIsNotAName) {
  // Only a valid name before the first '=' makes a NAME= prefix.
  auto endpoint = ParseEndpoint("/tmp/a=b/cri.sock");
  EXPECT_FALSE(endpoint.ok());
  EXPECT_THAT(endpoint.status().message(), HasSubstr("name before '='"));
}

TEST(ParseEndpointTest, DerivedNameFallsBackWhenFileNameIsUnusable) {
  auto endpoint = ParseEndpoint("/tmp/.sock");
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_EQ(endpoint->name, "runtime");
  auto odd = ParseEndpoint("/tmp/my runtime.sock");
  ASSERT_TRUE(odd.ok()) << odd.status();
  EXPECT_EQ(odd->name, "my-runtime");
}

struct BadEndpoint {
  const char* text;
  const char* message_part;
};

class ParseEndpointErrorTest : public ::testing::TestWithParam<BadEndpoint> {};

TEST_P(ParseEndpointErrorTest, RejectsWithAReason) {
  auto endpoint = ParseEndpoint(GetParam().text);
  ASSERT_FALSE(endpoint.ok()) << GetParam().text;
  EXPECT_EQ(endpoint.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(endpoint.status().message(), HasSubstr("invalid endpoint"));
  EXPECT_THAT(endpoint.status().message(), HasSubstr(GetParam().message_part));
}

INSTANTIATE_TEST_SUITE_P(
    Forms, ParseEndpointErrorTest,
    ::testing::Values(
        BadEndpoint{"", "expected unix:///absolute/path"},
        BadEndpoint{"containerd.sock", "expected unix:///absolute/path"},
        BadEndpoint{"unix://run/containerd.sock", "three slashes"},
        BadEndpoint{"unix://", "three slashes"},
        BadEndpoint{"tcp://127.0.0.1:1234", "scheme \"tcp\" is not supported"},
        BadEndpoint{"npipe:////./pipe/containerd", "scheme \"npipe\""},
        BadEndpoint{"=unix:///x.sock", "name before '='"},
        BadEndpoint{"-x=/x.sock", "name before '='"},
        BadEndpoint{"cd=", "nothing after '='"},
        BadEndpoint{"/", "socket path is empty"}));

}  // namespace
}  // namespace crisp::client

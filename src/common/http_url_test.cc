#include "common/http_url.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp {
namespace {

using ::testing::HasSubstr;

TEST(HttpUrlTest, PartsDefaultsAndIpv6) {
  std::string error;
  std::optional<HttpUrl> url = ParseHttpUrl("http://127.0.0.1:35000/exec/AbC?x=1", {"http", "ws"}, &error);
  ASSERT_TRUE(url) << error;
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, "35000");
  EXPECT_EQ(url->target, "/exec/AbC?x=1");

  url = ParseHttpUrl("ws://localhost", {"http", "ws"}, &error);
  ASSERT_TRUE(url) << error;
  EXPECT_EQ(url->port, "80");
  EXPECT_EQ(url->target, "/");

  url = ParseHttpUrl("http://[::1]:8080/p", {"http"}, &error);
  ASSERT_TRUE(url) << error;
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, "8080");
}

TEST(HttpUrlTest, WhatCannotBeDialledSaysWhy) {
  std::string error;
  EXPECT_FALSE(ParseHttpUrl("ws://x/", {"http"}, &error));
  EXPECT_THAT(error, HasSubstr("not an http:// URL"));
  EXPECT_FALSE(ParseHttpUrl("https://x/", {"http", "ws"}, &error));
  EXPECT_THAT(error, HasSubstr("TLS"));
  EXPECT_FALSE(ParseHttpUrl("http://x:/", {"http"}, &error));
  EXPECT_THAT(error, HasSubstr("bad port"));
  EXPECT_FALSE(ParseHttpUrl("http://x:65536/", {"http"}, &error));
  EXPECT_THAT(error, HasSubstr("bad port"));
  EXPECT_FALSE(ParseHttpUrl("http://x:123456/", {"http"}, &error));
  EXPECT_THAT(error, HasSubstr("bad port"));
  EXPECT_FALSE(ParseHttpUrl("http://[::1/", {"http"}, &error));
  EXPECT_THAT(error, HasSubstr("unbalanced"));
  EXPECT_FALSE(ParseHttpUrl("http:///path", {"http"}, &error));
  EXPECT_THAT(error, HasSubstr("no host"));
}

}  // namespace
}  // namespace crisp

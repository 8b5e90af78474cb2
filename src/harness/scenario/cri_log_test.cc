#include "harness/scenario/cri_log.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::scenario {
namespace {

using ::testing::HasSubstr;

TEST(CriLogTest, ParsesRecordsOfBothTimeStyles) {
  ParsedLog log = ParseCriLog(
      "2026-11-29T02:46:22.616337969Z stdout F Ready to accept connections\n"
      "2016-10-06T00:17:09.669794202+00:00 stderr F warning: x\n"
      "2016-10-06T00:17:10Z stdout F \n");
  ASSERT_EQ(log.entries.size(), 3u);
  EXPECT_EQ(log.entries[0].stream, "stdout");
  EXPECT_EQ(log.entries[0].message, "Ready to accept connections");
  EXPECT_EQ(log.entries[1].stream, "stderr");
  EXPECT_EQ(log.entries[2].message, "");
  EXPECT_TRUE(log.malformed.empty());
}

TEST(CriLogTest, JoinsPartialRecordsPerStream) {
  ParsedLog log = ParseCriLog(
      "2026-01-01T00:00:00.1Z stdout P first half, \n"
      "2026-01-01T00:00:00.2Z stderr F interleaved\n"
      "2026-01-01T00:00:00.3Z stdout P:extra second \n"
      "2026-01-01T00:00:00.4Z stdout F end\n"
      "2026-01-01T00:00:00.5Z stderr P never ended");
  ASSERT_EQ(log.entries.size(), 2u);
  EXPECT_EQ(log.entries[0].message, "interleaved");
  EXPECT_EQ(log.entries[1].message, "first half, second end");
  EXPECT_EQ(log.entries[1].time, "2026-01-01T00:00:00.4Z");
  ASSERT_EQ(log.unterminated.size(), 1u);
  EXPECT_EQ(log.unterminated[0].message, "never ended");
}

TEST(CriLogTest, ReportsMalformedLinesByNumber) {
  ParsedLog log = ParseCriLog(
      "garbage\n"
      "yesterday stdout F x\n"
      "2026-01-01T00:00:00Z stdlog F x\n"
      "2026-01-01T00:00:00Z stdout X x\n");
  ASSERT_EQ(log.malformed.size(), 4u);
  EXPECT_THAT(log.malformed[0], HasSubstr("line 1: fewer than three fields"));
  EXPECT_THAT(log.malformed[1], HasSubstr("line 2: \"yesterday\" is not an RFC 3339 time"));
  EXPECT_THAT(log.malformed[2], HasSubstr("line 3: stream \"stdlog\""));
  EXPECT_THAT(log.malformed[3], HasSubstr("line 4: tag \"X\""));
}

TEST(CriLogTest, ObservationJoinsTextsByStream) {
  nlohmann::json observation = LogObservation(ParseCriLog(
      "2026-01-01T00:00:00Z stdout F a\n2026-01-01T00:00:01Z stderr F b\n"));
  EXPECT_EQ(observation["stdout"], "a\n");
  EXPECT_EQ(observation["stderr"], "b\n");
  EXPECT_EQ(observation["text"], "a\nb\n");
  EXPECT_EQ(observation["lines"], 2);
}

}  // namespace
}  // namespace crisp::scenario

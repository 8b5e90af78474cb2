#include "harness/scenario/expect.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::scenario {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using Op = Check::Op;

const nlohmann::json kObservation = nlohmann::json::parse(R"({
  "images": [
    {"id": "sha256:1", "repo_tags": ["docker.io/library/redis:alpine"], "size": 10873320},
    {"id": "sha256:2", "repo_tags": ["docker.io/library/busybox:latest"], "size": 2000000}
  ],
  "status": {"state": "CONTAINER_RUNNING", "exit_code": 0, "labels": {"tier": "backend"},
             "log_path": "/tmp/x/redis/0.log", "reason": ""},
  "stdout": "PONG\n"
})");

std::vector<Mismatch> Check1(std::string path, Op op, nlohmann::json operand) {
  return Evaluate({Check{std::move(path), op, std::move(operand), {}}}, kObservation);
}

TEST(ExpectTest, EqualsComparesDeeplyAndNumbersByValue) {
  EXPECT_THAT(Check1("status.state", Op::kEquals, "CONTAINER_RUNNING"), IsEmpty());
  EXPECT_THAT(Check1("status.exit_code", Op::kEquals, 0.0), IsEmpty());
  EXPECT_THAT(Check1("status.labels", Op::kEquals, {{"tier", "backend"}}), IsEmpty());
  EXPECT_THAT(Check1("status.labels", Op::kEquals, {{"tier", "backend"}, {"x", "y"}}), SizeIs(1));
  EXPECT_THAT(Check1("stdout", Op::kEquals, "PONG\n"), IsEmpty());
  EXPECT_THAT(Check1("status.state", Op::kNotEquals, "CONTAINER_EXITED"), IsEmpty());
}

TEST(ExpectTest, ContainsOnStringsListsAndObjects) {
  EXPECT_THAT(Check1("status.log_path", Op::kContains, "redis/0.log"), IsEmpty());
  EXPECT_THAT(Check1("images", Op::kContains,
                  {{"repo_tags", {"docker.io/library/redis:alpine"}}}), IsEmpty());
  EXPECT_THAT(Check1("images", Op::kContains, {{"repo_tags", {"docker.io/library/nginx:1"}}}), SizeIs(1));
  EXPECT_THAT(Check1("status.labels", Op::kContains, {{"tier", "backend"}}), IsEmpty());
  EXPECT_THAT(Check1("images", Op::kNotContains, {{"id", "sha256:3"}}), IsEmpty());
  EXPECT_THAT(Check1("images", Op::kNotContains, {{"id", "sha256:1"}}), SizeIs(1));
  // A list operand: each of its elements somewhere in the list, in any order.
  EXPECT_THAT(Check1("images[0].repo_tags", Op::kContains, nlohmann::json::array({"docker.io/library/redis:alpine"})),
              IsEmpty());
  EXPECT_THAT(Check1("images[0].repo_tags", Op::kContains,
                     nlohmann::json::array({"docker.io/library/redis:alpine", "docker.io/library/nginx:1"})),
              SizeIs(1));
}

TEST(ExpectTest, MatchesCountsAndComparisons) {
  EXPECT_THAT(Check1("images[0].id", Op::kMatches, "^sha256:[0-9]+$"), IsEmpty());
  EXPECT_THAT(Check1("images[0].size", Op::kMatches, "1"), SizeIs(1));  // not a string
  EXPECT_THAT(Check1("images", Op::kCount, 2), IsEmpty());
  EXPECT_THAT(Check1("status.labels", Op::kCount, 1), IsEmpty());
  EXPECT_THAT(Check1("images[0].size", Op::kGreaterThan, 0), IsEmpty());
  EXPECT_THAT(Check1("images[1].size", Op::kLessThan, 1000), SizeIs(1));
  // An operand that a reference made into text is a mismatch, not a throw.
  EXPECT_THAT(Check1("images[0].size", Op::kGreaterThan, "12"), SizeIs(1));
  EXPECT_THAT(Check1("status.state", Op::kOneOf, {"CONTAINER_CREATED", "CONTAINER_RUNNING"}), IsEmpty());
  EXPECT_THAT(Check1("status.state", Op::kOneOf, {"CONTAINER_EXITED"}), SizeIs(1));
}

TEST(ExpectTest, AbsentAndPresent) {
  EXPECT_THAT(Check1("status.network", Op::kAbsent, true), IsEmpty());
  EXPECT_THAT(Check1("status.state", Op::kAbsent, true), SizeIs(1));
  EXPECT_THAT(Check1("status.state", Op::kPresent, true), IsEmpty());
  EXPECT_THAT(Check1("status.network", Op::kPresent, true), SizeIs(1));
  // Every other operator fails on a missing path.
  EXPECT_THAT(Check1("status.network.ip", Op::kNotEquals, "x"), SizeIs(1));
}

TEST(ExpectTest, MismatchShowsExpectedAndActual) {
  auto mismatches = Check1("status.state", Op::kEquals, "CONTAINER_EXITED");
  ASSERT_THAT(mismatches, SizeIs(1));
  EXPECT_EQ(mismatches[0].Describe(),
            "status.state: expected equals \"CONTAINER_EXITED\", got \"CONTAINER_RUNNING\"");
  auto missing = Check1("status.network.ip", Op::kMatches, "^10\\.");
  ASSERT_THAT(missing, SizeIs(1));
  EXPECT_THAT(missing[0].Describe(), HasSubstr("got nothing (no such field)"));
}

TEST(ExpectTest, CodeNames) {
  EXPECT_TRUE(CodeMatches("OK", 0));
  EXPECT_TRUE(CodeMatches("NotFound", 5));
  EXPECT_FALSE(CodeMatches("NotFound", 0));
  EXPECT_TRUE(CodeMatches("error", 13));
  EXPECT_FALSE(CodeMatches("error", 0));
  EXPECT_FALSE(CodeMatches("error", 12));  // Unimplemented refuses nothing
  EXPECT_TRUE(CodeMatches("Cancelled", 1));
  EXPECT_TRUE(IsKnownCodeName("Unimplemented"));
  EXPECT_FALSE(IsKnownCodeName("NOT_FOUND"));
}

}  // namespace
}  // namespace crisp::scenario

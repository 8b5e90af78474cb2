// RuncRuntime's command lines and how it reads runc's answers, against a
// fake runc (a shell script that logs its arguments and answers as runc
// would); ConmonMonitor's reopen and SystemMounter's error.
#include "reference_runtime/host/real_host.h"

#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "common/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::crispd {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class RuncRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> temp = TempDir::Make("crispd-runc-test");
    ASSERT_TRUE(temp.ok()) << temp.status();
    temp_ = std::move(*temp);
    std::string runc = temp_.path() + "/runc";
    std::ofstream(runc) << R"(#!/bin/sh
echo "$*" >> )" << temp_.path() << R"(/calls
shift 2  # --root ROOT
[ "$1" = --log ] && { log=$2; shift 2; }
case "$1" in
  create)
    [ -f )" << temp_.path() << R"(/fail-create ] && { echo "container init failed" > "$log"; exit 1; }
    sleep 30 </dev/null >/dev/null 2>&1 &
    echo $! > "$5" ;;
  state) [ "$2" = gone ] && { echo "container does not exist" >&2; exit 1; }
         echo '{"id": "'"$2"'", "status": "running"}' ;;
  delete) [ "$3" = gone ] && { echo "container does not exist" >&2; exit 1; }
          [ "$3" = stuck ] && { echo "device busy" >&2; exit 1; } ;;
  list) printf 'one\ntwo\n' ;;
  exec) shift 2; echo "ran: $*"; [ "$1" = sleep ] && exec sleep "$2"; exit 3 ;;
esac
exit 0
)";
    chmod(runc.c_str(), 0755);
    runtime_ = std::make_unique<RuncRuntime>(temp_.path() + "/state", std::map<std::string, std::string>{{"runc", runc}});
  }
  std::vector<std::string> Calls() {
    std::ifstream in(temp_.path() + "/calls");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line.substr(line.find(' ', line.find(' ') + 1) + 1));
    return lines;
  }
  TempDir temp_;
  std::unique_ptr<RuncRuntime> runtime_;
};

TEST_F(RuncRuntimeTest, HandlersBinariesAndRoots) {
  EXPECT_TRUE(runtime_->Check("").ok());
  EXPECT_TRUE(runtime_->Check("runc").ok());
  absl::Status crun = runtime_->Check("crun");
  EXPECT_TRUE(absl::IsNotFound(crun));
  EXPECT_THAT(crun.message(), HasSubstr("crispd has: runc"));
  EXPECT_THAT(runtime_->Handlers(), ElementsAre("runc"));
  EXPECT_EQ(runtime_->Root(""), temp_.path() + "/state/oci/runc");
}

TEST_F(RuncRuntimeTest, CreateHoldsTheProcessRuncLeftBehind) {
  absl::StatusOr<std::shared_ptr<ProcessHandle>> init = runtime_->Create("", "c1", temp_.path());
  ASSERT_TRUE(init.ok()) << init.status();
  EXPECT_FALSE((*init)->HasExited());
  EXPECT_TRUE((*init)->Signal(SIGKILL));
  EXPECT_THAT(Calls()[0], HasSubstr("create --bundle " + temp_.path() + " --pid-file " + temp_.path() + "/pid c1"));
  std::ofstream(temp_.path() + "/fail-create").flush();
  absl::StatusOr<std::shared_ptr<ProcessHandle>> failed = runtime_->Create("", "c2", temp_.path());
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.status().message(), HasSubstr("create failed: container init failed"));
}

TEST_F(RuncRuntimeTest, LifecycleCommandLines) {
  ASSERT_TRUE(runtime_->Start("", "c1").ok());
  ASSERT_TRUE(runtime_->Kill("", "c1", SIGTERM, false).ok());
  ASSERT_TRUE(runtime_->Kill("runc", "c1", SIGKILL, true).ok());
  ASSERT_TRUE(runtime_->Delete("", "c1").ok());
  EXPECT_THAT(Calls(), ElementsAre("start c1", "kill c1 TERM", "kill --all c1 KILL", "delete --force c1"));
}

TEST_F(RuncRuntimeTest, DeleteOfAnUnknownIdIsFineOtherFailuresAreNot) {
  EXPECT_TRUE(runtime_->Delete("", "gone").ok());
  absl::Status stuck = runtime_->Delete("", "stuck");
  EXPECT_FALSE(stuck.ok());
  EXPECT_THAT(stuck.message(), HasSubstr("device busy"));
}

TEST_F(RuncRuntimeTest, StateAndList) {
  absl::StatusOr<std::string> state = runtime_->State("", "c1");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(*state, "running");
  EXPECT_TRUE(absl::IsNotFound(runtime_->State("", "gone").status()));
  absl::StatusOr<std::vector<std::string>> ids = runtime_->List("");
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_THAT(*ids, ElementsAre("one", "two"));
}

TEST_F(RuncRuntimeTest, ExecSyncCapturesAndTimesOut) {
  EXPECT_THAT(runtime_->ExecCommand("", "c1", {"ls", "-l"}, ""),
              ElementsAre(temp_.path() + "/runc", "--root", temp_.path() + "/state/oci/runc", "exec", "c1", "ls", "-l"));
  EXPECT_THAT(runtime_->ExecCommand("", "c1", {"sh"}, "/tmp/c/1.sock"),
              ElementsAre(temp_.path() + "/runc", "--root", temp_.path() + "/state/oci/runc", "exec", "--tty",
                          "--detach", "--console-socket", "/tmp/c/1.sock", "--pid-file", "/tmp/c/1.sock.pid", "c1",
                          "sh"));
  absl::StatusOr<RunResult> ran = runtime_->ExecSync("", "c1", {"echo", "hi"}, absl::ZeroDuration(), 1024);
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_EQ(ran->stdout_text, "ran: echo hi\n");
  EXPECT_EQ(ran->status.code, 3);
  absl::StatusOr<RunResult> slow = runtime_->ExecSync("", "c1", {"sleep", "30"}, absl::Milliseconds(200), 1024);
  ASSERT_TRUE(slow.ok()) << slow.status();
  EXPECT_TRUE(slow->timed_out);
}

TEST(ConmonMonitorTest, ReopenWithoutAMonitorSaysWhichFile) {
  ConmonMonitor monitor("/usr/bin/conmon");
  absl::Status reopened = monitor.ReopenLog("/nonexistent/container");
  EXPECT_FALSE(reopened.ok());
  EXPECT_THAT(reopened.message(), HasSubstr("/nonexistent/container/ctl"));
}

TEST(AdoptedHandleTest, AGoneProcessCannotBeHeld) {
  EXPECT_EQ(AdoptedHandle::Open(0), nullptr);
  EXPECT_EQ(AdoptedHandle::Open(-1), nullptr);
}

}  // namespace
}  // namespace crisp::crispd

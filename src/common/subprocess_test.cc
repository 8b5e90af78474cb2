#include "common/subprocess.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace crisp {
namespace {

RunOptions Shell(const std::string& script) {
  RunOptions options;
  options.spawn.argv = {"/bin/sh", "-c", script};
  return options;
}

TEST(ExitStatusTest, DescribesCodesAndSignals) {
  EXPECT_EQ((ExitStatus{3, 0}).Describe(), "exit code 3");
  EXPECT_EQ((ExitStatus{-1, SIGKILL}).Describe(), "killed by SIGKILL");
  EXPECT_EQ((ExitStatus{-1, SIGKILL}).ShellCode(), 137);
  EXPECT_EQ(ExitStatus{}.Describe(), "exit status unknown");
}

TEST(RunTest, CapturesBothStreamsAndTheExitCode) {
  absl::StatusOr<RunResult> result = RunProgram(Shell("echo out; echo err >&2; exit 7"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_text, "out\n");
  EXPECT_EQ(result->stderr_text, "err\n");
  EXPECT_EQ(result->status.code, 7);
  EXPECT_FALSE(result->timed_out);
}

TEST(RunTest, ReportsTheSignalThatKilledIt) {
  absl::StatusOr<RunResult> result = RunProgram(Shell("kill -9 $$"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->status.code, -1);
  EXPECT_EQ(result->status.signal, SIGKILL);
}

TEST(RunTest, FeedsInputLargerThanAPipe) {
  RunOptions options = Shell("wc -c");
  options.input = std::string(1 << 20, 'x');
  absl::StatusOr<RunResult> result = RunProgram(options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_text, "1048576\n");
}

TEST(RunTest, InputToAProgramThatDoesNotReadItIsNoFatalSignal) {
  RunOptions options = Shell("exec 0<&-; exit 0");
  options.input = std::string(1 << 20, 'x');
  absl::StatusOr<RunResult> result = RunProgram(options);  // would die of SIGPIPE if it leaked to us
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->status.code, 0);
}

TEST(RunTest, ChildrenDoNotInheritAnIgnoredSigpipe) {
  auto previous = std::signal(SIGPIPE, SIG_IGN);
  absl::StatusOr<RunResult> result = RunProgram(Shell("grep SigIgn /proc/self/status"));
  std::signal(SIGPIPE, previous);
  ASSERT_TRUE(result.ok()) << result.status();
  // SIGPIPE is signal 13: bit 12 of the mask, in its fourth hex digit from the right.
  std::string mask = result->stdout_text.substr(result->stdout_text.find_first_of("0123456789abcdef"), 16);
  unsigned long long bits = std::stoull(mask, nullptr, 16);
  EXPECT_EQ(bits & (1ULL << (SIGPIPE - 1)), 0u) << result->stdout_text;
}

TEST(RunTest, CapsOutputAndSaysSo) {
  RunOptions options = Shell("head -c 100000 /dev/zero");
  options.max_output = 1000;
  absl::StatusOr<RunResult> result = RunProgram(options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_text.size(), 1000u);
  EXPECT_TRUE(result->truncated);
  EXPECT_EQ(result->status.code, 0);  // the rest was read, so the writer never blocked
}

TEST(RunTest, DeadlineSendsTermThenKill) {
  RunOptions options = Shell("trap '' TERM; echo ready; sleep 30");
  options.timeout = absl::Milliseconds(200);
  options.kill_grace = absl::Milliseconds(200);
  options.spawn.own_process_group = true;  // the shell ignores TERM; sleep does not
  absl::Time start = absl::Now();
  absl::StatusOr<RunResult> result = RunProgram(options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->timed_out);
  EXPECT_EQ(result->status.signal, SIGKILL);
  EXPECT_EQ(result->stdout_text, "ready\n");
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST(RunTest, ZeroGraceKillsAtTheDeadline) {
  RunOptions options = Shell("sleep 30");
  options.timeout = absl::Milliseconds(100);
  options.kill_grace = absl::ZeroDuration();
  absl::StatusOr<RunResult> result = RunProgram(options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->timed_out);
  // sh may exec sleep or wait for it; either way SIGKILL ended the child.
  EXPECT_EQ(result->status.signal, SIGKILL);
}

TEST(RunTest, AChildThatClosesItsOutputStillGetsTheDeadline) {
  RunOptions options = Shell("exec >&- 2>&-; sleep 30");
  options.timeout = absl::Milliseconds(200);
  options.kill_grace = absl::ZeroDuration();
  absl::Time start = absl::Now();
  absl::StatusOr<RunResult> result = RunProgram(options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->timed_out);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST(RunTest, AGrandchildHoldingThePipeDoesNotHoldTheRun) {
  char dir_template[] = "/tmp/crisp-subprocess-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  std::string pid_file = std::string(dir_template) + "/grandchild";
  RunOptions options = Shell("sleep 30 & echo $! > " + pid_file + "; echo done");
  options.spawn.own_process_group = true;
  options.linger = absl::Milliseconds(100);
  absl::Time start = absl::Now();
  absl::StatusOr<RunResult> result = RunProgram(options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(result->stdout_text, "done\n");
  EXPECT_EQ(result->status.code, 0);
  // The group was killed with the leader unreaped: the grandchild is gone.
  pid_t grandchild = 0;
  std::ifstream(pid_file) >> grandchild;
  ASSERT_GT(grandchild, 0);
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    std::ifstream stat("/proc/" + std::to_string(grandchild) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    gone = text.empty() || text.find(") Z") != std::string::npos;
    if (!gone) usleep(10000);
  }
  EXPECT_TRUE(gone) << "the grandchild " << grandchild << " outlived its group";
  std::filesystem::remove_all(dir_template);
}

TEST(RunTest, UsesTheGivenEnvironmentAndDirectory) {
  RunOptions options = Shell("echo \"$CRISP_TEST_VAR $(pwd)\"");
  options.spawn.env = std::vector<std::string>{"CRISP_TEST_VAR=hello", "PATH=/usr/bin:/bin"};
  options.spawn.working_dir = "/tmp";
  absl::StatusOr<RunResult> result = RunProgram(options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_text, "hello /tmp\n");
}

TEST(RunTest, SearchesPathOnlyWhenAsked) {
  RunOptions options;
  options.spawn.argv = {"true"};
  EXPECT_FALSE(RunProgram(options).ok());
  options.spawn.search_path = true;
  absl::StatusOr<RunResult> result = RunProgram(options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->status.code, 0);
}

TEST(RunTest, AMissingProgramIsAClearError) {
  RunOptions options;
  options.spawn.argv = {"/nonexistent/program"};
  absl::StatusOr<RunResult> result = RunProgram(options);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("/nonexistent/program"), std::string::npos);
}

TEST(ChildTest, PassesExtraDescriptorsEvenOntoTheirOwnNumber) {
  int ends[2];
  ASSERT_EQ(pipe2(ends, O_CLOEXEC), 0);
  int high = fcntl(ends[1], F_DUPFD_CLOEXEC, 40);
  ASSERT_GE(high, 0);
  close(ends[1]);
  SpawnOptions options;
  options.argv = {"/bin/bash", "-c", "echo hi >&" + std::to_string(high)};  // dash knows fds 0-9 only
  options.extra_fds = {{high, high}};
  absl::StatusOr<Child> child = Child::Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  close(high);
  EXPECT_EQ(child->Wait().code, 0);
  char buffer[16] = {};
  EXPECT_EQ(read(ends[0], buffer, sizeof(buffer)), 3);
  EXPECT_STREQ(buffer, "hi\n");
  close(ends[0]);
}

TEST(ChildTest, NoOtherDescriptorCrossesIntoTheChild) {
  int opened = open("/dev/null", O_RDONLY);  // no O_CLOEXEC, as libstdc++'s copy_file opens
  ASSERT_GE(opened, 0);
  const int leaked = 77;  // a number ls will not take for itself
  ASSERT_EQ(dup2(opened, leaked), leaked);
  close(opened);
  RunOptions options = Shell("ls /proc/self/fd");
  absl::StatusOr<RunResult> result = RunProgram(options);
  close(leaked);
  ASSERT_TRUE(result.ok()) << result.status();
  // 0, 1, 2 and the descriptor ls opened to read the directory; never `leaked`.
  EXPECT_EQ(result->stdout_text.find(std::to_string(leaked) + "\n"), std::string::npos) << result->stdout_text;
}

TEST(ChildTest, NeverSignalsAfterTheReap) {
  SpawnOptions options;
  options.argv = {"/bin/true"};
  absl::StatusOr<Child> child = Child::Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ(child->Wait().code, 0);
  EXPECT_TRUE(child->reaped());
  EXPECT_FALSE(child->Signal(SIGKILL));
  EXPECT_EQ(child->Wait().code, 0);  // the status is kept
}

TEST(ChildTest, SeesTheExitWithoutReaping) {
  SpawnOptions options;
  options.argv = {"/bin/sh", "-c", "exit 4"};
  absl::StatusOr<Child> child = Child::Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  std::optional<ExitStatus> status = child->WaitUntil(absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 4);
}

TEST(ChildTest, WaitUntilGivesUpOnARunningChild) {
  SpawnOptions options;
  options.argv = {"/bin/sleep", "30"};
  absl::StatusOr<Child> child = Child::Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_FALSE(child->WaitUntil(absl::Now() + absl::Milliseconds(100)).has_value());
  EXPECT_FALSE(child->HasExited());
  pid_t pid = child->pid();
  { Child dropped = std::move(*child); }  // destroying an unreaped child kills and reaps it
  EXPECT_NE(kill(pid, 0), 0);
}

TEST(AdoptedProcessTest, ReapsADaemonReparentedToUs) {
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  char dir_template[] = "/tmp/crisp-subprocess-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  std::string pid_file = std::string(dir_template) + "/daemon";
  // The shell starts a daemon and exits: the daemon comes to us.
  RunOptions options = Shell("sleep 30 </dev/null >/dev/null 2>&1 & echo $! > " + pid_file);
  absl::StatusOr<RunResult> result = RunProgram(options);
  ASSERT_TRUE(result.ok()) << result.status();
  pid_t pid = 0;
  std::ifstream(pid_file) >> pid;
  ASSERT_GT(pid, 0);
  absl::StatusOr<AdoptedProcess> daemon = AdoptedProcess::Open(pid);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  EXPECT_FALSE(daemon->HasExited());
  EXPECT_FALSE(daemon->TryReap());
  EXPECT_FALSE(daemon->PeekExit().has_value());
  EXPECT_TRUE(daemon->Signal(SIGKILL));
  std::optional<ExitStatus> how;
  for (int i = 0; i < 500 && !how; ++i) {
    how = daemon->PeekExit();
    if (!how) usleep(10000);
  }
  ASSERT_TRUE(how.has_value());
  EXPECT_EQ(how->signal, SIGKILL);
  bool reaped = false;
  for (int i = 0; i < 500 && !reaped; ++i) {
    reaped = daemon->TryReap();
    if (!reaped) usleep(10000);
  }
  EXPECT_TRUE(reaped);
  EXPECT_FALSE(std::filesystem::exists("/proc/" + std::to_string(pid)));  // no zombie left
  EXPECT_FALSE(daemon->Signal(SIGKILL));
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  std::filesystem::remove_all(dir_template);
}

TEST(AdoptedProcessTest, AGoneProcessIsNotFound) {
  SpawnOptions options;
  options.argv = {"/bin/true"};
  absl::StatusOr<Child> child = Child::Spawn(options);
  ASSERT_TRUE(child.ok());
  pid_t pid = child->pid();
  child->Wait();
  absl::StatusOr<AdoptedProcess> gone = AdoptedProcess::Open(pid);
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(absl::IsNotFound(gone.status())) << gone.status();
}

TEST(CommandLineTest, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(CommandLine({"/usr/bin/runc", "--root", "/run/x", "kill", "abc", "KILL"}),
            "/usr/bin/runc --root /run/x kill abc KILL");
  EXPECT_EQ(CommandLine({"sh", "-c", "echo it's"}), "sh -c 'echo it'\\''s'");
  EXPECT_EQ(CommandLine({""}), "''");
}

}  // namespace
}  // namespace crisp

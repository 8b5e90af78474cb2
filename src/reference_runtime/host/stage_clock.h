// Where the time of one lifecycle call goes: a StageClock on the stack of
// RunPodSandbox or CreateContainer, and Stage("name") wherever a step ends,
// however deep (the clock is found through the thread). At --log-level debug
// the clock logs one line when it goes out of scope:
//   crispd: RunPodSandbox 3f2a9c1e0b7d: 41.2 ms (netns 3.1, cni.bridge 18.0, ...)
// Off, it costs a clock read per stage.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crisp::crispd {

// Turns the per-call lines on (crispd --log-level debug).
void SetStageLogging(bool on);
bool StageLogging();

class StageClock {
 public:
  explicit StageClock(std::string what);
  ~StageClock();
  StageClock(const StageClock&) = delete;
  StageClock& operator=(const StageClock&) = delete;

  // The time since the last mark (or the start) was spent in `stage`.
  void Mark(std::string_view stage);
  // The line it logs: "what: total ms (stage ms, ...)".
  std::string Summary() const;
  const std::vector<std::pair<std::string, double>>& stages() const { return stages_; }
  const std::string& what() const { return what_; }

 private:
  using Clock = std::chrono::steady_clock;
  std::string what_;
  Clock::time_point start_, last_;
  std::vector<std::pair<std::string, double>> stages_;  // name, milliseconds
  StageClock* outer_;
};

// Marks a stage on this thread's innermost clock, if any. With the
// environment variable CRISPD_FAULT=<call>:<stage> (<call> the first word of
// the clock's name: RunPodSandbox, CreateContainer, StartContainer,
// PullImage), crispd kills itself with SIGKILL right after that stage: the
// crash tests (tests/e2e/crispd_faults.sh) use it, nothing else sets it.
void Stage(std::string_view stage);

// For a helper thread that the caller joins: the caller's clock, to be
// lent to it (StageClockLoan on the helper's stack).
StageClock* CurrentStageClock();
class StageClockLoan {
 public:
  explicit StageClockLoan(StageClock* clock);
  ~StageClockLoan();

 private:
  StageClock* previous_;
};

}  // namespace crisp::crispd

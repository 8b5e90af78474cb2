#include "reference_runtime/host/stage_clock.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace crisp::crispd {
namespace {

std::atomic<bool> g_logging{false};
thread_local StageClock* t_current = nullptr;

std::string Millis(double ms) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f", ms);
  return text;
}

}  // namespace

void SetStageLogging(bool on) { g_logging = on; }
bool StageLogging() { return g_logging; }

StageClock::StageClock(std::string what)
    : what_(std::move(what)), start_(Clock::now()), last_(start_), outer_(t_current) {
  t_current = this;
}

StageClock::~StageClock() {
  t_current = outer_;
  if (g_logging) {
    Mark("rest");
    std::cerr << ("crispd: " + Summary() + "\n") << std::flush;
  }
}

void StageClock::Mark(std::string_view stage) {
  Clock::time_point now = Clock::now();
  double ms = std::chrono::duration<double, std::milli>(now - last_).count();
  last_ = now;
  if (stage == "rest" && ms < 0.05) return;
  stages_.emplace_back(std::string(stage), ms);
}

std::string StageClock::Summary() const {
  double total = std::chrono::duration<double, std::milli>(last_ - start_).count();
  std::string line = what_ + ": " + Millis(total) + " ms (";
  for (size_t i = 0; i < stages_.size(); ++i) {
    line += (i ? ", " : "") + stages_[i].first + " " + Millis(stages_[i].second);
  }
  return line + ")";
}

StageClock* CurrentStageClock() { return t_current; }

StageClockLoan::StageClockLoan(StageClock* clock) : previous_(t_current) { t_current = clock; }
StageClockLoan::~StageClockLoan() { t_current = previous_; }

void Stage(std::string_view stage) {
  if (t_current == nullptr) return;
  t_current->Mark(stage);
  // Fault injection, for the crash tests only (off unless the variable is
  // set): CRISPD_FAULT=RunPodSandbox:net.rest kills crispd with SIGKILL
  // right after that stage of that call, as a crash or an OOM kill would.
  static const std::string fault = [] {
    const char* value = std::getenv("CRISPD_FAULT");
    return std::string(value == nullptr ? "" : value);
  }();
  if (fault.empty()) return;
  const std::string& what = t_current->what();
  const std::string call = what.substr(0, what.find(' '));
  if (fault == call + ":" + std::string(stage)) {
    std::cerr << "crispd: CRISPD_FAULT: killed after " << fault << std::endl;
    raise(SIGKILL);
  }
}

}  // namespace crisp::crispd

#include "harness/cli/private_crispd.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "absl/status/status.h"
#include "common/strings.h"
#include "harness/client/connect.h"

namespace crisp::cli {
namespace {

namespace fs = std::filesystem;

std::string Tail(const std::string& path, size_t lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  std::string line;
  while (std::getline(in, line)) all.push_back(line);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) out += all[i] + "\n";
  return out;
}

// A 10.x.0.0/16 no route of this host uses yet (from /proc/net/route).
std::string FreeSubnet() {
  std::set<int> used;
  std::ifstream routes("/proc/net/route");
  std::string line;
  std::getline(routes, line);  // header
  while (std::getline(routes, line)) {
    std::istringstream fields(line);
    std::string iface, destination;
    fields >> iface >> destination;
    if (destination.size() != 8) continue;
    unsigned long address = std::stoul(destination, nullptr, 16);  // little-endian
    if ((address & 0xff) == 10) used.insert(static_cast<int>((address >> 8) & 0xff));
  }
  std::mt19937 engine(std::random_device{}());
  for (int attempt = 0; attempt < 100; ++attempt) {
    int second = 100 + static_cast<int>(engine() % 100);
    if (!used.count(second)) return crisp::StrCat("10.", second, ".0.0/16");
  }
  return "10.199.0.0/16";
}

}  // namespace

absl::StatusOr<std::string> FindCrispd() {
  if (const char* configured = std::getenv("CRISP_CRISPD"); configured != nullptr && *configured != '\0') {
    if (access(configured, X_OK) != 0) return absl::NotFoundError(crisp::StrCat("CRISP_CRISPD=", configured, " is not executable"));
    return std::string(configured);
  }
  std::error_code error;
  fs::path self = fs::read_symlink("/proc/self/exe", error).parent_path();
  for (const fs::path& candidate : {self / "crispd", self / ".." / "reference_runtime" / "crispd",
                                    self / ".." / "src" / "reference_runtime" / "crispd"}) {
    if (access(candidate.c_str(), X_OK) == 0) return fs::weakly_canonical(candidate).string();
  }
  return absl::NotFoundError("cannot find crispd, the bundled reference runtime: build it (it sits beside crisp) "
                             "or set CRISP_CRISPD to its path");
}

absl::StatusOr<std::unique_ptr<PrivateCrispd>> PrivateCrispd::Start(const std::vector<std::string>& extra_args) {
  absl::StatusOr<std::string> binary = FindCrispd();
  if (!binary.ok()) return binary.status();
  if (geteuid() != 0) {
    return absl::PermissionDeniedError("the reference runtime runs pods: it needs root (run crisp as root, or name "
                                       "another runtime with -e)");
  }
  char pattern[] = "/tmp/crisp-reference-XXXXXX";
  if (mkdtemp(pattern) == nullptr) return absl::InternalError("cannot make a temporary directory");
  std::unique_ptr<PrivateCrispd> crispd(new PrivateCrispd());
  crispd->dir_ = pattern;
  crispd->socket_ = crispd->dir_ + "/crispd.sock";
  crispd->bridge_ = crisp::StrCat("crisp", crispd->dir_.substr(crispd->dir_.size() - 6));
  for (char& c : crispd->bridge_) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  crispd->binary_ = *binary;
  crispd->dir_args_ = {"--root", crispd->dir_ + "/root", "--state", crispd->dir_ + "/state",
                       "--bridge", crispd->bridge_, "--pod-cidr", FreeSubnet()};
  // Should crisp die without its cleanup (SIGKILL), crispd removes what
  // the run left and itself.
  std::vector<std::string> args = {*binary, "--listen", "unix://" + crispd->socket_, "--owner-pid",
                                   std::to_string(getpid())};
  args.insert(args.end(), crispd->dir_args_.begin(), crispd->dir_args_.end());
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::string log = crispd->dir_ + "/crispd.log";
  SpawnOptions options;
  options.argv = args;
  options.out = Stdio::AppendTo(log);
  options.err = Stdio::AppendTo(log);
  // Its own process group: a Ctrl-C at the terminal goes to crisp, which
  // cleans up through crispd before stopping it.
  options.own_process_group = true;
  absl::StatusOr<Child> process = Child::Spawn(options);
  if (!process.ok()) return absl::InternalError(crisp::StrCat("cannot start ", *binary, ": ", process.status().message()));
  crispd->process_ = std::move(*process);

  client::Endpoint endpoint{"reference", client::Endpoint::Kind::kUnix, crispd->socket_};
  for (int i = 0; i < 200; ++i) {
    if (client::ProbeSocket(endpoint).ok()) return crispd;
    if (crispd->process_->HasExited()) {
      crispd->process_->Wait();
      return absl::UnavailableError(crisp::StrCat("crispd exited during start-up:\n", Tail(log, 15)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError(crisp::StrCat("crispd did not listen within 10s:\n", Tail(log, 15)));
}

namespace {

// Runs a helper program to completion, quietly.
void RunQuietly(std::vector<std::string> args) {
  RunOptions options;
  options.spawn.argv = std::move(args);
  options.timeout = absl::Seconds(60);
  RunProgram(options).IgnoreError();  // a cleanup: what it leaves, the e2e leak checks report
}

}  // namespace

PrivateCrispd::~PrivateCrispd() {
  if (process_) {
    process_->Signal(SIGTERM);
    if (!process_->WaitUntil(absl::Now() + absl::Seconds(10))) {
      process_->Signal(SIGKILL);
      process_->Wait();
    }
  }
  // What the run's cleanup left (the run reports such leaks) is removed
  // by crispd itself: it knows its own layout; crisp does not.
  if (!binary_.empty()) {
    std::vector<std::string> reset = {binary_, "reset"};
    reset.insert(reset.end(), dir_args_.begin(), dir_args_.end());
    RunQuietly(reset);
  }
  std::error_code error;
  if (!dir_.empty()) fs::remove_all(dir_, error);
}

}  // namespace crisp::cli

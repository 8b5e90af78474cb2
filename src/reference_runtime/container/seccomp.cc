#include "reference_runtime/container/seccomp.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "common/strings.h"

namespace crisp::crispd {
namespace {

namespace v1 = runtime::v1;
using nlohmann::json;

// The RuntimeDefault allow-list. Which syscalls a container may make by
// default is the public contract Docker, containerd and CRI-O share (moby's
// profiles/seccomp/default.json as of Docker 24, containerd 1.7's
// contrib/seccomp): a workload that runs under theirs runs under ours.
// Names unknown to the host's libseccomp are skipped by runc.
constexpr const char* kAlwaysAllowed[] = {
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget", "capset", "chdir",
    "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64",
    "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range",
    "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
    "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64",
    "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat",
    "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr",
    "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex",
    "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd",
    "getdents", "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
    "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
    "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list",
    "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid",
    "getuid32", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel",
    "ioctl", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set",
    "io_setup", "io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
    "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr",
    "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack",
    "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock",
    "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
    "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget",
    "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat",
    "_newselect", "open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2",
    "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv",
    "preadv2", "prlimit64", "process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2",
    "read", "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64",
    "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat", "renameat2", "restart_syscall", "rmdir",
    "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
    "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
    "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
    "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget", "semop",
    "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto",
    "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32",
    "setitimer", "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid",
    "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid", "setsockopt",
    "set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget",
    "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socket", "socketcall",
    "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync",
    "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
    "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create",
    "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate",
    "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64",
    "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write", "writev"};

// What a capability in the bounding set adds to the list.
struct CapabilityRule {
  const char* capability;
  std::vector<const char*> syscalls;
};
const std::vector<CapabilityRule>& CapabilityRules() {
  static const std::vector<CapabilityRule> rules = {
      {"CAP_DAC_READ_SEARCH", {"open_by_handle_at"}},
      {"CAP_SYS_ADMIN",
       {"bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie",
        "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open", "quotactl", "quotactl_fd",
        "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2", "unshare"}},
      {"CAP_SYS_BOOT", {"reboot"}},
      {"CAP_SYS_CHROOT", {"chroot"}},
      {"CAP_SYS_MODULE", {"delete_module", "init_module", "finit_module"}},
      {"CAP_SYS_PACCT", {"acct"}},
      {"CAP_SYS_PTRACE", {"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"}},
      {"CAP_SYS_RAWIO", {"iopl", "ioperm"}},
      {"CAP_SYS_TIME", {"settimeofday", "stime", "clock_settime", "clock_settime64"}},
      {"CAP_SYS_TTY_CONFIG", {"vhangup"}},
      {"CAP_SYS_NICE", {"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}},
      {"CAP_SYSLOG", {"syslog"}},
      {"CAP_BPF", {"bpf"}},
      {"CAP_PERFMON", {"perf_event_open"}},
  };
  return rules;
}

// The namespace flags of clone(2): CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC,
// NEWUSER, NEWPID, NEWNET.
constexpr uint64_t kCloneNamespaceFlags = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 |
                                          0x20000000 | 0x40000000;

// This machine's seccomp architectures (the native one first) and its Go
// name, which moby profiles use in includes/excludes.
struct HostArch {
  std::vector<std::string> scmp;
  std::string go_name;
};
const HostArch& Arch() {
#if defined(__x86_64__)
  static const HostArch arch = {{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}, "amd64"};
#elif defined(__aarch64__)
  static const HostArch arch = {{"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}, "arm64"};
#else
  static const HostArch arch = {{}, ""};
#endif
  return arch;
}

bool Has(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

json Allow(std::vector<std::string> names, json args = json::array()) {
  json rule = {{"names", std::move(names)}, {"action", "SCMP_ACT_ALLOW"}};
  if (!args.empty()) rule["args"] = std::move(args);
  return rule;
}

// A moby "includes"/"excludes" condition: does this container meet it?
bool Meets(const json& condition, const std::vector<std::string>& capabilities) {
  if (!condition.is_object()) return true;
  for (const json& cap : condition.value("caps", json::array())) {
    if (cap.is_string() && !Has(capabilities, cap.get<std::string>())) return false;
  }
  const json arches = condition.value("arches", json::array());
  if (!arches.empty()) {
    bool any = false;
    for (const json& arch : arches) any = any || (arch.is_string() && arch.get<std::string>() == Arch().go_name);
    if (!any) return false;
  }
  return true;
}

bool MeetsAny(const json& condition, const std::vector<std::string>& capabilities) {
  if (!condition.is_object() || condition.empty()) return false;
  for (const json& cap : condition.value("caps", json::array())) {
    if (cap.is_string() && Has(capabilities, cap.get<std::string>())) return true;
  }
  for (const json& arch : condition.value("arches", json::array())) {
    if (arch.is_string() && arch.get<std::string>() == Arch().go_name) return true;
  }
  return false;
}

// The deprecated string field: still sent by older clients (critest v1.26).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
const std::string& LegacyProfilePath(const v1::LinuxContainerSecurityContext& security) {
  return security.seccomp_profile_path();
}
#pragma GCC diagnostic pop

absl::StatusOr<json> ReadProfile(const std::string& path) {
  if (path.empty() || path.front() != '/') {
    return absl::InvalidArgumentError(crisp::StrCat("seccomp profile \"", path, "\" is not an absolute path"));
  }
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(crisp::StrCat("seccomp profile \"", path, "\" cannot be read: ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  json profile = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (profile.is_discarded()) {
    return absl::InvalidArgumentError(crisp::StrCat("seccomp profile \"", path, "\" is not JSON"));
  }
  return profile;
}

}  // namespace

json DefaultSeccompProfile(const std::vector<std::string>& capabilities) {
  json syscalls = json::array();
  syscalls.push_back(Allow({std::begin(kAlwaysAllowed), std::end(kAlwaysAllowed)}));
  // personality(2): only the Linux personalities, and the query.
  for (uint64_t persona : {0x0ULL, 0x8ULL, 0x20000ULL, 0x20008ULL, 0xffffffffULL}) {
    syscalls.push_back(Allow({"personality"}, json::array({{{"index", 0}, {"value", persona}, {"op", "SCMP_CMP_EQ"}}})));
  }
#if defined(__x86_64__)
  syscalls.push_back(Allow({"arch_prctl", "modify_ldt"}));
#elif defined(__aarch64__)
  syscalls.push_back(Allow({"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"}));
#endif
  for (const CapabilityRule& rule : CapabilityRules()) {
    if (Has(capabilities, rule.capability)) syscalls.push_back(Allow({rule.syscalls.begin(), rule.syscalls.end()}));
  }
  if (!Has(capabilities, "CAP_SYS_ADMIN")) {
    // clone without namespace flags; clone3 cannot be filtered by its flags
    // (they are behind a pointer), so it answers ENOSYS and libc uses clone.
    syscalls.push_back(Allow({"clone"}, json::array({{{"index", 0},
                                                      {"value", kCloneNamespaceFlags},
                                                      {"valueTwo", 0},
                                                      {"op", "SCMP_CMP_MASKED_EQ"}}})));
    syscalls.push_back({{"names", {"clone3"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", ENOSYS}});
  }
  return {{"defaultAction", "SCMP_ACT_ERRNO"},
          {"defaultErrnoRet", EPERM},
          {"architectures", Arch().scmp},
          {"syscalls", syscalls}};
}

absl::StatusOr<json> SeccompFromProfile(const json& profile, const std::vector<std::string>& capabilities) {
  if (!profile.is_object()) return absl::InvalidArgumentError("a seccomp profile is a JSON object");
  if (!profile.contains("defaultAction") || !profile["defaultAction"].is_string()) {
    return absl::InvalidArgumentError("a seccomp profile needs a defaultAction");
  }
  json out = {{"defaultAction", profile["defaultAction"]}};
  if (profile.contains("defaultErrnoRet")) out["defaultErrnoRet"] = profile["defaultErrnoRet"];
  if (profile.contains("flags")) out["flags"] = profile["flags"];
  if (profile.contains("listenerPath")) out["listenerPath"] = profile["listenerPath"];
  json arches = json::array();
  if (profile.contains("architectures")) {
    if (!profile["architectures"].is_array()) return absl::InvalidArgumentError("architectures is not a list");
    arches = profile["architectures"];
  } else if (profile.contains("archMap")) {
    // moby's form: the native architecture's entry and its sub-architectures.
    for (const json& entry : profile["archMap"]) {
      if (!entry.is_object() || entry.value("architecture", "") != (Arch().scmp.empty() ? "" : Arch().scmp.front())) {
        continue;
      }
      arches.push_back(entry["architecture"]);
      for (const json& sub : entry.value("subArchitectures", json::array())) arches.push_back(sub);
    }
  }
  if (!arches.empty()) out["architectures"] = arches;
  json syscalls = json::array();
  for (const json& rule : profile.value("syscalls", json::array())) {
    if (!rule.is_object() || !rule.contains("action") || !rule["action"].is_string()) {
      return absl::InvalidArgumentError("each syscalls entry needs an action");
    }
    if (!Meets(rule.value("includes", json::object()), capabilities) ||
        MeetsAny(rule.value("excludes", json::object()), capabilities)) {
      continue;
    }
    json names = json::array();
    if (rule.contains("names") && rule["names"].is_array()) names = rule["names"];
    if (rule.contains("name") && rule["name"].is_string()) names.push_back(rule["name"]);
    if (names.empty()) return absl::InvalidArgumentError("a syscalls entry names no syscall");
    json converted = {{"names", names}, {"action", rule["action"]}};
    if (rule.contains("args") && rule["args"].is_array() && !rule["args"].empty()) converted["args"] = rule["args"];
    if (rule.contains("errnoRet")) converted["errnoRet"] = rule["errnoRet"];
    syscalls.push_back(std::move(converted));
  }
  if (!syscalls.empty()) out["syscalls"] = syscalls;
  return out;
}

absl::StatusOr<std::optional<json>> SeccompFor(const v1::LinuxContainerSecurityContext& security,
                                               const std::vector<std::string>& capabilities) {
  if (security.privileged()) return std::nullopt;
  std::optional<std::string> localhost;
  if (security.has_seccomp()) {
    switch (security.seccomp().profile_type()) {
      case v1::SecurityProfile::Unconfined:
        return std::nullopt;
      case v1::SecurityProfile::RuntimeDefault:
        return DefaultSeccompProfile(capabilities);
      case v1::SecurityProfile::Localhost:
        localhost = security.seccomp().localhost_ref();
        break;
      default:
        return absl::InvalidArgumentError(
            crisp::StrCat("unknown seccomp profile type ", static_cast<int>(security.seccomp().profile_type())));
    }
  } else {
    const std::string& path = LegacyProfilePath(security);
    if (path.empty() || path == "unconfined") return std::nullopt;
    if (path == "runtime/default" || path == "docker/default") return DefaultSeccompProfile(capabilities);
    if (!path.starts_with("localhost/")) {
      return absl::InvalidArgumentError(crisp::StrCat(
          "seccomp_profile_path \"", path,
          "\" is not one of unconfined, runtime/default, docker/default or localhost/<absolute path>"));
    }
    localhost = path.substr(std::string("localhost/").size());
  }
  absl::StatusOr<json> profile = ReadProfile(*localhost);
  if (!profile.ok()) return profile.status();
  absl::StatusOr<json> seccomp = SeccompFromProfile(*profile, capabilities);
  if (!seccomp.ok()) {
    return absl::InvalidArgumentError(crisp::StrCat("seccomp profile \"", *localhost, "\": ", seccomp.status().message()));
  }
  return *seccomp;
}

}  // namespace crisp::crispd

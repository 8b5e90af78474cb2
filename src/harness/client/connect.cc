#include "harness/client/connect.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "common/strings.h"

namespace crisp::client {
namespace {

std::string_view FileKind(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a socket";
}

absl::Status Unreachable(std::string_view why) {
  return absl::UnavailableError(std::string(why));
}

}  // namespace

absl::Status ProbeSocket(const Endpoint& endpoint) {
  const std::string& path = endpoint.socket_path;
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) {
    int error = errno;
    if (error == ENOENT || error == ENOTDIR) {
      return Unreachable(crisp::StrCat("no such socket: ", path,
                                      " does not exist (is the runtime running?)"));
    }
    if (error == EACCES) {
      return Unreachable(crisp::StrCat("permission denied: cannot look up ", path));
    }
    return Unreachable(crisp::StrCat("cannot stat ", path, ": ", std::strerror(error)));
  }
  if (!S_ISSOCK(info.st_mode)) {
    return Unreachable(crisp::StrCat("not a socket: ", path, " is ",
                                    FileKind(info.st_mode)));
  }

  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    return Unreachable(crisp::StrCat("socket path is longer than the ",
                                    sizeof(address.sun_path) - 1,
                                    " bytes a unix socket address holds: ", path));
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::InternalError(crisp::StrCat("socket(): ", std::strerror(errno)));
  }
  absl::Cleanup close_fd = [fd] { close(fd); };
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    int error = errno;
    if (error == ECONNREFUSED) {
      return Unreachable(crisp::StrCat("connection refused: nothing listens on ", path,
                                      " (a stale socket of a stopped runtime?)"));
    }
    if (error == EACCES || error == EPERM) {
      return Unreachable(crisp::StrCat("permission denied: cannot connect to ", path,
                                      " (run as root or as a member of the "
                                      "socket's group)"));
    }
    return Unreachable(crisp::StrCat("cannot connect to ", path, ": ",
                                    std::strerror(error)));
  }
  return absl::OkStatus();
}

std::string DescribeVersionFailure(const CallRecord& record,
                                   absl::Duration timeout) {
  switch (record.code) {
    case absl::StatusCode::kUnimplemented:
      return crisp::StrCat("not a CRI v1 server: it answers Unimplemented to "
                          "runtime.v1.RuntimeService/Version",
                          record.message.empty() ? "" : " (",
                          record.message, record.message.empty() ? "" : ")");
    case absl::StatusCode::kDeadlineExceeded:
      if (!record.transport_ready) {
        return crisp::StrCat("not a CRI server: the socket accepts connections "
                             "but no gRPC connection was made within ",
                             absl::FormatDuration(timeout),
                             " (another protocol, such as ttrpc?)");
      }
      return crisp::StrCat("timeout: no answer to Version within ",
                          absl::FormatDuration(timeout),
                          " (raise it with --timeout)");
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
      return crisp::StrCat("not a CRI server: the socket accepts connections "
                          "but the gRPC call failed (",
                          GrpcCodeName(record.code), ": ", record.message, ")");
    default:
      return crisp::StrCat("Version failed: ", GrpcCodeName(record.code), ": ",
                          record.message);
  }
}

absl::StatusOr<runtime::v1::VersionResponse> Handshake(
    CriClient& client, const Endpoint& endpoint, absl::Duration timeout) {
  auto prefix = [&] { return crisp::StrCat("endpoint ", endpoint.Display(), ": "); };
  if (absl::Status probe = ProbeSocket(endpoint); !probe.ok()) {
    return absl::UnavailableError(crisp::StrCat(prefix(), probe.message()));
  }
  runtime::v1::VersionRequest request;
  request.set_version("v1");
  absl::StatusOr<const MethodDescriptor*> method = FindCriMethod("Version");
  if (!method.ok()) return method.status();
  CallRecord record = client.Call(**method, request, {.timeout = timeout});
  if (!record.ok()) {
    return absl::UnavailableError(
        crisp::StrCat(prefix(), DescribeVersionFailure(record, timeout)));
  }
  runtime::v1::VersionResponse response;
  response.CopyFrom(*record.response);
  return response;
}

}  // namespace crisp::client

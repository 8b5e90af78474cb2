#include "reference_runtime/server/call.h"

#include <cstdio>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/strings.h"

namespace crisp::crispd {

grpc::Status AnswerRpc(std::string_view method, const std::function<absl::Status()>& body) {
  absl::Time start = absl::Now();
  absl::Status status;
  try {
    status = body();
  } catch (const std::exception& error) {
    status = absl::InternalError(crisp::StrCat("crispd bug: ", error.what()));
  }
  std::string line = crisp::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
                                   " ", method, " ", absl::FormatDuration(absl::Now() - start), " ",
                                   absl::StatusCodeToString(status.code()),
                                   status.ok() ? "" : ": ", crisp::View(status.message()), "\n");
  std::fputs(line.c_str(), stderr);
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(crisp::View(status.message())));
}

}  // namespace crisp::crispd

// Reading and writing crispd's records (crispd/state/v1/state.proto) as
// JSON, atomically, with a schema version; and quarantining a record that
// cannot be read, so that it is never loaded as an empty one.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "crispd/state/v1/state.pb.h"
#include "nlohmann/json.hpp"

namespace crisp::crispd {

// The schema version this crispd writes, and the newest it reads.
inline constexpr uint32_t kRecordVersion = 1;

// Sets the record's version and writes it to `path` atomically.
absl::Status WriteRecord(const std::string& path, google::protobuf::Message& record);

// NotFound when there is no file; DataLoss (naming the path and why) when
// it is not a record; FailedPrecondition when a newer crispd wrote it.
absl::Status ReadRecord(const std::string& path, google::protobuf::Message* record);

// Moves `dir` (a sandbox's or container's directory) to
// <state_dir>/quarantine/<kind>-<name>, for a person to look at; returns
// where it went.
absl::StatusOr<std::string> Quarantine(const std::string& state_dir, const std::string& kind, const std::string& dir);

// ReadRecord of <dir>/<file> for a crispd loading its state: a corrupt
// record's directory is quarantined (kind names it), a newer one is left
// alone, and either is said on stderr; the status is ReadRecord's.
absl::Status LoadRecordOrSetAside(const std::string& state_dir, const std::string& kind, const std::string& dir,
                                  const std::string& file, google::protobuf::Message* record);

// A sandbox's port mappings as CNI's portmap plugin takes them (runtimeConfig).
nlohmann::json CniPortMappings(const ::crispd::state::v1::SandboxRecord& record);

}  // namespace crisp::crispd

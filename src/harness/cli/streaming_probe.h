// `crisp info --streaming`: which transports and protocol versions a
// runtime's streaming server accepts. A pod with a sleeping container is
// made for it (and removed after); each probe asks Exec or PortForward for
// a fresh URL and offers the server exactly one protocol.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "harness/client/cri_client.h"
#include "nlohmann/json.hpp"

namespace crisp::cli {

struct StreamingProbe {
  std::string rpc;        // Exec or PortForward
  std::string transport;  // websocket or spdy
  std::string protocol;   // the one offered
  bool accepted = false;  // the server upgraded and chose it
  std::string detail;     // why not, when it was not
};

struct StreamingProbeReport {
  std::vector<StreamingProbe> probes;
  std::string error;  // the probe pod could not be set up (or removed): why
};

// Pulls `image`, runs the pod and its container, probes, removes the pod.
StreamingProbeReport ProbeStreaming(client::CriClient& client, absl::Duration timeout, const std::string& image);

// Rows "Streaming <rpc>, <transport>" -> "accepted: ...; refused: ...".
std::vector<std::pair<std::string, std::string>> StreamingRows(const StreamingProbeReport& report);

nlohmann::json StreamingToJson(const StreamingProbeReport& report);

}  // namespace crisp::cli

// SPDY/3.1 frames: their wire layout (SPDY/3.1 draft §2.2, §2.6), an
// encoder for each kind, and an incremental decoder that takes bytes as
// they come off a socket and hands back whole frames. All integers are
// big-endian. Header blocks stay compressed here (spdy_headers.h inflates
// them, with the session's one zlib stream).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace crisp::spdy {

inline constexpr uint16_t kVersion = 3;
inline constexpr uint32_t kMaxStreamId = 0x7fffffff;
inline constexpr size_t kFrameHeaderBytes = 8;
inline constexpr uint32_t kInitialWindow = 65536;

enum class ControlType : uint16_t {
  kSynStream = 1,
  kSynReply = 2,
  kRstStream = 3,
  kSettings = 4,
  kPing = 6,
  kGoAway = 7,
  kHeaders = 8,
  kWindowUpdate = 9,
};

inline constexpr uint8_t kFlagFin = 0x01;             // DATA, SYN_STREAM, SYN_REPLY, HEADERS
inline constexpr uint8_t kFlagUnidirectional = 0x02;  // SYN_STREAM

// RST_STREAM status codes (§2.6.3).
enum class RstStatus : uint32_t {
  kProtocolError = 1,
  kInvalidStream = 2,
  kRefusedStream = 3,
  kUnsupportedVersion = 4,
  kCancel = 5,
  kInternalError = 6,
  kFlowControlError = 7,
  kStreamInUse = 8,
  kStreamAlreadyClosed = 9,
  kFrameTooLarge = 11,
};

// GOAWAY status codes (§2.6.6).
enum class GoAwayStatus : uint32_t { kOk = 0, kProtocolError = 1, kInternalError = 2 };

inline constexpr uint32_t kSettingInitialWindowSize = 7;

// One decoded frame. Which fields mean something depends on the kind.
struct Frame {
  bool control = false;
  ControlType type = ControlType::kSynStream;  // control frames
  uint8_t flags = 0;
  uint32_t stream_id = 0;       // DATA, SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS, WINDOW_UPDATE (0: the session)
  uint32_t associated_id = 0;   // SYN_STREAM
  uint8_t priority = 0;         // SYN_STREAM, 0 (highest) to 7
  std::string data;             // DATA payload, or the compressed header block
  uint32_t status = 0;          // RST_STREAM, GOAWAY
  uint32_t last_good_id = 0;    // GOAWAY
  uint32_t ping_id = 0;         // PING
  uint32_t delta = 0;           // WINDOW_UPDATE
  std::vector<std::pair<uint32_t, uint32_t>> settings;  // SETTINGS: id, value (first of each id)

  bool fin() const { return (flags & kFlagFin) != 0; }
};

// Encoders. `block` is an already compressed header block.
std::string EncodeData(uint32_t stream_id, std::string_view payload, bool fin);
std::string EncodeSynStream(uint32_t stream_id, std::string_view block, bool fin, uint8_t priority = 0);
std::string EncodeSynReply(uint32_t stream_id, std::string_view block, bool fin);
std::string EncodeRstStream(uint32_t stream_id, RstStatus status);
std::string EncodeSettings(const std::vector<std::pair<uint32_t, uint32_t>>& settings);
std::string EncodePing(uint32_t id);
std::string EncodeGoAway(uint32_t last_good_id, GoAwayStatus status);
std::string EncodeWindowUpdate(uint32_t stream_id, uint32_t delta);

struct DecoderLimits {
  size_t max_control_payload = 64 * 1024;  // the draft asks for at least 8192
  size_t max_data_payload = 1 << 20;       // peers write 32 KiB; a larger claim is refused before it is read
};

// Feed bytes in any pieces; take whole frames out. An error is a session
// error (a frame that cannot be parsed leaves no way to find the next one):
// the decoder stays failed and the session should send GOAWAY and close.
class FrameDecoder {
 public:
  explicit FrameDecoder(DecoderLimits limits = {}) : limits_(limits) {}

  absl::Status Feed(std::string_view bytes);
  // The next whole frame, in order; nullopt when none is complete yet.
  std::optional<Frame> Next();
  // Bytes held that do not yet make a frame.
  size_t buffered() const { return buffer_.size(); }

 private:
  absl::StatusOr<Frame> Parse(std::string_view header, std::string_view payload) const;

  DecoderLimits limits_;
  std::string buffer_;
  std::deque<Frame> frames_;
  absl::Status failed_;
};

}  // namespace crisp::spdy

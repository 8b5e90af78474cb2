#include "streaming_protocol/spdy_frame.h"

#include <algorithm>

#include "absl/status/status.h"
#include "common/strings.h"
#include "streaming_protocol/big_endian.h"

namespace crisp::spdy {
namespace {

uint32_t U24(std::string_view bytes, size_t at) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + i])); };
  return b(0) << 16 | b(1) << 8 | b(2);
}

// The 8-byte header of a control frame: C=1, version, type, flags, length.
std::string ControlHeader(ControlType type, uint8_t flags, size_t length) {
  std::string out;
  out.push_back(static_cast<char>(0x80 | (kVersion >> 8)));
  out.push_back(static_cast<char>(kVersion & 0xff));
  out.push_back(static_cast<char>(static_cast<uint16_t>(type) >> 8));
  out.push_back(static_cast<char>(static_cast<uint16_t>(type) & 0xff));
  PutU32(out, static_cast<uint32_t>(flags) << 24 | static_cast<uint32_t>(length));
  return out;
}

absl::Status Malformed(std::string_view what) { return absl::DataLossError(crisp::StrCat("malformed ", what)); }

}  // namespace

std::string EncodeData(uint32_t stream_id, std::string_view payload, bool fin) {
  std::string out;
  PutU32(out, stream_id & kMaxStreamId);
  PutU32(out, static_cast<uint32_t>(fin ? kFlagFin : 0) << 24 | static_cast<uint32_t>(payload.size()));
  out.append(payload);
  return out;
}

std::string EncodeSynStream(uint32_t stream_id, std::string_view block, bool fin, uint8_t priority) {
  std::string out = ControlHeader(ControlType::kSynStream, fin ? kFlagFin : 0, 10 + block.size());
  PutU32(out, stream_id & kMaxStreamId);
  PutU32(out, 0);  // associated-to: none
  out.push_back(static_cast<char>((priority & 7) << 5));
  out.push_back(0);  // slot
  out.append(block);
  return out;
}

std::string EncodeSynReply(uint32_t stream_id, std::string_view block, bool fin) {
  std::string out = ControlHeader(ControlType::kSynReply, fin ? kFlagFin : 0, 4 + block.size());
  PutU32(out, stream_id & kMaxStreamId);
  out.append(block);
  return out;
}

std::string EncodeRstStream(uint32_t stream_id, RstStatus status) {
  std::string out = ControlHeader(ControlType::kRstStream, 0, 8);
  PutU32(out, stream_id & kMaxStreamId);
  PutU32(out, static_cast<uint32_t>(status));
  return out;
}

std::string EncodeSettings(const std::vector<std::pair<uint32_t, uint32_t>>& settings) {
  std::string out = ControlHeader(ControlType::kSettings, 0, 4 + 8 * settings.size());
  PutU32(out, static_cast<uint32_t>(settings.size()));
  for (const auto& [id, value] : settings) {
    PutU32(out, id & 0xffffff);  // flags 0
    PutU32(out, value);
  }
  return out;
}

std::string EncodePing(uint32_t id) {
  std::string out = ControlHeader(ControlType::kPing, 0, 4);
  PutU32(out, id);
  return out;
}

std::string EncodeGoAway(uint32_t last_good_id, GoAwayStatus status) {
  std::string out = ControlHeader(ControlType::kGoAway, 0, 8);
  PutU32(out, last_good_id & kMaxStreamId);
  PutU32(out, static_cast<uint32_t>(status));
  return out;
}

std::string EncodeWindowUpdate(uint32_t stream_id, uint32_t delta) {
  std::string out = ControlHeader(ControlType::kWindowUpdate, 0, 8);
  PutU32(out, stream_id & kMaxStreamId);
  PutU32(out, delta & kMaxStreamId);
  return out;
}

absl::Status FrameDecoder::Feed(std::string_view bytes) {
  if (!failed_.ok()) return failed_;
  buffer_.append(bytes);
  size_t at = 0;
  while (buffer_.size() - at >= kFrameHeaderBytes) {
    std::string_view header(buffer_.data() + at, kFrameHeaderBytes);
    const bool control = (static_cast<unsigned char>(header[0]) & 0x80) != 0;
    const size_t length = U24(header, 5);
    const size_t limit = control ? limits_.max_control_payload : limits_.max_data_payload;
    if (length > limit) {
      failed_ = absl::ResourceExhaustedError(crisp::StrCat("a ", control ? "control" : "data", " frame of ", length,
                                                           " bytes (the limit is ", limit, ")"));
      return failed_;
    }
    if (buffer_.size() - at - kFrameHeaderBytes < length) break;  // the rest has not come yet
    absl::StatusOr<Frame> frame = Parse(header, std::string_view(buffer_.data() + at + kFrameHeaderBytes, length));
    at += kFrameHeaderBytes + length;
    if (!frame.ok()) {
      failed_ = frame.status();
      return failed_;
    }
    // An unknown control type is ignored, as §2.2.1 asks (it comes back as a
    // frame of no known type only to be dropped here).
    if (frame->control && frame->type == ControlType{0}) continue;
    frames_.push_back(*std::move(frame));
  }
  buffer_.erase(0, at);
  return absl::OkStatus();
}

std::optional<Frame> FrameDecoder::Next() {
  if (frames_.empty()) return std::nullopt;
  Frame frame = std::move(frames_.front());
  frames_.pop_front();
  return frame;
}

absl::StatusOr<Frame> FrameDecoder::Parse(std::string_view header, std::string_view payload) const {
  Frame frame;
  frame.flags = static_cast<uint8_t>(header[4]);
  if ((static_cast<unsigned char>(header[0]) & 0x80) == 0) {
    frame.stream_id = GetU32(header, 0) & kMaxStreamId;
    if (frame.stream_id == 0) return Malformed("DATA frame: stream 0");
    frame.data = std::string(payload);
    return frame;
  }
  frame.control = true;
  const uint16_t version = static_cast<uint16_t>((static_cast<unsigned char>(header[0]) & 0x7f) << 8 |
                                                 static_cast<unsigned char>(header[1]));
  if (version != kVersion) {
    return absl::UnimplementedError(crisp::StrCat("a control frame of SPDY version ", version, ", not 3"));
  }
  const uint16_t type = static_cast<uint16_t>(static_cast<unsigned char>(header[2]) << 8 |
                                              static_cast<unsigned char>(header[3]));
  auto stream = [&](const char* name) -> absl::Status {
    frame.stream_id = GetU32(payload, 0) & kMaxStreamId;
    if (frame.stream_id == 0) return Malformed(crisp::StrCat(name, ": stream 0"));
    return absl::OkStatus();
  };
  switch (type) {
    case static_cast<uint16_t>(ControlType::kSynStream):
      frame.type = ControlType::kSynStream;
      if (payload.size() < 10) return Malformed("SYN_STREAM: too short");
      if (absl::Status ok = stream("SYN_STREAM"); !ok.ok()) return ok;
      frame.associated_id = GetU32(payload, 4) & kMaxStreamId;
      frame.priority = static_cast<uint8_t>(static_cast<unsigned char>(payload[8]) >> 5);
      frame.data = std::string(payload.substr(10));
      return frame;
    case static_cast<uint16_t>(ControlType::kSynReply):
    case static_cast<uint16_t>(ControlType::kHeaders):
      frame.type = static_cast<ControlType>(type);
      if (payload.size() < 4) return Malformed("SYN_REPLY or HEADERS: too short");
      if (absl::Status ok = stream("SYN_REPLY or HEADERS"); !ok.ok()) return ok;
      frame.data = std::string(payload.substr(4));
      return frame;
    case static_cast<uint16_t>(ControlType::kRstStream):
      frame.type = ControlType::kRstStream;
      if (payload.size() != 8) return Malformed("RST_STREAM: length is not 8");
      if (absl::Status ok = stream("RST_STREAM"); !ok.ok()) return ok;
      frame.status = GetU32(payload, 4);
      if (frame.status == 0) return Malformed("RST_STREAM: status 0");
      return frame;
    case static_cast<uint16_t>(ControlType::kSettings): {
      frame.type = ControlType::kSettings;
      if (payload.size() < 4) return Malformed("SETTINGS: too short");
      const uint32_t count = GetU32(payload, 0);
      if (payload.size() != 4 + 8 * static_cast<size_t>(count)) return Malformed("SETTINGS: length and count disagree");
      for (uint32_t i = 0; i < count; ++i) {
        const uint32_t id = GetU32(payload, 4 + 8 * i) & 0xffffff;
        // "only the first value counts" when an id repeats
        if (std::none_of(frame.settings.begin(), frame.settings.end(), [&](const auto& s) { return s.first == id; })) {
          frame.settings.emplace_back(id, GetU32(payload, 8 + 8 * i));
        }
      }
      return frame;
    }
    case static_cast<uint16_t>(ControlType::kPing):
      frame.type = ControlType::kPing;
      if (payload.size() != 4) return Malformed("PING: length is not 4");
      frame.ping_id = GetU32(payload, 0);
      return frame;
    case static_cast<uint16_t>(ControlType::kGoAway):
      frame.type = ControlType::kGoAway;
      if (payload.size() != 8) return Malformed("GOAWAY: length is not 8");
      frame.last_good_id = GetU32(payload, 0) & kMaxStreamId;
      frame.status = GetU32(payload, 4);
      return frame;
    case static_cast<uint16_t>(ControlType::kWindowUpdate):
      frame.type = ControlType::kWindowUpdate;
      if (payload.size() != 8) return Malformed("WINDOW_UPDATE: length is not 8");
      frame.stream_id = GetU32(payload, 0) & kMaxStreamId;
      frame.delta = GetU32(payload, 4) & kMaxStreamId;
      if (frame.delta == 0) return Malformed("WINDOW_UPDATE: a delta of 0");
      return frame;
    default:
      frame.type = ControlType{0};  // unknown: dropped by Feed
      return frame;
  }
}

}  // namespace crisp::spdy

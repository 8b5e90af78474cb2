// SPDY/3.1 frames: the encoders give the bytes other implementations give
// (vectors from moby/spdystream's framer, in ../shared/research/spdy.md),
// and the decoder takes any split of them and refuses what it must.
#include "streaming_protocol/spdy_frame.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::spdy {
namespace {

using ::testing::HasSubstr;

std::string Hex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    out += kDigits[static_cast<unsigned char>(c) >> 4];
    out += kDigits[static_cast<unsigned char>(c) & 15];
  }
  return out;
}

std::string Bytes(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

TEST(SpdyFrameTest, EncodersMatchTheReferenceBytes) {
  EXPECT_EQ(Hex(EncodePing(1)), "800300060000000400000001");
  EXPECT_EQ(Hex(EncodeRstStream(3, RstStatus::kCancel)), "80030003000000080000000300000005");
  EXPECT_EQ(Hex(EncodeGoAway(3, GoAwayStatus::kOk)), "80030007000000080000000300000000");
  EXPECT_EQ(Hex(EncodeWindowUpdate(0, 65536)), "80030009000000080000000000010000");
  EXPECT_EQ(Hex(EncodeData(3, "", true)), "0000000301000000");
  EXPECT_EQ(Hex(EncodeSynReply(1, Bytes("aabb"), false)), "800300020000000600000001aabb");
  EXPECT_EQ(Hex(EncodeSynStream(5, Bytes("cc"), true)), "800300010100000b0000000500000000" "0000cc");
}

TEST(SpdyFrameTest, TheDecoderTakesFramesSplitAnywhere) {
  std::string wire = EncodePing(7) + EncodeData(3, "hello", false) + EncodeSynStream(1, "block", false, 3) +
                     EncodeSettings({{kSettingInitialWindowSize, 1 << 20}, {kSettingInitialWindowSize, 5}}) +
                     EncodeWindowUpdate(1, 100) + EncodeRstStream(3, RstStatus::kCancel) +
                     EncodeGoAway(1, GoAwayStatus::kProtocolError) + EncodeData(3, "", true);
  FrameDecoder decoder;
  std::vector<Frame> frames;
  for (char byte : wire) {  // one byte at a time: the worst split
    ASSERT_TRUE(decoder.Feed(std::string_view(&byte, 1)).ok());
    while (std::optional<Frame> frame = decoder.Next()) frames.push_back(*std::move(frame));
  }
  ASSERT_EQ(frames.size(), 8u);
  EXPECT_EQ(decoder.buffered(), 0u);
  EXPECT_EQ(frames[0].type, ControlType::kPing);
  EXPECT_EQ(frames[0].ping_id, 7u);
  EXPECT_FALSE(frames[1].control);
  EXPECT_EQ(frames[1].stream_id, 3u);
  EXPECT_EQ(frames[1].data, "hello");
  EXPECT_FALSE(frames[1].fin());
  EXPECT_EQ(frames[2].type, ControlType::kSynStream);
  EXPECT_EQ(frames[2].stream_id, 1u);
  EXPECT_EQ(frames[2].priority, 3);
  EXPECT_EQ(frames[2].data, "block");
  EXPECT_EQ(frames[3].settings, (std::vector<std::pair<uint32_t, uint32_t>>{{kSettingInitialWindowSize, 1 << 20}}))
      << "a repeated id keeps its first value";
  EXPECT_EQ(frames[4].delta, 100u);
  EXPECT_EQ(frames[5].status, static_cast<uint32_t>(RstStatus::kCancel));
  EXPECT_EQ(frames[6].last_good_id, 1u);
  EXPECT_EQ(frames[6].status, static_cast<uint32_t>(GoAwayStatus::kProtocolError));
  EXPECT_TRUE(frames[7].fin());
}

TEST(SpdyFrameTest, AnUnknownControlTypeIsIgnored) {
  std::string unknown = Bytes("80030005" "00000004" "01020304");  // type 5 is unused in SPDY/3
  FrameDecoder decoder;
  ASSERT_TRUE(decoder.Feed(unknown + EncodePing(2)).ok());
  std::optional<Frame> frame = decoder.Next();
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->type, ControlType::kPing);
  EXPECT_FALSE(decoder.Next());
}

TEST(SpdyFrameTest, AFrameLargerThanTheLimitIsRefusedBeforeItsPayloadComes) {
  FrameDecoder decoder({.max_control_payload = 8192, .max_data_payload = 1024});
  // Only the header of a 16 MiB DATA frame: refused at once, nothing buffered for it.
  absl::Status status = decoder.Feed(Bytes("00000001" "00ffffff"));
  EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("16777215 bytes"));
  // The decoder stays failed: there is no next frame to find.
  EXPECT_FALSE(decoder.Feed(EncodePing(1)).ok());
  EXPECT_FALSE(decoder.Next());
}

TEST(SpdyFrameTest, MalformedFramesAreSessionErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {Bytes("00000000" "00000001" "ff"), "DATA frame: stream 0"},
      {Bytes("80030003" "00000008" "00000001" "00000000"), "RST_STREAM: status 0"},
      {Bytes("80030003" "00000004" "00000001"), "RST_STREAM: length is not 8"},
      {Bytes("80030006" "00000008" "00000001" "00000002"), "PING: length is not 4"},
      {Bytes("80030009" "00000008" "00000001" "00000000"), "WINDOW_UPDATE: a delta of 0"},
      {Bytes("80030004" "0000000c" "00000002" "00000007" "00000001"), "SETTINGS: length and count disagree"},
      {Bytes("80030001" "00000004" "00000001"), "SYN_STREAM: too short"},
      {Bytes("80030001" "0000000a" "00000000" "00000000" "0000"), "SYN_STREAM: stream 0"},
  };
  for (const auto& [wire, message] : cases) {
    FrameDecoder decoder;
    absl::Status status = decoder.Feed(wire);
    EXPECT_THAT(status.message(), HasSubstr(message)) << Hex(wire);
  }
  FrameDecoder decoder;
  EXPECT_TRUE(absl::IsUnimplemented(decoder.Feed(Bytes("80020006" "00000004" "00000001"))));  // SPDY/2
}

TEST(SpdyFrameTest, TenThousandFramesAtOnce) {
  std::string wire;
  for (uint32_t i = 0; i < 10000; ++i) wire += EncodeData(2 * i + 1, "x", true);
  FrameDecoder decoder;
  ASSERT_TRUE(decoder.Feed(wire).ok());
  uint32_t count = 0;
  while (std::optional<Frame> frame = decoder.Next()) {
    EXPECT_EQ(frame->stream_id, 2 * count + 1);
    ++count;
  }
  EXPECT_EQ(count, 10000u);
}

}  // namespace
}  // namespace crisp::spdy

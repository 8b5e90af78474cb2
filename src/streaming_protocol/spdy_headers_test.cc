// SPDY/3 header blocks: the dictionary is the published one, blocks that
// spdystream (the kubelet's library) wrote decode here with one zlib stream
// per direction, ours decode again, and a hostile block is refused.
#include "streaming_protocol/spdy_headers.h"

#include <zlib.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "streaming_protocol/spdy_frame.h"

namespace crisp::spdy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

std::string Bytes(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

Frame DecodeOne(const std::string& wire) {
  FrameDecoder decoder;
  EXPECT_TRUE(decoder.Feed(wire).ok());
  std::optional<Frame> frame = decoder.Next();
  EXPECT_TRUE(frame);
  return frame ? *frame : Frame{};
}

TEST(Spdy3DictionaryTest, IsThePublishedOne) {
  std::string_view dictionary = Spdy3Dictionary();
  EXPECT_EQ(dictionary.size(), 1423u);
  EXPECT_EQ(adler32(1, reinterpret_cast<const Bytef*>(dictionary.data()), static_cast<uInt>(dictionary.size())),
            0xE3C6A7C2u);
  EXPECT_TRUE(dictionary.ends_with("enq=0."));
}

TEST(HeaderDecompressorTest, DecodesWhatSpdystreamWroteOneStreamPerDirection) {
  // The client's first two SYN_STREAMs: the second continues the zlib stream.
  HeaderDecompressor from_client;
  Frame first = DecodeOne(Bytes("8003000100000029" "00000001000000000000"
                                "78f9e3c6a7c26260606004a7b392a2d4c45c6851c29a0a0a6800000000ffff"));
  absl::StatusOr<Headers> headers = from_client.Decompress(first.data);
  ASSERT_TRUE(headers.ok()) << headers.status();
  EXPECT_THAT(*headers, ElementsAre(Pair("streamtype", "error")));
  Frame second = DecodeOne(Bytes("8003000100000019" "00000003000000000000" "c22ac5565c92925f5a02000000ffff"));
  EXPECT_EQ(second.stream_id, 3u);
  headers = from_client.Decompress(second.data);
  ASSERT_TRUE(headers.ok()) << headers.status();
  EXPECT_THAT(*headers, ElementsAre(Pair("streamtype", "stdout")));

  // The server's empty replies, on the other direction's stream.
  HeaderDecompressor from_server;
  Frame reply = DecodeOne(Bytes("8003000200000014" "00000001" "78f9e3c6a7c26260606000000000ffff"));
  EXPECT_EQ(reply.type, ControlType::kSynReply);
  headers = from_server.Decompress(reply.data);
  ASSERT_TRUE(headers.ok()) << headers.status();
  EXPECT_TRUE(headers->empty());
  headers = from_server.Decompress(DecodeOne(Bytes("800300020000000c" "00000003" "026100000000ffff")).data);
  ASSERT_TRUE(headers.ok()) << headers.status();
  EXPECT_TRUE(headers->empty());
}

TEST(HeaderCompressorTest, OurBlocksRoundTripAcrossOneSession) {
  HeaderCompressor compressor;
  HeaderDecompressor decompressor;
  const std::vector<Headers> blocks = {
      {{"streamtype", "error"}},
      {{"streamtype", "data"}, {"port", "6379"}, {"requestid", "0"}},
      {},
      {{"x-multi", std::string("a\0b", 3)}},
  };
  for (const Headers& headers : blocks) {
    absl::StatusOr<std::string> block = compressor.Compress(headers);
    ASSERT_TRUE(block.ok()) << block.status();
    EXPECT_TRUE(block->ends_with(std::string("\0\0\xff\xff", 4))) << "each block ends in a sync flush";
    absl::StatusOr<Headers> back = decompressor.Decompress(*block);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, headers);
  }
  EXPECT_EQ(HeaderValue(blocks[1], "port"), "6379");
  EXPECT_EQ(HeaderValue(blocks[1], "missing"), "");
}

TEST(HeaderCompressorTest, ValuesEdgedWithNulAndEmptyNamesAreRefused) {
  HeaderCompressor compressor;
  EXPECT_FALSE(compressor.Compress({{"", "x"}}).ok());
  EXPECT_FALSE(compressor.Compress({{"a", std::string("\0b", 2)}}).ok());
}

TEST(HeaderDecompressorTest, ABlockThatInflatesPastTheLimitIsRefused) {
  HeaderCompressor compressor;
  absl::StatusOr<std::string> bomb = compressor.Compress({{"big", std::string(1 << 20, 'z')}});
  ASSERT_TRUE(bomb.ok());
  EXPECT_LT(bomb->size(), 8192u) << "a megabyte of one letter compresses to little";
  HeaderDecompressor decompressor({.max_block_bytes = 64 * 1024});
  absl::Status status = decompressor.Decompress(*bomb).status();
  EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
  // The zlib stream is out of step now: every later block is refused too.
  EXPECT_TRUE(absl::IsFailedPrecondition(decompressor.Decompress("x").status()));
}

TEST(HeaderDecompressorTest, GarbageIsADataLoss) {
  HeaderDecompressor decompressor;
  EXPECT_TRUE(absl::IsDataLoss(decompressor.Decompress("this is not zlib").status()));
}

TEST(DecodeHeaderBlockTest, LiesAndForbiddenNamesAreRefused) {
  HeaderLimits limits;
  EXPECT_TRUE(absl::IsResourceExhausted(DecodeHeaderBlock(Bytes("000f4240"), limits).status()))
      << "a million pairs in four bytes";
  EXPECT_TRUE(absl::IsDataLoss(DecodeHeaderBlock(Bytes("00000001" "000000ff" "61616161" "61616161"), limits).status()));
  EXPECT_THAT(DecodeHeaderBlock(Bytes("00000001" "00000001" "41" "00000000"), limits).status().message(),
              HasSubstr("not lowercase"));
  EXPECT_THAT(
      DecodeHeaderBlock(Bytes("00000002" "00000001" "61" "00000000" "00000001" "61" "00000000"), limits).status().message(),
      HasSubstr("twice"));
  EXPECT_THAT(DecodeHeaderBlock(Bytes("00000000" "ff"), limits).status().message(), HasSubstr("after the last"));
  absl::StatusOr<Headers> ok = DecodeHeaderBlock(EncodeHeaderBlock({{"Port", "80"}}), limits);
  ASSERT_TRUE(ok.ok());
  EXPECT_THAT(*ok, ElementsAre(Pair("port", "80"))) << "names go out lowercased";
}

}  // namespace
}  // namespace crisp::spdy

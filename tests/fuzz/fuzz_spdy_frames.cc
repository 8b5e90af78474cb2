// SPDY/3.1 as a peer sends it (crisp's client and crispd's server both
// decode with these): frames fed in arbitrary pieces, and every header
// block decompressed by one session's zlib stream.
#include <cstdint>
#include <string_view>

#include "streaming_protocol/spdy_frame.h"
#include "streaming_protocol/spdy_headers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  crisp::spdy::FrameDecoder decoder;
  crisp::spdy::HeaderDecompressor headers;
  bool headers_ok = true;
  // The first byte picks the piece size, so splits across reads are covered.
  size_t piece = bytes.empty() ? 1 : static_cast<unsigned char>(bytes[0]) % 64 + 1;
  for (size_t at = 1; at < bytes.size(); at += piece) {
    if (!decoder.Feed(bytes.substr(at, piece)).ok()) break;
    while (auto frame = decoder.Next()) {
      const bool has_block = frame->control && (frame->type == crisp::spdy::ControlType::kSynStream ||
                                                frame->type == crisp::spdy::ControlType::kSynReply ||
                                                frame->type == crisp::spdy::ControlType::kHeaders);
      if (has_block && headers_ok) headers_ok = headers.Decompress(frame->data).ok();
    }
  }
  (void)crisp::spdy::DecodeHeaderBlock(bytes, crisp::spdy::HeaderLimits{});
  return 0;
}

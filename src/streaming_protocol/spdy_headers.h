// SPDY/3 name/value header blocks: the pairs a SYN_STREAM, SYN_REPLY or
// HEADERS frame carries, compressed with zlib against the SPDY/3 dictionary.
//
// Each direction of a session keeps ONE zlib stream for its whole life,
// flushed (Z_SYNC_FLUSH) after every block, so a compressor and a
// decompressor belong to one session and one direction and are never reset;
// a block that fails to inflate leaves the stream unusable, which is a
// session error (GOAWAY), not a stream error.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace crisp::spdy {

// In order; a name appears once (several values are joined with NUL on the
// wire and kept joined here). Names are lowercase.
using Headers = std::vector<std::pair<std::string, std::string>>;

// The value of `name`, or "" when it is absent.
std::string_view HeaderValue(const Headers& headers, std::string_view name);

// The SPDY/3 compression dictionary (1423 bytes; its Adler-32 is 0xE3C6A7C2,
// the DICTID every SPDY/3 header stream announces).
std::string_view Spdy3Dictionary();

struct HeaderLimits {
  size_t max_block_bytes = 64 * 1024;  // decompressed, per block: the zip-bomb guard
  size_t max_pairs = 256;
};

class HeaderCompressor {
 public:
  HeaderCompressor();
  ~HeaderCompressor();
  HeaderCompressor(const HeaderCompressor&) = delete;
  HeaderCompressor& operator=(const HeaderCompressor&) = delete;

  // The compressed block for `headers` (names lowercased). InvalidArgument
  // for an empty name or a value that starts or ends with NUL.
  absl::StatusOr<std::string> Compress(const Headers& headers);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

class HeaderDecompressor {
 public:
  explicit HeaderDecompressor(HeaderLimits limits = {});
  ~HeaderDecompressor();
  HeaderDecompressor(const HeaderDecompressor&) = delete;
  HeaderDecompressor& operator=(const HeaderDecompressor&) = delete;

  // The pairs of one compressed block. DataLoss when zlib refuses it or it
  // does not decompress to a whole block; ResourceExhausted past a limit;
  // InvalidArgument for what SPDY forbids (an empty, uppercase or repeated
  // name). Any error leaves the decompressor unusable: end the session.
  absl::StatusOr<Headers> Decompress(std::string_view block);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The uncompressed form: count, then length-prefixed names and values.
std::string EncodeHeaderBlock(const Headers& headers);
absl::StatusOr<Headers> DecodeHeaderBlock(std::string_view block, const HeaderLimits& limits);

}  // namespace crisp::spdy

#include "streaming_protocol/spdy_headers.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <set>

#include "absl/status/status.h"
#include "common/strings.h"
#include "streaming_protocol/big_endian.h"

namespace crisp::spdy {
namespace {

constexpr uLong kDictionaryId = 0xE3C6A7C2;

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return text;
}

}  // namespace

std::string_view HeaderValue(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

std::string_view Spdy3Dictionary() {
  // SPDY/3 draft §2.6.10.1: HTTP header names, each with a 4-byte length,
  // then status lines, dates and common values run together. Built from
  // that description; the unit test checks it against the DICTID.
  static const std::string dictionary = [] {
    const char* const kTokens[] = {
        "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
        "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
        "content-base", "content-encoding", "content-language", "content-length", "content-location", "content-md5",
        "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host", "if-match",
        "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
        "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer", "retry-after",
        "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
        "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url", "public",
        "set-cookie", "keep-alive", "origin"};
    std::string text;
    for (const char* token : kTokens) {
      PutU32(text, static_cast<uint32_t>(std::string_view(token).size()));
      text += token;
    }
    text +=
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
        "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
        "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
        "503 Service Unavailable"
        "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
        "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
        "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
    return text;
  }();
  return dictionary;
}

std::string EncodeHeaderBlock(const Headers& headers) {
  std::string block;
  PutU32(block, static_cast<uint32_t>(headers.size()));
  for (const auto& [name, value] : headers) {
    PutU32(block, static_cast<uint32_t>(name.size()));
    block += Lower(name);
    PutU32(block, static_cast<uint32_t>(value.size()));
    block += value;
  }
  return block;
}

absl::StatusOr<Headers> DecodeHeaderBlock(std::string_view block, const HeaderLimits& limits) {
  auto take_u32 = [&](uint32_t* value) {
    if (block.size() < 4) return false;
    *value = GetU32(block);
    block.remove_prefix(4);
    return true;
  };
  uint32_t count = 0;
  if (!take_u32(&count)) return absl::DataLossError("a header block shorter than its pair count");
  // Each pair takes at least 8 bytes: a count beyond that is a lie.
  if (count > limits.max_pairs || count > block.size() / 8) {
    return absl::ResourceExhaustedError(crisp::StrCat("a header block claims ", count, " pairs"));
  }
  Headers headers;
  std::set<std::string, std::less<>> seen;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t length = 0;
    if (!take_u32(&length) || length > block.size()) return absl::DataLossError("a header name runs past its block");
    std::string name(block.substr(0, length));
    block.remove_prefix(length);
    if (name.empty()) return absl::InvalidArgumentError("a header with an empty name");
    if (std::any_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
      return absl::InvalidArgumentError(crisp::StrCat("header name \"", name, "\" is not lowercase"));
    }
    if (!seen.insert(name).second) return absl::InvalidArgumentError(crisp::StrCat("header \"", name, "\" twice"));
    if (!take_u32(&length) || length > block.size()) return absl::DataLossError("a header value runs past its block");
    headers.emplace_back(std::move(name), std::string(block.substr(0, length)));
    block.remove_prefix(length);
  }
  if (!block.empty()) return absl::DataLossError("bytes after the last header pair");
  return headers;
}

// ---- HeaderCompressor

struct HeaderCompressor::State {
  z_stream z{};
  bool ready = false;
};

HeaderCompressor::HeaderCompressor() : state_(std::make_unique<State>()) {
  if (deflateInit(&state_->z, Z_DEFAULT_COMPRESSION) != Z_OK) return;
  std::string_view dictionary = Spdy3Dictionary();
  state_->ready = deflateSetDictionary(&state_->z, reinterpret_cast<const Bytef*>(dictionary.data()),
                                       static_cast<uInt>(dictionary.size())) == Z_OK;
}

HeaderCompressor::~HeaderCompressor() { deflateEnd(&state_->z); }

absl::StatusOr<std::string> HeaderCompressor::Compress(const Headers& headers) {
  if (!state_->ready) return absl::InternalError("zlib would not start a header compressor");
  for (const auto& [name, value] : headers) {
    if (name.empty()) return absl::InvalidArgumentError("a header with an empty name");
    if (!value.empty() && (value.front() == '\0' || value.back() == '\0')) {
      return absl::InvalidArgumentError(crisp::StrCat("header \"", name, "\": a value may not start or end with NUL"));
    }
  }
  std::string block = EncodeHeaderBlock(headers);
  z_stream& z = state_->z;
  z.next_in = reinterpret_cast<Bytef*>(block.data());
  z.avail_in = static_cast<uInt>(block.size());
  std::string out;
  char buffer[4096];
  do {
    z.next_out = reinterpret_cast<Bytef*>(buffer);
    z.avail_out = sizeof buffer;
    if (int rc = deflate(&z, Z_SYNC_FLUSH); rc != Z_OK && rc != Z_BUF_ERROR) {
      state_->ready = false;
      return absl::InternalError(crisp::StrCat("zlib deflate failed (", rc, ")"));
    }
    out.append(buffer, sizeof buffer - z.avail_out);
  } while (z.avail_out == 0);
  return out;
}

// ---- HeaderDecompressor

struct HeaderDecompressor::State {
  z_stream z{};
  HeaderLimits limits;
  bool ready = false;
};

HeaderDecompressor::HeaderDecompressor(HeaderLimits limits) : state_(std::make_unique<State>()) {
  state_->limits = limits;
  state_->ready = inflateInit(&state_->z) == Z_OK;
}

HeaderDecompressor::~HeaderDecompressor() { inflateEnd(&state_->z); }

absl::StatusOr<Headers> HeaderDecompressor::Decompress(std::string_view block) {
  if (!state_->ready) return absl::FailedPreconditionError("the header stream broke earlier in this session");
  z_stream& z = state_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(block.data()));
  z.avail_in = static_cast<uInt>(block.size());
  std::string out;
  char buffer[4096];
  auto broken = [&](absl::Status status) {
    state_->ready = false;
    return status;
  };
  while (true) {
    z.next_out = reinterpret_cast<Bytef*>(buffer);
    z.avail_out = sizeof buffer;
    int rc = inflate(&z, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      if (z.adler != kDictionaryId) {
        return broken(absl::DataLossError(crisp::StrCat("a header block asks for dictionary ", z.adler,
                                                        ", not SPDY/3's")));
      }
      std::string_view dictionary = Spdy3Dictionary();
      if (inflateSetDictionary(&z, reinterpret_cast<const Bytef*>(dictionary.data()),
                               static_cast<uInt>(dictionary.size())) != Z_OK) {
        return broken(absl::DataLossError("zlib refused the SPDY/3 dictionary"));
      }
      continue;
    }
    out.append(buffer, sizeof buffer - z.avail_out);
    if (out.size() > state_->limits.max_block_bytes) {
      return broken(absl::ResourceExhaustedError(
          crisp::StrCat("a header block inflates past ", state_->limits.max_block_bytes, " bytes")));
    }
    if (rc == Z_STREAM_END) return broken(absl::DataLossError("the peer ended its header stream"));
    if (rc == Z_BUF_ERROR && z.avail_in == 0) break;  // all of the block taken, nothing more to give
    if (rc != Z_OK) {
      return broken(absl::DataLossError(crisp::StrCat("a header block does not inflate (zlib ", rc,
                                                      z.msg != nullptr ? crisp::StrCat(": ", z.msg) : "", ")")));
    }
    if (z.avail_in == 0 && z.avail_out != 0) break;
  }
  absl::StatusOr<Headers> headers = DecodeHeaderBlock(out, state_->limits);
  if (!headers.ok()) return broken(headers.status());
  return headers;
}

}  // namespace crisp::spdy

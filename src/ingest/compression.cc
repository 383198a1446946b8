#include "ingest/compression.h"

#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include "fmt/format.h"

namespace vigil::ingest {
namespace {

absl::Status TooLarge(size_t max_bytes) {
  return absl::ResourceExhaustedError(
      fmt::format("decompressed body exceeds the limit of {} bytes", max_bytes));
}

// gzip (windowBits 16+15), zlib (15) or either (32+15) through zlib's inflate.
absl::Status Inflate(std::string_view body, int window_bits, size_t max_bytes, std::string* out) {
  z_stream zs{};
  if (inflateInit2(&zs, window_bits) != Z_OK) return absl::InternalError("inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  zs.avail_in = static_cast<uInt>(body.size());
  out->clear();
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (out->size() >= max_bytes) {
      inflateEnd(&zs);
      return TooLarge(max_bytes);
    }
    const size_t have = out->size();
    const size_t grow = std::min(max_bytes - have, std::max<size_t>(have, 64 << 10));
    out->resize(have + grow);
    zs.next_out = reinterpret_cast<Bytef*>(out->data() + have);
    zs.avail_out = static_cast<uInt>(grow);
    rc = inflate(&zs, Z_NO_FLUSH);
    out->resize(have + grow - zs.avail_out);
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && !(rc == Z_BUF_ERROR && zs.avail_out == 0)) {
      std::string why = zs.msg != nullptr ? zs.msg : "truncated or corrupt stream";
      inflateEnd(&zs);
      return absl::InvalidArgumentError(fmt::format("cannot decompress body: {}", why));
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      return absl::InvalidArgumentError("cannot decompress body: truncated stream");
    }
  }
  inflateEnd(&zs);
  return absl::OkStatus();
}

absl::Status Unsnappy(std::string_view body, size_t max_bytes, std::string* out) {
  size_t n = 0;
  if (!snappy::GetUncompressedLength(body.data(), body.size(), &n)) {
    return absl::InvalidArgumentError("cannot decompress body: corrupt snappy length");
  }
  if (n > max_bytes) return TooLarge(max_bytes);
  out->resize(n);
  if (!snappy::RawUncompress(body.data(), body.size(), out->data())) {
    return absl::InvalidArgumentError("cannot decompress body: corrupt snappy data");
  }
  return absl::OkStatus();
}

absl::Status Unzstd(std::string_view body, size_t max_bytes, std::string* out) {
  ZSTD_DStream* ds = ZSTD_createDStream();
  if (ds == nullptr) return absl::InternalError("ZSTD_createDStream failed");
  ZSTD_DCtx_setParameter(ds, ZSTD_d_windowLogMax, 27);  // 128 MiB windows at most
  ZSTD_inBuffer in{body.data(), body.size(), 0};
  out->clear();
  size_t rc = 1;
  while (in.pos < in.size || rc != 0) {
    if (out->size() >= max_bytes) {
      ZSTD_freeDStream(ds);
      return TooLarge(max_bytes);
    }
    const size_t have = out->size();
    const size_t grow = std::min(max_bytes - have, std::max<size_t>(have, 64 << 10));
    out->resize(have + grow);
    ZSTD_outBuffer ob{out->data() + have, grow, 0};
    const size_t before_in = in.pos;
    rc = ZSTD_decompressStream(ds, &ob, &in);
    out->resize(have + ob.pos);
    if (ZSTD_isError(rc)) {
      std::string why = ZSTD_getErrorName(rc);
      ZSTD_freeDStream(ds);
      return absl::InvalidArgumentError(fmt::format("cannot decompress body: {}", why));
    }
    if (in.pos == in.size && rc != 0 && ob.pos < grow && in.pos == before_in) {
      ZSTD_freeDStream(ds);
      return absl::InvalidArgumentError("cannot decompress body: truncated zstd frame");
    }
  }
  ZSTD_freeDStream(ds);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string_view> Decompress(std::string_view encoding, std::string_view body,
                                            size_t max_bytes, std::string* scratch) {
  absl::Status st;
  if (encoding.empty() || encoding == "identity") {
    if (body.size() > max_bytes) return TooLarge(max_bytes);
    return body;
  } else if (encoding == "gzip" || encoding == "x-gzip") {
    st = Inflate(body, 16 + MAX_WBITS, max_bytes, scratch);
  } else if (encoding == "deflate") {
    st = Inflate(body, 32 + MAX_WBITS, max_bytes, scratch);
  } else if (encoding == "snappy") {
    st = Unsnappy(body, max_bytes, scratch);
  } else if (encoding == "zstd") {
    st = Unzstd(body, max_bytes, scratch);
  } else {
    return absl::UnimplementedError(fmt::format(
        "unsupported Content-Encoding \"{}\" (accepted: gzip, deflate, snappy, zstd)", encoding));
  }
  if (!st.ok()) return st;
  return std::string_view(*scratch);
}

}  // namespace vigil::ingest

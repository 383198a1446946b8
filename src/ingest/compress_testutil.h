// Compressors for tests of the decompressing push paths: bodies as senders encode them.
#pragma once

#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <string>

namespace vigil::ingest::testutil {

// zlib's deflate; window_bits 31 writes a gzip stream, 15 a zlib ("deflate") one.
inline std::string Gzip(const std::string& in, int window_bits = 31) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

inline std::string Zstd(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3));
  return out;
}

inline std::string Snappy(const std::string& in) {
  std::string out;
  snappy::Compress(in.data(), in.size(), &out);
  return out;
}

}  // namespace vigil::ingest::testutil

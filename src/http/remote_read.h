// Remote read: POST /api/v1/read, so Prometheus (remote_read in prometheus.yml) and other
// tools can use Vigil as long-term storage.
//
// The body is a snappy-compressed ReadRequest (remote_read.proto). The answer is, in the
// first of the client's accepted_response_types that Vigil speaks:
//   SAMPLES (also when the client lists none): a snappy-compressed ReadResponse,
//     Content-Type application/x-protobuf, with every sample of every matching series;
//   STREAMED_XOR_CHUNKS: Content-Type
//     "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse", a sequence
//     of frames, each uvarint(length) | big-endian CRC32C of the message | the message (a
//     ChunkedReadResponse holding one series or part of one), the series' samples cut into
//     Prometheus XOR chunks of at most `samples_per_chunk` samples, a frame closed once it
//     holds `max_bytes_in_frame` bytes of chunks.
// The whole answer is built in memory before it is sent (the server has no streaming
// bodies); `sample_limit` bounds it. Errors answer plain text: 400 for a request that does
// not decode or an unsupported response type or too many samples, 500 for storage failures.
//
// Thread-safety: handlers run concurrently; a RemoteRead is immutable after Register().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/api.h"
#include "http/server.h"

namespace vigil::http {

struct RemoteReadOptions {
  int64_t sample_limit = 50'000'000;  // as Prometheus's --storage.remote.read-sample-limit
  size_t max_bytes_in_frame = 1 << 20;
  int samples_per_chunk = 120;
};

inline constexpr std::string_view kStreamedContentType =
    "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";

// Encodes samples as a Prometheus XOR chunk (chunkenc.XORChunk's bytes: a big-endian
// uint16 count, then the Gorilla bit stream). `n` must be at most 65535.
std::string EncodePromXorChunk(const int64_t* ts, const double* vs, size_t n);

// Appends one frame of a streamed response: uvarint size, CRC32C (big-endian), message.
void AppendStreamFrame(std::string* out, std::string_view message);

class RemoteRead {
 public:
  // `api` gives access to storage (its Lease) and must outlive this object.
  RemoteRead(const Api* api, RemoteReadOptions opts) : api_(api), opts_(opts) {}

  void Register(Router* router);

 private:
  void Read(const Request& req, Response* resp) const;

  const Api* const api_;
  const RemoteReadOptions opts_;
};

}  // namespace vigil::http

// Chunk encodings: compressed runs of samples of one series.
//
// Every chunk starts life as bytes plus an Encoding; the encoding byte is stored beside
// the bytes in block chunk files and on the wire, so new codecs can be added without
// breaking old data (docs/format/chunks.md, constants in chunk_format.h).
//
//   kXor    Gorilla: delta-of-delta timestamps, XOR'd floats. The head's format: cheap to
//           append one sample at a time.
//   kBlock  A stronger, immutable codec for persisted blocks (block_codec.h): timestamps
//           as bit-packed delta-of-deltas, values as scaled decimal integers when that is
//           exact, with XOR as the fallback. Chosen by the block writer; not appendable.
//
// Thread-safety: a Chunk's bytes may be read by many iterators concurrently while no
// Appender writes to it; the head guards appends with the series lock. An Iterator borrows
// the bytes it reads: the Chunk (or the buffer given to NewIterator) must outlive it and
// must not be appended to while it is in use.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/sample.h"

namespace vigil::storage::chunkenc {

enum class Encoding : uint8_t {
  kNone = 0,
  kXor = 1,
  kBlock = 2,
};

// "none", "xor", "block", or "unknown".
std::string_view EncodingName(Encoding e);
// True for the encodings this build can decode.
bool IsKnownEncoding(uint8_t e);

// Iterates samples of one chunk in time order.
class Iterator {
 public:
  virtual ~Iterator() = default;
  virtual bool Next() = 0;
  // First sample with t >= `t`, never moving backwards. Valid before the first Next().
  virtual bool Seek(int64_t t) = 0;
  virtual model::Sample At() const = 0;
  // Corrupt data ends the iteration with an error here.
  virtual absl::Status Err() const = 0;
  // Appends to `out` every sample with mint <= t <= maxt from the current position on, as
  // Seek(mint) and then Next() while t <= maxt would, but in one call: the codecs override
  // it with a decode loop free of per-sample virtual calls. Afterwards only Err() may be
  // used.
  virtual void AppendRange(int64_t mint, int64_t maxt, std::vector<model::Sample>* out);
};

class Appender {
 public:
  virtual ~Appender() = default;
  // Samples must come in strictly increasing timestamp order (the head checks). A chunk
  // holds at most kMaxSamplesPerChunk (chunk_format.h) samples; the caller cuts a new one
  // before that (appending past it is a BUG check).
  virtual void Append(int64_t t, double v) = 0;
};

class Chunk {
 public:
  virtual ~Chunk() = default;
  virtual Encoding encoding() const = 0;
  // The encoded bytes (without the encoding byte). Valid until the next append.
  virtual std::string_view bytes() const = 0;
  virtual int num_samples() const = 0;
  // An appender continuing after the last sample. Only for appendable encodings.
  virtual absl::StatusOr<std::unique_ptr<Appender>> NewAppender() = 0;
  virtual std::unique_ptr<Iterator> NewIterator() const = 0;
};

// A new empty chunk of an appendable encoding.
absl::StatusOr<std::unique_ptr<Chunk>> NewChunk(Encoding e);
// Wraps encoded bytes (copied) read from disk or the network. Validates the header only;
// corruption deeper inside surfaces through Iterator::Err.
absl::StatusOr<std::unique_ptr<Chunk>> FromData(Encoding e, std::string_view bytes);

// An iterator over encoded bytes that are NOT copied (e.g. a memory-mapped block file):
// `bytes` must stay valid for the iterator's life. An unknown encoding or a bad header
// gives an iterator whose Next() is false and whose Err() says why.
std::unique_ptr<Iterator> NewIterator(Encoding e, std::string_view bytes);

// An iterator that yields nothing, or only the given error.
std::unique_ptr<Iterator> NewErrIterator(absl::Status err);

}  // namespace vigil::storage::chunkenc

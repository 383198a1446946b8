// Chunk encodings: compressed runs of samples of one series.
//
// Every chunk starts life as bytes plus an Encoding; the encoding byte is stored beside
// the bytes in the WAL-free head snapshot, in block chunk files and on the wire, so new
// codecs can be added without breaking old data (docs/format/chunks.md).
//
//   kXor   Gorilla: delta-of-delta timestamps, XOR'd floats. The head's format: cheap to
//          append one sample at a time.
//   (more) Stronger codecs for immutable blocks, chosen by the block writer.
//
// Thread-safety: a Chunk's bytes may be read by many iterators concurrently while no
// Appender writes to it; the head guards appends with the series lock.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "model/sample.h"

namespace vigil::storage::chunkenc {

enum class Encoding : uint8_t {
  kNone = 0,
  kXor = 1,
};

std::string_view EncodingName(Encoding e);

// Iterates samples of one chunk in time order.
class Iterator {
 public:
  virtual ~Iterator() = default;
  virtual bool Next() = 0;
  // First sample with t >= `t`, never moving backwards.
  virtual bool Seek(int64_t t) = 0;
  virtual model::Sample At() const = 0;
  // Corrupt data ends the iteration with an error here.
  virtual absl::Status Err() const = 0;
};

class Appender {
 public:
  virtual ~Appender() = default;
  // Samples must come in strictly increasing timestamp order (the head checks).
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

}  // namespace vigil::storage::chunkenc

// The Gorilla XOR chunk (Encoding::kXor): the head's appendable chunk format.
//
// Layout (docs/format/chunks.md): a big-endian uint16 sample count, then a bit stream:
// the first timestamp as a zig-zag varint and the first value as 64 raw bits; the first
// delta as a uvarint (of the difference modulo 2^64); then per sample a bucketed
// delta-of-delta and an XOR'd value with leading/trailing-zero window reuse.
//
// Thread-safety: as chunk.h. XorChunk is not internally synchronized.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/encoding.h"
#include "storage/chunkenc/chunk.h"

namespace vigil::storage::chunkenc {

class XorChunk final : public Chunk {
 public:
  XorChunk();
  // Takes encoded bytes (validated lazily; see FromData).
  explicit XorChunk(std::string bytes);

  Encoding encoding() const override { return Encoding::kXor; }
  std::string_view bytes() const override { return b_; }
  int num_samples() const override;
  absl::StatusOr<std::unique_ptr<Appender>> NewAppender() override;
  std::unique_ptr<Iterator> NewIterator() const override;

 private:
  friend class XorAppender;
  std::string b_;
  // Unused low bits in the last byte of b_. A chunk built from bytes learns it by
  // decoding to the end in NewAppender.
  int free_bits_ = 0;
};

// Bit-level helpers shared with the block codec's XOR fallback.
void WriteUvarintBits(BitWriter& w, uint64_t v);
bool ReadUvarintBits(BitReader& r, uint64_t* v);

// Encodes a stream of values with XOR + window reuse; the first value is written raw.
class XorValueWriter {
 public:
  void Write(BitWriter& w, double v);
  // Continues a stream whose last value had bits `prev` and window (leading, trailing).
  void Restore(uint64_t prev, int leading, int trailing) {
    first_ = false;
    prev_ = prev;
    leading_ = leading;
    trailing_ = trailing;
  }

 private:
  bool first_ = true;
  uint64_t prev_ = 0;
  int leading_ = 0xff;  // 0xff: no window yet
  int trailing_ = 0;
};

class XorValueReader {
 public:
  // Returns false on truncation or an impossible window (corrupt data).
  bool Read(BitReader& r, double* v);
  int leading() const { return leading_; }
  int trailing() const { return trailing_; }

 private:
  bool first_ = true;
  uint64_t prev_ = 0;
  int leading_ = 0xff;
  int trailing_ = 0;
};

// Decodes kXor bytes in place, without copying them.
class XorIterator final : public Iterator {
 public:
  explicit XorIterator(std::string_view bytes);

  bool Next() override;
  bool Seek(int64_t t) override;
  model::Sample At() const override { return {t_, v_}; }
  absl::Status Err() const override { return err_; }
  void AppendRange(int64_t mint, int64_t maxt, std::vector<model::Sample>* out) override;

  // Decoder state after the last sample read, for an appender continuing the chunk.
  int read() const { return read_; }
  uint64_t delta() const { return delta_; }
  const XorValueReader& values() const { return vr_; }
  size_t bits_consumed() const { return total_bits_ - br_.bits_left(); }

 private:
  bool Fail(std::string_view what);
  // Next() without the virtual call, for AppendRange's loop.
  inline bool Advance();

  BitReader br_;
  size_t total_bits_ = 0;
  int count_ = 0;
  int read_ = 0;
  bool done_ = false;  // Next() returned false
  int64_t t_ = 0;
  double v_ = 0;
  uint64_t delta_ = 0;
  XorValueReader vr_;
  absl::Status err_;
};

}  // namespace vigil::storage::chunkenc

// Byte-level encoding helpers for every on-disk and on-wire format Vigil writes:
// fixed-width big-endian integers, varints (LEB128, zig-zag for signed), length-prefixed
// strings, and bit streams for Gorilla-style chunks.
//
// Encbuf appends to a std::string it owns. Decbuf reads a borrowed byte range and records
// the first error instead of throwing: after a failed read every later read returns 0 and
// `err()` says what broke and at which offset, so decoders check once at the end.
//
// Thread-safety: none; each buffer belongs to one thread.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace vigil {

inline uint64_t ZigZagEncode(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t ZigZagDecode(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

class Encbuf {
 public:
  void PutByte(uint8_t b) { buf_.push_back(static_cast<char>(b)); }
  void PutBE16(uint16_t v);
  void PutBE32(uint32_t v);
  void PutBE64(uint64_t v);
  void PutUvarint(uint64_t v);
  void PutVarint(int64_t v) { PutUvarint(ZigZagEncode(v)); }
  void PutBytes(std::string_view s) { buf_.append(s); }
  // A uvarint length followed by the bytes.
  void PutUvarintStr(std::string_view s) {
    PutUvarint(s.size());
    buf_.append(s);
  }
  void PutDouble(double d) { PutBE64(std::bit_cast<uint64_t>(d)); }

  size_t size() const { return buf_.size(); }
  const std::string& str() const { return buf_; }
  std::string& mutable_str() { return buf_; }
  std::string Release() { return std::move(buf_); }
  void Reset() { buf_.clear(); }

 private:
  std::string buf_;
};

class Decbuf {
 public:
  Decbuf() = default;
  explicit Decbuf(std::string_view b) : b_(b) {}

  uint8_t Byte();
  uint16_t BE16();
  uint32_t BE32();
  uint64_t BE64();
  uint64_t Uvarint();
  int64_t Varint() { return ZigZagDecode(Uvarint()); }
  double Double() { return std::bit_cast<double>(BE64()); }
  // Returns a view into the underlying bytes, valid as long as they are.
  std::string_view Bytes(size_t n);
  std::string_view UvarintStr() { return Bytes(Uvarint()); }
  void Skip(size_t n) { Bytes(n); }

  size_t remaining() const { return b_.size() - pos_; }
  size_t offset() const { return pos_; }
  std::string_view rest() const { return b_.substr(pos_); }
  bool ok() const { return err_.ok(); }
  const absl::Status& err() const { return err_; }
  // Records an error found by the caller (e.g. an invalid enum value) at the current offset.
  void Fail(std::string_view what);

 private:
  bool Need(size_t n);

  std::string_view b_;
  size_t pos_ = 0;
  absl::Status err_;
};

// Writes bits most-significant first, as the Gorilla paper lays them out.
class BitWriter {
 public:
  explicit BitWriter(std::string* out) : out_(out) {}

  void WriteBit(bool bit) { WriteBits(bit ? 1 : 0, 1); }
  // Writes the low `nbits` (0..64) of `v`.
  void WriteBits(uint64_t v, int nbits);
  // Bits written so far, including those of bytes already in `out`.
  size_t bit_count() const { return out_->size() * 8 - free_bits_in_last_; }
  // Reattaches to `out`, whose last byte has `free_bits` unused low bits.
  void Resume(int free_bits) { free_bits_in_last_ = free_bits; }
  int free_bits() const { return free_bits_in_last_; }

 private:
  std::string* out_;
  int free_bits_in_last_ = 0;  // unused low bits in out_->back()
};

// Reads bits most-significant first from a borrowed byte range. ReadBits is inline: chunk
// decoders call it several times per sample.
class BitReader {
 public:
  BitReader() = default;
  BitReader(const uint8_t* data, size_t n) : p_(data), end_(data + n) {}

  // Returns false when fewer than `nbits` (0..64) remain.
  bool ReadBits(int nbits, uint64_t* v) {
    if (valid_ < nbits) {
      Refill();
      if (valid_ < nbits) return ReadBitsSlow(nbits, v);
    }
    *v = nbits == 0 ? 0 : buf_ >> (64 - nbits);
    buf_ = nbits == 64 ? 0 : buf_ << nbits;
    valid_ -= nbits;
    return true;
  }
  bool ReadBit(bool* bit) {
    uint64_t v;
    if (!ReadBits(1, &v)) return false;
    *bit = v != 0;
    return true;
  }
  size_t bits_left() const { return static_cast<size_t>(end_ - p_) * 8 + valid_; }

  // Peek/Skip let a decoder read a variable-length prefix in one step instead of bit by
  // bit. Fill makes at least min(56, bits_left()) bits visible and returns how many are; Peek shows
  // them left-aligned (bits past that count are zero or the stream's own later bits, so a
  // decoder must check the count before trusting them); Skip drops `nbits` < 64 of them.
  int Fill() {
    if (valid_ < 56) Refill();
    return valid_;
  }
  uint64_t Peek() const { return buf_; }
  void Skip(int nbits) {
    buf_ <<= nbits;
    valid_ -= nbits;
  }

  // The unchecked path, for a decoder's hot loop that keeps at least 8 unread bytes ahead
  // of the cursor (bytes_left() >= 8) whenever it refills, so no refill needs a bounds
  // check or a branch: RefillUnchecked leaves 56..63 bits visible, TakeUnchecked(n) takes
  // 1 <= n <= valid() of them.
  size_t bytes_left() const { return static_cast<size_t>(end_ - p_); }
  int valid() const { return valid_; }
  void RefillUnchecked() {
    uint64_t w;
    std::memcpy(&w, p_, 8);
    if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap64(w);
    buf_ |= w >> valid_;
    p_ += (63 - valid_) >> 3;
    valid_ |= 56;  // valid_ + 8 * the bytes just taken
  }
  uint64_t TakeUnchecked(int nbits) {
    uint64_t v = buf_ >> (64 - nbits);
    buf_ <<= nbits;
    valid_ -= nbits;
    return v;
  }
  // Continues on `n` bytes that start with a copy of the unread ones (bytes_left() of them
  // from cursor()), e.g. a zero-padded copy of the stream's tail.
  const uint8_t* cursor() const { return p_; }
  void Rebase(const uint8_t* data, size_t n) {
    p_ = data;
    end_ = data + n;
  }

 private:
  // Tops buf_ up with whole bytes, to at most 63 bits. With 8 bytes left it loads them at
  // once; the bits below valid_ may then hold the stream's next bits, which the next refill
  // ORs in again unchanged, so they never need clearing.
  void Refill() {
    if (end_ - p_ >= 8) {
      RefillUnchecked();
      return;
    }
    while (valid_ < 56 && p_ < end_) {
      buf_ |= uint64_t{*p_++} << (56 - valid_);
      valid_ += 8;
    }
  }
  bool ReadBitsSlow(int nbits, uint64_t* v);

  const uint8_t* p_ = nullptr;
  const uint8_t* end_ = nullptr;
  uint64_t buf_ = 0;  // valid_ bits, left-aligned
  int valid_ = 0;
};

}  // namespace vigil

#include "base/encoding.h"

#include "fmt/format.h"

namespace vigil {

void Encbuf::PutBE16(uint16_t v) {
  char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  buf_.append(b, 2);
}

void Encbuf::PutBE32(uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (24 - 8 * i));
  buf_.append(b, 4);
}

void Encbuf::PutBE64(uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (56 - 8 * i));
  buf_.append(b, 8);
}

void Encbuf::PutUvarint(uint64_t v) {
  char b[10];
  int n = 0;
  while (v >= 0x80) {
    b[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  b[n++] = static_cast<char>(v);
  buf_.append(b, n);
}

bool Decbuf::Need(size_t n) {
  if (!err_.ok()) return false;
  if (b_.size() - pos_ < n) {
    err_ = absl::DataLossError(fmt::format("unexpected end of data at offset {}: need {} bytes, have {}", pos_, n, b_.size() - pos_));
    return false;
  }
  return true;
}

void Decbuf::Fail(std::string_view what) {
  if (err_.ok()) err_ = absl::DataLossError(fmt::format("{} at offset {}", what, pos_));
}

uint8_t Decbuf::Byte() {
  if (!Need(1)) return 0;
  return static_cast<uint8_t>(b_[pos_++]);
}

uint16_t Decbuf::BE16() {
  if (!Need(2)) return 0;
  auto* p = reinterpret_cast<const uint8_t*>(b_.data() + pos_);
  pos_ += 2;
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

uint32_t Decbuf::BE32() {
  if (!Need(4)) return 0;
  auto* p = reinterpret_cast<const uint8_t*>(b_.data() + pos_);
  pos_ += 4;
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

uint64_t Decbuf::BE64() {
  if (!Need(8)) return 0;
  auto* p = reinterpret_cast<const uint8_t*>(b_.data() + pos_);
  pos_ += 8;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}

uint64_t Decbuf::Uvarint() {
  if (!err_.ok()) return 0;
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos_ >= b_.size()) {
      Fail("truncated varint");
      return 0;
    }
    uint8_t c = static_cast<uint8_t>(b_[pos_++]);
    if (shift == 63 && c > 1) break;
    v |= uint64_t{c & 0x7fu} << shift;
    if (c < 0x80) return v;
  }
  Fail("varint overflows 64 bits");
  return 0;
}

std::string_view Decbuf::Bytes(size_t n) {
  if (!Need(n)) return {};
  std::string_view s = b_.substr(pos_, n);
  pos_ += n;
  return s;
}

void BitWriter::WriteBits(uint64_t v, int nbits) {
  if (nbits <= 0) return;
  if (nbits < 64) v &= (uint64_t{1} << nbits) - 1;
  // Top up the last byte's free low bits with the value's leading bits...
  if (free_bits_in_last_ > 0) {
    const int take = nbits < free_bits_in_last_ ? nbits : free_bits_in_last_;
    nbits -= take;  // now < 64
    out_->back() = static_cast<char>(static_cast<uint8_t>(out_->back()) |
                                     ((v >> nbits) << (free_bits_in_last_ - take)));
    free_bits_in_last_ -= take;
    if (nbits == 0) return;
    v &= (uint64_t{1} << nbits) - 1;
  }
  // ...then append the rest as whole bytes in one go rather than a byte at a time: the
  // chunk appenders call this several times per sample.
  const int nbytes = (nbits + 7) / 8;
  free_bits_in_last_ = nbytes * 8 - nbits;
  const uint64_t top = (v << free_bits_in_last_) << (64 - nbytes * 8);  // MSB-justified
  char buf[8];
  for (int i = 0; i < nbytes; ++i) buf[i] = static_cast<char>(top >> (56 - 8 * i));
  out_->append(buf, static_cast<size_t>(nbytes));
}

bool BitReader::ReadBitsSlow(int nbits, uint64_t* v) {
  // More than 56 bits wanted across a refill boundary: read in two parts.
  if (nbits <= 32 || bits_left() < static_cast<size_t>(nbits)) return false;
  uint64_t hi, lo;
  if (!ReadBits(nbits - 32, &hi) || !ReadBits(32, &lo)) return false;
  *v = hi << 32 | lo;
  return true;
}

}  // namespace vigil

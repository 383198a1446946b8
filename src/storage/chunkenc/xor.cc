#include "storage/chunkenc/xor.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

#include "base/status.h"
#include "fmt/format.h"
#include "storage/chunkenc/chunk_format.h"

namespace vigil::storage::chunkenc {
namespace {

int ReadCount(std::string_view b) {
  if (b.size() < format::kCountBytes) return 0;
  return static_cast<uint8_t>(b[0]) << 8 | static_cast<uint8_t>(b[1]);
}

// True if `v` fits a two's-complement field of `bits` bits.
bool FitsSigned(int64_t v, int bits) {
  int64_t lo = -(int64_t{1} << (bits - 1));
  int64_t hi = (int64_t{1} << (bits - 1)) - 1;
  return v >= lo && v <= hi;
}

int64_t SignExtend(uint64_t v, int bits) {
  return static_cast<int64_t>(v << (64 - bits)) >> (64 - bits);
}

// Reads one delta-of-delta; its prefix (up to four ones, ended by a zero unless there are
// four) is taken in one peek rather than bit by bit. False on truncation.
inline bool ReadDod(BitReader& r, int64_t* dod) {
  int avail = r.Fill();
  int ones = std::min(std::countl_one(r.Peek()), 4);
  int prefix_bits = ones == 4 ? 4 : ones + 1;
  if (avail < prefix_bits) return false;
  r.Skip(prefix_bits);
  if (ones == 0) {
    *dod = 0;
    return true;
  }
  int width = ones == 4 ? 64 : format::kDodBuckets[ones - 1].value_bits;
  uint64_t raw;
  if (!r.ReadBits(width, &raw)) return false;
  *dod = width == 64 ? static_cast<int64_t>(raw) : SignExtend(raw, width);
  return true;
}

}  // namespace

void WriteUvarintBits(BitWriter& w, uint64_t v) {
  while (v >= 0x80) {
    w.WriteBits((v & 0x7f) | 0x80, 8);
    v >>= 7;
  }
  w.WriteBits(v, 8);
}

bool ReadUvarintBits(BitReader& r, uint64_t* v) {
  uint64_t out = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    uint64_t c;
    if (!r.ReadBits(8, &c)) return false;
    if (shift == 63 && c > 1) return false;
    out |= (c & 0x7f) << shift;
    if (c < 0x80) {
      *v = out;
      return true;
    }
  }
  return false;
}

void XorValueWriter::Write(BitWriter& w, double v) {
  uint64_t bits = std::bit_cast<uint64_t>(v);
  if (first_) {
    w.WriteBits(bits, 64);
    first_ = false;
    prev_ = bits;
    return;
  }
  uint64_t x = bits ^ prev_;
  prev_ = bits;
  if (x == 0) {
    w.WriteBit(false);
    return;
  }
  int lead = std::countl_zero(x);
  int trail = std::countr_zero(x);
  if (lead > format::kMaxLeading) lead = format::kMaxLeading;
  if (leading_ != 0xff && lead >= leading_ && trail >= trailing_) {
    // The meaningful bits fit the previous window: '10' + the window's bits.
    w.WriteBits(0b10, 2);
    w.WriteBits(x >> trailing_, 64 - leading_ - trailing_);
    return;
  }
  int sig = 64 - lead - trail;
  w.WriteBits(0b11, 2);
  w.WriteBits(static_cast<uint64_t>(lead), format::kLeadingBits);
  w.WriteBits(static_cast<uint64_t>(sig & 63), format::kSigBits);  // 64 is stored as 0
  w.WriteBits(x >> trail, sig);
  leading_ = lead;
  trailing_ = trail;
}

bool XorValueReader::Read(BitReader& r, double* v) {
  if (first_) {
    if (!r.ReadBits(64, &prev_)) return false;
    first_ = false;
    *v = std::bit_cast<double>(prev_);
    return true;
  }
  // The control bits and a new window's header (2 + 5 + 6 bits) are read in one peek.
  int avail = r.Fill();
  uint64_t head = r.Peek();
  if (avail < 1) return false;
  if (head >> 63 == 0) {
    r.Skip(1);
    *v = std::bit_cast<double>(prev_);
    return true;
  }
  if (avail < 2) return false;
  if (head >> 62 == 0b11) {
    constexpr int kHeaderBits = 2 + format::kLeadingBits + format::kSigBits;
    if (avail < kHeaderBits) return false;
    int lead = static_cast<int>(head >> (64 - 2 - format::kLeadingBits)) &
               ((1 << format::kLeadingBits) - 1);
    int sig = static_cast<int>(head >> (64 - kHeaderBits)) & ((1 << format::kSigBits) - 1);
    if (sig == 0) sig = 64;
    if (lead + sig > 64) return false;
    r.Skip(kHeaderBits);
    leading_ = lead;
    trailing_ = 64 - lead - sig;
  } else if (leading_ == 0xff) {
    return false;  // window reuse before any window was set
  } else {
    r.Skip(2);
  }
  int sig = 64 - leading_ - trailing_;
  uint64_t m;
  if (!r.ReadBits(sig, &m)) return false;
  prev_ ^= m << trailing_;
  *v = std::bit_cast<double>(prev_);
  return true;
}

XorChunk::XorChunk() : b_(format::kCountBytes, '\0') {}

XorChunk::XorChunk(std::string bytes) : b_(std::move(bytes)) {}

int XorChunk::num_samples() const { return ReadCount(b_); }

class XorAppender final : public Appender {
 public:
  explicit XorAppender(XorChunk* c) : c_(c), n_(c->num_samples()) {}

  void Append(int64_t t, double v) override {
    // The count is kept here rather than read back from the chunk's first bytes: in the
    // head those are a cache miss per append, and the tail the sample goes to is the one
    // the commit prefetches.
    int n = n_;
    VIGIL_CHECK(n < format::kMaxSamplesPerChunk);
    BitWriter w(&c_->b_);
    w.Resume(c_->free_bits_);
    if (n == 0) {
      WriteUvarintBits(w, ZigZagEncode(t));
    } else if (n == 1) {
      delta_ = static_cast<uint64_t>(t) - static_cast<uint64_t>(t_);
      WriteUvarintBits(w, delta_);
    } else {
      // Differences are taken modulo 2^64, so huge or negative gaps never overflow; a
      // dod that fits no narrow bucket is written whole.
      uint64_t delta = static_cast<uint64_t>(t) - static_cast<uint64_t>(t_);
      int64_t dod = static_cast<int64_t>(delta - delta_);
      delta_ = delta;
      if (dod == 0) {
        w.WriteBit(false);
      } else {
        bool done = false;
        for (const auto& b : format::kDodBuckets) {
          if (FitsSigned(dod, b.value_bits)) {
            w.WriteBits(b.prefix, b.prefix_bits);
            w.WriteBits(static_cast<uint64_t>(dod), b.value_bits);
            done = true;
            break;
          }
        }
        if (!done) {
          w.WriteBits(format::kDodWidePrefix, format::kDodWidePrefixBits);
          w.WriteBits(static_cast<uint64_t>(dod), 64);
        }
      }
    }
    values_.Write(w, v);
    t_ = t;
    c_->free_bits_ = w.free_bits();
    n_ = ++n;
    c_->b_[0] = static_cast<char>(n >> 8);
    c_->b_[1] = static_cast<char>(n);
  }

  void Restore(int64_t t, uint64_t delta, double v, int leading, int trailing) {
    t_ = t;
    delta_ = delta;
    values_.Restore(std::bit_cast<uint64_t>(v), leading, trailing);
  }

 private:
  XorChunk* c_;
  int n_;  // samples in the chunk; the appender is its only writer
  int64_t t_ = 0;
  uint64_t delta_ = 0;
  XorValueWriter values_;
};

absl::StatusOr<std::unique_ptr<Appender>> XorChunk::NewAppender() {
  auto app = std::make_unique<XorAppender>(this);
  if (num_samples() == 0) {
    b_.assign(format::kCountBytes, '\0');
    free_bits_ = 0;
    return app;
  }
  // Decode to the end to recover the encoder's state.
  XorIterator it(b_);
  while (it.Next()) {
  }
  RETURN_IF_ERROR(Annotate(it.Err(), "append to xor chunk"));
  size_t used = format::kCountBytes * 8 + it.bits_consumed();
  if (used > b_.size() * 8 || b_.size() * 8 - used >= 8) {
    return absl::DataLossError(
        fmt::format("append to xor chunk: {} bytes hold only {} bits of samples", b_.size(), used));
  }
  free_bits_ = static_cast<int>(b_.size() * 8 - used);
  model::Sample last = it.At();
  app->Restore(last.t, it.delta(), last.v, it.values().leading(), it.values().trailing());
  return app;
}

std::unique_ptr<Iterator> XorChunk::NewIterator() const {
  return std::make_unique<XorIterator>(b_);
}

XorIterator::XorIterator(std::string_view bytes) {
  if (bytes.size() < format::kCountBytes) {
    Fail(fmt::format("xor chunk: {} bytes is shorter than its header", bytes.size()));
    return;
  }
  count_ = ReadCount(bytes);
  auto* p = reinterpret_cast<const uint8_t*>(bytes.data()) + format::kCountBytes;
  size_t n = bytes.size() - format::kCountBytes;
  br_ = BitReader(p, n);
  total_bits_ = n * 8;
}

bool XorIterator::Fail(std::string_view what) {
  if (err_.ok()) err_ = absl::DataLossError(std::string(what));
  read_ = count_;  // never continue after an error
  done_ = true;
  return false;
}

inline bool XorIterator::Advance() {
  if (!err_.ok() || read_ >= count_) {
    done_ = true;
    return false;
  }
  if (read_ == 0) {
    uint64_t zz;
    if (!ReadUvarintBits(br_, &zz)) return Fail("xor chunk: bad first timestamp");
    t_ = ZigZagDecode(zz);
  } else if (read_ == 1) {
    if (!ReadUvarintBits(br_, &delta_)) return Fail("xor chunk: bad first delta");
    t_ = static_cast<int64_t>(static_cast<uint64_t>(t_) + delta_);
  } else {
    int64_t dod;
    if (!ReadDod(br_, &dod)) {
      return Fail(fmt::format("xor chunk: truncated at sample {} of {}", read_, count_));
    }
    delta_ += static_cast<uint64_t>(dod);
    t_ = static_cast<int64_t>(static_cast<uint64_t>(t_) + delta_);
  }
  if (!vr_.Read(br_, &v_)) {
    return Fail(fmt::format("xor chunk: corrupt value at sample {} of {}", read_, count_));
  }
  ++read_;
  return true;
}

bool XorIterator::Next() { return Advance(); }

namespace {

// The dod codes by the stream's next four bits, for AppendRange's fast path: prefix bits
// and field width of the narrow buckets; {0, 0} marks the wide '1111' code, and codes
// starting with '0' (dod 0) are handled before the lookup.
struct DodCode {
  uint8_t prefix_bits;
  uint8_t value_bits;
};
constexpr std::array<DodCode, 16> MakeDodCodes() {
  std::array<DodCode, 16> codes{};
  for (const auto& b : format::kDodBuckets) {
    int free = 4 - b.prefix_bits;  // bits of the 4-bit index past the prefix
    for (uint64_t low = 0; low < (uint64_t{1} << free); ++low) {
      codes[b.prefix << free | low] = {static_cast<uint8_t>(b.prefix_bits), static_cast<uint8_t>(b.value_bits)};
    }
  }
  return codes;
}
constexpr std::array<DodCode, 16> kDodCodes = MakeDodCodes();

// At most how many bytes past its first unread byte one sample's unchecked decode loads:
// a sample takes at most 4 + 64 (wide dod) + 13 + 64 (new window) = 145 bits, and a refill
// loads 8 bytes from up to 63 bits ahead of the consumed position.
constexpr size_t kSampleReach = (145 + 63) / 8 + 8;

// The decoder state AppendRange keeps in registers.
struct FastState {
  BitReader br;
  int64_t t;
  uint64_t delta;
  uint64_t prev;  // the value's bits
  int sig;        // meaningful bits of the value window; 0 while there is none
  int trail;      // trailing zero bits of the value window
};

enum class SampleResult { kOk, kTruncated, kCorruptValue };

// Decodes one sample after the first two without bounds checks: the caller guarantees
// kSampleReach readable bytes from the cursor. `dod_end_bits` gets bits_left() after the
// timestamp, so that a caller decoding a padded copy can tell which field ran past the
// real end. Inlined into both of AppendRange's loops: as a call, its state would live in
// memory.
[[gnu::always_inline]] inline SampleResult DecodeSampleUnchecked(FastState& s, int64_t* dod_end_bits) {
  BitReader& br = s.br;
  br.RefillUnchecked();
  uint64_t head = br.Peek();
  if (head >> 63 == 0) {
    br.Skip(1);  // dod 0
  } else {
    DodCode c = kDodCodes[head >> 60];
    int64_t dod;
    if (c.value_bits != 0) {
      dod = static_cast<int64_t>(head << c.prefix_bits) >> (64 - c.value_bits);
      br.Skip(c.prefix_bits + c.value_bits);
    } else {
      // The rare 64-bit dod, in two halves (a call taking `br` would keep it in memory).
      br.Skip(format::kDodWidePrefixBits);
      uint64_t hi = br.TakeUnchecked(32);
      br.RefillUnchecked();
      dod = static_cast<int64_t>(hi << 32 | br.TakeUnchecked(32));
    }
    s.delta += static_cast<uint64_t>(dod);
  }
  *dod_end_bits = static_cast<int64_t>(br.bits_left());
  s.t = static_cast<int64_t>(static_cast<uint64_t>(s.t) + s.delta);

  // No refill here: at least 24 bits are left after the timestamp (32 after a narrow
  // dod), enough for the value's control bits and header; its bits refill if short.
  head = br.Peek();
  if (head >> 63 == 0) {
    br.Skip(1);  // same value
    return SampleResult::kOk;
  }
  if (head >> 62 == 0b11) {
    // A new window: 5 bits of leading zeros, 6 of meaningful bits (64 stored as 0).
    int lead = static_cast<int>(head >> (64 - 2 - format::kLeadingBits)) & ((1 << format::kLeadingBits) - 1);
    int sig = static_cast<int>(head >> (64 - 2 - format::kLeadingBits - format::kSigBits)) &
              ((1 << format::kSigBits) - 1);
    if (sig == 0) sig = 64;
    if (lead + sig > 64) return SampleResult::kCorruptValue;
    br.Skip(2 + format::kLeadingBits + format::kSigBits);
    s.sig = sig;
    s.trail = 64 - lead - sig;
  } else if (s.sig == 0) {
    return SampleResult::kCorruptValue;  // window reuse before any window was set
  } else {
    br.Skip(2);
  }
  if (s.sig > br.valid()) br.RefillUnchecked();
  uint64_t m;
  if (s.sig <= br.valid()) {
    m = br.TakeUnchecked(s.sig);
  } else {
    // Wider than a refill shows (> 56 bits): in two parts.
    m = br.TakeUnchecked(s.sig - 32) << 32;
    br.RefillUnchecked();
    m |= br.TakeUnchecked(32);
  }
  s.prev ^= m << s.trail;
  return SampleResult::kOk;
}

}  // namespace

void XorIterator::AppendRange(int64_t mint, int64_t maxt, std::vector<model::Sample>* out) {
  if (done_) return;
  if (read_ > 0 && t_ >= mint) {
    // Positioned by an earlier Seek or Next: the current sample comes first.
    if (t_ > maxt) return;
    out->push_back({t_, v_});
  }
  // The first two samples hold varints; Advance reads them.
  while (read_ < 2) {
    if (!Advance()) return;
    if (t_ > maxt) return;
    if (t_ >= mint) out->push_back({t_, v_});
  }
  // The rest decode on a local copy of the state (the pushes into `out` could otherwise
  // alias the members, forcing every field back to memory once per sample) without a
  // bounds check per field: while kSampleReach bytes remain, no sample can read past the
  // end. Closer to it, decoding goes on over a zero-padded copy of the tail, where a
  // sample whose fields ran into the padding is the truncation the checked path reports.
  FastState s{br_, t_, delta_, std::bit_cast<uint64_t>(v_),
              vr_.leading() == 0xff ? 0 : 64 - vr_.leading() - vr_.trailing(), vr_.trailing()};
  int read = read_;
  int64_t dod_end_bits;
  SampleResult r = SampleResult::kOk;
  bool past_maxt = false;
  for (; read < count_ && s.br.bytes_left() >= kSampleReach; ++read) {
    r = DecodeSampleUnchecked(s, &dod_end_bits);
    if (r != SampleResult::kOk) break;
    if (s.t < mint) continue;
    if (s.t > maxt) {
      past_maxt = true;
      break;
    }
    out->push_back({s.t, std::bit_cast<double>(s.prev)});
  }
  if (r == SampleResult::kOk && !past_maxt && read < count_) {
    uint8_t tail[2 * kSampleReach];
    const size_t n = s.br.bytes_left();  // < kSampleReach
    std::memcpy(tail, s.br.cursor(), n);
    std::memset(tail + n, 0, sizeof(tail) - n);
    s.br.Rebase(tail, sizeof(tail));
    // Fewer bits left than the padding holds: the sample ran past the real end.
    const int64_t pad_bits = static_cast<int64_t>(sizeof(tail) - n) * 8;
    for (; read < count_; ++read) {
      r = DecodeSampleUnchecked(s, &dod_end_bits);
      if (dod_end_bits < pad_bits) {
        r = SampleResult::kTruncated;
      } else if (r == SampleResult::kOk && static_cast<int64_t>(s.br.bits_left()) < pad_bits) {
        r = SampleResult::kCorruptValue;
      }
      if (r != SampleResult::kOk) break;
      if (s.t < mint) continue;
      if (s.t > maxt) break;
      out->push_back({s.t, std::bit_cast<double>(s.prev)});
    }
  }
  // Only Err() may follow (chunk.h), so the state need not be written back.
  done_ = true;
  if (r != SampleResult::kOk) {
    read_ = read;
    Fail(fmt::format("xor chunk: {} at sample {} of {}",
                     r == SampleResult::kTruncated ? "truncated" : "corrupt value", read, count_));
  }
}

bool XorIterator::Seek(int64_t t) {
  if (done_ || !err_.ok()) return false;
  if (read_ > 0 && t_ >= t) return true;
  while (Advance()) {
    if (t_ >= t) return true;
  }
  return false;
}

}  // namespace vigil::storage::chunkenc

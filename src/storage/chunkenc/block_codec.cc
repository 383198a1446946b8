#include "storage/chunkenc/block_codec.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>
#include <vector>

#include "base/encoding.h"
#include "fmt/format.h"
#include "storage/chunkenc/chunk_format.h"
#include "storage/chunkenc/xor.h"

namespace vigil::storage::chunkenc {
namespace {

using format::TsScheme;
using format::ValueScheme;

constexpr int kMaxDecimalExp = 18;
constexpr double kPow10[kMaxDecimalExp + 1] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,
                                              1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13,
                                              1e14, 1e15, 1e16, 1e17, 1e18};
// Integer-sequence modes (one bit).
constexpr uint64_t kModeFrameOfReference = 0;
constexpr uint64_t kModeBuckets = 1;
constexpr int kWidthBits = 7;  // a bit width 0..64

int BitWidth(uint64_t v) { return 64 - std::countl_zero(v); }

int UvarintBits(uint64_t v) {
  int n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n * 8;
}

// ---- integer sequences ----------------------------------------------------------------

struct SeqPlan {
  uint64_t mode = kModeFrameOfReference;
  int64_t min = 0;
  int width = 0;
  int w[3] = {1, 1, 1};
  size_t bits = 0;
};

SeqPlan PlanSeq(std::span<const int64_t> v) {
  SeqPlan best;
  if (v.empty()) {
    best.bits = 1 + 8 + kWidthBits;
    return best;
  }
  int64_t mn = v[0], mx = v[0];
  uint64_t hist[65] = {};
  for (int64_t x : v) {
    mn = std::min(mn, x);
    mx = std::max(mx, x);
    ++hist[BitWidth(ZigZagEncode(x))];
  }
  best.mode = kModeFrameOfReference;
  best.min = mn;
  best.width = BitWidth(static_cast<uint64_t>(mx) - static_cast<uint64_t>(mn));
  best.bits = 1 + UvarintBits(ZigZagEncode(mn)) + kWidthBits + v.size() * best.width;

  // Buckets: '0' for zero, then three chunk-chosen widths and a 64-bit escape. Only widths
  // that occur are worth trying as bucket bounds.
  uint64_t prefix[65];
  uint64_t acc = 0;
  std::vector<int> present;
  for (int w = 0; w <= 64; ++w) {
    acc += hist[w];
    prefix[w] = acc;
    if (w > 0 && hist[w] > 0) present.push_back(w);
  }
  if (present.empty()) present.push_back(1);
  const uint64_t n = v.size();
  for (size_t i = 0; i < present.size(); ++i) {
    for (size_t j = i; j < present.size(); ++j) {
      for (size_t k = j; k < present.size(); ++k) {
        int w1 = present[i], w2 = present[j], w3 = present[k];
        uint64_t bits = 1 + 3 * kWidthBits + hist[0] + (prefix[w1] - prefix[0]) * (2 + w1) +
                        (prefix[w2] - prefix[w1]) * (3 + w2) +
                        (prefix[w3] - prefix[w2]) * (4 + w3) + (n - prefix[w3]) * (4 + 64);
        if (bits < best.bits) {
          best.mode = kModeBuckets;
          best.bits = bits;
          best.w[0] = w1;
          best.w[1] = w2;
          best.w[2] = w3;
        }
      }
    }
  }
  return best;
}

void WriteSeq(BitWriter& bw, std::span<const int64_t> v, const SeqPlan& p) {
  bw.WriteBits(p.mode, 1);
  if (p.mode == kModeFrameOfReference) {
    WriteUvarintBits(bw, ZigZagEncode(p.min));
    bw.WriteBits(static_cast<uint64_t>(p.width), kWidthBits);
    for (int64_t x : v) {
      bw.WriteBits(static_cast<uint64_t>(x) - static_cast<uint64_t>(p.min), p.width);
    }
    return;
  }
  for (int w : p.w) bw.WriteBits(static_cast<uint64_t>(w), kWidthBits);
  for (int64_t x : v) {
    uint64_t z = ZigZagEncode(x);
    int w = BitWidth(z);
    if (z == 0) {
      bw.WriteBit(false);
    } else if (w <= p.w[0]) {
      bw.WriteBits(0b10, 2);
      bw.WriteBits(z, p.w[0]);
    } else if (w <= p.w[1]) {
      bw.WriteBits(0b110, 3);
      bw.WriteBits(z, p.w[1]);
    } else if (w <= p.w[2]) {
      bw.WriteBits(0b1110, 4);
      bw.WriteBits(z, p.w[2]);
    } else {
      bw.WriteBits(0b1111, 4);
      bw.WriteBits(z, 64);
    }
  }
}

// Reads an integer sequence written by WriteSeq one value at a time, so that decoders can
// fold each value into their output as it comes instead of collecting the sequence first.
class SeqReader {
 public:
  // Reads the header of a sequence of `n` values. False with `err` set if it is corrupt.
  bool Start(BitReader& br, size_t n, std::string* err) {
    n_ = n;
    uint64_t mode;
    if (!br.ReadBits(1, &mode)) {
      *err = "truncated sequence header";
      return false;
    }
    buckets_ = mode == kModeBuckets;
    if (!buckets_) {
      uint64_t zmin, width;
      if (!ReadUvarintBits(br, &zmin) || !br.ReadBits(kWidthBits, &width)) {
        *err = "truncated sequence header";
        return false;
      }
      if (width > 64) {
        *err = fmt::format("bit width {} out of range", width);
        return false;
      }
      // Checked once here, so that Next never runs short on this mode.
      if (n * width > br.bits_left()) {
        *err = fmt::format("{} values of {} bits overrun the chunk", n, width);
        return false;
      }
      base_ = static_cast<uint64_t>(ZigZagDecode(zmin));
      width_ = static_cast<int>(width);
      return true;
    }
    for (int& x : w_) {
      uint64_t raw;
      if (!br.ReadBits(kWidthBits, &raw)) {
        *err = "truncated sequence header";
        return false;
      }
      if (raw < 1 || raw > 64) {
        *err = fmt::format("bucket width {} out of range", raw);
        return false;
      }
      x = static_cast<int>(raw);
    }
    return true;
  }

  // The `i`th value (values are read in order). False with `err` set on truncation.
  // Inlined into the decode loops, which pass a local BitReader: with no call taking its
  // address, it stays in registers.
  [[gnu::always_inline]] bool Next(BitReader& br, size_t i, int64_t* v, std::string* err) {
    uint64_t x = 0;
    if (!buckets_) {
      Take(br, width_, &x);  // Start checked that the bits are there
      *v = static_cast<int64_t>(base_ + x);
      return true;
    }
    // '0' for zero, else up to four ones pick a bucket width; the prefix in one peek.
    int avail = br.Fill();
    int ones = std::min(std::countl_one(br.Peek()), 4);
    int prefix_bits = ones == 4 ? 4 : ones + 1;
    if (avail < prefix_bits) return Truncated(i, err);
    br.Skip(prefix_bits);
    if (ones == 0) {
      *v = 0;
      return true;
    }
    if (!Take(br, ones == 4 ? 64 : w_[ones - 1], &x)) return Truncated(i, err);
    *v = ZigZagDecode(x);
    return true;
  }

 private:
  // BitReader::ReadBits without its out-of-line slow path (which would take the reader's
  // address): `width` 0..64 bits, in two parts past the 56 that Fill guarantees.
  [[gnu::always_inline]] static bool Take56(BitReader& br, int width, uint64_t* x) {
    if (width == 0) {
      *x = 0;
      return true;
    }
    if (br.Fill() < width) return false;
    *x = br.TakeUnchecked(width);
    return true;
  }
  [[gnu::always_inline]] static bool Take(BitReader& br, int width, uint64_t* x) {
    if (width <= 56) return Take56(br, width, x);
    uint64_t hi, lo;
    if (!Take56(br, width - 32, &hi) || !Take56(br, 32, &lo)) return false;
    *x = hi << 32 | lo;
    return true;
  }

  bool Truncated(size_t i, std::string* err) const {
    *err = fmt::format("truncated at value {} of {}", i, n_);
    return false;
  }

  size_t n_ = 0;
  bool buckets_ = false;
  uint64_t base_ = 0;  // frame of reference
  int width_ = 0;
  int w_[3] = {1, 1, 1};  // bucket widths
};

// ---- values ---------------------------------------------------------------------------

// The smallest e with v == llround(v * 10^e) / 10^e bit for bit, or -1.
int DecimalExp(double v) {
  for (int e = 0; e <= kMaxDecimalExp; ++e) {
    double x = v * kPow10[e];
    if (!(std::fabs(x) < 9.2e18)) return -1;  // also rejects NaN and Inf
    int64_t n = std::llround(x);
    double back = static_cast<double>(n) / kPow10[e];
    if (std::bit_cast<uint64_t>(back) == std::bit_cast<uint64_t>(v)) return e;
  }
  return -1;
}

// Fills `ints` with the exact decimal integers of all values at one exponent, or false.
bool ToDecimals(std::span<const model::Sample> s, int* exp, std::vector<int64_t>* ints) {
  int e = 0;
  for (const auto& x : s) {
    int ex = DecimalExp(x.v);
    if (ex < 0) return false;
    e = std::max(e, ex);
  }
  ints->clear();
  for (const auto& x : s) {
    double y = x.v * kPow10[e];
    if (!(std::fabs(y) < 9.2e18)) return false;
    int64_t n = std::llround(y);
    double back = static_cast<double>(n) / kPow10[e];
    if (std::bit_cast<uint64_t>(back) != std::bit_cast<uint64_t>(x.v)) return false;
    ints->push_back(n);
  }
  *exp = e;
  return true;
}

// The greatest common divisor of the values (1 if there is none worth using).
uint64_t CommonFactor(std::span<const int64_t> v) {
  uint64_t g = 0;
  for (int64_t x : v) {
    uint64_t mag = x < 0 ? 0 - static_cast<uint64_t>(x) : static_cast<uint64_t>(x);
    g = std::gcd(g, mag);
    if (g == 1) return 1;
  }
  return g == 0 || g > (uint64_t{1} << 62) ? 1 : g;
}

// Differences modulo 2^64 (never overflowing).
std::vector<int64_t> Diff(std::span<const int64_t> v) {
  std::vector<int64_t> d;
  for (size_t i = 1; i < v.size(); ++i) {
    d.push_back(static_cast<int64_t>(static_cast<uint64_t>(v[i]) - static_cast<uint64_t>(v[i - 1])));
  }
  return d;
}

// ---- iterator ---------------------------------------------------------------------------

// Appends the chunk's samples to `out`, decoding each sequence straight into them. False
// with `err` set if the bytes are corrupt; `out` then holds garbage past its old size,
// which the caller drops.
bool DecodeInto(std::string_view b, std::vector<model::Sample>* out, std::string* err) {
  if (b.size() < format::kCountBytes + 1) {
    *err = fmt::format("{} bytes is shorter than its header", b.size());
    return false;
  }
  auto* p = reinterpret_cast<const uint8_t*>(b.data());
  size_t n = size_t{p[0]} << 8 | p[1];
  uint8_t scheme = p[2];
  auto ts_scheme = static_cast<TsScheme>(scheme >> 4);
  auto v_scheme = static_cast<ValueScheme>(scheme & 0xf);
  if (n == 0) return true;
  BitReader br(p + 3, b.size() - 3);
  const size_t first = out->size();
  out->resize(first + n);
  model::Sample* s = out->data() + first;

  // Timestamps: t0, then the first delta and the delta-of-deltas (modulo 2^64).
  uint64_t z;
  if (!ReadUvarintBits(br, &z)) {
    *err = "truncated first timestamp";
    return false;
  }
  uint64_t t = static_cast<uint64_t>(ZigZagDecode(z));
  s[0].t = static_cast<int64_t>(t);
  if (n >= 2) {
    uint64_t delta;
    if (!ReadUvarintBits(br, &delta)) {
      *err = "truncated first delta";
      return false;
    }
    if (ts_scheme == TsScheme::kRegular) {
      for (size_t i = 1; i < n; ++i) s[i].t = static_cast<int64_t>(t + i * delta);
    } else if (ts_scheme == TsScheme::kPackedDod) {
      SeqReader dods;
      if (!dods.Start(br, n - 2, err)) {
        *err = "timestamps: " + *err;
        return false;
      }
      t += delta;
      s[1].t = static_cast<int64_t>(t);
      BitReader r = br;
      for (size_t i = 2; i < n; ++i) {
        int64_t dod;
        if (!dods.Next(r, i - 2, &dod, err)) {
          *err = "timestamps: " + *err;
          return false;
        }
        delta += static_cast<uint64_t>(dod);
        t += delta;
        s[i].t = static_cast<int64_t>(t);
      }
      br = r;
    } else {
      *err = fmt::format("unknown timestamp scheme {}", scheme >> 4);
      return false;
    }
  }

  // Values.
  switch (v_scheme) {
    case ValueScheme::kConstant: {
      uint64_t bits;
      if (!br.ReadBits(64, &bits)) {
        *err = "truncated constant value";
        return false;
      }
      for (size_t i = 0; i < n; ++i) s[i].v = std::bit_cast<double>(bits);
      return true;
    }
    case ValueScheme::kXor: {
      XorValueReader r;
      for (size_t i = 0; i < n; ++i) {
        if (!r.Read(br, &s[i].v)) {
          *err = fmt::format("corrupt xor value {} of {}", i, n);
          return false;
        }
      }
      return true;
    }
    case ValueScheme::kDecimal: {
      uint64_t e, order;
      if (!br.ReadBits(8, &e) || !br.ReadBits(8, &order)) {
        *err = "truncated decimal header";
        return false;
      }
      if (e > kMaxDecimalExp || order > 2 || order > n) {
        *err = fmt::format("bad decimal header (exponent {}, order {})", e, order);
        return false;
      }
      uint64_t mult;
      if (!ReadUvarintBits(br, &mult) || mult == 0) {
        *err = "bad decimal multiplier";
        return false;
      }
      uint64_t heads[2] = {0, 0};
      for (uint64_t i = 0; i < order; ++i) {
        if (!ReadUvarintBits(br, &z)) {
          *err = "truncated decimal heads";
          return false;
        }
        heads[i] = static_cast<uint64_t>(ZigZagDecode(z));
      }
      SeqReader seq;
      if (!seq.Start(br, n - order, err)) {
        *err = "values: " + *err;
        return false;
      }
      // The decimal integers, undone from `order` differences as they are read: the
      // sequence holds (x[i] - x[i-1]) * mult for order 1, and the differences of those
      // for order 2, whose first value heads[1] is the first difference.
      // Integers (e == 0) skip the division: its throughput bounds this loop otherwise.
      const double scale = kPow10[e];
      auto value = [e, scale](uint64_t x) {
        double v = static_cast<double>(static_cast<int64_t>(x));
        return e == 0 ? v : v / scale;
      };
      uint64_t x = heads[0];
      uint64_t d = heads[1];
      size_t i = 0;
      if (order >= 1) s[i++].v = value(x);
      if (order == 2) {
        x += d;
        s[i++].v = value(x);
      }
      BitReader r = br;
      for (size_t j = 0; i < n; ++i, ++j) {
        int64_t raw;
        if (!seq.Next(r, j, &raw, err)) {
          *err = "values: " + *err;
          return false;
        }
        uint64_t y = static_cast<uint64_t>(raw) * mult;
        if (order == 0) {
          x = y;
        } else if (order == 1) {
          x += y;
        } else {
          d += y;
          x += d;
        }
        s[i].v = value(x);
      }
      return true;
    }
  }
  *err = fmt::format("unknown value scheme {}", scheme & 0xf);
  return false;
}

bool TimeLess(const model::Sample& s, int64_t t) { return s.t < t; }

class BlockIterator final : public Iterator {
 public:
  explicit BlockIterator(std::string_view b) : b_(b) {}

  bool Next() override {
    if (!Ready()) return false;
    if (i_ + 1 >= static_cast<int64_t>(samples_.size())) {
      i_ = static_cast<int64_t>(samples_.size());
      return false;
    }
    ++i_;
    return true;
  }
  bool Seek(int64_t t) override {
    if (!Ready()) return false;
    if (i_ >= static_cast<int64_t>(samples_.size())) return false;
    if (i_ >= 0 && samples_[i_].t >= t) return true;
    auto start = samples_.begin() + std::max<int64_t>(i_, 0);
    auto it = std::lower_bound(start, samples_.end(), t, TimeLess);
    i_ = it - samples_.begin();
    return it != samples_.end();
  }
  model::Sample At() const override { return samples_[i_]; }
  absl::Status Err() const override { return err_; }
  void AppendRange(int64_t mint, int64_t maxt, std::vector<model::Sample>* out) override {
    if (!decoded_) {
      // Not read yet: decode straight into `out`, then keep [mint, maxt] of it.
      decoded_ = true;
      const size_t first = out->size();
      std::string err;
      if (!DecodeInto(b_, out, &err)) {
        out->resize(first);
        err_ = Corrupt(err);
        return;
      }
      auto lo = std::lower_bound(out->begin() + static_cast<std::ptrdiff_t>(first), out->end(), mint, TimeLess);
      auto hi = std::upper_bound(lo, out->end(), maxt, [](int64_t t, const model::Sample& s) { return t < s.t; });
      out->erase(hi, out->end());
      out->erase(out->begin() + static_cast<std::ptrdiff_t>(first), lo);
      return;
    }
    if (!err_.ok() || i_ >= static_cast<int64_t>(samples_.size())) return;
    auto from = std::lower_bound(samples_.begin() + std::max<int64_t>(i_, 0), samples_.end(), mint, TimeLess);
    for (auto it = from; it != samples_.end() && it->t <= maxt; ++it) out->push_back(*it);
    i_ = static_cast<int64_t>(samples_.size());
  }

 private:
  static absl::Status Corrupt(std::string_view err) {
    return absl::DataLossError(fmt::format("block chunk: {}", err));
  }
  bool Ready() {
    if (!decoded_) {
      decoded_ = true;
      std::string err;
      if (!DecodeInto(b_, &samples_, &err)) {
        err_ = Corrupt(err);
        samples_.clear();
      }
    }
    return err_.ok();
  }

  std::string_view b_;
  bool decoded_ = false;
  std::vector<model::Sample> samples_;
  int64_t i_ = -1;
  absl::Status err_;
};

}  // namespace

absl::StatusOr<std::string> EncodeBlockChunk(std::span<const model::Sample> s) {
  if (s.empty() || s.size() > static_cast<size_t>(format::kMaxSamplesPerChunk)) {
    return absl::InvalidArgumentError(
        fmt::format("encode block chunk: {} samples (want 1..{})", s.size(), format::kMaxSamplesPerChunk));
  }
  const size_t n = s.size();
  std::string out;
  out.push_back(static_cast<char>(n >> 8));
  out.push_back(static_cast<char>(n));
  out.push_back(0);  // schemes, filled below
  BitWriter bw(&out);

  // Timestamps.
  TsScheme ts_scheme = TsScheme::kRegular;
  WriteUvarintBits(bw, ZigZagEncode(s[0].t));
  if (n >= 2) {
    std::vector<int64_t> t(n);
    for (size_t i = 0; i < n; ++i) t[i] = s[i].t;
    std::vector<int64_t> deltas = Diff(t);
    WriteUvarintBits(bw, static_cast<uint64_t>(deltas[0]));
    std::vector<int64_t> dods = Diff(deltas);
    bool regular = std::all_of(dods.begin(), dods.end(), [](int64_t d) { return d == 0; });
    if (!regular) {
      ts_scheme = TsScheme::kPackedDod;
      WriteSeq(bw, dods, PlanSeq(dods));
    }
  }

  // Values.
  ValueScheme v_scheme;
  uint64_t first_bits = std::bit_cast<uint64_t>(s[0].v);
  bool constant = std::all_of(s.begin(), s.end(), [&](const model::Sample& x) {
    return std::bit_cast<uint64_t>(x.v) == first_bits;
  });
  int e;
  std::vector<int64_t> ints;
  if (constant) {
    v_scheme = ValueScheme::kConstant;
    bw.WriteBits(first_bits, 64);
  } else {
    // Decimal integers when every value is one, unless XOR happens to be shorter (values
    // with many significant digits).
    std::string xor_bits;
    BitWriter xw(&xor_bits);
    XorValueWriter xv;
    for (const auto& x : s) xv.Write(xw, x.v);
    v_scheme = ValueScheme::kXor;
    if (ToDecimals(s, &e, &ints)) {
      // Pick the order of differences (0: raw, 1: deltas for counters, 2: delta-of-deltas
      // for smooth series) that packs smallest.
      std::vector<int64_t> seqs[3];
      seqs[0] = ints;
      seqs[1] = Diff(seqs[0]);
      seqs[2] = Diff(seqs[1]);
      const int64_t d1 = seqs[1].empty() ? 0 : seqs[1][0];  // before any division
      int best = 0;
      SeqPlan plans[3];
      uint64_t mults[3] = {1, 1, 1};
      size_t best_bits = ~size_t{0};
      for (int order = 0; order <= 2 && static_cast<size_t>(order) <= n; ++order) {
        // A common factor (memory in 4 KiB pages, counters stepping by 8...) is divided out.
        mults[order] = CommonFactor(seqs[order]);
        if (mults[order] > 1) {
          for (auto& x : seqs[order]) x /= static_cast<int64_t>(mults[order]);
        }
        plans[order] = PlanSeq(seqs[order]);
        size_t bits = plans[order].bits + UvarintBits(mults[order]);
        if (order >= 1) bits += UvarintBits(ZigZagEncode(ints[0]));
        if (order == 2) bits += UvarintBits(ZigZagEncode(d1));
        if (bits < best_bits) {
          best_bits = bits;
          best = order;
        }
      }
      if (16 + best_bits < xw.bit_count()) {
        v_scheme = ValueScheme::kDecimal;
        bw.WriteBits(static_cast<uint64_t>(e), 8);
        bw.WriteBits(static_cast<uint64_t>(best), 8);
        WriteUvarintBits(bw, mults[best]);
        if (best >= 1) WriteUvarintBits(bw, ZigZagEncode(ints[0]));
        if (best == 2) WriteUvarintBits(bw, ZigZagEncode(d1));
        WriteSeq(bw, seqs[best], plans[best]);
      }
    }
    if (v_scheme == ValueScheme::kXor) {
      // Append the XOR stream bit by bit-aligned chunks.
      BitReader r(reinterpret_cast<const uint8_t*>(xor_bits.data()), xor_bits.size());
      size_t left = xw.bit_count();
      while (left > 0) {
        int take = left >= 32 ? 32 : static_cast<int>(left);
        uint64_t v = 0;
        r.ReadBits(take, &v);
        bw.WriteBits(v, take);
        left -= take;
      }
    }
  }
  out[2] = static_cast<char>(static_cast<uint8_t>(ts_scheme) << 4 | static_cast<uint8_t>(v_scheme));
  return out;
}

std::unique_ptr<Iterator> NewBlockIterator(std::string_view bytes) {
  return std::make_unique<BlockIterator>(bytes);
}

int BlockChunk::num_samples() const {
  if (b_.size() < 2) return 0;
  return static_cast<uint8_t>(b_[0]) << 8 | static_cast<uint8_t>(b_[1]);
}

absl::StatusOr<std::unique_ptr<Appender>> BlockChunk::NewAppender() {
  return absl::FailedPreconditionError("block chunks are immutable: re-encode to append");
}

}  // namespace vigil::storage::chunkenc

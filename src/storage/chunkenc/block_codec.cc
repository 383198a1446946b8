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

bool ReadSeq(BitReader& br, size_t n, std::vector<int64_t>* out, std::string* err) {
  out->clear();
  out->reserve(n);
  uint64_t mode;
  if (!br.ReadBits(1, &mode)) {
    *err = "truncated sequence header";
    return false;
  }
  if (mode == kModeFrameOfReference) {
    uint64_t zmin, width;
    if (!ReadUvarintBits(br, &zmin) || !br.ReadBits(kWidthBits, &width)) {
      *err = "truncated sequence header";
      return false;
    }
    if (width > 64) {
      *err = fmt::format("bit width {} out of range", width);
      return false;
    }
    if (n * width > br.bits_left()) {
      *err = fmt::format("{} values of {} bits overrun the chunk", n, width);
      return false;
    }
    uint64_t base = static_cast<uint64_t>(ZigZagDecode(zmin));
    for (size_t i = 0; i < n; ++i) {
      uint64_t x;
      br.ReadBits(static_cast<int>(width), &x);
      out->push_back(static_cast<int64_t>(base + x));
    }
    return true;
  }
  int w[3];
  for (int& x : w) {
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
  for (size_t i = 0; i < n; ++i) {
    int ones = 0;
    bool bit = true;
    while (ones < 4) {
      if (!br.ReadBit(&bit)) {
        *err = fmt::format("truncated at value {} of {}", i, n);
        return false;
      }
      if (!bit) break;
      ++ones;
    }
    uint64_t z = 0;
    if (ones > 0) {
      int width = ones == 4 ? 64 : w[ones - 1];
      if (!br.ReadBits(width, &z)) {
        *err = fmt::format("truncated at value {} of {}", i, n);
        return false;
      }
    }
    out->push_back(ZigZagDecode(z));
  }
  return true;
}

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

void Integrate(std::vector<int64_t>& v, int64_t first) {
  uint64_t acc = static_cast<uint64_t>(first);
  for (auto& x : v) {
    acc += static_cast<uint64_t>(x);
    x = static_cast<int64_t>(acc);
  }
  v.insert(v.begin(), first);
}

// ---- iterator ---------------------------------------------------------------------------

class BlockIterator final : public Iterator {
 public:
  explicit BlockIterator(std::string_view b) : b_(b) {}

  bool Next() override {
    if (!Ready()) return false;
    if (i_ + 1 >= static_cast<int64_t>(ts_.size())) {
      i_ = static_cast<int64_t>(ts_.size());
      return false;
    }
    ++i_;
    return true;
  }
  bool Seek(int64_t t) override {
    if (!Ready()) return false;
    if (i_ >= static_cast<int64_t>(ts_.size())) return false;
    if (i_ >= 0 && ts_[i_] >= t) return true;
    auto start = ts_.begin() + std::max<int64_t>(i_, 0);
    auto it = std::lower_bound(start, ts_.end(), t);
    i_ = it - ts_.begin();
    return it != ts_.end();
  }
  model::Sample At() const override { return {ts_[i_], vs_[i_]}; }
  absl::Status Err() const override { return err_; }
  void AppendRange(int64_t mint, int64_t maxt, std::vector<model::Sample>* out) override {
    if (!Ready() || i_ >= static_cast<int64_t>(ts_.size())) return;
    auto from = std::lower_bound(ts_.begin() + std::max<int64_t>(i_, 0), ts_.end(), mint);
    auto to = std::upper_bound(from, ts_.end(), maxt);
    for (auto it = from; it != to; ++it) out->push_back({*it, vs_[it - ts_.begin()]});
    i_ = static_cast<int64_t>(ts_.size());
  }

 private:
  bool Ready() {
    if (!decoded_) {
      decoded_ = true;
      std::string err;
      if (!Decode(&err)) {
        err_ = absl::DataLossError(fmt::format("block chunk: {}", err));
        ts_.clear();
        vs_.clear();
      }
    }
    return err_.ok();
  }
  bool Decode(std::string* err);

  std::string_view b_;
  bool decoded_ = false;
  std::vector<int64_t> ts_;
  std::vector<double> vs_;
  int64_t i_ = -1;
  absl::Status err_;
};

bool BlockIterator::Decode(std::string* err) {
  if (b_.size() < format::kCountBytes + 1) {
    *err = fmt::format("{} bytes is shorter than its header", b_.size());
    return false;
  }
  auto* p = reinterpret_cast<const uint8_t*>(b_.data());
  size_t n = size_t{p[0]} << 8 | p[1];
  uint8_t scheme = p[2];
  auto ts_scheme = static_cast<TsScheme>(scheme >> 4);
  auto v_scheme = static_cast<ValueScheme>(scheme & 0xf);
  if (n == 0) return true;
  BitReader br(p + 3, b_.size() - 3);

  // Timestamps.
  uint64_t z;
  if (!ReadUvarintBits(br, &z)) {
    *err = "truncated first timestamp";
    return false;
  }
  int64_t t0 = ZigZagDecode(z);
  if (n == 1) {
    ts_.push_back(t0);
  } else {
    uint64_t delta;
    if (!ReadUvarintBits(br, &delta)) {
      *err = "truncated first delta";
      return false;
    }
    std::vector<int64_t> dods;
    if (ts_scheme == TsScheme::kRegular) {
      dods.assign(n - 2, 0);
    } else if (ts_scheme == TsScheme::kPackedDod) {
      if (!ReadSeq(br, n - 2, &dods, err)) {
        *err = "timestamps: " + *err;
        return false;
      }
    } else {
      *err = fmt::format("unknown timestamp scheme {}", scheme >> 4);
      return false;
    }
    Integrate(dods, static_cast<int64_t>(delta));
    Integrate(dods, t0);
    ts_ = std::move(dods);
  }

  // Values.
  switch (v_scheme) {
    case ValueScheme::kConstant: {
      uint64_t bits;
      if (!br.ReadBits(64, &bits)) {
        *err = "truncated constant value";
        return false;
      }
      vs_.assign(n, std::bit_cast<double>(bits));
      return true;
    }
    case ValueScheme::kXor: {
      XorValueReader r;
      vs_.resize(n);
      for (size_t i = 0; i < n; ++i) {
        if (!r.Read(br, &vs_[i])) {
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
      int64_t heads[2] = {0, 0};
      for (uint64_t i = 0; i < order; ++i) {
        if (!ReadUvarintBits(br, &z)) {
          *err = "truncated decimal heads";
          return false;
        }
        heads[i] = ZigZagDecode(z);
      }
      std::vector<int64_t> ints;
      if (!ReadSeq(br, n - order, &ints, err)) {
        *err = "values: " + *err;
        return false;
      }
      if (mult != 1) {
        for (auto& x : ints) x = static_cast<int64_t>(static_cast<uint64_t>(x) * mult);
      }
      if (order == 2) Integrate(ints, heads[1]);
      if (order >= 1) Integrate(ints, heads[0]);
      vs_.resize(n);
      for (size_t i = 0; i < n; ++i) vs_[i] = static_cast<double>(ints[i]) / kPow10[e];
      return true;
    }
  }
  *err = fmt::format("unknown value scheme {}", scheme & 0xf);
  return false;
}

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

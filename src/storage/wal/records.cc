#include "storage/wal/records.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "base/encoding.h"
#include "fmt/format.h"

namespace vigil::storage::wal {
namespace {

// The sample encoder writes through a raw pointer into a buffer sized for the worst case:
// a 2000-sample batch is the hot path of every commit, and per-field std::string appends
// cost several times more than the encoding itself.
inline char* PutUvarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

inline char* PutBE64(char* p, uint64_t v) {
  v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
  return p + 8;
}

// Wrapping difference, so int64 extremes encode without signed overflow.
inline int64_t WrapSub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
inline int64_t WrapAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

// A bounds-checked reader for the sample decoder; same contract as Decbuf (first error
// sticks) but inlined, since replay decodes hundreds of millions of samples.
class FastReader {
 public:
  explicit FastReader(std::string_view b)
      : p_(reinterpret_cast<const uint8_t*>(b.data())), begin_(p_), end_(p_ + b.size()) {}

  uint64_t Uvarint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) return Fail("truncated varint");
      uint8_t c = *p_++;
      if (shift == 63 && c > 1) return Fail("varint overflows 64 bits");
      v |= uint64_t{c & 0x7fu} << shift;
      if (c < 0x80) return v;
    }
    return Fail("varint overflows 64 bits");
  }
  uint64_t BE64() {
    if (end_ - p_ < 8) return Fail("truncated 8-byte field");
    uint64_t v;
    std::memcpy(&v, p_, 8);
    p_ += 8;
    return __builtin_bswap64(v);
  }
  bool ok() const { return err_ == nullptr; }
  // What broke and where, as an offset into the record (the type byte is offset 0).
  std::string err() const { return fmt::format("{} at record offset {}", err_, err_offset_ + 1); }
  size_t offset() const { return static_cast<size_t>(p_ - begin_); }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

 private:
  uint64_t Fail(const char* what) {
    if (err_ == nullptr) {
      err_ = what;
      err_offset_ = offset();
    }
    p_ = end_;
    return 0;
  }

  const uint8_t* p_;
  const uint8_t* begin_;
  const uint8_t* end_;
  const char* err_ = nullptr;
  size_t err_offset_ = 0;
};

absl::Status CheckType(std::string_view record, RecordType want, std::string_view what) {
  if (record.empty()) {
    return absl::DataLossError(fmt::format("decode {} record: empty record", what));
  }
  if (static_cast<uint8_t>(record[0]) != static_cast<uint8_t>(want)) {
    return absl::InvalidArgumentError(
        fmt::format("decode {} record: type byte is {}, want {}", what,
                    static_cast<int>(static_cast<uint8_t>(record[0])), static_cast<int>(want)));
  }
  return absl::OkStatus();
}

// Rejects a count that cannot fit in the bytes left, before anything is allocated for it.
absl::Status CheckCount(uint64_t count, size_t remaining, size_t min_entry, std::string_view what) {
  if (count > remaining / min_entry) {
    return absl::DataLossError(fmt::format(
        "decode {} record: count {} needs at least {} bytes, only {} remain", what, count,
        count * min_entry, remaining));
  }
  return absl::OkStatus();
}

// Reads `n` (name, value) pairs into `labels`, reusing its strings. Names must be
// non-empty and strictly increasing. Truncation is left in `d`'s sticky error.
absl::Status ReadLabels(Decbuf* d, uint64_t n, model::Labels* labels) {
  if (n > d->remaining() / 3) {
    return absl::DataLossError(
        fmt::format("{} labels cannot fit in {} bytes", n, d->remaining()));
  }
  std::vector<model::Label>& v = labels->mutable_vec();
  v.resize(n);
  for (uint64_t j = 0; j < n; ++j) {
    std::string_view name = d->UvarintStr();
    std::string_view value = d->UvarintStr();
    if (!d->ok()) return absl::OkStatus();
    if (name.empty()) return absl::DataLossError(fmt::format("label {} has an empty name", j + 1));
    if (j > 0 && !(v[j - 1].name < name)) {
      return absl::DataLossError(
          fmt::format("label names not strictly sorted at label {}", j + 1));
    }
    v[j].name.assign(name);
    v[j].value.assign(value);
  }
  return absl::OkStatus();
}

void PutLabels(Encbuf* e, const model::Labels& labels) {
  e->PutUvarint(labels.size());
  for (const model::Label& l : labels) {
    e->PutUvarintStr(l.name);
    e->PutUvarintStr(l.value);
  }
}

}  // namespace

bool operator==(const RefExemplar& a, const RefExemplar& b) {
  return a.ref == b.ref && a.t == b.t &&
         std::bit_cast<uint64_t>(a.v) == std::bit_cast<uint64_t>(b.v) && a.labels == b.labels;
}

bool operator==(const RefSample& a, const RefSample& b) {
  return a.ref == b.ref && a.t == b.t &&
         std::bit_cast<uint64_t>(a.v) == std::bit_cast<uint64_t>(b.v);
}

RecordType GetRecordType(std::string_view record) {
  if (record.empty()) return RecordType::kInvalid;
  return static_cast<RecordType>(static_cast<uint8_t>(record[0]));
}

// Series v1: type | count uvarint | count x (ref uvarint | nlabels uvarint |
//            nlabels x (name uvarint-len bytes | value uvarint-len bytes))
void EncodeSeries(std::span<const RefSeries> series, std::string* out) {
  Encbuf e;
  e.mutable_str().swap(*out);
  e.Reset();
  e.PutByte(static_cast<uint8_t>(RecordType::kSeries));
  e.PutUvarint(series.size());
  for (const RefSeries& s : series) {
    e.PutUvarint(s.ref);
    PutLabels(&e, s.labels);
  }
  out->swap(e.mutable_str());
}

absl::Status DecodeSeries(std::string_view record, std::vector<RefSeries>* out) {
  if (absl::Status s = CheckType(record, RecordType::kSeries, "series"); !s.ok()) return s;
  Decbuf d(record.substr(1));
  uint64_t count = d.Uvarint();
  if (!d.ok()) {
    return absl::DataLossError(fmt::format("decode series record: count: {}",
                                           std::string(d.err().message())));
  }
  // Smallest entry: ref (1) + nlabels (1) + one label with a 1-byte name (3).
  if (absl::Status s = CheckCount(count, d.remaining(), 5, "series"); !s.ok()) return s;
  out->resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    RefSeries& rs = (*out)[i];
    rs.ref = d.Uvarint();
    uint64_t n = d.Uvarint();
    if (!d.ok()) break;
    if (n == 0) {
      return absl::DataLossError(fmt::format(
          "decode series record: series {} of {} (ref {}) has no labels", i + 1, count, rs.ref));
    }
    if (absl::Status s = ReadLabels(&d, n, &rs.labels); !s.ok()) {
      return absl::DataLossError(fmt::format("decode series record: series {} of {} (ref {}): {}",
                                             i + 1, count, rs.ref, std::string(s.message())));
    }
    if (!d.ok()) break;
  }
  if (!d.ok()) {
    return absl::DataLossError(
        fmt::format("decode series record: {}", std::string(d.err().message())));
  }
  if (d.remaining() != 0) {
    return absl::DataLossError(fmt::format("decode series record: {} trailing bytes after {} series",
                                           d.remaining(), count));
  }
  return absl::OkStatus();
}

// Samples v1: type | count uvarint | if count > 0: base ref BE64 | base t BE64 |
//             count x (ref - base zigzag varint | t - base zigzag varint | value BE64 bits)
void EncodeSamplesV1(std::span<const RefSample> samples, std::string* out) {
  // Worst case per sample: two 10-byte varints and 8 value bytes.
  out->resize(1 + 10 + 16 + samples.size() * 28);
  char* p = out->data();
  *p++ = static_cast<char>(RecordType::kSamples);
  p = PutUvarint(p, samples.size());
  if (!samples.empty()) {
    const uint64_t base_ref = samples[0].ref;
    const int64_t base_t = samples[0].t;
    p = PutBE64(p, base_ref);
    p = PutBE64(p, static_cast<uint64_t>(base_t));
    for (const RefSample& s : samples) {
      p = PutUvarint(p, ZigZagEncode(static_cast<int64_t>(s.ref - base_ref)));
      p = PutUvarint(p, ZigZagEncode(WrapSub(s.t, base_t)));
      p = PutBE64(p, std::bit_cast<uint64_t>(s.v));
    }
  }
  out->resize(static_cast<size_t>(p - out->data()));
}

namespace {

constexpr double kPow10[kSampleMaxDecimalExp + 1] = {
    1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8, 1e9,
    1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};

constexpr int kEncodeMaxDecimalExp = 12;

// The value kind of `v` and its decimal integer. A decimal is used only when decoding
// gives back the very same bits, so -0.0, NaNs and infinities always go raw.
inline uint8_t ValueKind(double v, uint64_t bits, uint64_t prev_bits, int64_t* m) {
  if (bits == prev_bits) return kSampleSame;
  // Doubles of magnitude 2^63 or more (and NaN) fail these range checks.
  if (!(v > -9.2e18 && v < 9.2e18)) return kSampleRaw;
  int64_t n = static_cast<int64_t>(v);
  if (std::bit_cast<uint64_t>(static_cast<double>(n)) == bits) {
    *m = n;
    return kSampleDecimal0;
  }
  // The encoder tries exponents up to 12 (enough for node_exporter-like data and cheap for
  // values that are not decimals at all); the format allows up to kSampleMaxDecimalExp.
  for (int e = 1; e <= kEncodeMaxDecimalExp; ++e) {
    const double x = v * kPow10[e];
    if (!(x > -9.2e18 && x < 9.2e18)) break;
    // Any integer that decodes back to `bits` will do, so plain rounding is enough.
    n = static_cast<int64_t>(x < 0 ? x - 0.5 : x + 0.5);
    if (std::bit_cast<uint64_t>(static_cast<double>(n) / kPow10[e]) == bits) {
      *m = n;
      return static_cast<uint8_t>(kSampleDecimal0 + e);
    }
  }
  return kSampleRaw;
}

}  // namespace

// Samples v2: type | count uvarint | if count > 0: base ref uvarint | base t varint |
//   count x (header uvarint | [ref delta uvarint] | [t delta varint] | value payload)
// See docs/format/wal.md. Refs are coded against the previous ref + 1 and timestamps
// against the previous timestamp, so a commit of consecutive series at one scrape time
// costs one header byte plus the value per sample.
void EncodeSamples(std::span<const RefSample> samples, std::string* out) {
  // Worst case per sample: a 10-byte header, a 10-byte escaped ref delta, a 10-byte time
  // delta and 8 value bytes.
  out->resize(1 + 10 + 20 + samples.size() * 38);
  char* p = out->data();
  *p++ = static_cast<char>(RecordType::kSamplesV2);
  p = PutUvarint(p, samples.size());
  if (!samples.empty()) {
    uint64_t prev_ref = samples[0].ref - 1;
    int64_t prev_t = samples[0].t;
    uint64_t prev_bits = 0;
    p = PutUvarint(p, samples[0].ref);
    p = PutUvarint(p, ZigZagEncode(prev_t));
    for (const RefSample& s : samples) {
      const uint64_t ref_zz = ZigZagEncode(static_cast<int64_t>(s.ref - prev_ref - 1));
      const uint64_t bits = std::bit_cast<uint64_t>(s.v);
      int64_t m = 0;
      const uint8_t kind = ValueKind(s.v, bits, prev_bits, &m);
      uint64_t header = (std::min(ref_zz, kSampleRefEscape) << kSampleHeaderShift) | kind;
      if (s.t != prev_t) header |= kSampleTimeFlag;
      p = PutUvarint(p, header);
      if (ref_zz >= kSampleRefEscape) p = PutUvarint(p, ref_zz);
      if (s.t != prev_t) p = PutUvarint(p, ZigZagEncode(WrapSub(s.t, prev_t)));
      if (kind == kSampleRaw) {
        p = PutBE64(p, bits);
      } else if (kind != kSampleSame) {
        p = PutUvarint(p, ZigZagEncode(m));
      }
      prev_ref = s.ref;
      prev_t = s.t;
      prev_bits = bits;
    }
  }
  out->resize(static_cast<size_t>(p - out->data()));
}

namespace {

absl::Status DecodeSamplesV2(std::string_view record, std::vector<RefSample>* out) {
  FastReader r(record.substr(1));
  const uint64_t count = r.Uvarint();
  out->clear();
  if (r.ok() && count > 0) {
    uint64_t prev_ref = r.Uvarint() - 1;
    int64_t prev_t = ZigZagDecode(r.Uvarint());
    uint64_t prev_bits = 0;
    if (!r.ok()) {
      return absl::DataLossError(fmt::format("decode samples record: base: {}", r.err()));
    }
    // Smallest entry: a 1-byte header.
    if (absl::Status s = CheckCount(count, r.remaining(), 1, "samples"); !s.ok()) return s;
    out->resize(count);
    RefSample* o = out->data();
    for (uint64_t i = 0; i < count; ++i) {
      const uint64_t header = r.Uvarint();
      const uint8_t kind = static_cast<uint8_t>(header & ((1u << kSampleKindBits) - 1));
      uint64_t ref_zz = header >> kSampleHeaderShift;
      if (ref_zz == kSampleRefEscape) ref_zz = r.Uvarint();
      prev_ref = prev_ref + 1 + static_cast<uint64_t>(ZigZagDecode(ref_zz));
      if (header & kSampleTimeFlag) prev_t = WrapAdd(prev_t, ZigZagDecode(r.Uvarint()));
      if (kind == kSampleRaw) {
        prev_bits = r.BE64();
      } else if (kind != kSampleSame) {
        if (kind > kSampleRaw) {
          return absl::DataLossError(fmt::format(
              "decode samples record: sample {} of {}: unknown value kind {} at record offset {}",
              i + 1, count, static_cast<int>(kind), r.offset()));
        }
        const int64_t m = ZigZagDecode(r.Uvarint());
        prev_bits = std::bit_cast<uint64_t>(static_cast<double>(m) /
                                            kPow10[kind - kSampleDecimal0]);
      }
      if (!r.ok()) {
        return absl::DataLossError(fmt::format("decode samples record: sample {} of {}: {}",
                                               i + 1, count, r.err()));
      }
      o[i].ref = prev_ref;
      o[i].t = prev_t;
      o[i].v = std::bit_cast<double>(prev_bits);
    }
  }
  if (!r.ok()) return absl::DataLossError(fmt::format("decode samples record: count: {}", r.err()));
  if (r.remaining() != 0) {
    return absl::DataLossError(fmt::format(
        "decode samples record: {} trailing bytes after {} samples", r.remaining(), count));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status DecodeSamples(std::string_view record, std::vector<RefSample>* out) {
  if (GetRecordType(record) == RecordType::kSamplesV2) return DecodeSamplesV2(record, out);
  if (absl::Status s = CheckType(record, RecordType::kSamples, "samples"); !s.ok()) return s;
  FastReader r(record.substr(1));
  uint64_t count = r.Uvarint();
  out->clear();
  if (r.ok() && count > 0) {
    uint64_t base_ref = r.BE64();
    int64_t base_t = static_cast<int64_t>(r.BE64());
    // Smallest entry: two 1-byte varints and 8 value bytes.
    if (!r.ok()) {
      return absl::DataLossError(fmt::format("decode samples record: base: {}", r.err()));
    }
    if (absl::Status s = CheckCount(count, r.remaining(), 10, "samples"); !s.ok()) return s;
    out->resize(count);
    RefSample* o = out->data();
    for (uint64_t i = 0; i < count; ++i) {
      o[i].ref = base_ref + static_cast<uint64_t>(ZigZagDecode(r.Uvarint()));
      o[i].t = WrapAdd(base_t, ZigZagDecode(r.Uvarint()));
      o[i].v = std::bit_cast<double>(r.BE64());
      if (!r.ok()) {
        return absl::DataLossError(fmt::format("decode samples record: sample {} of {}: {}",
                                               i + 1, count, r.err()));
      }
    }
  }
  if (!r.ok()) return absl::DataLossError(fmt::format("decode samples record: count: {}", r.err()));
  if (r.remaining() != 0) {
    return absl::DataLossError(fmt::format(
        "decode samples record: {} trailing bytes after {} samples", r.remaining(), count));
  }
  return absl::OkStatus();
}

// Tombstones v1: type | count uvarint | count x (ref uvarint | mint varint | maxt varint)
void EncodeTombstones(std::span<const RefTombstone> tombstones, std::string* out) {
  out->resize(1 + 10 + tombstones.size() * 30);
  char* p = out->data();
  *p++ = static_cast<char>(RecordType::kTombstones);
  p = PutUvarint(p, tombstones.size());
  for (const RefTombstone& t : tombstones) {
    p = PutUvarint(p, t.ref);
    p = PutUvarint(p, ZigZagEncode(t.mint));
    p = PutUvarint(p, ZigZagEncode(t.maxt));
  }
  out->resize(static_cast<size_t>(p - out->data()));
}

absl::Status DecodeTombstones(std::string_view record, std::vector<RefTombstone>* out) {
  if (absl::Status s = CheckType(record, RecordType::kTombstones, "tombstones"); !s.ok()) return s;
  FastReader r(record.substr(1));
  uint64_t count = r.Uvarint();
  if (!r.ok()) return absl::DataLossError(fmt::format("decode tombstones record: count: {}", r.err()));
  if (absl::Status s = CheckCount(count, r.remaining(), 3, "tombstones"); !s.ok()) return s;
  out->resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    RefTombstone& t = (*out)[i];
    t.ref = r.Uvarint();
    t.mint = ZigZagDecode(r.Uvarint());
    t.maxt = ZigZagDecode(r.Uvarint());
    if (!r.ok()) {
      return absl::DataLossError(
          fmt::format("decode tombstones record: tombstone {} of {}: {}", i + 1, count, r.err()));
    }
  }
  if (r.remaining() != 0) {
    return absl::DataLossError(fmt::format(
        "decode tombstones record: {} trailing bytes after {} tombstones", r.remaining(), count));
  }
  return absl::OkStatus();
}

// Exemplars v1: type | count uvarint | count x (ref uvarint | t varint | value BE64 bits |
//               nlabels uvarint | nlabels x (name uvarint-len bytes | value uvarint-len bytes))
void EncodeExemplars(std::span<const RefExemplar> exemplars, std::string* out) {
  Encbuf e;
  e.mutable_str().swap(*out);
  e.Reset();
  e.PutByte(static_cast<uint8_t>(RecordType::kExemplars));
  e.PutUvarint(exemplars.size());
  for (const RefExemplar& x : exemplars) {
    e.PutUvarint(x.ref);
    e.PutVarint(x.t);
    e.PutBE64(std::bit_cast<uint64_t>(x.v));
    PutLabels(&e, x.labels);
  }
  out->swap(e.mutable_str());
}

absl::Status DecodeExemplars(std::string_view record, std::vector<RefExemplar>* out) {
  if (absl::Status s = CheckType(record, RecordType::kExemplars, "exemplars"); !s.ok()) return s;
  Decbuf d(record.substr(1));
  uint64_t count = d.Uvarint();
  if (!d.ok()) {
    return absl::DataLossError(fmt::format("decode exemplars record: count: {}",
                                           std::string(d.err().message())));
  }
  // Smallest entry: ref (1) + t (1) + value (8) + nlabels (1).
  if (absl::Status s = CheckCount(count, d.remaining(), 11, "exemplars"); !s.ok()) return s;
  out->resize(count);
  for (uint64_t i = 0; i < count && d.ok(); ++i) {
    RefExemplar& x = (*out)[i];
    x.ref = d.Uvarint();
    x.t = d.Varint();
    x.v = std::bit_cast<double>(d.BE64());
    uint64_t n = d.Uvarint();
    if (!d.ok()) break;
    if (absl::Status s = ReadLabels(&d, n, &x.labels); !s.ok()) {
      return absl::DataLossError(fmt::format("decode exemplars record: exemplar {} of {}: {}",
                                             i + 1, count, std::string(s.message())));
    }
  }
  if (!d.ok()) {
    return absl::DataLossError(
        fmt::format("decode exemplars record: {}", std::string(d.err().message())));
  }
  if (d.remaining() != 0) {
    return absl::DataLossError(fmt::format(
        "decode exemplars record: {} trailing bytes after {} exemplars", d.remaining(), count));
  }
  return absl::OkStatus();
}

}  // namespace vigil::storage::wal

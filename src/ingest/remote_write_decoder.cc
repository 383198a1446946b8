#include "ingest/remote_write_decoder.h"

#include <bit>
#include <cstring>
#include <string>
#include <vector>

#include "base/status.h"
#include "fmt/format.h"
#include "snappy.h"
#define XXH_INLINE_ALL
#include "xxhash.h"

namespace vigil::ingest {
namespace {

// Protobuf wire types.
constexpr uint32_t kVarint = 0;
constexpr uint32_t kFixed64 = 1;
constexpr uint32_t kLen = 2;
constexpr uint32_t kStartGroup = 3;
constexpr uint32_t kEndGroup = 4;
constexpr uint32_t kFixed32 = 5;

// Groups nest; libprotobuf stops at 100 levels of recursion, so do we.
constexpr int kMaxGroupDepth = 100;

// The first error met while decoding, with its absolute offset in the request, and the
// path of messages that led to it (filled in while unwinding).
struct DecodeError {
  std::string what;
  size_t offset = 0;
  std::vector<std::string> path;  // innermost first
};

// A cursor over one message's bytes. Every read returns false on error after recording
// it in the shared DecodeError, so the hot path carries no Status objects.
class Reader {
 public:
  Reader(const char* base, const char* p, const char* end, DecodeError* err)
      : base_(base), p_(p), end_(end), err_(err) {}

  bool done() const { return p_ >= end_; }
  size_t offset() const { return static_cast<size_t>(p_ - base_); }
  const char* pos() const { return p_; }

  bool ReadVarint(uint64_t* v) {
    // Fast path: one byte, which covers every tag of this schema and small lengths.
    if (p_ < end_ && static_cast<uint8_t>(*p_) < 0x80) {
      *v = static_cast<uint8_t>(*p_++);
      return true;
    }
    uint64_t result = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (p_ >= end_) return Fail("truncated varint");
      uint8_t b = static_cast<uint8_t>(*p_++);
      if (shift == 63 && b > 1) {
        // libprotobuf ignores the extra high bits of a 10th byte below 0x80 (it truncates);
        // only a continuation bit there is an error for it. Do the same.
        if (b >= 0x80) return Fail("varint longer than 10 bytes");
        *v = result | (static_cast<uint64_t>(b & 0x7f) << shift);
        return true;
      }
      result |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) {
        *v = result;
        return true;
      }
    }
    return Fail("varint longer than 10 bytes");
  }

  bool ReadTag(uint32_t* field, uint32_t* wire_type) {
    // Tags are 32-bit varints of at most 5 bytes; as in libprotobuf, bits past 32 in the
    // fifth byte are dropped rather than refused.
    const char* at = p_;
    if (p_ < end_ && static_cast<uint8_t>(*p_) < 0x80) {
      // Fast path: every field of this schema has a one-byte tag.
      const uint8_t b = static_cast<uint8_t>(*p_++);
      *field = b >> 3;
      *wire_type = b & 7;
      if (*field == 0) return FailAt(at, "field number 0");
      if (*wire_type > kFixed32) return FailAt(at, fmt::format("invalid wire type {}", *wire_type));
      return true;
    }
    uint32_t tag = 0;
    for (int i = 0;; ++i) {
      if (i == 5) return FailAt(at, "tag longer than 5 bytes");
      if (p_ >= end_) return Fail("truncated varint");
      const uint8_t b = static_cast<uint8_t>(*p_++);
      tag |= static_cast<uint32_t>(b & 0x7f) << (7 * i);
      if (b < 0x80) break;
    }
    *field = tag >> 3;
    *wire_type = tag & 7;
    if (*field == 0) return FailAt(at, "field number 0");
    if (*wire_type > kFixed32) return FailAt(at, fmt::format("invalid wire type {}", *wire_type));
    return true;
  }

  // A length prefix: like libprotobuf, at most 5 bytes and below 2^31.
  bool ReadLength(uint64_t* n) {
    if (p_ < end_ && static_cast<uint8_t>(*p_) < 0x80) {
      *n = static_cast<uint8_t>(*p_++);
      return true;
    }
    const char* at = p_;
    uint64_t v = 0;
    for (int i = 0;; ++i) {
      if (i == 5) return FailAt(at, "length varint longer than 5 bytes");
      if (p_ >= end_) return Fail("truncated varint");
      const uint8_t b = static_cast<uint8_t>(*p_++);
      v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
      if (b < 0x80) break;
    }
    *n = v;
    return true;
  }

  bool ReadFixed64(uint64_t* v) {
    if (end_ - p_ < 8) return Fail("truncated fixed64");
    std::memcpy(v, p_, 8);
    if constexpr (std::endian::native == std::endian::big) *v = __builtin_bswap64(*v);
    p_ += 8;
    return true;
  }

  // A length-delimited field's payload.
  bool ReadBytes(std::string_view* out) {
    uint64_t n = 0;
    const char* at = p_;
    if (!ReadLength(&n)) return false;
    // libprotobuf refuses lengths that do not fit a signed 32-bit int.
    if (n > 0x7fffffffull) return FailAt(at, fmt::format("length {} too large", n));
    if (n > static_cast<uint64_t>(end_ - p_)) {
      return FailAt(at, fmt::format("length {} runs past the end ({} bytes left)", n, end_ - p_));
    }
    *out = std::string_view(p_, n);
    p_ += n;
    return true;
  }

  // Skips the payload of a field whose tag was just read.
  bool Skip(uint32_t field, uint32_t wire_type, int depth = 0) {
    switch (wire_type) {
      case kVarint: {
        uint64_t v = 0;
        return ReadVarint(&v);
      }
      case kFixed64:
        if (end_ - p_ < 8) return Fail("truncated fixed64");
        p_ += 8;
        return true;
      case kLen: {
        std::string_view v;
        return ReadBytes(&v);
      }
      case kFixed32:
        if (end_ - p_ < 4) return Fail("truncated fixed32");
        p_ += 4;
        return true;
      case kStartGroup: {
        if (depth >= kMaxGroupDepth) return Fail("groups nested too deeply");
        while (true) {
          if (done()) return Fail(fmt::format("unterminated group {}", field));
          uint32_t f = 0, w = 0;
          if (!ReadTag(&f, &w)) return false;
          if (w == kEndGroup) {
            if (f != field) return Fail(fmt::format("group {} ended by {}", field, f));
            return true;
          }
          if (!Skip(f, w, depth + 1)) return false;
        }
      }
      case kEndGroup:
        return Fail(fmt::format("unexpected end of group {}", field));
    }
    return Fail(fmt::format("invalid wire type {}", wire_type));
  }

  // A sub-reader over a payload returned by ReadBytes (so offsets stay absolute).
  Reader Sub(std::string_view payload) const {
    return Reader(base_, payload.data(), payload.data() + payload.size(), err_);
  }

  bool Fail(std::string what) { return FailAt(p_, std::move(what)); }
  bool FailAt(const char* at, std::string what) {
    err_->what = std::move(what);
    err_->offset = static_cast<size_t>(at - base_);
    return false;
  }
  // Records that the error happened inside element `index` of `what`.
  bool Inside(std::string_view what, size_t index) {
    err_->path.push_back(fmt::format("{} {}", what, index));
    return false;
  }

 private:
  const char* base_;
  const char* p_;
  const char* end_;
  DecodeError* err_;
};

// The bytes of a Label as every sender writes it: name (field 1) then value (field 2), each
// with a one-byte tag and length. Returns false if `m` is not exactly that.
inline bool DecodeCanonicalLabel(std::string_view m, LabelView* out) {
  const auto* b = reinterpret_cast<const uint8_t*>(m.data());
  const size_t n = m.size();
  if (n < 4 || b[0] != 0x0a || b[1] >= 0x80) return false;
  const size_t name_len = b[1];
  if (2 + name_len + 2 > n || b[2 + name_len] != 0x12) return false;
  const size_t value_len = b[3 + name_len];
  if (value_len >= 0x80 || 4 + name_len + value_len != n) return false;
  out->name = m.substr(2, name_len);
  out->value = m.substr(4 + name_len, value_len);
  return true;
}

// Appends the labels of `packed`, Label fields that DecodeTimeSeries validated and found
// canonical (SeriesView::packed_labels). Tags and lengths are read as general varints:
// libprotobuf accepts over-long encodings, so the decoder does too.
void UnpackLabels(std::string_view packed, std::vector<LabelView>* out) {
  auto varint = [](const char*& p) {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      const uint8_t b = static_cast<uint8_t>(*p++);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
  };
  const char* p = packed.data();
  const char* const end = p + packed.size();
  while (p < end) {
    varint(p);  // the tag: field 1, length-delimited
    const size_t n = varint(p);
    LabelView l;
    const bool canonical = DecodeCanonicalLabel(std::string_view(p, n), &l);
    VIGIL_CHECK(canonical);  // DecodeTimeSeries packs canonical fields only
    out->push_back(l);
    p += n;
  }
}

bool DecodeLabel(Reader r, LabelView* out) {
  while (!r.done()) {
    uint32_t field = 0, wt = 0;
    if (!r.ReadTag(&field, &wt)) return false;
    if (field == 1 && wt == kLen) {
      if (!r.ReadBytes(&out->name)) return false;
    } else if (field == 2 && wt == kLen) {
      if (!r.ReadBytes(&out->value)) return false;
    } else if (!r.Skip(field, wt)) {
      return false;
    }
  }
  return true;
}

// A Sample as senders write it: value (field 1, fixed64) then timestamp (field 2, varint
// ending exactly at the end), either one left out when it is zero as proto3 does. Returns
// false if `m` is not exactly that; the general decoder then takes over.
inline bool DecodeCanonicalSample(std::string_view m, model::Sample* out) {
  const auto* b = reinterpret_cast<const uint8_t*>(m.data());
  const size_t n = m.size();
  size_t i = 0;
  uint64_t bits = 0;
  if (n >= 9 && b[0] == 0x09) {
    std::memcpy(&bits, b + 1, 8);
    if constexpr (std::endian::native == std::endian::big) bits = __builtin_bswap64(bits);
    i = 9;
  }
  uint64_t t = 0;
  if (i < n) {
    if (b[i] != 0x10 || n - i > 11 || n - i < 2) return false;
    ++i;
    for (int shift = 0; i < n; ++i, shift += 7) {
      const uint64_t c = b[i];
      if (i + 1 == n) {
        // The last byte: no continuation, and nothing past 64 bits (libprotobuf drops the
        // high bits of a 10th byte; such inputs go to the general path).
        if (c >= 0x80 || (shift == 63 && c > 1)) return false;
        t |= c << shift;
      } else {
        if (c < 0x80) return false;
        t |= (c & 0x7f) << shift;
      }
    }
  }
  out->v = std::bit_cast<double>(bits);
  out->t = static_cast<int64_t>(t);
  return true;
}

bool DecodeSample(Reader r, model::Sample* out) {
  while (!r.done()) {
    uint32_t field = 0, wt = 0;
    if (!r.ReadTag(&field, &wt)) return false;
    if (field == 1 && wt == kFixed64) {
      uint64_t bits = 0;
      if (!r.ReadFixed64(&bits)) return false;
      out->v = std::bit_cast<double>(bits);
    } else if (field == 2 && wt == kVarint) {
      uint64_t v = 0;
      if (!r.ReadVarint(&v)) return false;
      out->t = static_cast<int64_t>(v);
    } else if (!r.Skip(field, wt)) {
      return false;
    }
  }
  return true;
}

bool DecodeExemplar(Reader r, WriteRequestView* out) {
  size_t nlabels = 0;
  ExemplarView ex;
  ex.series = static_cast<uint32_t>(out->series.size());  // the series being decoded
  ex.labels_begin = static_cast<uint32_t>(out->exemplar_labels.size());
  while (!r.done()) {
    uint32_t field = 0, wt = 0;
    if (!r.ReadTag(&field, &wt)) return false;
    if (field == 1 && wt == kLen) {
      std::string_view payload;
      if (!r.ReadBytes(&payload)) return false;
      LabelView l;
      if (!DecodeLabel(r.Sub(payload), &l)) return r.Inside("labels", nlabels);
      out->exemplar_labels.push_back(l);
      ++nlabels;
    } else if (field == 2 && wt == kFixed64) {
      uint64_t bits = 0;
      if (!r.ReadFixed64(&bits)) return false;
      ex.value = std::bit_cast<double>(bits);
    } else if (field == 3 && wt == kVarint) {
      uint64_t v = 0;
      if (!r.ReadVarint(&v)) return false;
      ex.t = static_cast<int64_t>(v);
    } else if (!r.Skip(field, wt)) {
      return false;
    }
  }
  ex.labels_end = static_cast<uint32_t>(out->exemplar_labels.size());
  out->exemplars.push_back(ex);
  return true;
}

std::string_view Span(const char* begin, const char* end) {
  return std::string_view(begin, static_cast<size_t>(end - begin));
}

bool DecodeTimeSeries(Reader r, WriteRequestView* out) {
  SeriesView sv;
  sv.labels_begin = static_cast<uint32_t>(out->labels.size());
  sv.samples_begin = static_cast<uint32_t>(out->samples.size());
  // The label fields' bytes, if they are contiguous (the usual case), identify the label
  // set; see SeriesView::labels_hash_*. While they are also canonical they stay packed
  // (SeriesView::packed_labels); the first that is not unpacks those before it.
  const char* labels_start = nullptr;
  const char* labels_end = nullptr;
  bool labels_contiguous = true;
  bool packed = true;
  size_t nlabels = 0;
  size_t nsamples = 0;
  while (!r.done()) {
    const char* field_start = r.pos();
    uint32_t field = 0, wt = 0;
    if (!r.ReadTag(&field, &wt)) return false;
    if (field == 1 && wt == kLen) {
      std::string_view payload;
      if (!r.ReadBytes(&payload)) return false;
      LabelView l;
      const bool canonical = DecodeCanonicalLabel(payload, &l);
      if (!canonical && !DecodeLabel(r.Sub(payload), &l)) return r.Inside("labels", nlabels);
      const bool contiguous = nlabels == 0 || labels_end == field_start;
      if (nlabels == 0) labels_start = field_start;
      labels_contiguous = labels_contiguous && contiguous;
      if (packed && !(canonical && contiguous)) {
        packed = false;
        if (nlabels > 0) UnpackLabels(Span(labels_start, labels_end), &out->labels);
      }
      if (!packed) out->labels.push_back(l);
      labels_end = r.pos();
      ++nlabels;
    } else if (field == 2 && wt == kLen) {
      std::string_view payload;
      if (!r.ReadBytes(&payload)) return false;
      model::Sample smp{0, 0};
      if (!DecodeCanonicalSample(payload, &smp) && !DecodeSample(r.Sub(payload), &smp)) {
        return r.Inside("samples", nsamples);
      }
      out->samples.push_back(smp);
      ++nsamples;
    } else if (field == 3 && wt == kLen) {
      std::string_view payload;
      if (!r.ReadBytes(&payload)) return false;
      if (!DecodeExemplar(r.Sub(payload), out)) return r.Inside("exemplars", sv.exemplars);
      ++sv.exemplars;
    } else if (!r.Skip(field, wt)) {
      return false;
    }
  }
  sv.labels_end = static_cast<uint32_t>(out->labels.size());
  if (packed && nlabels > 0) sv.packed_labels = Span(labels_start, labels_end);
  sv.samples_end = static_cast<uint32_t>(out->samples.size());
  if (labels_start != nullptr && labels_contiguous) {
    XXH128_hash_t h = XXH3_128bits(labels_start, static_cast<size_t>(labels_end - labels_start));
    sv.labels_hash_lo = h.low64;
    sv.labels_hash_hi = h.high64;
  }
  out->series.push_back(sv);
  return true;
}

bool DecodeMetadata(Reader r, MetadataView* out) {
  while (!r.done()) {
    uint32_t field = 0, wt = 0;
    if (!r.ReadTag(&field, &wt)) return false;
    if (field == 1 && wt == kVarint) {
      uint64_t v = 0;
      if (!r.ReadVarint(&v)) return false;
      out->type = static_cast<int32_t>(v);  // libprotobuf truncates enums the same way
    } else if (field == 2 && wt == kLen) {
      if (!r.ReadBytes(&out->metric_family_name)) return false;
    } else if (field == 4 && wt == kLen) {
      if (!r.ReadBytes(&out->help)) return false;
    } else if (field == 5 && wt == kLen) {
      if (!r.ReadBytes(&out->unit)) return false;
    } else if (!r.Skip(field, wt)) {
      return false;
    }
  }
  return true;
}

bool DecodeRequest(Reader r, WriteRequestView* out) {
  while (!r.done()) {
    uint32_t field = 0, wt = 0;
    if (!r.ReadTag(&field, &wt)) return false;
    if (field == 1 && wt == kLen) {
      std::string_view payload;
      if (!r.ReadBytes(&payload)) return false;
      if (!DecodeTimeSeries(r.Sub(payload), out)) return r.Inside("timeseries", out->series.size());
    } else if (field == 3 && wt == kLen) {
      std::string_view payload;
      if (!r.ReadBytes(&payload)) return false;
      MetadataView m;
      if (!DecodeMetadata(r.Sub(payload), &m)) return r.Inside("metadata", out->metadata.size());
      out->metadata.push_back(m);
    } else if (!r.Skip(field, wt)) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::Status DecodeWriteRequest(std::string_view data, WriteRequestView* out) {
  out->Clear();
  DecodeError err;
  Reader r(data.data(), data.data(), data.data() + data.size(), &err);
  if (DecodeRequest(r, out)) return absl::OkStatus();
  std::string msg;
  for (auto it = err.path.rbegin(); it != err.path.rend(); ++it) msg += *it + ": ";
  msg += fmt::format("{} at offset {}", err.what, err.offset);
  return absl::InvalidArgumentError(msg);
}

void AppendLabels(const WriteRequestView& v, const SeriesView& s, std::vector<LabelView>* out) {
  out->insert(out->end(), v.labels.begin() + s.labels_begin, v.labels.begin() + s.labels_end);
  UnpackLabels(s.packed_labels, out);
}

absl::Status SnappyDecompress(std::string_view in, size_t max_bytes, std::string* out) {
  size_t n = 0;
  if (!snappy::GetUncompressedLength(in.data(), in.size(), &n)) {
    return absl::InvalidArgumentError("snappy: corrupt input (bad length header)");
  }
  if (n > max_bytes) {
    return absl::ResourceExhaustedError(
        fmt::format("snappy: decompressed size {} exceeds the limit of {} bytes", n, max_bytes));
  }
  out->resize(n);
  if (!snappy::RawUncompress(in.data(), in.size(), out->data())) {
    out->clear();
    return absl::InvalidArgumentError("snappy: corrupt input");
  }
  return absl::OkStatus();
}

}  // namespace vigil::ingest

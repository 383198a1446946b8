#include "storage/index/index.h"

#include <algorithm>

#include "base/crc32c.h"
#include "base/encoding.h"
#include "base/status.h"
#include "fmt/format.h"
#include "storage/index/index_format.h"

namespace vigil::storage::index {
namespace {

int64_t WrapSub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t WrapAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

void PutSection(Encbuf& out, uint64_t* toc_entry, const std::string& body) {
  *toc_entry = out.size();
  out.PutBE32(static_cast<uint32_t>(body.size()));
  out.PutBytes(body);
  out.PutBE32(crc32c::Value(body));
}

}  // namespace

std::string BuildIndex(const std::vector<IndexSeries>& series) {
  for (size_t i = 1; i < series.size(); ++i) VIGIL_CHECK(series[i - 1].labels < series[i].labels);

  // Symbols: every label name and value, sorted, plus "" for the all-series pair.
  std::vector<std::string_view> syms{""};
  for (const auto& s : series) {
    for (const auto& l : s.labels) {
      syms.push_back(l.name);
      syms.push_back(l.value);
    }
  }
  std::sort(syms.begin(), syms.end());
  syms.erase(std::unique(syms.begin(), syms.end()), syms.end());
  auto sym = [&](std::string_view s) -> uint64_t {
    return std::lower_bound(syms.begin(), syms.end(), s) - syms.begin();
  };

  Encbuf symbols;
  symbols.PutUvarint(syms.size());
  for (auto s : syms) symbols.PutUvarintStr(s);

  // Series, their offsets, and postings per label pair.
  Encbuf body, offsets;
  offsets.PutUvarint(series.size());
  std::map<std::pair<std::string_view, std::string_view>, std::vector<uint64_t>> postings;
  std::vector<uint64_t>& all = postings[{"", ""}];
  for (size_t id = 0; id < series.size(); ++id) {
    const auto& s = series[id];
    offsets.PutBE64(body.size());
    body.PutUvarint(s.labels.size());
    for (const auto& l : s.labels) {
      body.PutUvarint(sym(l.name));
      body.PutUvarint(sym(l.value));
      postings[{l.name, l.value}].push_back(id);
    }
    all.push_back(id);
    body.PutUvarint(s.chunks.size());
    int64_t prev_maxt = 0;
    for (size_t i = 0; i < s.chunks.size(); ++i) {
      const auto& c = s.chunks[i];
      body.PutVarint(i == 0 ? c.mint : WrapSub(c.mint, prev_maxt));
      body.PutVarint(WrapSub(c.maxt, c.mint));
      body.PutUvarint(c.ref);
      prev_maxt = c.maxt;
    }
  }

  Encbuf label_index, postings_body, postings_offsets;
  std::map<std::string_view, std::vector<std::string_view>> names;
  postings_offsets.PutUvarint(postings.size());
  for (const auto& [pair, ids] : postings) {
    postings_offsets.PutUvarint(sym(pair.first));
    postings_offsets.PutUvarint(sym(pair.second));
    postings_offsets.PutUvarint(postings_body.size());
    EncodePostings(ids, &postings_body.mutable_str());
    if (!pair.first.empty()) names[pair.first].push_back(pair.second);
  }
  label_index.PutUvarint(names.size());
  for (const auto& [name, values] : names) {
    label_index.PutUvarint(sym(name));
    label_index.PutUvarint(values.size());
    for (auto v : values) label_index.PutUvarint(sym(v));
  }

  Encbuf out;
  out.PutBE32(format::kMagic);
  out.PutByte(format::kVersion1);
  uint64_t toc[format::kNumSections];
  PutSection(out, &toc[format::kSymbols], symbols.str());
  PutSection(out, &toc[format::kSeries], body.str());
  PutSection(out, &toc[format::kSeriesOffsets], offsets.str());
  PutSection(out, &toc[format::kLabelIndex], label_index.str());
  PutSection(out, &toc[format::kPostings], postings_body.str());
  PutSection(out, &toc[format::kPostingsOffsets], postings_offsets.str());
  Encbuf t;
  for (uint64_t off : toc) t.PutBE64(off);
  out.PutBytes(t.str());
  out.PutBE32(crc32c::Value(t.str()));
  return out.Release();
}

absl::StatusOr<std::unique_ptr<IndexReader>> IndexReader::Open(std::string_view bytes) {
  std::unique_ptr<IndexReader> r(new IndexReader());
  r->b_ = bytes;
  RETURN_IF_ERROR(Annotate(r->Parse(), "open index"));
  return r;
}

absl::Status IndexReader::Parse() {
  static const char* kNames[] = {"symbols", "series", "series offsets", "label index", "postings",
                                 "postings offsets"};
  if (b_.size() < format::kHeaderSize + format::kTocSize) {
    return absl::DataLossError(fmt::format("{} bytes is too short for an index", b_.size()));
  }
  Decbuf h(b_.substr(0, format::kHeaderSize));
  if (uint32_t m = h.BE32(); m != format::kMagic) {
    return absl::DataLossError(fmt::format("bad magic {:#010x}", m));
  }
  if (uint8_t v = h.Byte(); v != format::kVersion1) {
    return absl::DataLossError(fmt::format("unsupported index version {}", v));
  }
  std::string_view toc = b_.substr(b_.size() - format::kTocSize);
  Decbuf td(toc);
  uint64_t offs[format::kNumSections];
  for (auto& o : offs) o = td.BE64();
  if (td.BE32() != crc32c::Value(toc.data(), format::kNumSections * 8)) {
    return absl::DataLossError("table of contents: crc mismatch");
  }
  const size_t toc_start = b_.size() - format::kTocSize;
  for (int i = 0; i < format::kNumSections; ++i) {
    if (offs[i] > toc_start || toc_start - offs[i] < 8) {  // no wrap-around for huge offsets
      return absl::DataLossError(fmt::format("{} section: offset {} out of range", kNames[i], offs[i]));
    }
    Decbuf d(b_.substr(offs[i], toc_start - offs[i]));
    uint32_t len = d.BE32();
    std::string_view body = d.Bytes(len);
    uint32_t crc = d.BE32();
    if (!d.ok()) {
      return absl::DataLossError(fmt::format("{} section at offset {}: length {} overruns the file",
                                             kNames[i], offs[i], len));
    }
    if (crc != crc32c::Value(body)) {
      return absl::DataLossError(fmt::format("{} section at offset {}: crc mismatch", kNames[i], offs[i]));
    }
    sections_[i] = body;
  }

  // Symbols.
  Decbuf sd(sections_[format::kSymbols]);
  uint64_t nsyms = sd.Uvarint();
  if (nsyms > sections_[format::kSymbols].size()) return absl::DataLossError("symbols: bad count");
  symbols_.reserve(nsyms);
  for (uint64_t i = 0; i < nsyms && sd.ok(); ++i) symbols_.push_back(sd.UvarintStr());
  RETURN_IF_ERROR(Annotate(sd.err(), "symbols"));
  auto symbol = [&](Decbuf& d, std::string_view* out) {
    uint64_t s = d.Uvarint();
    if (d.ok() && s >= symbols_.size()) d.Fail(fmt::format("symbol {} out of range", s));
    *out = d.ok() ? symbols_[s] : std::string_view();
  };

  // Series offsets.
  Decbuf od(sections_[format::kSeriesOffsets]);
  num_series_ = od.Uvarint();
  if (od.ok() && num_series_ * 8 != od.remaining()) {
    return absl::DataLossError(fmt::format("series offsets: {} series in {} bytes", num_series_, od.remaining()));
  }
  RETURN_IF_ERROR(Annotate(od.err(), "series offsets"));
  series_offsets_ = reinterpret_cast<const uint8_t*>(od.rest().data());

  // Label index.
  Decbuf ld(sections_[format::kLabelIndex]);
  uint64_t nnames = ld.Uvarint();
  for (uint64_t i = 0; i < nnames && ld.ok(); ++i) {
    std::string_view name;
    symbol(ld, &name);
    uint64_t nv = ld.Uvarint();
    if (nv > ld.remaining()) ld.Fail("bad value count");
    auto& values = label_values_[name];
    for (uint64_t j = 0; j < nv && ld.ok(); ++j) {
      std::string_view v;
      symbol(ld, &v);
      values.push_back(v);
    }
  }
  RETURN_IF_ERROR(Annotate(ld.err(), "label index"));

  // Postings offsets.
  Decbuf pd(sections_[format::kPostingsOffsets]);
  uint64_t nentries = pd.Uvarint();
  for (uint64_t i = 0; i < nentries && pd.ok(); ++i) {
    std::string_view name, value;
    symbol(pd, &name);
    symbol(pd, &value);
    uint64_t off = pd.Uvarint();
    if (pd.ok() && off >= sections_[format::kPostings].size()) pd.Fail(fmt::format("postings offset {} out of range", off));
    if (pd.ok()) postings_[name].emplace_back(value, off);
  }
  RETURN_IF_ERROR(Annotate(pd.err(), "postings offsets"));
  for (auto& [name, vals] : postings_) {
    if (!std::is_sorted(vals.begin(), vals.end())) return absl::DataLossError("postings offsets: not sorted");
  }
  return absl::OkStatus();
}

PostingsPtr IndexReader::Postings(std::string_view name, std::string_view value) const {
  auto it = postings_.find(name);
  if (it == postings_.end()) return EmptyPostings();
  const auto& vals = it->second;
  auto v = std::lower_bound(vals.begin(), vals.end(), value,
                            [](const auto& e, std::string_view x) { return e.first < x; });
  if (v == vals.end() || v->first != value) return EmptyPostings();
  auto p = NewEncodedPostings(sections_[format::kPostings].substr(v->second));
  if (!p->Err().ok()) {
    return ErrPostings(Annotate(p->Err(), fmt::format("index postings {}={:?}", name, value)));
  }
  return p;
}

std::vector<std::string_view> IndexReader::LabelNames() const {
  std::vector<std::string_view> out;
  for (const auto& [name, _] : label_values_) out.push_back(name);
  return out;
}

std::vector<std::string_view> IndexReader::LabelValues(std::string_view name) const {
  auto it = label_values_.find(name);
  if (it == label_values_.end()) return {};
  return it->second;
}

absl::Status IndexReader::Series(uint64_t id, model::Labels* labels,
                                 std::vector<ChunkMetaRef>* chunks) const {
  if (id >= num_series_) {
    return absl::DataLossError(fmt::format("index: series {} out of range ({} series)", id, num_series_));
  }
  const uint8_t* p = series_offsets_ + id * 8;
  uint64_t off = 0;
  for (int k = 0; k < 8; ++k) off = off << 8 | p[k];
  std::string_view body = sections_[format::kSeries];
  if (off >= body.size()) return absl::DataLossError(fmt::format("index: series {} offset {} out of range", id, off));
  Decbuf d(body.substr(off));
  uint64_t nl = d.Uvarint();
  if (nl > d.remaining()) d.Fail("bad label count");
  auto& v = labels->mutable_vec();
  v.resize(d.ok() ? nl : 0);
  for (uint64_t i = 0; i < nl && d.ok(); ++i) {
    uint64_t n = d.Uvarint(), val = d.Uvarint();
    if (!d.ok()) break;
    if (n >= symbols_.size() || val >= symbols_.size()) {
      d.Fail("symbol out of range");
      break;
    }
    v[i].name.assign(symbols_[n]);
    v[i].value.assign(symbols_[val]);
  }
  uint64_t nc = d.Uvarint();
  if (nc > d.remaining()) d.Fail("bad chunk count");
  chunks->clear();
  int64_t prev_maxt = 0;
  for (uint64_t i = 0; i < nc && d.ok(); ++i) {
    ChunkMetaRef c;
    int64_t m = d.Varint();
    c.mint = i == 0 ? m : WrapAdd(prev_maxt, m);
    c.maxt = WrapAdd(c.mint, d.Varint());
    c.ref = d.Uvarint();
    prev_maxt = c.maxt;
    chunks->push_back(c);
  }
  if (!d.ok()) return Annotate(d.err(), fmt::format("index: series {}", id));
  return absl::OkStatus();
}

}  // namespace vigil::storage::index

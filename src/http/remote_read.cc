#include "http/remote_read.h"

#include <bit>
#include <cstring>
#include <vector>

#include "base/crc32c.h"
#include "base/encoding.h"
#include "base/log.h"
#include "fmt/format.h"
#include "model/matcher.h"
#include "remote_read.pb.h"
#include "snappy.h"
#include "storage/appender.h"

namespace vigil::http {
namespace {

namespace pb = ::vigil::remoteread;


std::string Msg(const absl::Status& s) { return std::string(s.message()); }

void WriteUvarintBytes(BitWriter& w, uint64_t v) {
  while (v >= 0x80) {
    w.WriteBits((v & 0x7f) | 0x80, 8);
    v >>= 7;
  }
  w.WriteBits(v, 8);
}

// Prometheus's bitRange: whether `x` fits the signed field of `nbits` bits as its XOR
// chunk reads it back (one more on the positive side than two's complement).
bool FitsBits(int64_t x, int nbits) {
  return -((int64_t{1} << (nbits - 1)) - 1) <= x && x <= (int64_t{1} << (nbits - 1));
}

struct XorValueState {
  uint64_t prev = 0;
  int leading = 0xff;  // 0xff: no window yet
  int trailing = 0;
};

void WriteXorValue(BitWriter& w, XorValueState& st, double v) {
  const uint64_t bits = std::bit_cast<uint64_t>(v);
  const uint64_t delta = bits ^ st.prev;
  st.prev = bits;
  if (delta == 0) {
    w.WriteBit(false);
    return;
  }
  w.WriteBit(true);
  int lead = std::countl_zero(delta);
  const int trail = std::countr_zero(delta);
  if (lead >= 32) lead = 31;  // five bits hold the count
  if (st.leading != 0xff && lead >= st.leading && trail >= st.trailing) {
    w.WriteBit(false);
    w.WriteBits(delta >> st.trailing, 64 - st.leading - st.trailing);
    return;
  }
  st.leading = lead;
  st.trailing = trail;
  w.WriteBit(true);
  w.WriteBits(static_cast<uint64_t>(lead), 5);
  const int sig = 64 - lead - trail;
  w.WriteBits(static_cast<uint64_t>(sig), 6);  // 64 is written as 0
  w.WriteBits(delta >> trail, sig);
}

void SetLabels(const model::Labels& ls, google::protobuf::RepeatedPtrField<pb::Label>* out) {
  out->Reserve(static_cast<int>(ls.size()));
  for (const auto& l : ls) {
    pb::Label* pl = out->Add();
    pl->set_name(std::string(l.name));
    pl->set_value(std::string(l.value));
  }
}

absl::StatusOr<model::Matchers> ToMatchers(const pb::Query& q) {
  model::Matchers out;
  for (const auto& m : q.matchers()) {
    model::MatchType t;
    switch (m.type()) {
      case pb::LabelMatcher::EQ: t = model::MatchType::kEqual; break;
      case pb::LabelMatcher::NEQ: t = model::MatchType::kNotEqual; break;
      case pb::LabelMatcher::RE: t = model::MatchType::kRegexMatch; break;
      case pb::LabelMatcher::NRE: t = model::MatchType::kRegexNoMatch; break;
      default:
        return absl::InvalidArgumentError(fmt::format("unknown matcher type {}",
                                                      static_cast<int>(m.type())));
    }
    auto mm = model::Matcher::Make(t, m.name(), m.value());
    if (!mm.ok()) return mm.status();
    out.push_back(std::move(*mm));
  }
  return out;
}

storage::SelectHints ToHints(const pb::Query& q) {
  storage::SelectHints h;
  h.start = q.start_timestamp_ms();
  h.end = q.end_timestamp_ms();
  if (q.has_hints()) {
    h.step = q.hints().step_ms();
    h.range = q.hints().range_ms();
    h.func = q.hints().func();
  }
  return h;
}

}  // namespace

std::string EncodePromXorChunk(const int64_t* ts, const double* vs, size_t n) {
  std::string out;
  out.reserve(2 + n * 2 + 16);
  out.push_back(static_cast<char>(n >> 8));
  out.push_back(static_cast<char>(n & 0xff));
  BitWriter w(&out);
  XorValueState vst;
  int64_t prev_t = 0;
  uint64_t prev_delta = 0;
  for (size_t i = 0; i < n; ++i) {
    const int64_t t = ts[i];
    if (i == 0) {
      // Zig-zag varint of the first timestamp, then the raw bits of the first value.
      const uint64_t zz = (static_cast<uint64_t>(t) << 1) ^ static_cast<uint64_t>(t >> 63);
      WriteUvarintBytes(w, zz);
      vst.prev = std::bit_cast<uint64_t>(vs[0]);
      w.WriteBits(vst.prev, 64);
    } else if (i == 1) {
      prev_delta = static_cast<uint64_t>(t) - static_cast<uint64_t>(prev_t);
      WriteUvarintBytes(w, prev_delta);
      WriteXorValue(w, vst, vs[i]);
    } else {
      const uint64_t delta = static_cast<uint64_t>(t) - static_cast<uint64_t>(prev_t);
      const int64_t dod = static_cast<int64_t>(delta - prev_delta);
      prev_delta = delta;
      if (dod == 0) {
        w.WriteBit(false);
      } else if (FitsBits(dod, 14)) {
        w.WriteBits(0b10, 2);
        w.WriteBits(static_cast<uint64_t>(dod), 14);
      } else if (FitsBits(dod, 17)) {
        w.WriteBits(0b110, 3);
        w.WriteBits(static_cast<uint64_t>(dod), 17);
      } else if (FitsBits(dod, 20)) {
        w.WriteBits(0b1110, 4);
        w.WriteBits(static_cast<uint64_t>(dod), 20);
      } else {
        w.WriteBits(0b1111, 4);
        w.WriteBits(static_cast<uint64_t>(dod), 64);
      }
      WriteXorValue(w, vst, vs[i]);
    }
    prev_t = t;
  }
  return out;
}

void AppendStreamFrame(std::string* out, std::string_view message) {
  uint64_t n = message.size();
  while (n >= 0x80) {
    out->push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out->push_back(static_cast<char>(n));
  const uint32_t crc = crc32c::Value(message);
  const char be[4] = {static_cast<char>(crc >> 24), static_cast<char>(crc >> 16),
                      static_cast<char>(crc >> 8), static_cast<char>(crc)};
  out->append(be, 4);
  out->append(message);
}

void RemoteRead::Register(Router* r) {
  r->Handle("POST", "/api/v1/read",
            [this](const Request& req, Response* resp) { Read(req, resp); });
}

void RemoteRead::Read(const Request& req, Response* resp) const {
  std::string raw;
  if (!snappy::Uncompress(req.body.data(), req.body.size(), &raw)) {
    return resp->Text(400, "remote read: body is not snappy-compressed\n");
  }
  pb::ReadRequest rr;
  if (!rr.ParseFromString(raw)) {
    return resp->Text(400, "remote read: body is not a ReadRequest protobuf\n");
  }
  bool streamed = false;
  if (rr.accepted_response_types_size() > 0) {
    bool found = false;
    for (int t : rr.accepted_response_types()) {
      if (t == pb::ReadRequest::SAMPLES || t == pb::ReadRequest::STREAMED_XOR_CHUNKS) {
        streamed = t == pb::ReadRequest::STREAMED_XOR_CHUNKS;
        found = true;
        break;
      }
    }
    if (!found) {
      return resp->Text(400, "remote read: none of the accepted response types is supported "
                             "(Vigil speaks SAMPLES and STREAMED_XOR_CHUNKS)\n");
    }
  }
  std::vector<model::Matchers> matchers;
  for (int i = 0; i < rr.queries_size(); ++i) {
    auto m = ToMatchers(rr.queries(i));
    if (!m.ok()) return resp->Text(400, fmt::format("remote read: query {}: {}\n", i, Msg(m.status())));
    matchers.push_back(std::move(*m));
  }
  Api::Lease lease = api_->NeedDb(resp);
  if (!lease) return;

  int64_t total = 0;
  std::vector<int64_t> ts;
  std::vector<double> vs;
  // Reads one series' samples into ts/vs; false after answering an error.
  auto load = [&](const storage::Series& s) -> bool {
    ts.clear();
    vs.clear();
    auto it = s.Iterator();
    while (it->Next()) {
      model::Sample smp = it->At();
      ts.push_back(smp.t);
      vs.push_back(smp.v);
    }
    if (absl::Status st = it->Err(); !st.ok()) {
      resp->Text(500, fmt::format("remote read: {}\n", Msg(st)));
      return false;
    }
    total += static_cast<int64_t>(ts.size());
    if (opts_.sample_limit > 0 && total > opts_.sample_limit) {
      resp->Text(400, fmt::format("remote read: exceeded sample limit ({})\n", opts_.sample_limit));
      return false;
    }
    return true;
  };

  pb::ReadResponse samples_resp;
  std::string stream;
  for (int qi = 0; qi < rr.queries_size(); ++qi) {
    const pb::Query& q = rr.queries(qi);
    auto querier = lease.db()->NewQuerier(req.tenant, q.start_timestamp_ms(), q.end_timestamp_ms());
    if (!querier.ok()) return resp->Text(500, fmt::format("remote read: {}\n", Msg(querier.status())));
    auto set = (*querier)->Select(true, ToHints(q), matchers[qi]);
    pb::QueryResult* qr = streamed ? nullptr : samples_resp.add_results();
    while (set->Next()) {
      const storage::Series& s = set->At();
      if (!load(s)) return;
      if (ts.empty()) continue;
      if (!streamed) {
        pb::TimeSeries* out = qr->add_timeseries();
        SetLabels(s.labels(), out->mutable_labels());
        out->mutable_samples()->Reserve(static_cast<int>(ts.size()));
        for (size_t k = 0; k < ts.size(); ++k) {
          pb::Sample* smp = out->add_samples();
          smp->set_timestamp(ts[k]);
          smp->set_value(vs[k]);
        }
        continue;
      }
      // Streamed: cut into chunks; a frame ends at the series' end or when full.
      pb::ChunkedReadResponse frame;
      frame.set_query_index(qi);
      pb::ChunkedSeries* cs = frame.add_chunked_series();
      SetLabels(s.labels(), cs->mutable_labels());
      size_t frame_bytes = 0;
      const size_t per = static_cast<size_t>(std::max(1, opts_.samples_per_chunk));
      for (size_t k = 0; k < ts.size(); k += per) {
        const size_t n = std::min(per, ts.size() - k);
        pb::Chunk* c = cs->add_chunks();
        c->set_min_time_ms(ts[k]);
        c->set_max_time_ms(ts[k + n - 1]);
        c->set_type(pb::Chunk::XOR);
        c->set_data(EncodePromXorChunk(&ts[k], &vs[k], n));
        frame_bytes += c->data().size();
        if (frame_bytes >= opts_.max_bytes_in_frame && k + n < ts.size()) {
          AppendStreamFrame(&stream, frame.SerializeAsString());
          cs->clear_chunks();
          frame_bytes = 0;
        }
      }
      AppendStreamFrame(&stream, frame.SerializeAsString());
    }
    if (absl::Status st = set->Err(); !st.ok()) {
      return resp->Text(500, fmt::format("remote read: {}\n", Msg(st)));
    }
  }
  resp->status = 200;
  resp->headers.clear();
  if (streamed) {
    resp->content_type = std::string(kStreamedContentType);
    resp->body = std::move(stream);
    return;
  }
  std::string encoded = samples_resp.SerializeAsString();
  resp->content_type = "application/x-protobuf";
  resp->headers.emplace_back("Content-Encoding", "snappy");
  resp->body.clear();
  snappy::Compress(encoded.data(), encoded.size(), &resp->body);
}

}  // namespace vigil::http

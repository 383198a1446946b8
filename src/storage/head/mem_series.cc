#include "storage/head/mem_series.h"

#include <algorithm>
#include <bit>

#include "base/status.h"

namespace vigil::storage::head {
namespace {

bool SameBits(double a, double b) {
  return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
}

// The end (exclusive) of the aligned range that `t` falls in, so no chunk spans a block
// boundary and persisting a block never has to split a chunk.
int64_t RangeEnd(int64_t t, int64_t range) {
  if (range <= 0) return model::kMaxTime;
  int64_t q = t / range;
  if (t < 0 && t % range != 0) q--;  // floor division for pre-epoch timestamps
  return (q + 1) * range;
}

}  // namespace

AppendCheck MemSeries::Check(int64_t t, double v, int64_t ooo_window, Reject* reject) const {
  if (t > last_t) return AppendCheck::kInOrder;
  if (t == last_t) {
    if (SameBits(v, last_v)) return AppendCheck::kNoop;
    *reject = Reject::kDuplicate;
    return AppendCheck::kReject;
  }
  // Older than the newest sample.
  if (ooo_window > 0 && t >= last_t - ooo_window) {
    if (extra) {
      auto it = std::lower_bound(extra->ooo.begin(), extra->ooo.end(), t,
                                 [](const model::Sample& s, int64_t t) { return s.t < t; });
      if (it != extra->ooo.end() && it->t == t) {
        if (SameBits(it->v, v)) return AppendCheck::kNoop;
        *reject = Reject::kDuplicate;
        return AppendCheck::kReject;
      }
    }
    return AppendCheck::kOutOfOrderAccepted;
  }
  *reject = Reject::kOutOfOrder;
  return AppendCheck::kReject;
}

bool MemSeries::Apply(int64_t t, double v, int64_t ooo_window, int64_t chunk_range,
                      int max_samples, Reject* reject, bool* new_chunk) {
  *new_chunk = false;
  switch (Check(t, v, ooo_window, reject)) {
    case AppendCheck::kNoop:
    case AppendCheck::kReject:
      return false;
    case AppendCheck::kOutOfOrderAccepted: {
      if (!extra) extra = std::make_unique<SeriesExtra>();
      auto& ooo = extra->ooo;
      auto it = std::lower_bound(ooo.begin(), ooo.end(), t,
                                 [](const model::Sample& s, int64_t t) { return s.t < t; });
      ooo.insert(it, model::Sample{t, v});
      return true;
    }
    case AppendCheck::kInOrder:
      break;
  }
  bool cut = app == nullptr || chunks.empty() ||
             open_samples >= max_samples ||
             t >= RangeEnd(chunks.back().mint, chunk_range);
  if (cut) {
    if (!chunks.empty()) {
      // The finished chunk is immutable from now on: replace it by an exact-size copy to
      // give back the string's spare capacity (queriers holding the old one keep it).
      auto& last = chunks.back().chunk;
      last = std::make_shared<chunkenc::XorChunk>(std::string(last->bytes()));
    }
    auto c = std::make_shared<chunkenc::XorChunk>();
    auto a = c->NewAppender();
    VIGIL_CHECK(a.ok());
    app = std::move(a).value();
    chunks.push_back(HeadChunk{t, t, std::move(c)});
    open_samples = 0;
    *new_chunk = true;
  }
  open_samples++;
  app->Append(t, v);
  const std::string_view bytes = chunks.back().chunk->bytes();
  open_head = bytes.data();
  open_tail = bytes.data() + bytes.size() - 1;
  chunks.back().maxt = t;
  last_t = t;
  last_v = v;
  return true;
}

int64_t MemSeries::MinTime() const {
  int64_t m = model::kMaxTime;
  if (!chunks.empty()) m = chunks.front().mint;
  if (extra && !extra->ooo.empty()) m = std::min(m, extra->ooo.front().t);
  return m;
}

int64_t MemSeries::MaxTime() const {
  int64_t m = model::kMinTime;
  if (!chunks.empty()) m = chunks.back().maxt;
  if (extra && !extra->ooo.empty()) m = std::max(m, extra->ooo.back().t);
  return m;
}

int MemSeries::Truncate(int64_t t) {
  size_t n = 0;
  while (n < chunks.size() && chunks[n].maxt < t) n++;
  if (n == chunks.size() && n > 0) app.reset();  // the open chunk went too
  chunks.erase(chunks.begin(), chunks.begin() + static_cast<ptrdiff_t>(n));
  if (extra) {
    auto& ooo = extra->ooo;
    auto it = std::lower_bound(ooo.begin(), ooo.end(), t,
                               [](const model::Sample& s, int64_t t) { return s.t < t; });
    ooo.erase(ooo.begin(), it);
    auto& ts = extra->tombstones;
    ts.erase(std::remove_if(ts.begin(), ts.end(), [&](const Interval& iv) { return iv.maxt < t; }),
             ts.end());
    if (ooo.empty() && ts.empty()) extra.reset();
  }
  return static_cast<int>(n);
}

size_t MemSeries::MemoryBytes() const {
  size_t b = sizeof(MemSeries) + labels.capacity() * sizeof(SymbolId) +
             chunks.capacity() * sizeof(HeadChunk);
  // make_shared control block + chunk object + string heap block (with malloc overhead).
  for (const auto& c : chunks) b += 16 + sizeof(chunkenc::XorChunk) + 16 + c.chunk->bytes().size();
  if (app) b += 64;
  if (extra) {
    b += sizeof(SeriesExtra) + extra->ooo.capacity() * sizeof(model::Sample) +
         extra->tombstones.capacity() * sizeof(Interval);
  }
  return b;
}

}  // namespace vigil::storage::head

#include "storage/head/head.h"

#include <algorithm>
#include <bit>
#include <limits>

#include "base/status.h"
#include "fmt/format.h"
#include "storage/chunkenc/block_codec.h"
#include "storage/index/postings.h"

namespace vigil::storage::head {

Head::Head(HeadOptions opts)
    : opts_(std::move(opts)),
      hash_stripes_(new HashStripe[kStripes]),
      ref_stripes_(new RefStripe[kStripes]),
      series_locks_(new std::mutex[kLockStripes]),
      limits_(opts_.limits),
      tenant_limits_(opts_.tenant_limits) {
  for (auto& r : rejected_) r.store(0);
}

void Head::SetLimits(const Limits& defaults, const TenantLimits& per_tenant) {
  std::lock_guard lock(limits_mu_);
  limits_ = defaults;
  tenant_limits_ = per_tenant;
}

std::vector<std::pair<std::string, int64_t>> Head::SeriesByTenant() const {
  std::vector<std::pair<std::string, int64_t>> out;
  {
    std::lock_guard lock(limits_mu_);
    for (const auto& [tenant, tc] : tenants_) {
      if (tc.series > 0) out.emplace_back(tenant, tc.series);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Head::~Head() = default;

Head::RefIndex::RefIndex() : blocks_(new std::atomic<std::atomic<MemSeries*>*>[kMaxBlocks]) {
  for (uint64_t i = 0; i < kMaxBlocks; i++) blocks_[i].store(nullptr, std::memory_order_relaxed);
}

Head::RefIndex::~RefIndex() {
  for (uint64_t i = 0; i < kMaxBlocks; i++) delete[] blocks_[i].load(std::memory_order_relaxed);
}

void Head::RefIndex::Store(Ref ref, MemSeries* s) {
  const uint64_t b = ref >> kBlockBits;
  if (b >= kMaxBlocks) return;
  std::atomic<MemSeries*>* blk = blocks_[b].load(std::memory_order_acquire);
  if (blk == nullptr) {
    std::lock_guard lock(mu_);
    blk = blocks_[b].load(std::memory_order_acquire);
    if (blk == nullptr) {
      blk = new std::atomic<MemSeries*>[kBlockSize];
      for (uint64_t i = 0; i < kBlockSize; i++) blk[i].store(nullptr, std::memory_order_relaxed);
      blocks_[b].store(blk, std::memory_order_release);
    }
  }
  blk[ref & kBlockMask].store(s, std::memory_order_release);
}

void Head::RefIndex::Clear(Ref ref, const MemSeries* s) {
  const uint64_t b = ref >> kBlockBits;
  if (b >= kMaxBlocks) return;
  std::atomic<MemSeries*>* blk = blocks_[b].load(std::memory_order_acquire);
  if (blk == nullptr) return;
  MemSeries* expected = const_cast<MemSeries*>(s);
  blk[ref & kBlockMask].compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel);
}

bool Head::LabelsEqual(
    const MemSeries& s,
    std::span<const std::pair<std::string_view, std::string_view>> labels) const {
  if (s.labels.size() != labels.size() * 2) return false;
  for (size_t i = 0; i < labels.size(); i++) {
    if (symbols_.Get(s.labels[2 * i]) != labels[i].first ||
        symbols_.Get(s.labels[2 * i + 1]) != labels[i].second) {
      return false;
    }
  }
  return true;
}

model::Labels Head::LabelsOf(const MemSeries& s, bool strip_tenant) const {
  model::Labels out;
  AssignLabels(s, strip_tenant, &out);
  return out;
}

void Head::AssignLabels(const MemSeries& s, bool strip_tenant, model::Labels* out,
                        std::vector<SymbolId>* assigned) const {
  auto& v = out->mutable_vec();
  if (assigned != nullptr && assigned->size() != 2 * v.size()) {
    assigned->assign(2 * v.size(), kNoSymbol);
  }
  // Whether slot k of `assigned` already holds `id`.
  auto kept = [&](size_t k, SymbolId id) {
    return assigned != nullptr && k < assigned->size() && (*assigned)[k] == id;
  };
  size_t n = 0;
  for (size_t i = 0; i + 1 < s.labels.size(); i += 2) {
    const SymbolId name = s.labels[i];
    const SymbolId value = s.labels[i + 1];
    const bool same_name = kept(2 * n, name);
    // A name already assigned is not the tenant's, which is never assigned.
    if (!same_name && strip_tenant && symbols_.Get(name) == kTenantLabel) continue;
    if (n == v.size()) {
      v.emplace_back();
      if (assigned != nullptr) assigned->insert(assigned->end(), {kNoSymbol, kNoSymbol});
    }
    // assign() keeps the strings' buffers, so refilling one Labels allocates nothing.
    if (!same_name) v[n].name.assign(symbols_.Get(name));
    if (!kept(2 * n + 1, value)) v[n].value.assign(symbols_.Get(value));
    if (assigned != nullptr) {
      (*assigned)[2 * n] = name;
      (*assigned)[2 * n + 1] = value;
    }
    n++;
  }
  v.resize(n);
  if (assigned != nullptr) assigned->resize(2 * n);
}

absl::Status Head::CheckLimits(std::string_view tenant, std::string_view metric) {
  std::lock_guard lock(limits_mu_);
  auto own = tenant_limits_.find(tenant);
  const Limits& lim = own == tenant_limits_.end() ? limits_ : own->second;
  TenantCounts& tc = tenants_[std::string(tenant)];
  if (lim.max_series_per_tenant > 0 && tc.series >= lim.max_series_per_tenant) {
    return RejectError(
        Reject::kSeriesLimit,
        fmt::format("cannot create series for metric \"{}\": tenant \"{}\" reached its limit of "
                    "{} active series (max_series_per_tenant)",
                    metric, tenant, lim.max_series_per_tenant));
  }
  int64_t& per_metric = tc.by_metric[std::string(metric)];
  if (lim.max_series_per_metric > 0 && per_metric >= lim.max_series_per_metric) {
    if (per_metric == 0) tc.by_metric.erase(std::string(metric));
    return RejectError(
        Reject::kSeriesLimit,
        fmt::format("cannot create series for metric \"{}\": the metric reached its limit of {} "
                    "active series in tenant \"{}\" (max_series_per_metric)",
                    metric, lim.max_series_per_metric, tenant));
  }
  tc.series++;
  per_metric++;
  return absl::OkStatus();
}

absl::StatusOr<MemSeries*> Head::GetOrCreate(
    std::span<const std::pair<std::string_view, std::string_view>> labels, uint64_t hash,
    std::string_view tenant, bool check_limits, Ref forced_ref, bool pin, bool* created) {
  *created = false;
  HashStripe& hs = HashStripeFor(hash);
  std::lock_guard hlock(hs.mu);
  auto it = hs.by_hash.find(hash);
  MemSeries* head_of_chain = it == hs.by_hash.end() ? nullptr : it->second;
  for (MemSeries* s = head_of_chain; s != nullptr; s = s->next_in_bucket) {
    if (LabelsEqual(*s, labels)) {
      if (pin) s->pending.fetch_add(1, std::memory_order_acq_rel);
      return s;
    }
  }
  std::string_view metric;
  for (const auto& [n, v] : labels) {
    if (n == model::kMetricName) metric = v;
  }
  if (check_limits) {
    RETURN_IF_ERROR(CheckLimits(tenant, metric));
  } else {
    std::lock_guard lock(limits_mu_);
    TenantCounts& tc = tenants_[std::string(tenant)];
    tc.series++;
    tc.by_metric[std::string(metric)]++;
  }
  std::vector<SymbolId> syms;
  syms.reserve(labels.size() * 2);
  SymbolId tenant_sym = kNoSymbol;
  for (const auto& [n, v] : labels) {
    syms.push_back(symbols_.Intern(n));
    syms.push_back(symbols_.Intern(v));
    if (n == kTenantLabel) tenant_sym = syms.back();
  }
  Ref ref = forced_ref;
  if (ref == 0) {
    ref = next_ref_.fetch_add(1, std::memory_order_relaxed);
  } else {
    Ref next = next_ref_.load();
    while (next <= ref && !next_ref_.compare_exchange_weak(next, ref + 1)) {
    }
  }
  auto owned = std::make_unique<MemSeries>(ref, hash, tenant_sym, std::move(syms));
  MemSeries* s = owned.get();
  if (pin) s->pending.fetch_add(1, std::memory_order_acq_rel);
  s->next_in_bucket = head_of_chain;
  hs.by_hash[hash] = s;
  {
    RefStripe& rs = RefStripeFor(ref);
    std::lock_guard rlock(rs.mu);
    rs.by_ref.emplace(ref, std::move(owned));
  }
  ref_index_.Store(ref, s);
  postings_.Add(ref, s->labels);
  num_series_.fetch_add(1, std::memory_order_relaxed);
  series_created_.fetch_add(1, std::memory_order_relaxed);
  *created = true;
  return s;
}

MemSeries* Head::PinByRef(Ref ref) const {
  RefStripe& rs = RefStripeFor(ref);
  std::lock_guard lock(rs.mu);
  auto it = rs.by_ref.find(ref);
  if (it == rs.by_ref.end()) return nullptr;
  it->second->pending.fetch_add(1, std::memory_order_acq_rel);
  return it->second.get();
}

void Head::PinAll(std::span<const Ref> refs, std::vector<MemSeries*>* out) const {
  out->reserve(out->size() + refs.size());
  constexpr size_t kAhead = 8;
  for (size_t i = 0; i < refs.size(); i++) {
    if (i + kAhead < refs.size()) {
      // The index slots are read in ref order, but the series and their locks are
      // scattered: fetch them ahead. (A stale pointer only wastes the prefetch.)
      if (const MemSeries* ahead = ref_index_.Load(refs[i + kAhead])) {
        __builtin_prefetch(&ahead->pending, 1);
      }
      __builtin_prefetch(&SeriesLock(refs[i + kAhead]), 1);
    }
    const Ref ref = refs[i];
    if (MemSeries* s = ref_index_.Load(ref)) {
      std::lock_guard lock(SeriesLock(ref));
      // As in PinAndCheck: an unchanged slot under the series lock means `s` is alive
      // (garbage collection checks `pending` and clears the slot under this lock).
      if (ref_index_.Load(ref) == s) {
        s->pending.fetch_add(1, std::memory_order_acq_rel);
        out->push_back(s);
        continue;
      }
    }
    if (MemSeries* s = PinByRef(ref)) out->push_back(s);
  }
}

MemSeries* Head::PinAndCheck(Ref ref, int64_t t, double v, AppendCheck* check, Reject* reject,
                             int64_t* last_t, AppendHints* hints) {
  MemSeries* s = ref_index_.Load(ref);
  if (s == nullptr) return nullptr;
  std::lock_guard lock(SeriesLock(ref));
  // Garbage collection clears the slot under this lock before it frees the series, so an
  // unchanged slot means `s` is alive, and the pin keeps it so.
  if (ref_index_.Load(ref) != s) return nullptr;
  s->pending.fetch_add(1, std::memory_order_acq_rel);
  *check = s->Check(t, v, opts_.out_of_order_window_ms, reject);
  *last_t = s->last_t;
  *hints = s->Hints();
  return s;
}

void Head::UpdateTimeBounds(int64_t t) {
  int64_t cur = min_time_.load(std::memory_order_relaxed);
  while (t < cur && !min_time_.compare_exchange_weak(cur, t, std::memory_order_relaxed)) {
  }
  cur = max_time_.load(std::memory_order_relaxed);
  while (t > cur && !max_time_.compare_exchange_weak(cur, t, std::memory_order_relaxed)) {
  }
}

namespace {

// The union of sorted ref lists.
index::PostingsPtr MergeOf(std::vector<RefList> lists) {
  size_t total = 0;
  Ref max_ref = 0;
  for (const RefList& l : lists) {
    total += l.size();
    if (!l.empty()) max_ref = std::max(max_ref, l.back());
  }
  if (lists.size() > 2 && total >= max_ref / 64) {
    // Many lists with many refs (a regex over metric names): marking them in a bitmap over
    // the dense refs and reading it out costs less than a k-way merge, which compares on
    // a heap for every ref.
    std::vector<uint64_t> bits(max_ref / 64 + 1);
    for (const RefList& l : lists) {
      for (Ref r : l) bits[r / 64] |= uint64_t{1} << (r % 64);
    }
    RefList out;
    out.reserve(total);
    for (size_t w = 0; w < bits.size(); w++) {
      for (uint64_t b = bits[w]; b != 0; b &= b - 1) out.push_back(w * 64 + std::countr_zero(b));
    }
    return index::NewListPostings(std::move(out));
  }
  std::vector<index::PostingsPtr> its;
  its.reserve(lists.size());
  for (auto& l : lists) its.push_back(index::NewListPostings(std::move(l)));
  return index::Merge(std::move(its));
}

}  // namespace

RefList Head::Postings(const model::Matchers& matchers) const {
  std::vector<index::PostingsPtr> positives;
  std::vector<index::PostingsPtr> negatives;
  // Equality matchers are intersected inside MemPostings, without copying their lists.
  std::vector<std::pair<SymbolId, SymbolId>> equal;
  for (const model::Matcher& m : matchers) {
    SymbolId name = symbols_.Find(m.name());
    bool matches_empty = m.MatchesEmpty();
    if (name == kNoSymbol) {
      // No series has this label: all of them match as "", or none do.
      if (matches_empty) continue;
      return {};
    }
    if (m.type() == model::MatchType::kEqual && !m.value().empty()) {
      SymbolId v = symbols_.Find(m.value());
      if (v == kNoSymbol) return {};
      equal.emplace_back(name, v);
      continue;
    }
    if (m.type() == model::MatchType::kRegexMatch && !m.set_matches().empty() && !matches_empty) {
      std::vector<RefList> lists;
      for (const auto& val : m.set_matches()) {
        SymbolId v = symbols_.Find(val);
        if (v != kNoSymbol) lists.push_back(postings_.Get(name, v));
      }
      positives.push_back(MergeOf(std::move(lists)));
      continue;
    }
    // Scan the values of this label. A matcher that accepts "" also accepts every series
    // without the label, so it is applied as "all minus the values it rejects" (the rule
    // Prometheus's PostingsForMatchers follows).
    std::vector<RefList> lists;
    postings_.CollectValues(
        name, [&](SymbolId v) { return m.Matches(symbols_.Get(v)) != matches_empty; }, &lists);
    (matches_empty ? negatives : positives).push_back(MergeOf(std::move(lists)));
  }
  if (!equal.empty()) {
    RefList refs = postings_.Intersect(equal);
    if (refs.empty()) return {};
    positives.push_back(index::NewListPostings(std::move(refs)));
  }
  index::PostingsPtr it = positives.empty() ? index::NewListPostings(postings_.All())
                                            : index::Intersect(std::move(positives));
  if (!negatives.empty()) it = index::Without(std::move(it), index::Merge(std::move(negatives)));
  auto out = index::ExpandPostings(*it);
  VIGIL_CHECK(out.ok());  // in-memory lists cannot fail
  return std::move(out).value();
}

bool Head::Capture(Ref ref, int64_t mint, int64_t maxt, SeriesData* out) const {
  RefStripe& rs = RefStripeFor(ref);
  std::lock_guard rlock(rs.mu);
  auto it = rs.by_ref.find(ref);
  if (it == rs.by_ref.end()) return false;
  const MemSeries& s = *it->second;
  if (!CaptureSamples(s, mint, maxt, out)) return false;
  out->labels = LabelsOf(s, /*strip_tenant=*/false);
  return true;
}

bool Head::CaptureSamples(const MemSeries& s, int64_t mint, int64_t maxt, SeriesData* out) const {
  out->ref = s.ref;
  out->mint = mint;
  out->maxt = maxt;
  out->chunks.clear();
  out->open.clear();
  out->ooo.clear();
  out->tombstones.clear();
  std::lock_guard slock(SeriesLock(s.ref));
  for (size_t i = 0; i < s.chunks.size(); i++) {
    const HeadChunk& c = s.chunks[i];
    if (c.maxt < mint || c.mint > maxt) continue;
    if (i + 1 == s.chunks.size() && s.app != nullptr) {
      // The open chunk keeps changing; readers get a private copy of its bytes.
      out->open.assign(c.chunk->bytes());
      out->chunks.push_back(HeadChunk{c.mint, c.maxt, nullptr});
    } else {
      out->chunks.push_back(c);
    }
  }
  if (s.extra) {
    for (const auto& smp : s.extra->ooo) {
      if (smp.t >= mint && smp.t <= maxt) out->ooo.push_back(smp);
    }
    out->tombstones = s.extra->tombstones;
  }
  return !out->chunks.empty() || !out->ooo.empty();
}

Head::Newest Head::NewestSample(const MemSeries& s, int64_t mint, int64_t maxt,
                               model::Sample* out) const {
  std::lock_guard slock(SeriesLock(s.ref));
  // last_t/last_v are the newest sample while there is an open chunk, which holds it
  // (truncation may have dropped every chunk, and the appender with them); out-of-order
  // samples are always older. Only the series' own fields are read, not its chunks.
  if (s.app == nullptr) return Newest::kUnknown;
  if (s.extra && !s.extra->tombstones.empty()) return Newest::kUnknown;
  if (s.last_t > maxt) return Newest::kUnknown;  // appended after the query's time
  if (s.last_t < mint) return Newest::kNone;     // every sample is older than the range
  *out = model::Sample{s.last_t, s.last_v};
  return Newest::kFound;
}

std::vector<std::shared_ptr<const SeriesData>> Head::SeriesInRange(int64_t mint,
                                                                    int64_t maxt) const {
  std::vector<std::shared_ptr<const SeriesData>> out;
  for (Ref ref : postings_.All()) {
    auto d = std::make_shared<SeriesData>();
    if (Capture(ref, mint, maxt, d.get())) out.push_back(std::move(d));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a->labels < b->labels; });
  return out;
}

absl::Status Head::Delete(std::string_view tenant, int64_t mint, int64_t maxt,
                          const model::Matchers& matchers) {
  model::Matchers ms = matchers;
  ms.push_back(model::Matcher::MustMake(model::MatchType::kEqual, kTenantLabel, tenant));
  RefList refs = Postings(ms);
  if (refs.empty()) return absl::OkStatus();
  std::vector<RefTombstone> stones;
  stones.reserve(refs.size());
  for (Ref r : refs) stones.push_back(RefTombstone{r, mint, maxt});
  if (opts_.wal != nullptr) {
    RETURN_IF_ERROR(Annotate(opts_.wal->LogTombstones(stones), "log tombstones"));
  }
  for (const auto& st : stones) ReplayTombstone(st.ref, st.mint, st.maxt);
  return absl::OkStatus();
}

void Head::ReplayTombstone(Ref ref, int64_t mint, int64_t maxt) {
  RefStripe& rs = RefStripeFor(ref);
  std::lock_guard rlock(rs.mu);
  auto it = rs.by_ref.find(ref);
  if (it == rs.by_ref.end()) return;
  MemSeries& s = *it->second;
  std::lock_guard slock(SeriesLock(ref));
  if (!s.extra) s.extra = std::make_unique<SeriesExtra>();
  auto& ts = s.extra->tombstones;
  if (std::find(ts.begin(), ts.end(), Interval{mint, maxt}) == ts.end()) {
    ts.push_back(Interval{mint, maxt});
  }
}

int64_t Head::Truncate(int64_t t) {
  int64_t cur = min_valid_time_.load();
  while (t > cur && !min_valid_time_.compare_exchange_weak(cur, t)) {
  }
  std::vector<MemSeries*> candidates;
  int64_t new_min = model::kMaxTime;
  for (size_t i = 0; i < kStripes; i++) {
    RefStripe& rs = ref_stripes_[i];
    std::lock_guard rlock(rs.mu);
    for (auto& [ref, s] : rs.by_ref) {
      std::lock_guard slock(SeriesLock(ref));
      int dropped = s->Truncate(t);
      if (dropped > 0) num_chunks_.fetch_sub(dropped, std::memory_order_relaxed);
      if (s->Empty()) {
        if (s->pending.load() == 0) candidates.push_back(s.get());
      } else {
        new_min = std::min(new_min, s->MinTime());
      }
    }
  }
  int64_t removed = 0;
  for (MemSeries* s : candidates) {
    // Re-check under all three locks: an appender may have pinned it since.
    HashStripe& hs = HashStripeFor(s->hash);
    std::lock_guard hlock(hs.mu);
    RefStripe& rs = RefStripeFor(s->ref);
    std::lock_guard rlock(rs.mu);
    {
      std::lock_guard slock(SeriesLock(s->ref));
      if (!s->Empty() || s->pending.load() != 0) continue;
      // From here on no appender can find it through the lock-free index (see RefIndex).
      ref_index_.Clear(s->ref, s);
    }
    auto it = hs.by_hash.find(s->hash);
    VIGIL_CHECK(it != hs.by_hash.end());
    if (it->second == s) {
      if (s->next_in_bucket == nullptr) {
        hs.by_hash.erase(it);
      } else {
        it->second = s->next_in_bucket;
      }
    } else {
      MemSeries* p = it->second;
      while (p->next_in_bucket != s) p = p->next_in_bucket;
      p->next_in_bucket = s->next_in_bucket;
    }
    postings_.Delete(s->ref, s->labels);
    {
      std::lock_guard lock(limits_mu_);
      std::string tenant;
      std::string metric;
      for (size_t i = 0; i + 1 < s->labels.size(); i += 2) {
        std::string_view n = symbols_.Get(s->labels[i]);
        if (n == kTenantLabel) tenant = symbols_.Get(s->labels[i + 1]);
        if (n == model::kMetricName) metric = symbols_.Get(s->labels[i + 1]);
      }
      auto tit = tenants_.find(tenant);
      if (tit != tenants_.end()) {
        tit->second.series--;
        auto mit = tit->second.by_metric.find(metric);
        if (mit != tit->second.by_metric.end() && --mit->second <= 0) tit->second.by_metric.erase(mit);
        if (tit->second.series <= 0) tenants_.erase(tit);
      }
    }
    for (SymbolId id : s->labels) symbols_.Release(id);
    rs.by_ref.erase(s->ref);
    removed++;
  }
  num_series_.fetch_sub(removed, std::memory_order_relaxed);
  series_removed_.fetch_add(removed, std::memory_order_relaxed);
  min_time_.store(new_min);
  if (new_min == model::kMaxTime) max_time_.store(model::kMinTime);
  return removed;
}

void Head::ReplaySeries(Ref ref, const model::Labels& labels) {
  std::vector<std::pair<std::string_view, std::string_view>> pairs;
  pairs.reserve(labels.size());
  std::string_view tenant = kDefaultTenant;
  for (const auto& l : labels) {
    pairs.emplace_back(l.name, l.value);
    if (l.name == kTenantLabel) tenant = l.value;
  }
  bool created = false;
  auto s = GetOrCreate(pairs, labels.Hash(), tenant, /*check_limits=*/false, ref,
                       /*pin=*/false, &created);
  VIGIL_CHECK(s.ok());
  (*s)->wal_logged.store(true, std::memory_order_release);
  // If the same series was logged under two refs (dropped by GC and created again before
  // a checkpoint caught up), samples of the old ref go to the live series.
  Ref next = next_ref_.load();
  while (next <= ref && !next_ref_.compare_exchange_weak(next, ref + 1)) {
  }
  if (replay_index_.size() <= ref) replay_index_.resize(std::max<size_t>(ref + 1, replay_index_.size() * 2));
  replay_index_[ref] = *s;
}

int64_t Head::ReplaySamples(std::span<const RefSample> samples) {
  std::vector<ReplayTarget> targets;
  targets.reserve(samples.size());
  int64_t unknown = ResolveReplay(samples, std::span<std::vector<ReplayTarget>>(&targets, 1));
  ApplyReplay(targets);
  return unknown;
}

int64_t Head::ResolveReplay(std::span<const RefSample> samples,
                            std::span<std::vector<ReplayTarget>> out) const {
  const int64_t min_valid = min_valid_time();
  const size_t nshards = out.size();
  int64_t unknown = 0;
  for (const RefSample& smp : samples) {
    MemSeries* s = smp.ref < replay_index_.size() ? replay_index_[smp.ref] : nullptr;
    if (s == nullptr) {
      unknown++;
      continue;
    }
    if (smp.t < min_valid) continue;  // already persisted in a block
    // By the series' address, not the logged ref: a series logged under two refs is one
    // series and must stay on one thread. Nothing is dereferenced here.
    size_t shard = 0;
    if (nshards > 1) {
      shard = static_cast<size_t>((reinterpret_cast<uintptr_t>(s) >> 4) * 0x9E3779B97F4A7C15ull >> 40) %
              nshards;
    }
    out[shard].push_back(ReplayTarget{s, smp.t, smp.v});
  }
  return unknown;
}

void Head::ApplyReplay(std::span<const ReplayTarget> samples) {
  int64_t stored_n = 0, new_chunks = 0;
  int64_t mint = model::kMaxTime, maxt = model::kMinTime;
  std::vector<Ref> completed;  // series whose chunk before a new one is complete
  for (const ReplayTarget& smp : samples) {
    MemSeries* s = smp.series;
    Reject reject = Reject::kNone;
    bool new_chunk = false;
    bool stored;
    bool completed_one;
    {
      std::lock_guard slock(SeriesLock(s->ref));
      stored = s->Apply(smp.t, smp.v, opts_.out_of_order_window_ms, opts_.chunk_range_ms,
                        opts_.max_samples_per_chunk, &reject, &new_chunk);
      completed_one = new_chunk && s->chunks.size() > 1;
    }
    if (new_chunk) new_chunks++;
    // As after a commit: replayed chunks that are complete go to the denser codec too,
    // or a restarted head would keep them in XOR (~2.9x the bytes) until truncation.
    if (completed_one) completed.push_back(s->ref);
    if (stored) {
      stored_n++;
      mint = std::min(mint, smp.t);
      maxt = std::max(maxt, smp.t);
    }
  }
  if (stored_n > 0) {
    UpdateTimeBounds(mint);
    UpdateTimeBounds(maxt);
    samples_appended_.fetch_add(stored_n, std::memory_order_relaxed);
  }
  if (new_chunks > 0) num_chunks_.fetch_add(new_chunks, std::memory_order_relaxed);
  if (!completed.empty()) QueueRecode(completed);
}

bool Head::SeriesExists(Ref ref) const {
  RefStripe& rs = RefStripeFor(ref);
  std::lock_guard rlock(rs.mu);
  return rs.by_ref.contains(ref);
}

int64_t Head::MinTime() const { return min_time_.load(); }
int64_t Head::MaxTime() const { return max_time_.load(); }

HeadStats Head::Stats() const {
  HeadStats st;
  st.series = num_series_.load();
  st.chunks = num_chunks_.load();
  st.min_time = MinTime();
  st.max_time = MaxTime();
  st.samples_appended = samples_appended_.load();
  st.series_created = series_created_.load();
  st.series_removed = series_removed_.load();
  for (size_t i = 0; i < rejected_.size(); i++) st.samples_rejected[i] = rejected_[i].load();
  return st;
}

size_t Head::MemoryBytes() const {
  size_t b = 0;
  for (size_t i = 0; i < kStripes; i++) {
    RefStripe& rs = ref_stripes_[i];
    std::lock_guard rlock(rs.mu);
    for (const auto& [ref, s] : rs.by_ref) {
      std::lock_guard slock(SeriesLock(ref));
      b += s->MemoryBytes() + 2 * (sizeof(Ref) + sizeof(void*));  // two map slots
    }
  }
  size_t pairs = 0;
  postings_.ForEachPair([&](SymbolId, SymbolId, size_t n) { pairs += n; });
  b += pairs * sizeof(Ref) + symbols_.string_bytes() + symbols_.size() * 48;
  return b;
}

int64_t Head::RecodeChunks() {
  std::vector<Ref> refs;
  {
    std::lock_guard lock(recode_mu_);
    refs.swap(recode_queue_);
  }
  std::sort(refs.begin(), refs.end());
  refs.erase(std::unique(refs.begin(), refs.end()), refs.end());
  int64_t saved = 0;
  std::vector<model::Sample> samples;
  for (Ref ref : refs) {
    RefStripe& rs = RefStripeFor(ref);
    std::lock_guard rlock(rs.mu);
    auto it = rs.by_ref.find(ref);
    if (it == rs.by_ref.end()) continue;
    MemSeries& s = *it->second;
    // Collect the completed XOR chunks under the lock, encode outside it, swap back in
    // only if the chunk is still there (it may have been truncated meanwhile).
    std::vector<std::shared_ptr<chunkenc::Chunk>> todo;
    {
      std::lock_guard slock(SeriesLock(ref));
      size_t completed = s.app != nullptr && !s.chunks.empty() ? s.chunks.size() - 1 : s.chunks.size();
      for (size_t i = 0; i < completed; i++) {
        if (s.chunks[i].chunk->encoding() == chunkenc::Encoding::kXor) todo.push_back(s.chunks[i].chunk);
      }
    }
    for (const auto& old : todo) {
      samples.clear();
      auto cit = old->NewIterator();
      while (cit->Next()) samples.push_back(cit->At());
      if (!cit->Err().ok() || samples.empty()) continue;
      auto enc = chunkenc::EncodeBlockChunk(samples);
      if (!enc.ok() || enc->size() >= old->bytes().size()) continue;
      auto repl = std::make_shared<chunkenc::BlockChunk>(std::move(enc).value());
      std::lock_guard slock(SeriesLock(ref));
      for (auto& c : s.chunks) {
        if (c.chunk == old) {
          saved += static_cast<int64_t>(old->bytes().size() - repl->bytes().size());
          c.chunk = repl;
          break;
        }
      }
    }
  }
  return saved;
}

TsdbStatus Head::Status(std::string_view tenant, int limit) const {
  TsdbStatus st;
  absl::flat_hash_map<std::string, int64_t> by_metric, values_by_name, bytes_by_name, by_pair;
  RefList refs;
  if (tenant.empty()) {
    refs = postings_.All();
  } else {
    refs = Postings({model::Matcher::MustMake(model::MatchType::kEqual, kTenantLabel, tenant)});
  }
  st.num_series = static_cast<int64_t>(refs.size());
  st.min_time = model::kMaxTime;
  st.max_time = model::kMinTime;
  absl::flat_hash_map<std::pair<SymbolId, SymbolId>, int64_t> pair_counts;
  for (Ref ref : refs) {
    RefStripe& rs = RefStripeFor(ref);
    std::lock_guard rlock(rs.mu);
    auto it = rs.by_ref.find(ref);
    if (it == rs.by_ref.end()) continue;
    const MemSeries& s = *it->second;
    for (size_t i = 0; i + 1 < s.labels.size(); i += 2) {
      pair_counts[{s.labels[i], s.labels[i + 1]}]++;
    }
    std::lock_guard slock(SeriesLock(ref));
    st.chunk_count += static_cast<int64_t>(s.chunks.size());
    if (!s.Empty()) {
      st.min_time = std::min(st.min_time, s.MinTime());
      st.max_time = std::max(st.max_time, s.MaxTime());
    }
  }
  for (const auto& [p, n] : pair_counts) {
    std::string_view name = symbols_.Get(p.first);
    std::string_view value = symbols_.Get(p.second);
    if (name == kTenantLabel) continue;
    st.num_label_pairs++;
    if (name == model::kMetricName) by_metric[std::string(value)] += n;
    values_by_name[std::string(name)]++;
    bytes_by_name[std::string(name)] += static_cast<int64_t>(value.size()) * n;
    by_pair[fmt::format("{}={}", name, value)] += n;
  }
  if (st.min_time == model::kMaxTime) st.min_time = st.max_time = 0;
  auto top = [limit](absl::flat_hash_map<std::string, int64_t>& m) {
    std::vector<TsdbStatus::Count> v;
    v.reserve(m.size());
    for (auto& [k, n] : m) v.push_back({k, n});
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
      return a.value != b.value ? a.value > b.value : a.name < b.name;
    });
    if (limit >= 0 && v.size() > static_cast<size_t>(limit)) v.resize(static_cast<size_t>(limit));
    return v;
  };
  st.series_count_by_metric_name = top(by_metric);
  st.label_value_count_by_label_name = top(values_by_name);
  st.memory_in_bytes_by_label_name = top(bytes_by_name);
  st.series_count_by_label_value_pair = top(by_pair);
  return st;
}

}  // namespace vigil::storage::head

// The head's read path: series iterators over captured chunks and the head Querier.
#include <algorithm>
#include <array>
#include <bit>
#include <numeric>
#include <span>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "base/status.h"
#include "storage/head/head.h"

namespace vigil::storage::head {
namespace {

std::unique_ptr<chunkenc::Iterator> NewChunkIterator(const SeriesData& d, const HeadChunk& c) {
  return chunkenc::NewIterator(d.Encoding(c), d.Bytes(c));
}

// Appends the samples of chunk `c` in [mint, maxt] to `out`. XOR chunks (the open one and
// those not recoded yet) are decoded by an iterator on the stack, not one allocated per
// chunk.
absl::Status AppendChunkRange(const SeriesData& d, const HeadChunk& c, int64_t mint,
                              int64_t maxt, std::vector<model::Sample>* out) {
  if (d.Encoding(c) == chunkenc::Encoding::kXor) {
    chunkenc::XorIterator it(d.Bytes(c));
    it.AppendRange(mint, maxt, out);
    return it.Err();
  }
  auto it = NewChunkIterator(d, c);
  it->AppendRange(mint, maxt, out);
  return it->Err();
}

// Merges the in-order chunks with the out-of-order buffer, clips to [mint, maxt] and
// skips tombstoned samples. On equal timestamps the in-order sample wins.
class SeriesIterator final : public storage::SampleIterator {
 public:
  explicit SeriesIterator(std::shared_ptr<const SeriesData> d) : d_(std::move(d)) {}

  bool Next() override {
    if (done_) return false;
    Prime(d_->mint);
    return Take();
  }

  bool Seek(int64_t t) override {
    if (done_) return false;
    if (has_cur_ && cur_.t >= t) return true;
    t = std::max(t, d_->mint);
    Prime(t);
    if (in_valid_ && in_.t < t) SeekIn(t);
    const auto& ooo = d_->ooo;
    while (oi_ < ooo.size() && ooo[oi_].t < t) oi_++;
    return Take();
  }

  model::Sample At() const override { return cur_; }
  absl::Status Err() const override { return err_; }

  void AppendRange(int64_t mint, int64_t maxt, std::vector<model::Sample>* out) override {
    if (primed_ || done_ || !d_->ooo.empty()) {
      // Positioned already, or with out-of-order samples to merge: sample by sample.
      storage::SampleIterator::AppendRange(mint, maxt, out);
      return;
    }
    done_ = true;
    mint = std::max(mint, d_->mint);
    maxt = std::min(maxt, d_->maxt);
    const size_t first = out->size();
    // The in-order chunks are disjoint and in time order: each one's samples follow.
    for (const HeadChunk& c : d_->chunks) {
      if (c.maxt < mint) continue;
      if (c.mint > maxt) break;
      err_ = AppendChunkRange(*d_, c, mint, maxt, out);
      if (!err_.ok()) return;
    }
    if (!d_->tombstones.empty()) {
      out->erase(std::remove_if(out->begin() + static_cast<std::ptrdiff_t>(first), out->end(),
                                [&](const model::Sample& s) { return IsDeleted(d_->tombstones, s.t); }),
                 out->end());
    }
  }

 private:
  void Prime(int64_t t) {
    if (primed_) return;
    primed_ = true;
    SeekIn(t);
    const auto& ooo = d_->ooo;
    oi_ = static_cast<size_t>(
        std::lower_bound(ooo.begin(), ooo.end(), t,
                         [](const model::Sample& s, int64_t t) { return s.t < t; }) -
        ooo.begin());
  }

  // Positions the in-order cursor at the first sample >= t.
  void SeekIn(int64_t t) {
    in_valid_ = false;
    for (;;) {
      if (!cit_) {
        while (ci_ < d_->chunks.size() && d_->chunks[ci_].maxt < t) ci_++;
        if (ci_ >= d_->chunks.size()) return;
        cit_ = NewChunkIterator(*d_, d_->chunks[ci_++]);
      }
      if (cit_->Seek(t)) {
        in_ = cit_->At();
        in_valid_ = true;
        return;
      }
      if (!cit_->Err().ok()) {
        err_ = cit_->Err();
        return;
      }
      cit_.reset();
    }
  }

  void NextIn() {
    in_valid_ = false;
    for (;;) {
      if (!cit_) {
        if (ci_ >= d_->chunks.size()) return;
        cit_ = NewChunkIterator(*d_, d_->chunks[ci_++]);
      }
      if (cit_->Next()) {
        in_ = cit_->At();
        in_valid_ = true;
        return;
      }
      if (!cit_->Err().ok()) {
        err_ = cit_->Err();
        return;
      }
      cit_.reset();
    }
  }

  // Consumes the smallest pending sample that is in range and not deleted.
  bool Take() {
    const auto& ooo = d_->ooo;
    for (;;) {
      if (!err_.ok()) return Finish();
      bool have_ooo = oi_ < ooo.size();
      if (!in_valid_ && !have_ooo) return Finish();
      model::Sample s;
      if (in_valid_ && (!have_ooo || in_.t <= ooo[oi_].t)) {
        s = in_;
        if (have_ooo && ooo[oi_].t == in_.t) oi_++;
        NextIn();
      } else {
        s = ooo[oi_++];
      }
      if (s.t > d_->maxt) return Finish();
      if (s.t < d_->mint || IsDeleted(d_->tombstones, s.t)) continue;
      cur_ = s;
      has_cur_ = true;
      return true;
    }
  }

  bool Finish() {
    done_ = true;
    has_cur_ = false;
    return false;
  }

  std::shared_ptr<const SeriesData> d_;
  size_t ci_ = 0;
  std::unique_ptr<chunkenc::Iterator> cit_;
  bool in_valid_ = false;
  model::Sample in_{0, 0};
  size_t oi_ = 0;
  bool primed_ = false;
  bool done_ = false;
  bool has_cur_ = false;
  model::Sample cur_{0, 0};
  absl::Status err_;
};

// One sample: a series' newest, for a Select hinted newest_only.
class NewestIterator final : public storage::SampleIterator {
 public:
  explicit NewestIterator(model::Sample s) : s_(s) {}
  bool Next() override {
    if (pos_ < 2) pos_++;
    return pos_ == 1;
  }
  bool Seek(int64_t t) override {
    if (pos_ == 0) pos_ = 1;
    if (pos_ == 1 && s_.t >= t) return true;
    pos_ = 2;
    return false;
  }
  model::Sample At() const override { return s_; }
  absl::Status Err() const override { return absl::OkStatus(); }

 private:
  model::Sample s_;
  int pos_ = 0;  // 0 before the sample, 1 at it, 2 past it
};

// The series a HeadSeriesSet is positioned at. Its labels are refilled in place for each
// series; its iterators share the captured data (or copy the newest sample), so they
// outlive the set's next Next().
class CapturedSeries final : public storage::Series {
 public:
  const model::Labels& labels() const override { return labels_; }
  std::unique_ptr<storage::SampleIterator> Iterator() const override {
    if (newest_only_) return std::make_unique<NewestIterator>(newest_);
    shared_ = true;
    return NewSeriesIterator(d_);
  }

  model::Labels labels_;
  // The symbols labels_' strings hold (see Head::AssignLabels); the set's series stay
  // pinned until it is dropped, so these stay referenced.
  std::vector<SymbolId> label_symbols_;
  bool newest_only_ = false;  // the answer is newest_, not d_
  model::Sample newest_{0, 0};
  std::shared_ptr<SeriesData> d_;
  // Whether an iterator holds d_: until then the set may capture the next series into it.
  mutable bool shared_ = false;
};

// A sorted Select of fewer series sorts by comparisons (radix passes cost more).
constexpr size_t kRadixSortMin = 1024;

// Sorts `v` by key(x), an unsigned integer below 2^bits, with a stable LSD radix sort of a
// byte per pass; a pass whose byte is the same in every element is skipped.
template <typename T, typename Key>
void RadixSort(std::vector<T>* v, int bits, Key key) {
  const size_t n = v->size();
  if (n < 2) return;
  const int passes = (bits + 7) / 8;
  std::vector<std::array<uint32_t, 256>> counts(static_cast<size_t>(passes));
  for (const T& x : *v) {
    const uint64_t k = key(x);
    for (int p = 0; p < passes; p++) counts[p][(k >> (8 * p)) & 0xff]++;
  }
  std::vector<T> out(n);
  for (int p = 0; p < passes; p++) {
    std::array<uint32_t, 256>& c = counts[p];
    if (c[(key((*v)[0]) >> (8 * p)) & 0xff] == n) continue;
    uint32_t sum = 0;
    for (uint32_t& slot : c) sum += std::exchange(slot, sum);
    for (const T& x : *v) out[c[(key(x) >> (8 * p)) & 0xff]++] = x;
    v->swap(out);
  }
}

}  // namespace

std::unique_ptr<storage::SampleIterator> NewSeriesIterator(std::shared_ptr<const SeriesData> d) {
  return std::make_unique<SeriesIterator>(std::move(d));
}

void Head::SortByLabels(std::vector<MemSeries*>* series, SymbolId tenant_name) const {
  const size_t n = series->size();
  if (n < 2) return;
  // Each series' labels without the tenant pair, as one run of dense indices of their
  // distinct strings in a flat buffer, turned below into ranks of the strings: the sort
  // compares integers instead of chasing every series' labels and strings.
  std::vector<uint32_t> keys;
  std::vector<uint32_t> starts;
  // Room for 8 label pairs a series (node_exporter's average ~5.6): growing past the room
  // copies the buffer, and reserving pages that stay untouched costs only address space.
  keys.reserve(n * 16);
  starts.reserve(n + 1);
  absl::flat_hash_map<SymbolId, uint32_t> dense;
  // Room for the distinct strings of a small selection up front (its growth was 1/15 of
  // selecting 100 series); a large one grows to what it needs.
  dense.reserve(std::min<size_t>(4 * n, 4096));
  std::vector<SymbolId> distinct;
  // The last id seen at each position of a run and its index: neighbouring series mostly
  // have the same label names, and often values, at the same positions, so this answers
  // most lookups without the hash map.
  constexpr size_t kMemo = 32;
  std::pair<SymbolId, uint32_t> memo[kMemo];
  std::fill(std::begin(memo), std::end(memo), std::pair<SymbolId, uint32_t>{kNoSymbol, 0});
  for (size_t j = 0; j < n; j++) {
    // The series' labels are scattered: fetch them a few series ahead (inline: GCC deletes
    // calls of a helper that only prefetches).
    if (j + 8 < n) __builtin_prefetch(&(*series)[j + 8]->labels);
    if (j + 4 < n) __builtin_prefetch((*series)[j + 4]->labels.data());
    const MemSeries* s = (*series)[j];
    starts.push_back(static_cast<uint32_t>(keys.size()));
    const std::vector<SymbolId>& l = s->labels;
    for (size_t i = 0; i + 1 < l.size(); i += 2) {
      if (l[i] == tenant_name) continue;
      for (SymbolId id : {l[i], l[i + 1]}) {
        const size_t pos = (keys.size() - starts.back()) % kMemo;
        if (memo[pos].first != id) {
          auto [it, fresh] = dense.try_emplace(id, static_cast<uint32_t>(distinct.size()));
          if (fresh) distinct.push_back(id);
          memo[pos] = {id, it->second};
        }
        keys.push_back(memo[pos].second);
      }
    }
  }
  starts.push_back(static_cast<uint32_t>(keys.size()));
  // Ranks of the distinct strings, from 1 (0 pads short runs below, sorting them first).
  // Names and values share one order, which is fine, as a name is only ever compared with
  // a name and a value with a value.
  std::vector<uint32_t> by_string(distinct.size());
  std::iota(by_string.begin(), by_string.end(), 0);
  std::sort(by_string.begin(), by_string.end(), [&](uint32_t a, uint32_t b) {
    return symbols_.Get(distinct[a]) < symbols_.Get(distinct[b]);
  });
  std::vector<uint32_t> rank(distinct.size());
  for (uint32_t r = 0; r < by_string.size(); r++) rank[by_string[r]] = r + 1;
  for (uint32_t& k : keys) k = rank[k];
  // Labels order (model::Labels' operator<) is the lexicographic order of these runs. The
  // sort moves small records holding a prefix of their run, so that its passes read memory
  // in sequence: the ranks after the leading positions every run shares (typically the
  // `__name__` label name), packed into two 64-bit words at `bits` bits each. Only runs
  // that tie on the prefix read their rest from `keys`.
  size_t skip = 0;
  {
    size_t min_len = keys.size();
    for (size_t i = 0; i < n; i++) min_len = std::min<size_t>(min_len, starts[i + 1] - starts[i]);
    for (; skip < min_len; skip++) {
      bool same = true;
      for (size_t i = 1; i < n && same; i++) same = keys[starts[i] + skip] == keys[skip];
      if (!same) break;
    }
  }
  // Ranks go up to distinct.size().
  const int bits = static_cast<int>(std::max<size_t>(1, std::bit_width(distinct.size())));
  const size_t per_word = 64 / static_cast<size_t>(bits);
  struct Record {
    uint64_t hi;
    uint64_t lo;
    uint32_t index;
  };
  std::vector<Record> records(n);
  for (uint32_t i = 0; i < n; i++) {
    const size_t len = starts[i + 1] - starts[i];
    // Ranks at positions from..from+per_word, a missing position as 0, the first highest.
    auto pack = [&](size_t from) {
      uint64_t w = 0;
      for (size_t k = from; k < from + per_word; k++) {
        w = (w << bits) | (k < len ? keys[starts[i] + k] : 0);
      }
      return w;
    };
    records[i] = Record{pack(skip), pack(skip + per_word), i};
  }
  const size_t packed = skip + 2 * per_word;
  auto rest = [&](uint32_t i) {
    const size_t len = starts[i + 1] - starts[i];
    return std::span<const uint32_t>(keys.data() + starts[i] + std::min(len, packed),
                                     len - std::min(len, packed));
  };
  auto less = [&](const Record& a, const Record& b) {
    if (a.hi != b.hi) return a.hi < b.hi;
    if (a.lo != b.lo) return a.lo < b.lo;
    std::span<const uint32_t> ra = rest(a.index), rb = rest(b.index);
    return std::lexicographical_compare(ra.begin(), ra.end(), rb.begin(), rb.end());
  };
  if (n < kRadixSortMin) {
    std::sort(records.begin(), records.end(), less);
  } else {
    // A comparison sort of a large selection mispredicts a branch per comparison (it was
    // ~25% of count_by_job): order by `hi` with a radix sort instead, then sort only the
    // runs that tie on it. Labels are distinct, so `less` is a total order and the result
    // is the one order a comparison sort gives.
    RadixSort(&records, static_cast<int>(per_word) * bits, [](const Record& r) { return r.hi; });
    for (size_t i = 0; i < n;) {
      size_t j = i + 1;
      while (j < n && records[j].hi == records[i].hi) j++;
      if (j - i > 1) {
        std::sort(records.begin() + static_cast<std::ptrdiff_t>(i),
                  records.begin() + static_cast<std::ptrdiff_t>(j), less);
      }
      i = j;
    }
  }
  std::vector<MemSeries*> sorted(n);
  for (size_t i = 0; i < n; i++) sorted[i] = (*series)[records[i].index];
  *series = std::move(sorted);
}

// Select's result: the matching series, pinned so that garbage collection keeps them, in
// the order asked for. A series' samples are captured (and its labels built) only when the
// set reaches it, so memory holds the series a caller still iterates, not the selection.
class HeadSeriesSet final : public storage::SeriesSet {
 public:
  HeadSeriesSet(const Head* head, std::vector<MemSeries*> series, int64_t mint, int64_t maxt,
                const storage::SelectHints& hints)
      : head_(head),
        series_(std::move(series)),
        mint_(mint),
        maxt_(maxt),
        newest_only_(hints.newest_only),
        newest_mint_(std::max(mint, hints.start)),
        newest_maxt_(std::min(maxt, hints.end)) {}
  ~HeadSeriesSet() override {
    for (MemSeries* s : series_) head_->Unpin(s);
  }

  bool Next() override {
    while (i_ < series_.size()) {
      // The series are visited in labels order, scattered over the heap, and each visit
      // waits for its series, its lock and its labels: these are prefetched a few series
      // ahead (the series' own memory first, then, once that has arrived, what its fields
      // point to; only immutable fields are read before the lock is held). This stays in
      // the loop: GCC deletes calls of a helper that only prefetches, finding it pure.
      constexpr size_t kAhead = 4;
      if (i_ + 2 * kAhead < series_.size()) {
        const char* p = reinterpret_cast<const char*>(series_[i_ + 2 * kAhead]);
        for (size_t off = 0; off < sizeof(MemSeries); off += 64) __builtin_prefetch(p + off);
      }
      if (i_ + kAhead < series_.size()) {
        const MemSeries* ahead = series_[i_ + kAhead];
        __builtin_prefetch(&head_->SeriesLock(ahead->ref));
        __builtin_prefetch(ahead->labels.data());
      }
      const MemSeries& s = *series_[i_++];
      cur_.newest_only_ = false;
      if (newest_only_) {
        Head::Newest found = head_->NewestSample(s, newest_mint_, newest_maxt_, &cur_.newest_);
        if (found == Head::Newest::kNone) continue;
        cur_.newest_only_ = found == Head::Newest::kFound;
      }
      if (!cur_.newest_only_) {
        // Data no iterator took (the caller skipped the series) is captured over.
        if (cur_.d_ == nullptr || cur_.shared_) {
          cur_.d_ = std::make_shared<SeriesData>();
          cur_.shared_ = false;
        }
        if (!head_->CaptureSamples(s, mint_, maxt_, cur_.d_.get())) continue;
      }
      head_->AssignLabels(s, /*strip_tenant=*/true, &cur_.labels_, &cur_.label_symbols_);
      return true;
    }
    cur_.d_.reset();
    return false;
  }
  const storage::Series& At() const override { return cur_; }
  absl::Status Err() const override { return absl::OkStatus(); }

 private:
  const Head* head_;
  std::vector<MemSeries*> series_;
  int64_t mint_;
  int64_t maxt_;
  // newest_only: only the newest sample in [newest_mint_, newest_maxt_] is asked for.
  bool newest_only_;
  int64_t newest_mint_;
  int64_t newest_maxt_;
  size_t i_ = 0;
  CapturedSeries cur_;
};

class HeadQuerier final : public storage::Querier {
 public:
  HeadQuerier(Head* head, std::string_view tenant, int64_t mint, int64_t maxt)
      : head_(head), tenant_(tenant), mint_(mint), maxt_(maxt) {}

  std::unique_ptr<storage::SeriesSet> Select(bool sorted, const storage::SelectHints& hints,
                                             const model::Matchers& matchers) override {
    RefList refs = head_->Postings(WithTenant(matchers));
    std::vector<MemSeries*> series;
    head_->PinAll(refs, &series);
    if (sorted) {
      // Every selected series has the querier's tenant, so sorting without the tenant
      // label is the order of the labels returned.
      head_->SortByLabels(&series, head_->symbols_.Find(kTenantLabel));
    }
    return std::make_unique<HeadSeriesSet>(head_, std::move(series), mint_, maxt_, hints);
  }

  absl::StatusOr<std::vector<std::string>> LabelValues(std::string_view name,
                                                       const model::Matchers& matchers) override {
    if (name == kTenantLabel) return std::vector<std::string>{};
    SymbolId name_id = head_->symbols_.Find(name);
    if (name_id == kNoSymbol) return std::vector<std::string>{};
    absl::flat_hash_set<SymbolId> ids;
    std::vector<SymbolId> listed;
    if (matchers.empty() && ListFromIndex(name_id, &listed)) {
      // The common case (one tenant, no matchers, range covering the head): the index has
      // the answer without visiting any series.
      ids.insert(listed.begin(), listed.end());
      return Strings(ids);
    }
    ForEachSelected(matchers, [&](const MemSeries& s) {
      for (size_t i = 0; i + 1 < s.labels.size(); i += 2) {
        if (s.labels[i] == name_id) ids.insert(s.labels[i + 1]);
      }
    });
    return Strings(ids);
  }

  absl::StatusOr<std::vector<std::string>> LabelNames(const model::Matchers& matchers) override {
    absl::flat_hash_set<SymbolId> ids;
    std::vector<SymbolId> listed;
    if (matchers.empty() && ListFromIndex(kNoSymbol, &listed)) {
      ids.insert(listed.begin(), listed.end());
    } else {
      ForEachSelected(matchers, [&](const MemSeries& s) {
        for (size_t i = 0; i + 1 < s.labels.size(); i += 2) ids.insert(s.labels[i]);
      });
    }
    std::vector<std::string> out = Strings(ids);
    out.erase(std::remove(out.begin(), out.end(), kTenantLabel), out.end());
    return out;
  }

 private:
  // Lists values of `name` (names if kNoSymbol) straight from the index when this
  // querier's tenant owns every head series and its range covers the head's.
  bool ListFromIndex(SymbolId name, std::vector<SymbolId>* out) const {
    if (head_->MinTime() < mint_ || head_->MaxTime() > maxt_) return false;
    SymbolId tn = head_->symbols_.Find(kTenantLabel);
    SymbolId tv = head_->symbols_.Find(tenant_);
    if (tn == kNoSymbol || tv == kNoSymbol) return false;
    return head_->postings_.ListIfAllHave(tn, tv, name, out);
  }

  model::Matchers WithTenant(const model::Matchers& ms) const {
    model::Matchers out = ms;
    out.push_back(model::Matcher::MustMake(model::MatchType::kEqual, kTenantLabel, tenant_));
    return out;
  }

  // Calls fn for every selected series that has data in the querier's range. Labels are
  // immutable, so only the ref stripe lock is needed to keep the series alive.
  template <typename Fn>
  void ForEachSelected(const model::Matchers& matchers, Fn fn) {
    for (Ref ref : head_->Postings(WithTenant(matchers))) {
      Head::RefStripe& rs = head_->RefStripeFor(ref);
      std::lock_guard rlock(rs.mu);
      auto it = rs.by_ref.find(ref);
      if (it == rs.by_ref.end()) continue;
      const MemSeries& s = *it->second;
      {
        std::lock_guard slock(head_->SeriesLock(ref));
        if (s.Empty() || s.MaxTime() < mint_ || s.MinTime() > maxt_) continue;
      }
      fn(s);
    }
  }

  std::vector<std::string> Strings(const absl::flat_hash_set<SymbolId>& ids) const {
    std::vector<std::string> out;
    out.reserve(ids.size());
    for (SymbolId id : ids) out.emplace_back(head_->symbols_.Get(id));
    std::sort(out.begin(), out.end());
    return out;
  }

  Head* head_;
  std::string tenant_;
  int64_t mint_;
  int64_t maxt_;
};

std::unique_ptr<storage::Querier> Head::NewQuerier(std::string_view tenant, int64_t mint,
                                                   int64_t maxt) {
  return std::make_unique<HeadQuerier>(this, tenant, mint, maxt);
}

bool Head::ReplayLabels(Ref ref, std::string* tenant, model::Labels* labels) const {
  if (ref >= replay_index_.size() || replay_index_[ref] == nullptr) return false;
  const MemSeries& s = *replay_index_[ref];
  tenant->assign(symbols_.Get(s.tenant));
  *labels = LabelsOf(s, /*strip_tenant=*/true);
  return true;
}

std::optional<Head::LoggedSeries> Head::FindSeries(std::string_view tenant,
                                                   const model::Labels& labels) {
  // The identity the appender hashes: the labels with the tenant pair in its sorted place.
  model::Labels with_tenant = labels;
  std::vector<model::Label>& v = with_tenant.mutable_vec();
  v.insert(std::lower_bound(v.begin(), v.end(), kTenantLabel,
                            [](const model::Label& l, std::string_view n) { return l.name < n; }),
           model::Label{std::string(kTenantLabel), std::string(tenant)});
  std::vector<std::pair<std::string_view, std::string_view>> pairs;
  pairs.reserve(with_tenant.size());
  for (const model::Label& l : with_tenant) pairs.emplace_back(l.name, l.value);
  const uint64_t hash = with_tenant.Hash();
  HashStripe& hs = HashStripeFor(hash);
  std::lock_guard lock(hs.mu);
  auto it = hs.by_hash.find(hash);
  for (MemSeries* s = it == hs.by_hash.end() ? nullptr : it->second; s != nullptr;
       s = s->next_in_bucket) {
    if (LabelsEqual(*s, pairs)) {
      LoggedSeries found{s->ref, std::nullopt};
      if (!s->wal_logged.load(std::memory_order_acquire)) {
        found.unlogged = RefSeries{s->ref, std::move(with_tenant)};
      }
      return found;
    }
  }
  return std::nullopt;
}

}  // namespace vigil::storage::head

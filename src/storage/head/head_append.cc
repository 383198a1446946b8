// The head's write path: HeadAppender batches samples, logs them to the WAL on Commit and
// then applies them to the series.
#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "base/status.h"
#include "fmt/format.h"
#include "storage/head/head.h"
#define XXH_INLINE_ALL
#include "xxhash.h"

namespace vigil::storage::head {
namespace {

// The same hash as model::Labels::Hash() over the same pairs, computed from views so the
// append path never builds a Labels (checked by a test).
uint64_t HashPairs(std::span<const std::pair<std::string_view, std::string_view>> pairs) {
  XXH64_state_t state;
  XXH64_reset(&state, 0);
  static constexpr char kSep = '\xff';
  for (const auto& [n, v] : pairs) {
    XXH64_update(&state, n.data(), n.size());
    XXH64_update(&state, &kSep, 1);
    XXH64_update(&state, v.data(), v.size());
    XXH64_update(&state, &kSep, 1);
  }
  return XXH64_digest(&state);
}

}  // namespace

class HeadAppender final : public storage::Appender {
 public:
  HeadAppender(Head* head, std::string_view tenant) : head_(head), tenant_(tenant) {}
  ~HeadAppender() override { Rollback(); }

  absl::StatusOr<SeriesRef> Append(SeriesRef ref, const model::Labels& labels, int64_t t,
                                   double v) override;
  absl::StatusOr<SeriesRef> AppendRef(SeriesRef ref, int64_t t, double v) override;
  void Prefetch(SeriesRef ref) override { head_->PrefetchSeries(ref); }
  absl::Status Commit() override;
  void Rollback() override;

 private:
  struct Pending {
    MemSeries* series;
    int64_t t;
    double v;
    AppendHints hints;
  };

  absl::Status RejectSample(storage::Reject r, std::string message) {
    head_->CountReject(r);
    return RejectError(r, message);
  }
  // The common end of Append and AppendRef for a pinned series `s` and the verdict of
  // MemSeries::Check on (t, v): queues the sample or unpins and reports the refusal.
  absl::StatusOr<SeriesRef> Finish(MemSeries* s, AppendCheck check, storage::Reject reject,
                                   int64_t last_t, int64_t t, double v, AppendHints hints);
  // Validates `labels` and fills pairs_ with them plus the tenant label, sorted.
  absl::Status BuildPairs(const model::Labels& labels);

  Head* head_;
  std::string tenant_;
  std::vector<Pending> pending_;
  std::vector<std::pair<std::string_view, std::string_view>> pairs_;
  // Reused between commits so a steady-state commit allocates nothing.
  std::vector<RefSample> wal_samples_;
  std::vector<RefSeries> wal_series_;
  std::vector<MemSeries*> to_mark_logged_;
  absl::flat_hash_set<MemSeries*> seen_unlogged_;
  std::vector<Ref> recode_;
};

absl::Status HeadAppender::BuildPairs(const model::Labels& labels) {
  pairs_.clear();
  if (labels.empty()) {
    return RejectSample(storage::Reject::kInvalidLabels, "invalid labels: empty label set");
  }
  bool tenant_added = false;
  std::string_view prev;
  for (size_t i = 0; i < labels.size(); i++) {
    std::string_view name = labels[i].name;
    if (name.empty()) {
      return RejectSample(storage::Reject::kInvalidLabels,
                    fmt::format("invalid labels {}: empty label name", labels.ToString()));
    }
    if (i > 0 && name <= prev) {
      return RejectSample(storage::Reject::kInvalidLabels,
                    fmt::format("invalid labels {}: label names not sorted or repeated at \"{}\"",
                                labels.ToString(), name));
    }
    if (name.starts_with(kTenantLabel)) {
      return RejectSample(storage::Reject::kInvalidLabels,
                    fmt::format("invalid labels {}: label name \"{}\" is reserved",
                                labels.ToString(), name));
    }
    if (!tenant_added && name > kTenantLabel) {
      pairs_.emplace_back(kTenantLabel, tenant_);
      tenant_added = true;
    }
    pairs_.emplace_back(name, labels[i].value);
    prev = name;
  }
  if (!tenant_added) pairs_.emplace_back(kTenantLabel, tenant_);
  return absl::OkStatus();
}

absl::StatusOr<SeriesRef> HeadAppender::AppendRef(SeriesRef ref, int64_t t, double v) {
  if (ref == 0) return SeriesRef{0};
  AppendCheck check;
  storage::Reject reject = storage::Reject::kNone;
  int64_t last_t;
  AppendHints hints;
  MemSeries* s = head_->PinAndCheck(ref, t, v, &check, &reject, &last_t, &hints);
  if (s == nullptr) return SeriesRef{0};
  if (head_->symbols_.Get(s->tenant) != tenant_) {
    // A ref from another tenant's appender: never let it cross tenants.
    head_->Unpin(s);
    return SeriesRef{0};
  }
  return Finish(s, check, reject, last_t, t, v, hints);
}

absl::StatusOr<SeriesRef> HeadAppender::Append(SeriesRef ref, const model::Labels& labels,
                                               int64_t t, double v) {
  if (ref != 0) {
    ASSIGN_OR_RETURN(SeriesRef got, AppendRef(ref, t, v));
    if (got != 0) return got;
  }
  RETURN_IF_ERROR(BuildPairs(labels));
  bool created = false;
  auto got = head_->GetOrCreate(pairs_, HashPairs(pairs_), tenant_, /*check_limits=*/true,
                                /*forced_ref=*/0, /*pin=*/true, &created);
  if (!got.ok()) {
    head_->CountReject(RejectOf(got.status()));
    return got.status();
  }
  MemSeries* s = *got;
  storage::Reject reject = storage::Reject::kNone;
  AppendCheck check;
  int64_t last_t;
  AppendHints hints;
  {
    std::lock_guard lock(head_->SeriesLock(s->ref));
    check = s->Check(t, v, head_->opts_.out_of_order_window_ms, &reject);
    last_t = s->last_t;
    hints = s->Hints();
  }
  return Finish(s, check, reject, last_t, t, v, hints);
}

absl::StatusOr<SeriesRef> HeadAppender::Finish(MemSeries* s, AppendCheck check,
                                               storage::Reject reject, int64_t last_t, int64_t t,
                                               double v, AppendHints hints) {
  if (t < head_->min_valid_time()) {
    std::string series = head_->LabelsOf(*s, /*strip_tenant=*/true).ToString();
    head_->Unpin(s);
    return RejectSample(storage::Reject::kTooOld,
                        fmt::format("sample too old: timestamp {} is before {}, which is already "
                                    "persisted, for series {}",
                                    t, head_->min_valid_time(), series));
  }
  switch (check) {
    case AppendCheck::kReject: {
      std::string series = head_->LabelsOf(*s, /*strip_tenant=*/true).ToString();
      head_->Unpin(s);
      if (reject == storage::Reject::kDuplicate) {
        return RejectSample(reject, fmt::format("duplicate sample for timestamp {} with a "
                                                "different value for series {}",
                                                t, series));
      }
      return RejectSample(reject, fmt::format("out of order sample: timestamp {} is older than "
                                              "the newest sample {} of series {}",
                                              t, last_t, series));
    }
    case AppendCheck::kNoop:
      head_->Unpin(s);
      return s->ref;
    case AppendCheck::kInOrder:
    case AppendCheck::kOutOfOrderAccepted:
      break;
  }
  pending_.push_back(Pending{s, t, v, hints});
  return s->ref;
}

absl::Status HeadAppender::Commit() {
  if (pending_.empty()) return absl::OkStatus();
  if (head_->opts_.wal != nullptr) {
    wal_series_.clear();
    wal_samples_.clear();
    to_mark_logged_.clear();
    seen_unlogged_.clear();
    wal_samples_.reserve(pending_.size());
    for (const Pending& p : pending_) {
      // Any series not yet known to be in the log gets a series record in this commit,
      // even if another appender created it: a replay must never meet samples of a ref it
      // has not seen. Logging a series twice is harmless.
      if (!p.series->wal_logged.load(std::memory_order_acquire) &&
          seen_unlogged_.insert(p.series).second) {
        wal_series_.push_back(RefSeries{p.series->ref, head_->LabelsOf(*p.series, false)});
        to_mark_logged_.push_back(p.series);
      }
      wal_samples_.push_back(RefSample{p.series->ref, p.t, p.v});
    }
    absl::Status st = head_->opts_.wal->LogCommit(wal_series_, wal_samples_);
    if (!st.ok()) {
      Rollback();
      return Annotate(st, "commit: write WAL");
    }
    for (MemSeries* s : to_mark_logged_) s->wal_logged.store(true, std::memory_order_release);
  }
  const HeadOptions& o = head_->opts_;
  int64_t mint = model::kMaxTime, maxt = model::kMinTime;
  int64_t stored = 0, new_chunks = 0;
  recode_.clear();
  // The appends below miss the cache on every series (its chunk appender, chunk list and
  // chunk bytes live apart from it); prefetching a few samples ahead overlaps those misses.
  constexpr size_t kPrefetchAhead = 6;
  const size_t npending = pending_.size();
  for (size_t i = 0; i < npending; ++i) {
    const Pending& p = pending_[i];
    if (i + kPrefetchAhead < npending) {
      const Pending& q = pending_[i + kPrefetchAhead];
      __builtin_prefetch(q.hints.appender);
      __builtin_prefetch(q.hints.last_chunk);
      __builtin_prefetch(q.hints.open_head, /*rw=*/1);
      __builtin_prefetch(q.hints.open_tail, /*rw=*/1);
    }
    storage::Reject reject = storage::Reject::kNone;
    bool new_chunk = false;
    bool completed_one = false;
    bool ok;
    {
      std::lock_guard lock(head_->SeriesLock(p.series->ref));
      ok = p.series->Apply(p.t, p.v, o.out_of_order_window_ms, o.chunk_range_ms,
                           o.max_samples_per_chunk, &reject, &new_chunk);
      completed_one = new_chunk && p.series->chunks.size() > 1;
    }
    if (ok) {
      stored++;
      mint = std::min(mint, p.t);
      maxt = std::max(maxt, p.t);
    } else if (reject != storage::Reject::kNone) {
      // Another appender moved the series past this sample between Append and Commit.
      head_->CountReject(reject);
    }
    if (new_chunk) {
      new_chunks++;
      // The chunk before the new one is complete: queue it for the denser codec.
      if (completed_one) recode_.push_back(p.series->ref);
    }
    head_->Unpin(p.series);
  }
  pending_.clear();
  if (stored > 0) {
    head_->UpdateTimeBounds(mint);
    head_->UpdateTimeBounds(maxt);
    head_->samples_appended_.fetch_add(stored, std::memory_order_relaxed);
  }
  if (new_chunks > 0) head_->num_chunks_.fetch_add(new_chunks, std::memory_order_relaxed);
  if (!recode_.empty()) head_->QueueRecode(recode_);
  return absl::OkStatus();
}

void HeadAppender::Rollback() {
  for (const Pending& p : pending_) head_->Unpin(p.series);
  pending_.clear();
}

std::unique_ptr<storage::Appender> Head::NewAppender(std::string_view tenant) {
  return std::make_unique<HeadAppender>(this, tenant);
}

}  // namespace vigil::storage::head

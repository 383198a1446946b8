#include "ingest/remote_write.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <vector>

#include "base/log.h"
#include "fmt/format.h"
#include "ingest/decoded.h"
#include "ingest/remote_write_decoder.h"
#include "ingest/writer.h"
#include "model/labels.h"
#define XXH_INLINE_ALL
#include "xxhash.h"

namespace vigil::ingest {
namespace {

// Refusal reasons and series validation are shared with the other push protocols
// (ingest/writer.h).
// How many refused series a 400 message names.
constexpr int kMaxExamples = 3;

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Per-thread buffers reused across requests: the decompressed body, the decoded view and
// the Labels the appender reads. After the first few requests they stop growing.
struct Scratch {
  std::string body;
  WriteRequestView view;
  model::Labels labels;
};

Scratch& ThreadScratch() {
  thread_local Scratch s;
  return s;
}

// Copies the views into `labels`, reusing its strings' capacity. Labels with empty values
// are dropped (they mean "absent"). Sorts by name if the sender did not.
void FillLabels(const WriteRequestView& v, const SeriesView& s, model::Labels* labels) {
  thread_local std::vector<LabelView> views;
  views.clear();
  AppendLabels(v, s, &views);
  std::vector<model::Label>& vec = labels->mutable_vec();
  size_t n = 0;
  bool sorted = true;
  for (const LabelView& l : views) {
    if (l.value.empty()) continue;
    if (n == vec.size()) vec.emplace_back();
    vec[n].name.assign(l.name.data(), l.name.size());
    vec[n].value.assign(l.value.data(), l.value.size());
    if (n > 0 && vec[n - 1].name > vec[n].name) sorted = false;
    ++n;
  }
  vec.resize(n);
  if (!sorted) {
    std::stable_sort(vec.begin(), vec.end(),
                     [](const model::Label& a, const model::Label& b) { return a.name < b.name; });
  }
}

absl::Status ValidateLabels(const model::Labels& labels) { return ValidateSeries(labels); }

std::string_view Msg(const absl::Status& s) { return {s.message().data(), s.message().size()}; }

// remote.proto's MetricMetadata.MetricType, in Prometheus's words.
std::string_view MetadataTypeName(int32_t type) {
  static constexpr std::string_view kNames[] = {"unknown", "counter",        "gauge",
                                                "histogram", "gaugehistogram", "summary",
                                                "info",    "stateset"};
  return type >= 0 && type < 8 ? kNames[type] : kNames[0];
}

// Stores the request's exemplars with the labels of their series; a series with invalid
// labels keeps none. Returns how many were stored and refused.
std::pair<int64_t, int64_t> StoreExemplars(storage::ExemplarAppendable* st,
                                           std::string_view tenant,
                                           const WriteRequestView& view, model::Labels* series) {
  int64_t refused = 0;
  uint32_t current = UINT32_MAX;
  bool valid = false;
  // Labels of the series with exemplars (a deque, so batch entries can point into it), and
  // one batch for the whole request, which storage logs with one WAL write.
  std::deque<model::Labels> labels;
  std::vector<storage::ExemplarAppendable::SeriesExemplar> batch;
  for (const ExemplarView& ev : view.exemplars) {
    if (ev.series != current) {
      current = ev.series;
      FillLabels(view, view.series[current], series);
      valid = ValidateSeries(*series).ok();
      if (valid) labels.push_back(*series);
    }
    if (!valid) {
      ++refused;
      continue;
    }
    std::vector<model::Label> ls;
    for (uint32_t i = ev.labels_begin; i < ev.labels_end; ++i) {
      const LabelView& l = view.exemplar_labels[i];
      if (!l.value.empty()) ls.push_back({std::string(l.name), std::string(l.value)});
    }
    batch.push_back({&labels.back(), storage::Exemplar{model::Labels(std::move(ls)), ev.value, ev.t}});
  }
  std::vector<absl::Status> results(batch.size());
  st->AppendExemplars(tenant, batch, results);
  for (const absl::Status& s : results) {
    if (s.ok()) continue;
    if (refused++ == 0) VLOG_DEBUG("ingest", "remote write: exemplar refused: {}", Msg(s));
  }
  return {static_cast<int64_t>(view.exemplars.size()) - refused, refused};
}

}  // namespace

// Maps (tenant, encoded-labels hash) to the storage ref of the series. A request looks up
// all its series under one shared lock, prefetching a few keys ahead so that the cache
// misses of a 2000-series request overlap instead of queueing behind one lock per series;
// the refs it learns are written back under one exclusive lock at its end (only requests
// that met new series take it).
class RemoteWriteIngester::RefCache {
 public:
  explicit RefCache(size_t max_entries) : max_entries_(max_entries) {}

  struct Key {
    uint64_t lo, hi;
    friend bool operator==(const Key&, const Key&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      // The parts are already uniform hashes; mixing one is enough.
      return H::combine(std::move(h), k.lo);
    }
  };

  // refs[i] = the cached ref of keys[i], or 0.
  void GetAll(std::span<const Key> keys, std::span<storage::SeriesRef> refs) {
    constexpr size_t kAhead = 8;
    std::shared_lock lock(mu_);
    const size_t n = keys.size();
    for (size_t i = 0; i < n && i < kAhead; ++i) map_.prefetch(keys[i]);
    for (size_t i = 0; i < n; ++i) {
      if (i + kAhead < n) map_.prefetch(keys[i + kAhead]);
      auto it = map_.find(keys[i]);
      refs[i] = it == map_.end() ? 0 : it->second;
    }
  }

  // Records new refs and forgets refused series.
  void Update(std::span<const std::pair<Key, storage::SeriesRef>> puts,
              std::span<const Key> erases) {
    if (puts.empty() && erases.empty()) return;
    std::unique_lock lock(mu_);
    for (const Key& k : erases) map_.erase(k);
    for (const auto& [k, ref] : puts) {
      // A full cache starts over rather than tracking recency: cheap, and a miss only
      // costs the head's own label lookup.
      if (map_.size() >= max_entries_) map_.clear();
      map_[k] = ref;
    }
  }

  void Clear() {
    std::unique_lock lock(mu_);
    map_.clear();
  }

 private:
  const size_t max_entries_;
  std::shared_mutex mu_;
  absl::flat_hash_map<Key, storage::SeriesRef> map_;  // guarded by mu_
};

struct RemoteWriteIngester::Counters {
  metrics::Counter* samples = nullptr;
  metrics::CounterFamily* rejected = nullptr;
  metrics::CounterFamily* requests = nullptr;
  metrics::CounterFamily* exemplars = nullptr;
};

RemoteWriteIngester::RemoteWriteIngester(storage::Appendable* db, metrics::Registry* registry,
                                         RemoteWriteOptions opts)
    : db_(db), opts_(std::move(opts)), counters_(std::make_unique<Counters>()) {
  if (opts_.ref_cache_entries > 0) cache_ = std::make_unique<RefCache>(opts_.ref_cache_entries);
  if (registry != nullptr) {
    counters_->samples =
        registry
            ->NewCounterFamily("vigil_ingest_samples_total",
                               "Samples stored by ingestion, by protocol.", {"protocol"})
            ->WithLabelValues({"remote_write"});
    counters_->rejected = registry->NewCounterFamily(
        "vigil_ingest_samples_rejected_total", "Samples refused by ingestion, by protocol and reason.",
        {"protocol", "reason"});
    counters_->requests = registry->NewCounterFamily(
        "vigil_ingest_requests_total", "Ingestion requests by protocol and result.",
        {"protocol", "result"});
    counters_->exemplars = registry->NewCounterFamily(
        "vigil_ingest_exemplars_total", "Exemplars stored or refused by ingestion, by protocol.",
        {"protocol", "result"});
  }
}

RemoteWriteIngester::~RemoteWriteIngester() = default;

void RemoteWriteIngester::ResetCache() {
  if (cache_) cache_->Clear();
}

WriteResult RemoteWriteIngester::Write(std::string_view tenant, std::string_view snappy_body) {
  Scratch& scratch = ThreadScratch();
  if (auto s = SnappyDecompress(snappy_body, opts_.max_decompressed_bytes, &scratch.body);
      !s.ok()) {
    if (counters_->requests) counters_->requests->WithLabelValues({"remote_write", "bad_request"})->Inc();
    // Past the size limit: 413, as every push endpoint answers.
    const int code = s.code() == absl::StatusCode::kResourceExhausted ? 413 : 400;
    return {code, fmt::format("cannot decode remote write request: {}", Msg(s)), 0, 0, 0};
  }
  // WriteDecoded uses scratch.view and scratch.labels; scratch.body stays untouched.
  return WriteDecoded(tenant, scratch.body);
}

WriteResult RemoteWriteIngester::WriteDecoded(std::string_view tenant, std::string_view proto_body) {
  Scratch& scratch = ThreadScratch();
  WriteRequestView& view = scratch.view;
  WriteResult result;
  auto count_request = [&](std::string_view outcome) {
    if (counters_->requests) {
      counters_->requests->WithLabelValues({"remote_write", std::string(outcome)})->Inc();
    }
  };
  if (auto s = DecodeWriteRequest(proto_body, &view); !s.ok()) {
    count_request("bad_request");
    return {400, fmt::format("cannot decode remote write request: {}", Msg(s)), 0, 0, 0};
  }
  result.series = static_cast<int64_t>(view.series.size());

  const int64_t max_t = (opts_.now_ms ? opts_.now_ms() : WallClockMs()) + opts_.max_future_ms;
  const uint64_t tenant_hash = XXH3_64bits(tenant.data(), tenant.size());

  std::unique_ptr<storage::Appender> app = db_->NewAppender(tenant);
  // Refusals by reason, and a few examples of refused series for the message.
  std::map<std::string, int64_t, std::less<>> refused;
  std::vector<std::string> examples;
  auto refuse = [&](std::string_view reason, int64_t n, const model::Labels* labels,
                    std::string_view why) {
    auto it = refused.find(reason);
    if (it == refused.end()) it = refused.emplace(std::string(reason), 0).first;
    it->second += n;
    result.samples_refused += n;
    if (static_cast<int>(examples.size()) < kMaxExamples) {
      examples.push_back(labels != nullptr && !labels->empty()
                             ? fmt::format("{}: {}", labels->ToString(), why)
                             : std::string(why));
    }
  };

  model::Labels& labels = scratch.labels;
  // The ref cache's traffic for this request: every series' key and cached ref up front,
  // the refs learnt and the keys to forget at the end.
  thread_local std::vector<RefCache::Key> keys;
  thread_local std::vector<storage::SeriesRef> cached;
  thread_local std::vector<std::pair<RefCache::Key, storage::SeriesRef>> puts;
  thread_local std::vector<RefCache::Key> erases;
  keys.clear();
  puts.clear();
  erases.clear();
  if (cache_) {
    for (const SeriesView& s : view.series) {
      keys.push_back(RefCache::Key{s.labels_hash_lo ^ tenant_hash, s.labels_hash_hi});
    }
    cached.resize(keys.size());
    cache_->GetAll(keys, cached);
  }
  const size_t nseries = view.series.size();
  for (size_t si = 0; si < nseries; ++si) {
    const SeriesView& s = view.series[si];
    // Let storage start loading a series a few steps ahead of its append.
    constexpr size_t kPrefetchAhead = 4;
    if (cache_ && si + kPrefetchAhead < nseries && cached[si + kPrefetchAhead] != 0) {
      app->Prefetch(cached[si + kPrefetchAhead]);
    }
    const uint32_t nsamples = s.samples_end - s.samples_begin;
    if (nsamples == 0) continue;

    // A series seen before goes by its cached ref and never has its labels copied out of
    // the request; they are built only when storage does not know the ref any more, or for
    // an error message.
    const bool cacheable = cache_ && (s.labels_hash_lo | s.labels_hash_hi) != 0;
    storage::SeriesRef ref = cacheable ? cached[si] : 0;
    bool have_labels = false;
    auto need_labels = [&]() -> const model::Labels* {
      if (!have_labels) {
        FillLabels(view, s, &labels);
        have_labels = true;
      }
      return &labels;
    };
    if (ref == 0) {
      // Only series not seen before need validating: a cached ref implies these exact
      // label bytes passed validation earlier.
      if (auto st = ValidateLabels(*need_labels()); !st.ok()) {
        refuse(kReasonInvalidLabels, nsamples, nullptr, Msg(st));
        continue;
      }
    }

    for (uint32_t i = s.samples_begin; i < s.samples_end; ++i) {
      const model::Sample& smp = view.samples[i];
      if (smp.t > max_t) {
        refuse(kReasonTooFarInFuture, 1, need_labels(),
               fmt::format("timestamp {} is too far in the future", smp.t));
        continue;
      }
      absl::StatusOr<storage::SeriesRef> got = storage::SeriesRef{0};
      if (ref != 0) got = app->AppendRef(ref, smp.t, smp.v);
      if (got.ok() && *got == 0) {
        // Unknown to storage (first sight, or the series was dropped): go by the labels.
        got = app->Append(0, *need_labels(), smp.t, smp.v);
      }
      if (!got.ok()) {
        storage::Reject why = storage::RejectOf(got.status());
        if (why == storage::Reject::kNone) {
          // Not a verdict on the sample: storage itself failed.
          app->Rollback();
          count_request("internal_error");
          VLOG_ERROR("ingest", "remote write: append failed: {}", Msg(got.status()));
          return {500, fmt::format("cannot store samples: {}", Msg(got.status())), 0, 0,
                  result.series};
        }
        if (why == storage::Reject::kSeriesLimit && cacheable) erases.push_back(keys[si]);
        refuse(storage::RejectName(why), 1, need_labels(), Msg(got.status()));
        continue;
      }
      if (*got != ref) {
        ref = *got;
        if (cacheable) puts.emplace_back(keys[si], ref);
      }
      ++result.samples_stored;
    }
  }

  if (cache_) cache_->Update(puts, erases);

  if (auto st = app->Commit(); !st.ok()) {
    count_request("internal_error");
    VLOG_ERROR("ingest", "remote write: commit failed: {}", Msg(st));
    return {500, fmt::format("cannot store samples: {}", Msg(st)), 0, 0, result.series};
  }
  if (opts_.exemplars != nullptr && !view.exemplars.empty()) {
    auto [stored, refused_ex] = StoreExemplars(opts_.exemplars, tenant, view, &labels);
    if (counters_->exemplars) {
      counters_->exemplars->WithLabelValues({"remote_write", "stored"})->Inc(static_cast<double>(stored));
      counters_->exemplars->WithLabelValues({"remote_write", "refused"})->Inc(static_cast<double>(refused_ex));
    }
  }
  if (opts_.on_metadata && !view.metadata.empty()) {
    std::vector<MetricMetadata> md;
    md.reserve(view.metadata.size());
    for (const MetadataView& m : view.metadata) {
      if (m.metric_family_name.empty()) continue;
      md.push_back({std::string(m.metric_family_name), std::string(MetadataTypeName(m.type)),
                    std::string(m.help), std::string(m.unit)});
    }
    opts_.on_metadata(tenant, md);
  }
  if (counters_->samples) counters_->samples->Inc(static_cast<double>(result.samples_stored));
  if (counters_->rejected) {
    for (const auto& [reason, n] : refused) {
      counters_->rejected->WithLabelValues({"remote_write", reason})->Inc(static_cast<double>(n));
    }
  }
  if (result.samples_refused == 0) {
    count_request("success");
    return result;
  }
  count_request("partial");
  std::string reasons;
  for (const auto& [reason, n] : refused) {
    if (!reasons.empty()) reasons += ", ";
    reasons += fmt::format("{} {}", n, reason);
  }
  result.http_status = 400;
  result.message = fmt::format("{} of {} samples refused ({}); stored the other {}; first: {}",
                               result.samples_refused,
                               result.samples_refused + result.samples_stored, reasons,
                               result.samples_stored, fmt::join(examples, "; "));
  return result;
}

}  // namespace vigil::ingest

// DB: open (lock, blocks, WAL replay), appenders, merged queriers, stats, close.
// Persistence, compaction, retention, deletion and snapshots live in db_compact.cc.
#include "storage/db.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "base/log.h"
#include "base/status.h"
#include "fmt/format.h"
#include "storage/db_impl.h"
#include "storage/merge.h"
#include "storage/wal/records.h"

namespace vigil::storage {
namespace {

// Applies replayed samples on several threads while the replay thread reads and decodes
// the log. Each worker owns one shard of the series (Head::ResolveReplay decides which)
// and takes its batches in the order they were submitted, so every series gets its
// samples in log order. Replaying a 24M-sample WAL is mostly chunk appends that miss the
// cache, which spread well over cores.
class ReplayAppliers {
 public:
  ReplayAppliers(head::Head* head, size_t n) : head_(head), workers_(n) {
    for (Worker& w : workers_) w.thread = std::thread([this, &w] { Run(&w); });
  }
  ~ReplayAppliers() { Finish(); }

  size_t size() const { return workers_.size(); }

  // Hands batch i to worker i, waiting while a worker is far behind (bounded memory).
  void Submit(std::vector<std::vector<head::Head::ReplayTarget>>* batches) {
    for (size_t i = 0; i < workers_.size(); ++i) {
      std::vector<head::Head::ReplayTarget>& b = (*batches)[i];
      if (b.empty()) continue;
      Worker& w = workers_[i];
      std::unique_lock lock(w.mu);
      w.cv.wait(lock, [&] { return w.queue.size() < kMaxQueued; });
      w.queue.push_back(std::move(b));
      b = {};
      w.cv.notify_all();
    }
  }

  // Waits until every submitted batch is applied and stops the workers.
  void Finish() {
    for (Worker& w : workers_) {
      {
        std::lock_guard lock(w.mu);
        w.stop = true;
      }
      w.cv.notify_all();
    }
    for (Worker& w : workers_) {
      if (w.thread.joinable()) w.thread.join();
    }
  }

 private:
  static constexpr size_t kMaxQueued = 16;
  struct Worker {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::vector<head::Head::ReplayTarget>> queue;
    bool stop = false;
    std::thread thread;
  };

  void Run(Worker* w) {
    while (true) {
      std::vector<head::Head::ReplayTarget> batch;
      {
        std::unique_lock lock(w->mu);
        w->cv.wait(lock, [&] { return w->stop || !w->queue.empty(); });
        if (w->queue.empty()) return;  // stopped and drained
        batch = std::move(w->queue.front());
        w->queue.pop_front();
        w->cv.notify_all();
      }
      head_->ApplyReplay(batch);
    }
  }

  head::Head* head_;
  std::vector<Worker> workers_;
};

}  // namespace

// ---- WalSink ----

absl::Status WalSink::LogCommit(std::span<const head::RefSeries> series,
                                std::span<const head::RefSample> samples) {
  wal::Writer* w = writer_.load(std::memory_order_acquire);
  if (w == nullptr) return absl::FailedPreconditionError("the WAL is closed");
  thread_local std::string series_buf;
  thread_local std::string samples_buf;
  std::string_view recs[2];
  size_t n = 0;
  if (!series.empty()) {
    wal::EncodeSeries(series, &series_buf);
    recs[n++] = series_buf;
  }
  if (!samples.empty()) {
    wal::EncodeSamples(samples, &samples_buf);
    recs[n++] = samples_buf;
  }
  if (n == 0) return absl::OkStatus();
  return w->Log(std::span<const std::string_view>(recs, n));
}

absl::Status WalSink::LogTombstones(std::span<const head::RefTombstone> tombstones) {
  wal::Writer* w = writer_.load(std::memory_order_acquire);
  if (w == nullptr) return absl::FailedPreconditionError("the WAL is closed");
  std::string buf;
  wal::EncodeTombstones(tombstones, &buf);
  return w->Log(buf);
}

absl::Status WalSink::LogExemplars(std::span<const wal::RefSeries> series,
                                   std::span<const wal::RefExemplar> exemplars) {
  wal::Writer* w = writer_.load(std::memory_order_acquire);
  if (w == nullptr) return absl::FailedPreconditionError("the WAL is closed");
  std::string series_buf, exemplars_buf;
  std::string_view recs[2];
  size_t n = 0;
  if (!series.empty()) {
    wal::EncodeSeries(series, &series_buf);
    recs[n++] = series_buf;
  }
  wal::EncodeExemplars(exemplars, &exemplars_buf);
  recs[n++] = exemplars_buf;
  return w->Log(std::span<const std::string_view>(recs, n));
}

DB::~DB() = default;

// ---- DBImpl ----

DBImpl::DBImpl(const Options& opts)
    : opts_(opts), fs_(opts.fs != nullptr ? opts.fs : fs::Posix()) {
  head::HeadOptions ho;
  ho.chunk_range_ms = opts_.block_range_ms;
  ho.out_of_order_window_ms = opts_.out_of_order_window_ms;
  ho.limits = opts_.limits;
  ho.tenant_limits = opts_.tenant_limits;
  ho.wal = &sink_;
  head_ = std::make_unique<head::Head>(ho);
}

DBImpl::~DBImpl() {
  absl::Status s = Close();
  if (!s.ok()) VLOG_ERROR("db", "close {}: {}", opts_.path, std::string(s.message()));
}

std::string DBImpl::WalDir() const { return fs::JoinPath(opts_.path, "wal"); }

absl::StatusOr<std::unique_ptr<DB>> DB::Open(const Options& opts) {
  auto db = std::make_unique<DBImpl>(opts);
  RETURN_IF_ERROR(Annotate(db->OpenInternal(), fmt::format("open db {}", opts.path)));
  return std::unique_ptr<DB>(std::move(db));
}

absl::Status DBImpl::OpenInternal() {
  RETURN_IF_ERROR(fs_->MkdirAll(opts_.path));
  ASSIGN_OR_RETURN(lock_, fs_->Lock(fs::JoinPath(opts_.path, "lock")));
  RETURN_IF_ERROR(LoadBlocks());
  RETURN_IF_ERROR(ReplayWal());
  wal::WriterOptions wo;
  wo.sync = opts_.wal_sync == WalSync::kAlways ? wal::SyncPolicy::kAlways
                                                : wal::SyncPolicy::kGrouped;
  wo.sync_interval_ms = opts_.wal_sync_interval_ms;
  wo.segment_bytes = static_cast<uint64_t>(opts_.wal_segment_bytes);
  ASSIGN_OR_RETURN(wal_, wal::Writer::Open(fs_, WalDir(), wo));
  sink_.set_writer(wal_.get());
  if (opts_.background_compaction) bg_ = std::thread([this] { BackgroundLoop(); });
  return absl::OkStatus();
}

absl::Status DBImpl::ReplayWal() {
  auto start = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(fs_->MkdirAll(WalDir()));
  wal::ReaderOptions ro;
  ro.progress = [](const wal::ReplayProgress& p) {
    VLOG_INFO("db", "replaying WAL {} {}/{} ({}%)", p.checkpoint ? "checkpoint" : "segment",
              p.file, p.files, p.files == 0 ? 100 : (p.file - 1) * 100 / p.files);
  };
  ASSIGN_OR_RETURN(auto reader, wal::Reader::Open(fs_, WalDir(), ro));
  // Samples are applied by one worker per core (at most 8); the head's series creation
  // (series records) stays on this thread, which also reads and decodes.
  const size_t nworkers = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
  ReplayAppliers appliers(head_.get(), nworkers);
  std::vector<std::vector<head::Head::ReplayTarget>> shards(nworkers);
  std::vector<wal::RefSeries> series;
  std::vector<wal::RefSample> samples;
  std::vector<wal::RefTombstone> tombstones;
  std::vector<wal::RefExemplar> exemplars;
  int64_t n_series = 0, n_samples = 0, n_tombstones = 0, unknown = 0, bad_records = 0;
  int64_t n_exemplars = 0, exemplars_dropped = 0;
  while (reader->Next()) {
    absl::Status st;
    switch (reader->type()) {
      case wal::RecordType::kSeries:
        st = wal::DecodeSeries(reader->record(), &series);
        if (!st.ok()) break;
        for (const auto& s : series) head_->ReplaySeries(s.ref, s.labels);
        n_series += static_cast<int64_t>(series.size());
        break;
      case wal::RecordType::kSamples:
      case wal::RecordType::kSamplesV2:
        st = wal::DecodeSamples(reader->record(), &samples);
        if (!st.ok()) break;
        unknown += head_->ResolveReplay(samples, shards);
        appliers.Submit(&shards);
        n_samples += static_cast<int64_t>(samples.size());
        break;
      case wal::RecordType::kTombstones:
        st = wal::DecodeTombstones(reader->record(), &tombstones);
        if (!st.ok()) break;
        for (const auto& t : tombstones) head_->ReplayTombstone(t.ref, t.mint, t.maxt);
        n_tombstones += static_cast<int64_t>(tombstones.size());
        break;
      case wal::RecordType::kExemplars:
        st = wal::DecodeExemplars(reader->record(), &exemplars);
        if (!st.ok()) break;
        n_exemplars += static_cast<int64_t>(exemplars.size());
        exemplars_dropped += ReplayExemplars(exemplars);
        break;
      default:
        st = absl::DataLossError(fmt::format("unknown record type {}",
                                             static_cast<int>(reader->type())));
    }
    if (!st.ok()) {
      // A record that passed its checksum but does not decode was written by a newer or
      // broken version; skip it rather than refuse to start.
      bad_records++;
      VLOG_WARN("db", "replay WAL segment {} offset {}: skipping undecodable record: {}",
                reader->segment(), reader->offset(), std::string(st.message()));
    }
  }
  appliers.Finish();
  head_->EndReplay();
  RETURN_IF_ERROR(Annotate(reader->status(), "replay WAL"));
  if (reader->corruption().has_value()) {
    const wal::Corruption& c = *reader->corruption();
    VLOG_WARN("db", "WAL corruption: {}; cutting the log there", c.ToString());
    ASSIGN_OR_RETURN(auto res, wal::Repair(fs_, WalDir(), c));
    VLOG_WARN("db", "WAL repaired: dropped {} bytes and {} later segments", res.bytes_dropped,
              res.segments_removed);
    wal_corruptions_repaired_.fetch_add(1);
  }
  if (unknown > 0) {
    VLOG_WARN("db", "replay WAL: {} samples referred to unknown series and were dropped", unknown);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  VLOG_INFO("db",
            "replayed WAL: {} series, {} samples, {} tombstones, {} exemplars ({} not restored) "
            "({} undecodable records) in {:.2f}s ({} apply threads)",
            n_series, n_samples, n_tombstones, n_exemplars, exemplars_dropped, bad_records, secs,
            nworkers);
  return absl::OkStatus();
}

int64_t DBImpl::ReplayExemplars(std::span<const wal::RefExemplar> exemplars) {
  if (opts_.exemplars == nullptr) return static_cast<int64_t>(exemplars.size());
  int64_t dropped = 0;
  std::string tenant;
  model::Labels series;
  uint64_t labels_of = 0;  // the ref whose tenant and labels are in `tenant` and `series`
  for (const wal::RefExemplar& x : exemplars) {
    if (x.ref != labels_of) {
      labels_of = head_->ReplayLabels(x.ref, &tenant, &series) ? x.ref : 0;
    }
    if (labels_of == 0) {
      ++dropped;  // its series record was lost with a repaired tail, or never logged
      continue;
    }
    // Refusals are expected and harmless: two appenders racing on one series can log an
    // exemplar that the store then refused as out of order, and replay refuses it again.
    if (!opts_.exemplars->AppendExemplar(tenant, series, Exemplar{x.labels, x.v, x.t}).ok()) {
      ++dropped;
    }
  }
  return dropped;
}

absl::Status DBImpl::AppendExemplar(std::string_view tenant, const model::Labels& series,
                                    const Exemplar& e) {
  const SeriesExemplar one{&series, e};
  absl::Status result;
  AppendExemplars(tenant, std::span<const SeriesExemplar>(&one, 1),
                  std::span<absl::Status>(&result, 1));
  return result;
}

// Checks each exemplar against the store, logs those it will keep in one WAL write (with
// the series records of series whose first commit has not logged them yet), and only then
// stores them: an exemplar acknowledged OK is in the WAL.
void DBImpl::AppendExemplars(std::string_view tenant, std::span<const SeriesExemplar> batch,
                             std::span<absl::Status> results) {
  if (opts_.exemplars == nullptr) {
    for (absl::Status& r : results) r = absl::FailedPreconditionError("exemplar storage is off");
    return;
  }
  std::vector<wal::RefSeries> series;
  std::vector<wal::RefExemplar> logged;
  std::vector<size_t> to_store;  // indices into batch, in log order
  for (size_t i = 0; i < batch.size(); ++i) {
    const SeriesExemplar& se = batch[i];
    absl::StatusOr<bool> keep = opts_.exemplars->CheckExemplar(tenant, *se.series, se.exemplar);
    results[i] = keep.status();
    if (!keep.ok() || !*keep) continue;
    std::optional<head::Head::LoggedSeries> found = head_->FindSeries(tenant, *se.series);
    if (!found.has_value()) {
      results[i] = absl::FailedPreconditionError(fmt::format(
          "cannot store exemplar: series {} has no samples in the head", se.series->ToString()));
      continue;
    }
    if (found->unlogged.has_value() && (series.empty() || series.back().ref != found->ref)) {
      // Its commit may log it again later, which replay tolerates (same ref, same labels).
      series.push_back(std::move(*found->unlogged));
    }
    logged.push_back({found->ref, se.exemplar.t, se.exemplar.value, se.exemplar.labels});
    to_store.push_back(i);
  }
  if (logged.empty()) return;
  if (absl::Status st = sink_.LogExemplars(series, logged); !st.ok()) {
    for (size_t i : to_store) {
      results[i] = absl::UnavailableError(
          fmt::format("cannot log exemplar to the WAL: {}", std::string(st.message())));
    }
    return;
  }
  for (size_t i : to_store) {
    results[i] = opts_.exemplars->AppendExemplar(tenant, *batch[i].series, batch[i].exemplar);
  }
}

std::unique_ptr<Appender> DBImpl::NewAppender(std::string_view tenant) {
  return head_->NewAppender(tenant);
}

// A querier over the blocks and the head as of its creation. The head may be truncated
// while the querier lives (its oldest data persisted into a new block); rather than make
// truncation wait for readers, the querier notices that the head's persisted boundary
// moved and also reads the blocks written since, so no sample disappears from under it.
// Overlaps between sources are removed by the merge (equal timestamps are deduplicated).
class DBQuerier final : public Querier {
 public:
  DBQuerier(DBImpl* db, std::string_view tenant, int64_t mint, int64_t maxt)
      : db_(db), tenant_(tenant), mint_(mint), maxt_(maxt) {
    seen_persisted_ = db_->head_->min_valid_time();
    for (auto& b : db_->Blocks()) AddBlock(std::move(b));
    head_q_ = db_->head_->NewQuerier(tenant, mint, maxt);
  }

  std::unique_ptr<SeriesSet> Select(bool sorted, const SelectHints& hints,
                                    const model::Matchers& matchers) override {
    std::vector<Querier*> qs = Sources();
    if (qs.size() == 1) return qs[0]->Select(sorted, hints, matchers);
    std::vector<std::unique_ptr<SeriesSet>> sets;
    sets.reserve(qs.size());
    for (Querier* q : qs) sets.push_back(q->Select(/*sorted=*/true, hints, matchers));
    return NewMergeSeriesSet(std::move(sets));
  }

  absl::StatusOr<std::vector<std::string>> LabelValues(std::string_view name,
                                                       const model::Matchers& matchers) override {
    std::vector<std::vector<std::string>> lists;
    for (Querier* q : Sources()) {
      ASSIGN_OR_RETURN(auto v, q->LabelValues(name, matchers));
      lists.push_back(std::move(v));
    }
    return SortedUnion(std::move(lists));
  }

  absl::StatusOr<std::vector<std::string>> LabelNames(const model::Matchers& matchers) override {
    std::vector<std::vector<std::string>> lists;
    for (Querier* q : Sources()) {
      ASSIGN_OR_RETURN(auto v, q->LabelNames(matchers));
      lists.push_back(std::move(v));
    }
    return SortedUnion(std::move(lists));
  }

 private:
  bool Overlaps(const block::BlockMeta& m, int64_t mint, int64_t maxt) const {
    return m.max_time > mint && m.min_time <= maxt;
  }

  void AddBlock(std::shared_ptr<BlockHandle> b) {
    if (!Overlaps(b->block->meta(), mint_, maxt_)) return;
    block_qs_.push_back(b->block->Querier(tenant_, mint_, maxt_));
    blocks_.push_back(std::move(b));
  }

  // Blocks (oldest first) then the head, catching up with blocks persisted since.
  std::vector<Querier*> Sources() {
    std::lock_guard lock(mu_);
    int64_t persisted = db_->head_->min_valid_time();
    if (persisted > seen_persisted_) {
      for (auto& b : db_->Blocks()) {
        const auto& m = b->block->meta();
        bool known = std::find(blocks_.begin(), blocks_.end(), b) != blocks_.end();
        if (!known && Overlaps(m, seen_persisted_, persisted - 1)) AddBlock(std::move(b));
      }
      seen_persisted_ = persisted;
    }
    std::vector<Querier*> out;
    out.reserve(block_qs_.size() + 1);
    for (auto& q : block_qs_) out.push_back(q.get());
    out.push_back(head_q_.get());
    return out;
  }

  DBImpl* db_;
  std::string tenant_;
  int64_t mint_;
  int64_t maxt_;
  std::mutex mu_;
  int64_t seen_persisted_;  // guarded by mu_
  // Keep the blocks (and so their files) alive while their queriers may be read.
  std::vector<std::shared_ptr<BlockHandle>> blocks_;
  std::vector<std::unique_ptr<Querier>> block_qs_;
  std::unique_ptr<Querier> head_q_;
};

absl::StatusOr<std::unique_ptr<Querier>> DBImpl::NewQuerier(std::string_view tenant,
                                                            int64_t mint, int64_t maxt) {
  return std::unique_ptr<Querier>(new DBQuerier(this, tenant, mint, maxt));
}

Stats DBImpl::GetStats() const {
  Stats s;
  head::HeadStats hs = head_->Stats();
  s.head_series = hs.series;
  s.head_chunks = hs.chunks;
  s.head_min_time = hs.series > 0 && hs.min_time != model::kMaxTime ? hs.min_time : 0;
  s.head_max_time = hs.series > 0 && hs.max_time != model::kMinTime ? hs.max_time : 0;
  s.samples_appended = hs.samples_appended;
  s.series_created = hs.series_created;
  s.series_removed = hs.series_removed;
  for (int i = 0; i < 8; i++) s.samples_rejected[i] = hs.samples_rejected[i];
  if (wal_ != nullptr) {
    wal::WriterStats ws = wal_->stats();
    s.wal_bytes = ws.bytes_written;
    s.wal_fsyncs = ws.fsyncs;
    auto segs = wal_->Segments();
    if (segs.ok() && !segs->empty()) s.wal_segments = segs->last - segs->first + 1;
  }
  s.wal_corruptions_repaired = wal_corruptions_repaired_.load();
  s.head_persisted = head_persisted_.load();
  s.compactions = compactions_.load();
  s.compactions_failed = compactions_failed_.load();
  s.retention_deleted_blocks = retention_deleted_blocks_.load();
  FillBlockStats(&s);
  return s;
}

TsdbStatus DBImpl::GetTsdbStatus(std::string_view tenant, int limit) const {
  return head_->Status(tenant, limit);
}

void DBImpl::SetLimits(const Limits& defaults, const TenantLimits& per_tenant) {
  head_->SetLimits(defaults, per_tenant);
}

std::vector<std::pair<std::string, int64_t>> DBImpl::HeadSeriesByTenant() const {
  return head_->SeriesByTenant();
}

void DBImpl::BackgroundLoop() {
  std::unique_lock lock(bg_mu_);
  while (!bg_stop_) {
    bg_cv_.wait_for(lock, std::chrono::seconds(1));
    if (bg_stop_) break;
    lock.unlock();
    absl::Status s = Compact();
    if (!s.ok()) VLOG_ERROR("db", "background compaction: {}", std::string(s.message()));
    lock.lock();
  }
}

absl::Status DBImpl::Close() {
  std::lock_guard close_lock(close_mu_);
  if (closed_) return absl::OkStatus();
  closed_ = true;
  {
    std::lock_guard lock(bg_mu_);
    bg_stop_ = true;
  }
  bg_cv_.notify_all();
  if (bg_.joinable()) bg_.join();
  absl::Status st;
  if (wal_ != nullptr) {
    sink_.set_writer(nullptr);
    st = Annotate(wal_->Close(), "close WAL");
  }
  CloseBlocks();
  lock_.reset();
  return st;
}

}  // namespace vigil::storage

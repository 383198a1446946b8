// DB background work: loading blocks, persisting the head into blocks, compaction,
// retention, deletion, tombstone cleaning and snapshots.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <random>

#include "base/log.h"
#include "base/status.h"
#include "fmt/format.h"
#include "storage/block/compact.h"
#include "storage/block/writer.h"
#include "storage/chunkenc/xor.h"
#include "storage/db_impl.h"

namespace vigil::storage {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Floor division, so pre-epoch timestamps land in the right aligned window.
int64_t AlignDown(int64_t t, int64_t range) {
  int64_t q = t / range;
  if (t < 0 && t % range != 0) q--;
  return q * range;
}

// The head's series in a time range as the block writer's input. Series whose data is
// exactly their chunks are passed through; series with out-of-order samples or
// tombstones are re-encoded through the head's iterator, which merges and filters them.
class HeadChunkSeriesSet final : public block::ChunkSeriesSet {
 public:
  explicit HeadChunkSeriesSet(std::vector<std::shared_ptr<const head::SeriesData>> series)
      : series_(std::move(series)) {}

  bool Next() override {
    while (i_ < series_.size()) {
      const auto& d = series_[i_++];
      cur_.labels = d->labels;
      cur_.chunks.clear();
      if (d->ooo.empty() && d->tombstones.empty()) {
        for (const auto& c : d->chunks) {
          cur_.chunks.push_back(
              block::ChunkMeta{c.mint, c.maxt, d->Encoding(c), std::string(d->Bytes(c))});
        }
      } else {
        Reencode(d);
      }
      if (!cur_.chunks.empty()) return true;
    }
    return false;
  }
  const block::ChunkSeries& At() const override { return cur_; }
  absl::Status Err() const override { return err_; }

 private:
  void Reencode(const std::shared_ptr<const head::SeriesData>& d) {
    auto it = head::NewSeriesIterator(d);
    chunkenc::XorChunk chunk;
    std::unique_ptr<chunkenc::Appender> app;
    block::ChunkMeta meta;
    int n = 0;
    auto flush = [&] {
      if (n == 0) return;
      meta.encoding = chunkenc::Encoding::kXor;
      meta.bytes = std::string(chunk.bytes());
      cur_.chunks.push_back(std::move(meta));
      chunk = chunkenc::XorChunk();
      app.reset();
      n = 0;
    };
    while (it->Next()) {
      model::Sample s = it->At();
      if (n == 120) flush();
      if (n == 0) {
        app = std::move(chunk.NewAppender()).value();
        meta = block::ChunkMeta{};
        meta.mint = s.t;
      }
      app->Append(s.t, s.v);
      meta.maxt = s.t;
      n++;
    }
    flush();
    if (!it->Err().ok()) err_ = it->Err();
  }

  std::vector<std::shared_ptr<const head::SeriesData>> series_;
  size_t i_ = 0;
  block::ChunkSeries cur_;
  absl::Status err_;
};

bool IsUlidName(const std::string& name) { return block::Ulid::Parse(name).ok(); }

}  // namespace

// ---- BlockHandle ----

BlockHandle::~BlockHandle() {
  std::string dir = block->dir();
  block.reset();  // unmap before removing
  if (remove_on_release.load()) {
    absl::Status s = fs->RemoveAll(dir);
    if (!s.ok()) VLOG_ERROR("db", "remove block {}: {}", dir, std::string(s.message()));
  }
}

// ---- loading ----

absl::Status DBImpl::LoadBlocks() {
  ASSIGN_OR_RETURN(auto names, fs_->ListDir(opts_.path));
  std::vector<std::shared_ptr<BlockHandle>> loaded;
  for (const auto& n : names) {
    std::string dir = fs::JoinPath(opts_.path, n);
    if (n.ends_with(".tmp")) {
      // An interrupted block write or compaction: never complete, never referenced.
      VLOG_INFO("db", "removing unfinished block directory {}", dir);
      RETURN_IF_ERROR(fs_->RemoveAll(dir));
      continue;
    }
    if (!IsUlidName(n)) continue;
    auto b = block::Block::Open(fs_, dir);
    if (!b.ok()) {
      std::string aside = dir + ".corrupted";
      VLOG_ERROR("db", "cannot open block {}: {}; moving it aside to {}", dir,
                 std::string(b.status().message()), aside);
      RETURN_IF_ERROR(fs_->Rename(dir, aside));
      continue;
    }
    auto h = std::make_shared<BlockHandle>();
    h->fs = fs_;
    h->block = std::move(b).value();
    loaded.push_back(std::move(h));
  }
  // A compaction that crashed after writing its output but before deleting its inputs
  // leaves both: drop blocks whose sources are all covered by a higher-level block.
  std::vector<std::shared_ptr<BlockHandle>> live;
  for (const auto& b : loaded) {
    const block::BlockMeta& m = b->block->meta();
    bool covered = false;
    for (const auto& c : loaded) {
      const block::BlockMeta& cm = c->block->meta();
      if (c == b || cm.level <= m.level) continue;
      covered = std::all_of(m.sources.begin(), m.sources.end(), [&](const block::Ulid& u) {
        return std::find(cm.sources.begin(), cm.sources.end(), u) != cm.sources.end();
      });
      if (covered) break;
    }
    if (covered) {
      VLOG_INFO("db", "removing block {}: already compacted into a newer block",
                b->block->dir());
      b->remove_on_release = true;
      continue;
    }
    live.push_back(b);
  }
  SortBlocks(&live);
  int64_t max_time = model::kMinTime;
  for (const auto& b : live) max_time = std::max(max_time, b->block->meta().max_time);
  {
    std::lock_guard lock(mu_);
    blocks_ = std::move(live);
  }
  if (max_time != model::kMinTime) head_->Truncate(max_time);
  VLOG_INFO("db", "loaded {} blocks", blocks_.size());
  return absl::OkStatus();
}

void DBImpl::SortBlocks(std::vector<std::shared_ptr<BlockHandle>>* blocks) {
  std::sort(blocks->begin(), blocks->end(), [](const auto& a, const auto& b) {
    const auto& am = a->block->meta();
    const auto& bm = b->block->meta();
    return am.min_time != bm.min_time ? am.min_time < bm.min_time : am.ulid < bm.ulid;
  });
}

std::vector<std::shared_ptr<BlockHandle>> DBImpl::Blocks() const {
  std::lock_guard lock(mu_);
  return blocks_;
}

void DBImpl::FillBlockStats(Stats* s) const {
  auto blocks = Blocks();
  s->blocks = static_cast<int64_t>(blocks.size());
  for (const auto& b : blocks) s->blocks_bytes += static_cast<int64_t>(b->block->size_bytes());
  if (!blocks.empty()) s->oldest_block_min_time = blocks.front()->block->meta().min_time;
}

void DBImpl::CloseBlocks() {
  std::lock_guard lock(mu_);
  blocks_.clear();
}

// Replaces `old` blocks by `added` in the live list; the old ones are removed from disk
// once the last querier reading them is gone.
void DBImpl::SwapBlocks(const std::vector<std::shared_ptr<BlockHandle>>& old,
                        std::vector<std::shared_ptr<BlockHandle>> added) {
  std::lock_guard lock(mu_);
  for (const auto& o : old) {
    o->remove_on_release = true;
    blocks_.erase(std::remove(blocks_.begin(), blocks_.end(), o), blocks_.end());
  }
  for (auto& a : added) blocks_.push_back(std::move(a));
  SortBlocks(&blocks_);
}

absl::StatusOr<std::shared_ptr<BlockHandle>> DBImpl::OpenBlock(const block::Ulid& id) {
  std::string dir = fs::JoinPath(opts_.path, id.ToString());
  ASSIGN_OR_RETURN(auto b, block::Block::Open(fs_, dir));
  auto h = std::make_shared<BlockHandle>();
  h->fs = fs_;
  h->block = std::move(b);
  return h;
}

// ---- head persistence ----

absl::Status DBImpl::PersistHeadRange(int64_t mint, int64_t maxt) {
  auto start = Clock::now();
  auto series = head_->SeriesInRange(mint, maxt - 1);
  size_t n = series.size();
  if (n > 0) {
    HeadChunkSeriesSet set(std::move(series));
    ASSIGN_OR_RETURN(block::Ulid id, block::Write(fs_, opts_.path, set, mint, maxt));
    ASSIGN_OR_RETURN(auto h, OpenBlock(id));
    VLOG_INFO("db", "persisted head [{}, {}) into block {}: {} series, {} samples in {:.2f}s",
              mint, maxt, id.ToString(), h->block->meta().num_series,
              h->block->meta().num_samples, SecondsSince(start));
    SwapBlocks({}, {std::move(h)});
  }
  head_persisted_.fetch_add(1);
  int64_t removed = head_->Truncate(maxt);
  VLOG_INFO("db", "truncated head before {}: {} series removed", maxt, removed);
  return TruncateWal(maxt);
}

absl::Status DBImpl::TruncateWal(int64_t min_time) {
  if (wal_ == nullptr) return absl::OkStatus();
  auto start = Clock::now();
  ASSIGN_OR_RETURN(uint32_t last, wal_->NextSegment());
  ASSIGN_OR_RETURN(
      wal::CheckpointStats cs,
      wal::Checkpoint(fs_, WalDir(), last, [this](uint64_t ref) { return head_->SeriesExists(ref); },
                      min_time));
  VLOG_INFO("db",
            "WAL checkpoint through segment {}: kept {} series, {} samples; dropped {} series, "
            "{} samples; removed {} segments in {:.2f}s",
            last, cs.series_kept, cs.samples_kept, cs.series_dropped, cs.samples_dropped,
            cs.segments_removed, SecondsSince(start));
  return absl::OkStatus();
}

absl::Status DBImpl::PersistDueHeadLocked() {
  const int64_t range = opts_.block_range_ms;
  for (;;) {
    int64_t hmin = std::max(head_->MinTime(), head_->min_valid_time());
    int64_t hmax = head_->MaxTime();
    if (hmin == model::kMaxTime || hmax == model::kMinTime) return absl::OkStatus();
    // Persist only when the head spans more than 1.5 block ranges, so the newest data
    // stays in memory (and out-of-order samples can still land in it).
    if (hmax - hmin <= range + range / 2) return absl::OkStatus();
    int64_t mint = AlignDown(hmin, range);
    RETURN_IF_ERROR(PersistHeadRange(mint, mint + range));
  }
}

absl::Status DBImpl::FlushHead() {
  std::lock_guard lock(compact_mu_);
  const int64_t range = opts_.block_range_ms;
  for (;;) {
    int64_t hmin = std::max(head_->MinTime(), head_->min_valid_time());
    int64_t hmax = head_->MaxTime();
    if (hmin == model::kMaxTime || hmax == model::kMinTime || hmin > hmax) break;
    int64_t mint = AlignDown(hmin, range);
    // The last window ends just after the newest sample rather than at the boundary, so
    // samples after it are still accepted.
    int64_t maxt = std::min(mint + range, hmax + 1);
    RETURN_IF_ERROR(PersistHeadRange(mint, maxt));
  }
  return absl::OkStatus();
}

// ---- compaction and retention ----

std::vector<int64_t> DBImpl::CompactionRanges() const {
  int64_t cap = 31LL * 24 * 3600 * 1000;
  if (opts_.retention_ms > 0) cap = std::min(cap, opts_.retention_ms / 10);
  std::vector<int64_t> ranges;
  for (int64_t r = opts_.block_range_ms * 3; r <= cap; r *= 3) ranges.push_back(r);
  return ranges;
}

absl::Status DBImpl::CompactBlocksLocked() {
  // Windows whose end is at or before this will receive no new blocks.
  const int64_t persisted = head_->min_valid_time();
  for (int64_t r : CompactionRanges()) {
    for (;;) {
      auto blocks = Blocks();
      std::vector<std::shared_ptr<BlockHandle>> group;
      for (size_t i = 0; i < blocks.size() && group.size() < 2; i++) {
        const auto& m = blocks[i]->block->meta();
        int64_t w = AlignDown(m.min_time, r);
        if (m.max_time > w + r || w + r > persisted) continue;  // not inside / not complete
        group.clear();
        for (const auto& b : blocks) {
          const auto& bm = b->block->meta();
          if (bm.min_time >= w && bm.max_time <= w + r) group.push_back(b);
        }
      }
      if (group.size() < 2) break;
      auto start = Clock::now();
      std::vector<block::Block*> inputs;
      for (const auto& g : group) inputs.push_back(g->block.get());
      auto id = block::Compact(fs_, opts_.path, inputs);
      if (!id.ok()) {
        compactions_failed_.fetch_add(1);
        return Annotate(id.status(), "compact blocks");
      }
      ASSIGN_OR_RETURN(auto h, OpenBlock(*id));
      VLOG_INFO("db", "compacted {} blocks into {} [{}, {}) level {} in {:.2f}s", group.size(),
                id->ToString(), h->block->meta().min_time, h->block->meta().max_time,
                h->block->meta().level, SecondsSince(start));
      SwapBlocks(group, {std::move(h)});
      compactions_.fetch_add(1);
    }
  }
  return absl::OkStatus();
}

absl::Status DBImpl::ApplyRetentionLocked() {
  auto blocks = Blocks();
  if (blocks.empty()) return absl::OkStatus();
  std::vector<std::shared_ptr<BlockHandle>> drop;
  if (opts_.retention_ms > 0) {
    int64_t newest = head_->MaxTime();
    for (const auto& b : blocks) newest = std::max(newest, b->block->meta().max_time);
    for (const auto& b : blocks) {
      if (b->block->meta().max_time <= newest - opts_.retention_ms) drop.push_back(b);
    }
  }
  if (opts_.retention_bytes > 0) {
    int64_t total = 0;
    for (const auto& b : blocks) total += static_cast<int64_t>(b->block->size_bytes());
    for (const auto& b : blocks) {  // oldest first
      if (total <= opts_.retention_bytes) break;
      total -= static_cast<int64_t>(b->block->size_bytes());
      if (std::find(drop.begin(), drop.end(), b) == drop.end()) drop.push_back(b);
    }
  }
  for (const auto& b : drop) {
    VLOG_INFO("db", "retention: deleting block {} [{}, {}) ({} bytes)", b->block->dir(),
              b->block->meta().min_time, b->block->meta().max_time, b->block->size_bytes());
  }
  if (!drop.empty()) {
    SwapBlocks(drop, {});
    retention_deleted_blocks_.fetch_add(static_cast<int64_t>(drop.size()));
  }
  return absl::OkStatus();
}

absl::Status DBImpl::Compact() {
  std::lock_guard lock(compact_mu_);
  auto start = Clock::now();
  int64_t saved = head_->RecodeChunks();
  if (saved > (1 << 20)) VLOG_DEBUG("db", "re-encoded head chunks: {} bytes saved", saved);
  RETURN_IF_ERROR(Annotate(PersistDueHeadLocked(), "persist head"));
  RETURN_IF_ERROR(CompactBlocksLocked());
  RETURN_IF_ERROR(Annotate(ApplyRetentionLocked(), "retention"));
  double secs = SecondsSince(start);
  if (secs > 1) VLOG_INFO("db", "compaction round took {:.2f}s", secs);
  return absl::OkStatus();
}

// ---- deletion ----

absl::Status DBImpl::Delete(std::string_view tenant, int64_t mint, int64_t maxt,
                            const model::Matchers& matchers) {
  RETURN_IF_ERROR(Annotate(head_->Delete(tenant, mint, maxt, matchers), "delete from head"));
  for (const auto& b : Blocks()) {
    const auto& m = b->block->meta();
    if (m.max_time <= mint || m.min_time > maxt) continue;
    RETURN_IF_ERROR(Annotate(b->block->Delete(tenant, matchers, mint, maxt),
                             fmt::format("delete from block {}", b->block->dir())));
  }
  return absl::OkStatus();
}

absl::Status DBImpl::CleanTombstones() {
  std::lock_guard lock(compact_mu_);
  for (const auto& b : Blocks()) {
    if (b->block->tombstones()->empty()) continue;
    auto start = Clock::now();
    const auto& m = b->block->meta();
    auto set = b->block->ChunkSeries();
    block::WriteOptions wo;
    wo.level = m.level;
    wo.sources = m.sources;
    ASSIGN_OR_RETURN(block::Ulid id, block::Write(fs_, opts_.path, *set, m.min_time, m.max_time, wo));
    ASSIGN_OR_RETURN(auto h, OpenBlock(id));
    VLOG_INFO("db", "rewrote block {} without tombstones as {} in {:.2f}s", b->block->dir(),
              id.ToString(), SecondsSince(start));
    SwapBlocks({b}, {std::move(h)});
  }
  return absl::OkStatus();
}

// ---- snapshots ----

absl::Status DBImpl::LinkTree(const std::string& from, const std::string& to) {
  RETURN_IF_ERROR(fs_->MkdirAll(to));
  ASSIGN_OR_RETURN(auto names, fs_->ListDir(from));
  for (const auto& n : names) {
    std::string src = fs::JoinPath(from, n);
    std::string dst = fs::JoinPath(to, n);
    ASSIGN_OR_RETURN(bool dir, fs_->IsDir(src));
    if (dir) {
      RETURN_IF_ERROR(LinkTree(src, dst));
    } else {
      RETURN_IF_ERROR(fs_->Link(src, dst));
    }
  }
  return fs_->SyncDir(to);
}

absl::StatusOr<std::string> DBImpl::Snapshot(bool skip_head) {
  std::lock_guard lock(compact_mu_);
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char ts[32];
  std::strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
  std::random_device rd;
  std::string name = fmt::format("{}-{:016x}", ts, (uint64_t{rd()} << 32) | rd());
  std::string dir = fs::JoinPath(fs::JoinPath(opts_.path, "snapshots"), name);
  RETURN_IF_ERROR(fs_->MkdirAll(dir));
  for (const auto& b : Blocks()) {
    std::string base = b->block->dir().substr(b->block->dir().find_last_of('/') + 1);
    RETURN_IF_ERROR(Annotate(LinkTree(b->block->dir(), fs::JoinPath(dir, base)),
                             fmt::format("snapshot block {}", base)));
  }
  if (!skip_head) {
    int64_t hmin = std::max(head_->MinTime(), head_->min_valid_time());
    int64_t hmax = head_->MaxTime();
    if (hmin != model::kMaxTime && hmax != model::kMinTime && hmin <= hmax) {
      HeadChunkSeriesSet set(head_->SeriesInRange(hmin, hmax));
      RETURN_IF_ERROR(Annotate(block::Write(fs_, dir, set, hmin, hmax + 1).status(),
                               "snapshot head"));
    }
  }
  RETURN_IF_ERROR(fs_->SyncDir(dir));
  VLOG_INFO("db", "snapshot {} written", dir);
  return name;
}

}  // namespace vigil::storage

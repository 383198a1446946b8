#include "storage/block/block.h"

#include <algorithm>

#include "base/crc32c.h"
#include "base/encoding.h"
#include "base/status.h"
#include "fmt/format.h"
#include "storage/block/block_format.h"
#include "storage/chunkenc/block_codec.h"
#include "storage/index/index_format.h"

namespace vigil::storage::block {
namespace {

using index::PostingsPtr;

// Series with a value `m` accepts (m must not accept the empty string).
PostingsPtr PostingsForMatcher(const index::IndexReader& ir, const model::Matcher& m) {
  if (m.type() == model::MatchType::kEqual) return ir.Postings(m.name(), m.value());
  std::vector<PostingsPtr> its;
  if (m.type() == model::MatchType::kRegexMatch && !m.set_matches().empty()) {
    for (const auto& v : m.set_matches()) its.push_back(ir.Postings(m.name(), v));
    return index::Merge(std::move(its));
  }
  for (auto v : ir.LabelValues(m.name())) {
    if (m.Matches(v)) its.push_back(ir.Postings(m.name(), v));
  }
  return index::Merge(std::move(its));
}

// Series with a value `m` rejects (for matchers that accept the empty string, whose
// result is "every series except these").
PostingsPtr InversePostingsForMatcher(const index::IndexReader& ir, const model::Matcher& m) {
  if (m.type() == model::MatchType::kNotEqual) return ir.Postings(m.name(), m.value());
  std::vector<PostingsPtr> its;
  for (auto v : ir.LabelValues(m.name())) {
    if (!m.Matches(v)) its.push_back(ir.Postings(m.name(), v));
  }
  return index::Merge(std::move(its));
}

model::Matchers WithTenant(const model::Matchers& ms, std::string_view tenant) {
  model::Matchers out = ms;
  out.push_back(model::Matcher::MustMake(model::MatchType::kEqual, kTenantLabel, tenant));
  return out;
}

void StripTenant(model::Labels* l) {
  auto& v = l->mutable_vec();
  v.erase(std::remove_if(v.begin(), v.end(), [](const model::Label& x) { return x.name == kTenantLabel; }),
          v.end());
}

bool FullyDeleted(const Intervals& del, int64_t mint, int64_t maxt) {
  for (const auto& iv : del) {
    if (iv.mint <= mint && iv.maxt >= maxt) return true;
  }
  return false;
}

class BlockSeriesIterator final : public SampleIterator {
 public:
  BlockSeriesIterator(const Block* b, std::vector<index::ChunkMetaRef> chunks, Intervals del,
                      int64_t mint, int64_t maxt)
      : b_(b), chunks_(std::move(chunks)), del_(std::move(del)), mint_(mint), maxt_(maxt) {}

  bool Next() override {
    if (done_) return false;
    if (have_) {
      if (at_.t == model::kMaxTime) return Finish();
      return Step(at_.t + 1, false);
    }
    return Step(mint_, false);
  }

  bool Seek(int64_t t) override {
    if (done_) return false;
    if (have_ && at_.t >= t) return true;
    int64_t target = std::max(t, mint_);
    if (cur_ && chunks_[next_ - 1].maxt < target) cur_.reset();
    return Step(target, true);
  }

  model::Sample At() const override { return at_; }
  absl::Status Err() const override { return err_; }

  void AppendRange(int64_t mint, int64_t maxt, std::vector<model::Sample>* out) override {
    if (have_ || done_ || cur_) {
      SampleIterator::AppendRange(mint, maxt, out);
      return;
    }
    done_ = true;
    int64_t lo = std::max(mint, mint_);
    maxt = std::min(maxt, maxt_);
    const size_t first = out->size();
    for (const index::ChunkMetaRef& meta : chunks_) {
      if (lo > maxt || meta.mint > maxt) break;
      if (meta.maxt < lo) continue;
      auto c = b_->Chunk(meta.ref);
      if (!c.ok()) {
        err_ = c.status();
        return;
      }
      auto it = chunkenc::NewIterator(c->first, c->second);
      it->AppendRange(lo, maxt, out);
      if (!it->Err().ok()) {
        err_ = Annotate(it->Err(), fmt::format("block {}", b_->meta().ulid.ToString()));
        return;
      }
      // As Next(), a later chunk contributes only samples after those already taken.
      if (out->size() > first) {
        if (out->back().t == model::kMaxTime) break;
        lo = out->back().t + 1;
      }
    }
    if (!del_.empty()) {
      out->erase(std::remove_if(out->begin() + static_cast<std::ptrdiff_t>(first), out->end(),
                                [&](const model::Sample& s) { return IsDeleted(del_, s.t); }),
                 out->end());
    }
  }

 private:
  bool Finish() {
    done_ = true;
    return false;
  }

  // Moves to the next live sample; a freshly opened chunk (or `seek`) starts at `target`.
  bool Step(int64_t target, bool seek) {
    for (;;) {
      if (!cur_) {
        while (next_ < chunks_.size() && chunks_[next_].maxt < target) ++next_;
        if (next_ >= chunks_.size()) return Finish();
        auto c = b_->Chunk(chunks_[next_++].ref);
        if (!c.ok()) {
          err_ = c.status();
          return Finish();
        }
        cur_ = chunkenc::NewIterator(c->first, c->second);
        seek = true;
      }
      bool ok = seek ? cur_->Seek(target) : cur_->Next();
      seek = false;
      if (!ok) {
        if (!cur_->Err().ok()) {
          err_ = Annotate(cur_->Err(), fmt::format("block {}", b_->meta().ulid.ToString()));
          return Finish();
        }
        cur_.reset();
        continue;
      }
      model::Sample s = cur_->At();
      if (s.t > maxt_) return Finish();
      if (!del_.empty() && IsDeleted(del_, s.t)) continue;
      at_ = s;
      have_ = true;
      return true;
    }
  }

  const Block* b_;
  std::vector<index::ChunkMetaRef> chunks_;
  Intervals del_;
  int64_t mint_, maxt_;
  size_t next_ = 0;  // next chunk to open
  std::unique_ptr<chunkenc::Iterator> cur_;
  model::Sample at_{0, 0};
  bool have_ = false;
  bool done_ = false;
  absl::Status err_;
};

class BlockSeries final : public Series {
 public:
  BlockSeries(const Block* b, model::Labels labels, std::vector<index::ChunkMetaRef> chunks,
              Intervals del, int64_t mint, int64_t maxt)
      : b_(b), labels_(std::move(labels)), chunks_(std::move(chunks)), del_(std::move(del)),
        mint_(mint), maxt_(maxt) {}
  const model::Labels& labels() const override { return labels_; }
  std::unique_ptr<SampleIterator> Iterator() const override {
    return std::make_unique<BlockSeriesIterator>(b_, chunks_, del_, mint_, maxt_);
  }

 private:
  const Block* b_;
  model::Labels labels_;
  std::vector<index::ChunkMetaRef> chunks_;
  Intervals del_;
  int64_t mint_, maxt_;
};

class VectorSeriesSet final : public SeriesSet {
 public:
  VectorSeriesSet(std::vector<std::unique_ptr<BlockSeries>> s, absl::Status err)
      : s_(std::move(s)), err_(std::move(err)) {}
  bool Next() override { return ++i_ < s_.size(); }
  const Series& At() const override { return *s_[i_]; }
  absl::Status Err() const override { return err_; }

 private:
  std::vector<std::unique_ptr<BlockSeries>> s_;
  size_t i_ = static_cast<size_t>(-1);
  absl::Status err_;
};

class BlockQuerier final : public storage::Querier {
 public:
  BlockQuerier(const Block* b, std::string tenant, int64_t mint, int64_t maxt)
      : b_(b), tenant_(std::move(tenant)), mint_(mint), maxt_(maxt), tomb_(b->tombstones()) {}

  std::unique_ptr<SeriesSet> Select(bool sorted, const SelectHints&,
                                    const model::Matchers& matchers) override {
    std::vector<std::unique_ptr<BlockSeries>> out;
    auto ids = Ids(matchers);
    if (!ids.ok()) return std::make_unique<VectorSeriesSet>(std::move(out), ids.status());
    const auto& ir = b_->index();
    if (mint_ > maxt_ || b_->meta().max_time <= mint_ || b_->meta().min_time > maxt_) {
      return std::make_unique<VectorSeriesSet>(std::move(out), absl::OkStatus());
    }
    model::Labels labels;
    std::vector<index::ChunkMetaRef> chunks;
    for (uint64_t id : *ids) {
      if (auto s = ir.Series(id, &labels, &chunks); !s.ok()) {
        return std::make_unique<VectorSeriesSet>(
            std::vector<std::unique_ptr<BlockSeries>>{},
            Annotate(s, fmt::format("block {}", b_->meta().ulid.ToString())));
      }
      const Intervals& del = tomb_->Get(id);
      std::vector<index::ChunkMetaRef> keep;
      for (const auto& c : chunks) {
        if (c.maxt < mint_ || c.mint > maxt_) continue;
        if (!del.empty() && FullyDeleted(del, std::max(c.mint, mint_), std::min(c.maxt, maxt_))) continue;
        keep.push_back(c);
      }
      if (keep.empty()) continue;
      StripTenant(&labels);
      out.push_back(std::make_unique<BlockSeries>(b_, labels, std::move(keep), del, mint_, maxt_));
    }
    if (sorted) {
      std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->labels() < b->labels(); });
    }
    return std::make_unique<VectorSeriesSet>(std::move(out), absl::OkStatus());
  }

  absl::StatusOr<std::vector<std::string>> LabelValues(std::string_view name,
                                                       const model::Matchers& matchers) override {
    std::vector<std::string> out;
    if (name == kTenantLabel) return out;
    ASSIGN_OR_RETURN(auto ids, Ids(matchers));
    const auto& ir = b_->index();
    for (auto v : ir.LabelValues(name)) {
      std::vector<PostingsPtr> its;
      its.push_back(ir.Postings(name, v));
      its.push_back(index::NewListPostingsView(ids));
      auto p = index::Intersect(std::move(its));
      if (p->Next()) out.emplace_back(v);
      RETURN_IF_ERROR(p->Err());
    }
    return out;
  }

  absl::StatusOr<std::vector<std::string>> LabelNames(const model::Matchers& matchers) override {
    std::vector<std::string> out;
    ASSIGN_OR_RETURN(auto ids, Ids(matchers));
    const auto& ir = b_->index();
    for (auto name : ir.LabelNames()) {
      if (name == kTenantLabel) continue;
      std::vector<PostingsPtr> values;
      for (auto v : ir.LabelValues(name)) values.push_back(ir.Postings(name, v));
      std::vector<PostingsPtr> its;
      its.push_back(index::Merge(std::move(values)));
      its.push_back(index::NewListPostingsView(ids));
      auto p = index::Intersect(std::move(its));
      if (p->Next()) out.emplace_back(name);
      RETURN_IF_ERROR(p->Err());
    }
    return out;
  }

 private:
  absl::StatusOr<std::vector<uint64_t>> Ids(const model::Matchers& matchers) {
    auto p = PostingsForMatchers(b_->index(), WithTenant(matchers, tenant_));
    auto ids = index::ExpandPostings(*p);
    if (!ids.ok()) return Annotate(ids.status(), fmt::format("block {}", b_->meta().ulid.ToString()));
    return ids;
  }

  const Block* b_;
  std::string tenant_;
  int64_t mint_, maxt_;
  std::shared_ptr<const Tombstones> tomb_;
};

// Every series of a block with its chunks; series with tombstones are re-encoded without
// the deleted samples.
class BlockChunkSeriesSet final : public ChunkSeriesSet {
 public:
  explicit BlockChunkSeriesSet(const Block* b) : b_(b), tomb_(b->tombstones()) {}

  bool Next() override {
    const auto& ir = b_->index();
    while (err_.ok() && next_ < ir.num_series()) {
      uint64_t id = next_++;
      std::vector<index::ChunkMetaRef> refs;
      if (auto s = ir.Series(id, &cur_.labels, &refs); !s.ok()) return Fail(s);
      cur_.chunks.clear();
      const Intervals& del = tomb_->Get(id);
      std::vector<model::Sample> kept;
      for (const auto& r : refs) {
        auto c = b_->Chunk(r.ref);
        if (!c.ok()) return Fail(c.status());
        if (del.empty()) {
          cur_.chunks.push_back({r.mint, r.maxt, c->first, std::string(c->second)});
          continue;
        }
        auto it = chunkenc::NewIterator(c->first, c->second);
        while (it->Next()) {
          if (!IsDeleted(del, it->At().t)) kept.push_back(it->At());
        }
        if (!it->Err().ok()) return Fail(it->Err());
      }
      if (!del.empty()) {
        for (size_t off = 0; off < kept.size(); off += 65535) {
          size_t n = std::min<size_t>(65535, kept.size() - off);
          std::span<const model::Sample> part(kept.data() + off, n);
          auto enc = chunkenc::EncodeBlockChunk(part);
          if (!enc.ok()) return Fail(enc.status());
          cur_.chunks.push_back({part.front().t, part.back().t, chunkenc::Encoding::kBlock, std::move(*enc)});
        }
      }
      if (cur_.chunks.empty()) continue;
      return true;
    }
    return false;
  }
  const block::ChunkSeries& At() const override { return cur_; }
  absl::Status Err() const override { return err_; }

 private:
  bool Fail(const absl::Status& s) {
    err_ = Annotate(s, fmt::format("read block {}", b_->meta().ulid.ToString()));
    return false;
  }

  const Block* b_;
  std::shared_ptr<const Tombstones> tomb_;
  uint64_t next_ = 0;
  block::ChunkSeries cur_;
  absl::Status err_;
};

}  // namespace

PostingsPtr PostingsForMatchers(const index::IndexReader& ir, const model::Matchers& matchers) {
  std::vector<PostingsPtr> its, nots;
  for (const auto& m : matchers) {
    if (m.MatchesEmpty()) {
      nots.push_back(InversePostingsForMatcher(ir, m));
    } else {
      its.push_back(PostingsForMatcher(ir, m));
    }
  }
  if (its.empty()) its.push_back(ir.AllPostings());
  PostingsPtr p = index::Intersect(std::move(its));
  if (!nots.empty()) p = index::Without(std::move(p), index::Merge(std::move(nots)));
  return p;
}

absl::StatusOr<std::unique_ptr<Block>> Block::Open(fs::FileSystem* fs, const std::string& dir) {
  std::unique_ptr<Block> b(new Block());
  b->fs_ = fs;
  b->dir_ = dir;
  auto ctx = [&](const absl::Status& s) { return Annotate(s, fmt::format("open block {}", dir)); };

  auto meta_bytes = fs->ReadFile(fs::JoinPath(dir, format::kMetaFile));
  if (!meta_bytes.ok()) return ctx(meta_bytes.status());
  auto meta = DecodeMeta(*meta_bytes);
  if (!meta.ok()) return ctx(meta.status());
  b->meta_ = *meta;
  b->size_bytes_ = meta_bytes->size();

  auto idx = fs->MapFile(fs::JoinPath(dir, format::kIndexFile));
  if (!idx.ok()) return ctx(idx.status());
  b->index_file_ = std::move(*idx);
  b->size_bytes_ += b->index_file_->data().size();
  auto ir = index::IndexReader::Open(b->index_file_->data());
  if (!ir.ok()) return ctx(ir.status());
  b->index_ = std::move(*ir);

  const std::string chunks_dir = fs::JoinPath(dir, format::kChunksDir);
  auto names = fs->ListDir(chunks_dir);
  if (!names.ok()) return ctx(names.status());
  for (size_t i = 0; i < names->size(); ++i) {
    const std::string& name = (*names)[i];
    if (name != fmt::format("{:06d}", i + 1)) {
      return ctx(absl::DataLossError(fmt::format("chunks: unexpected file {:?} (want {:06d})", name, i + 1)));
    }
    auto m = fs->MapFile(fs::JoinPath(chunks_dir, name));
    if (!m.ok()) return ctx(m.status());
    Decbuf h((*m)->data());
    uint32_t magic = h.BE32();
    uint8_t version = h.Byte();
    if (!h.ok() || magic != format::kChunksMagic || version != format::kChunksVersion1 ||
        (*m)->data().size() < format::kChunksHeaderSize) {
      return ctx(absl::DataLossError(fmt::format("chunks/{}: bad header", name)));
    }
    b->size_bytes_ += (*m)->data().size();
    b->segments_.push_back(std::move(*m));
  }

  auto tomb = std::make_shared<Tombstones>();
  const std::string tpath = fs::JoinPath(dir, format::kTombstonesFile);
  auto exists = fs->Exists(tpath);
  if (!exists.ok()) return ctx(exists.status());
  if (*exists) {
    auto tb = fs->ReadFile(tpath);
    if (!tb.ok()) return ctx(tb.status());
    auto t = Tombstones::Decode(*tb);
    if (!t.ok()) return ctx(t.status());
    *tomb = std::move(*t);
    b->size_bytes_ += tb->size();
  }
  b->tombstones_ = std::move(tomb);
  return b;
}

std::shared_ptr<const Tombstones> Block::tombstones() const {
  std::lock_guard<std::mutex> l(mu_);
  return tombstones_;
}

absl::StatusOr<std::pair<chunkenc::Encoding, std::string_view>> Block::Chunk(uint64_t ref) const {
  uint32_t seg = index::format::ChunkRefSegment(ref);
  uint32_t off = index::format::ChunkRefOffset(ref);
  if (seg < 1 || seg > segments_.size()) {
    return absl::DataLossError(fmt::format("chunk ref {:#x}: no segment {}", ref, seg));
  }
  std::string_view data = segments_[seg - 1]->data();
  if (off < format::kChunksHeaderSize || off >= data.size()) {
    return absl::DataLossError(fmt::format("chunk ref {:#x}: offset {} outside chunks/{:06d}", ref, off, seg));
  }
  Decbuf d(data.substr(off));
  uint8_t enc = d.Byte();
  std::string_view bytes = d.UvarintStr();
  uint32_t crc = d.BE32();
  if (!d.ok()) {
    return absl::DataLossError(fmt::format("chunks/{:06d} offset {}: truncated chunk", seg, off));
  }
  if (crc != crc32c::Extend(crc32c::Value(&enc, 1), bytes.data(), bytes.size())) {
    return absl::DataLossError(fmt::format("chunks/{:06d} offset {}: crc mismatch", seg, off));
  }
  if (!chunkenc::IsKnownEncoding(enc)) {
    return absl::DataLossError(fmt::format("chunks/{:06d} offset {}: unknown encoding {}", seg, off, enc));
  }
  return std::make_pair(static_cast<chunkenc::Encoding>(enc), bytes);
}

std::unique_ptr<storage::Querier> Block::Querier(std::string_view tenant, int64_t mint, int64_t maxt) const {
  return std::make_unique<BlockQuerier>(this, std::string(tenant), mint, maxt);
}

std::unique_ptr<ChunkSeriesSet> Block::ChunkSeries() const {
  return std::make_unique<BlockChunkSeriesSet>(this);
}

absl::Status Block::Delete(std::string_view tenant, const model::Matchers& matchers, int64_t mint,
                           int64_t maxt) {
  auto ctx = [&](const absl::Status& s) {
    return Annotate(s, fmt::format("delete from block {}", meta_.ulid.ToString()));
  };
  auto p = PostingsForMatchers(*index_, WithTenant(matchers, tenant));
  auto ids = index::ExpandPostings(*p);
  if (!ids.ok()) return ctx(ids.status());
  if (ids->empty()) return absl::OkStatus();
  std::lock_guard<std::mutex> l(mu_);  // one Delete at a time; readers keep their snapshot
  auto next = std::make_shared<Tombstones>(*tombstones_);
  for (uint64_t id : *ids) next->Add(id, {mint, maxt});
  const std::string path = fs::JoinPath(dir_, format::kTombstonesFile);
  const std::string tmp = path + std::string(format::kTmpSuffix);
  auto f = fs_->NewWritableFile(tmp);
  if (!f.ok()) return ctx(f.status());
  std::string data = next->Encode();
  RETURN_IF_ERROR(ctx((*f)->Append(data)));
  RETURN_IF_ERROR(ctx((*f)->Sync()));
  RETURN_IF_ERROR(ctx((*f)->Close()));
  RETURN_IF_ERROR(ctx(fs_->Rename(tmp, path)));
  RETURN_IF_ERROR(ctx(fs_->SyncDir(dir_)));
  tombstones_ = std::move(next);
  return absl::OkStatus();
}

}  // namespace vigil::storage::block

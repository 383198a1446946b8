#include "storage/block/writer.h"

#include <algorithm>

#include "base/crc32c.h"
#include "base/encoding.h"
#include "base/status.h"
#include "fmt/format.h"
#include "storage/block/block_format.h"
#include "storage/block/meta.h"
#include "storage/chunkenc/block_codec.h"
#include "storage/index/index.h"
#include "storage/index/index_format.h"

namespace vigil::storage::block {
namespace {

// Appends chunk records to numbered segment files, starting a new one past the size limit.
class SegmentWriter {
 public:
  SegmentWriter(fs::FileSystem* fs, std::string dir) : fs_(fs), dir_(std::move(dir)) {}

  absl::StatusOr<uint64_t> Add(chunkenc::Encoding enc, std::string_view bytes) {
    Encbuf rec;
    rec.PutByte(static_cast<uint8_t>(enc));
    rec.PutUvarint(bytes.size());
    rec.PutBytes(bytes);
    uint32_t crc = crc32c::Extend(crc32c::Value(rec.str().data(), 1), bytes.data(), bytes.size());
    rec.PutBE32(crc);
    if (!file_ || file_->Size() + rec.size() > format::kMaxSegmentSize) RETURN_IF_ERROR(Cut());
    uint64_t ref = index::format::ChunkRef(seq_, static_cast<uint32_t>(file_->Size()));
    RETURN_IF_ERROR(file_->Append(rec.str()));
    return ref;
  }

  absl::Status Close() {
    if (!file_) return absl::OkStatus();
    RETURN_IF_ERROR(file_->Sync());
    RETURN_IF_ERROR(file_->Close());
    file_.reset();
    return absl::OkStatus();
  }

 private:
  absl::Status Cut() {
    RETURN_IF_ERROR(Close());
    ++seq_;
    std::string path = fs::JoinPath(dir_, fmt::format("{:06d}", seq_));
    ASSIGN_OR_RETURN(file_, fs_->NewWritableFile(path));
    Encbuf h;
    h.PutBE32(format::kChunksMagic);
    h.PutByte(format::kChunksVersion1);
    h.PutBytes(std::string_view("\0\0\0", 3));
    return file_->Append(h.str());
  }

  fs::FileSystem* fs_;
  std::string dir_;
  uint32_t seq_ = 0;
  std::unique_ptr<fs::WritableFile> file_;
};

absl::Status WriteFile(fs::FileSystem* fs, const std::string& path, std::string_view data) {
  ASSIGN_OR_RETURN(auto f, fs->NewWritableFile(path));
  RETURN_IF_ERROR(f->Append(data));
  RETURN_IF_ERROR(f->Sync());
  return f->Close();
}

// Samples of one series within [mint, maxt), merged across its chunks.
absl::Status CollectSamples(const ChunkSeries& s, int64_t mint, int64_t maxt,
                            std::vector<model::Sample>* out) {
  out->clear();
  for (const auto& c : s.chunks) {
    if (c.maxt < mint || c.mint >= maxt) continue;
    auto it = chunkenc::NewIterator(c.encoding, c.bytes);
    while (it->Next()) {
      auto x = it->At();
      if (x.t >= mint && x.t < maxt) out->push_back(x);
    }
    RETURN_IF_ERROR(Annotate(it->Err(), fmt::format("series {}", s.labels.ToString())));
  }
  auto by_t = [](const model::Sample& a, const model::Sample& b) { return a.t < b.t; };
  if (!std::is_sorted(out->begin(), out->end(), by_t)) std::stable_sort(out->begin(), out->end(), by_t);
  out->erase(std::unique(out->begin(), out->end(),
                         [](const model::Sample& a, const model::Sample& b) { return a.t == b.t; }),
             out->end());
  return absl::OkStatus();
}

absl::StatusOr<Ulid> WriteImpl(fs::FileSystem* fs, const std::string& parent, const std::string& tmp,
                               const Ulid& ulid, ChunkSeriesSet& set, int64_t mint, int64_t maxt,
                               const WriteOptions& opts) {
  const std::string chunks_dir = fs::JoinPath(tmp, format::kChunksDir);
  RETURN_IF_ERROR(fs->MkdirAll(chunks_dir));
  SegmentWriter segs(fs, chunks_dir);
  BlockMeta meta;
  meta.ulid = ulid;
  meta.min_time = mint;
  meta.max_time = maxt;
  meta.level = opts.level;
  meta.sources = opts.sources.empty() ? std::vector<Ulid>{ulid} : opts.sources;
  std::sort(meta.sources.begin(), meta.sources.end());

  const int max_per_chunk = opts.block_codec
                                ? std::clamp(opts.max_samples_per_chunk, 1, 65535)
                                : std::min(opts.max_samples_per_chunk, 120);
  std::vector<index::IndexSeries> series;
  std::vector<model::Sample> samples;
  const model::Labels* prev = nullptr;
  model::Labels prev_labels;
  while (set.Next()) {
    const ChunkSeries& s = set.At();
    if (prev && !(prev_labels < s.labels)) {
      return absl::InvalidArgumentError(fmt::format("series {} out of label order", s.labels.ToString()));
    }
    prev_labels = s.labels;
    prev = &prev_labels;
    RETURN_IF_ERROR(CollectSamples(s, mint, maxt, &samples));
    if (samples.empty()) continue;
    index::IndexSeries is;
    is.labels = s.labels;
    size_t n = samples.size();
    size_t parts = (n + max_per_chunk - 1) / max_per_chunk;
    size_t start = 0;
    for (size_t p = 0; p < parts; ++p) {
      size_t end = n * (p + 1) / parts;  // equal parts
      std::span<const model::Sample> part(samples.data() + start, end - start);
      chunkenc::Encoding enc;
      std::string bytes;
      if (opts.block_codec) {
        ASSIGN_OR_RETURN(bytes, chunkenc::EncodeBlockChunk(part));
        enc = chunkenc::Encoding::kBlock;
      } else {
        ASSIGN_OR_RETURN(auto c, chunkenc::NewChunk(chunkenc::Encoding::kXor));
        ASSIGN_OR_RETURN(auto app, c->NewAppender());
        for (const auto& x : part) app->Append(x.t, x.v);
        bytes = std::string(c->bytes());
        enc = chunkenc::Encoding::kXor;
      }
      ASSIGN_OR_RETURN(uint64_t ref, segs.Add(enc, bytes));
      is.chunks.push_back({part.front().t, part.back().t, ref});
      ++meta.num_chunks;
      start = end;
    }
    meta.num_samples += n;
    ++meta.num_series;
    series.push_back(std::move(is));
  }
  RETURN_IF_ERROR(set.Err());
  RETURN_IF_ERROR(segs.Close());
  RETURN_IF_ERROR(WriteFile(fs, fs::JoinPath(tmp, format::kIndexFile), index::BuildIndex(series)));
  RETURN_IF_ERROR(WriteFile(fs, fs::JoinPath(tmp, format::kMetaFile), EncodeMeta(meta)));
  RETURN_IF_ERROR(fs->SyncDir(chunks_dir));
  RETURN_IF_ERROR(fs->SyncDir(tmp));
  const std::string final_dir = fs::JoinPath(parent, ulid.ToString());
  RETURN_IF_ERROR(fs->Rename(tmp, final_dir));
  RETURN_IF_ERROR(fs->SyncDir(parent));
  return ulid;
}

}  // namespace

absl::StatusOr<Ulid> Write(fs::FileSystem* fs, const std::string& parent_dir, ChunkSeriesSet& set,
                           int64_t mint, int64_t maxt, const WriteOptions& opts) {
  Ulid ulid = NewUlid();
  const std::string tmp = fs::JoinPath(parent_dir, ulid.ToString() + std::string(format::kTmpSuffix));
  RETURN_IF_ERROR(Annotate(fs->RemoveAll(tmp), "write block"));
  auto r = WriteImpl(fs, parent_dir, tmp, ulid, set, mint, maxt, opts);
  if (!r.ok()) {
    (void)fs->RemoveAll(tmp);  // best effort; the error below is what matters
    return Annotate(r.status(), fmt::format("write block {}", ulid.ToString()));
  }
  return r;
}

}  // namespace vigil::storage::block

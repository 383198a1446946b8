#include "fs/faulty.h"

#include <algorithm>

#include "base/status.h"
#include "fmt/format.h"

namespace vigil::fs {

namespace {

class OwnedMappedFile final : public MappedFile {
 public:
  explicit OwnedMappedFile(std::string data) : data_(std::move(data)) {}
  std::string_view data() const override { return data_; }

 private:
  std::string data_;
};

}  // namespace

class FaultyWritableFile final : public WritableFile {
 public:
  FaultyWritableFile(FaultyFileSystem* fs, std::string path, std::unique_ptr<WritableFile> base,
                     uint64_t epoch)
      : fs_(fs), path_(std::move(path)), base_(std::move(base)), epoch_(epoch) {}

  absl::Status Append(std::string_view data) override {
    std::shared_lock<std::shared_mutex> crash(fs_->crash_mu_);
    RETURN_IF_ERROR(CheckAlive());
    std::unique_ptr<FaultyFileSystem::Pending> fault = fs_->TakeFault(FaultyFileSystem::Op::kAppend);
    size_t keep = data.size();
    absl::Status injected;
    if (fault != nullptr) {
      keep = fault->tear ? std::min(fault->tear_keep, data.size()) : 0;
      injected = fault->status;
    }
    {
      std::lock_guard<std::mutex> l(fs_->mu_);
      if (fs_->space_left_ >= 0 && keep > static_cast<uint64_t>(fs_->space_left_)) {
        keep = static_cast<size_t>(fs_->space_left_);
        if (injected.ok()) {
          injected = absl::ResourceExhaustedError(
              fmt::format("write {}: No space left on device", path_));
        }
      }
      if (fs_->space_left_ >= 0) fs_->space_left_ -= static_cast<int64_t>(keep);
    }
    if (keep > 0) {
      RETURN_IF_ERROR(base_->Append(data.substr(0, keep)));
      RETURN_IF_ERROR(base_->Flush());
      std::lock_guard<std::mutex> l(fs_->mu_);
      fs_->tracked_[path_].written += keep;
      ++fs_->appends_;
    }
    size_ += keep;
    return injected;
  }

  absl::Status Flush() override { return CheckAlive(); }

  absl::Status Sync() override { return SyncFlushed(); }

  absl::Status SyncFlushed() override {
    std::shared_lock<std::shared_mutex> crash(fs_->crash_mu_);
    RETURN_IF_ERROR(CheckAlive());
    if (auto fault = fs_->TakeFault(FaultyFileSystem::Op::kSync)) return fault->status;
    uint64_t covered;
    {
      std::lock_guard<std::mutex> l(fs_->mu_);
      covered = fs_->tracked_[path_].written;
    }
    RETURN_IF_ERROR(base_->SyncFlushed());
    std::lock_guard<std::mutex> l(fs_->mu_);
    if (fs_->epoch_ != epoch_) return Dead();
    Tracked& t = fs_->tracked_[path_];
    t.synced = std::max(t.synced, std::min(covered, t.written));
    ++fs_->syncs_;
    return absl::OkStatus();
  }

  absl::Status Close() override {
    if (closed_) return absl::OkStatus();
    closed_ = true;
    absl::Status alive = CheckAlive();
    absl::Status s = base_->Close();
    return alive.ok() ? s : alive;
  }

  uint64_t Size() const override { return size_; }

 private:
  using Tracked = FaultyFileSystem::Tracked;

  absl::Status CheckAlive() {
    std::lock_guard<std::mutex> l(fs_->mu_);
    if (fs_->epoch_ != epoch_) return Dead();
    return absl::OkStatus();
  }
  absl::Status Dead() const {
    return absl::UnavailableError(fmt::format("write {}: file lost in simulated crash", path_));
  }

  FaultyFileSystem* fs_;
  std::string path_;
  std::unique_ptr<WritableFile> base_;
  uint64_t epoch_;
  std::atomic<uint64_t> size_{0};
  bool closed_ = false;
};

FaultyFileSystem::FaultyFileSystem(FileSystem* base, uint64_t seed) : base_(base), rng_(seed) {}
FaultyFileSystem::~FaultyFileSystem() = default;

void FaultyFileSystem::FailNth(Op op, int n, absl::Status status) {
  std::lock_guard<std::mutex> l(mu_);
  pending_.push_back({op, Pending{n, std::move(status)}});
}

void FaultyFileSystem::TearNthAppend(int n, size_t keep) {
  std::lock_guard<std::mutex> l(mu_);
  pending_.push_back(
      {Op::kAppend, Pending{n, absl::UnavailableError("injected torn write"), keep, true}});
}

void FaultyFileSystem::SetSpaceLimit(int64_t bytes) {
  std::lock_guard<std::mutex> l(mu_);
  space_left_ = bytes < 0 ? -1 : bytes;
}

void FaultyFileSystem::FlipBitsOnRead(const std::string& path_suffix, uint64_t offset,
                                      uint8_t mask) {
  std::lock_guard<std::mutex> l(mu_);
  flips_.push_back({path_suffix, offset, mask});
}

void FaultyFileSystem::ClearFaults() {
  std::lock_guard<std::mutex> l(mu_);
  pending_.clear();
  flips_.clear();
  space_left_ = -1;
}

int64_t FaultyFileSystem::appends() const {
  std::lock_guard<std::mutex> l(mu_);
  return appends_;
}

int64_t FaultyFileSystem::syncs() const {
  std::lock_guard<std::mutex> l(mu_);
  return syncs_;
}

std::unique_ptr<FaultyFileSystem::Pending> FaultyFileSystem::TakeFault(Op op) {
  std::lock_guard<std::mutex> l(mu_);
  std::unique_ptr<Pending> fired;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->first == op && --it->second.n <= 0) {
      if (fired == nullptr) fired = std::make_unique<Pending>(std::move(it->second));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  return fired;
}

void FaultyFileSystem::ApplyFlips(const std::string& path, std::string* data) {
  std::lock_guard<std::mutex> l(mu_);
  for (const Flip& f : flips_) {
    if (path.size() >= f.suffix.size() &&
        path.compare(path.size() - f.suffix.size(), f.suffix.size(), f.suffix) == 0 &&
        f.offset < data->size()) {
      (*data)[f.offset] = static_cast<char>((*data)[f.offset] ^ f.mask);
    }
  }
}

absl::Status FaultyFileSystem::SimulateCrash(CrashOptions opts) {
  std::unique_lock<std::shared_mutex> crash(crash_mu_);
  std::map<std::string, uint64_t> cut;
  {
    std::lock_guard<std::mutex> l(mu_);
    ++epoch_;
    for (auto& [path, t] : tracked_) {
      uint64_t keep = t.synced;
      if (opts.keep_random_unsynced && t.written > t.synced) {
        keep += rng_() % (t.written - t.synced + 1);
      }
      if (keep < t.written) cut[path] = keep;
      t.written = t.synced = keep;
    }
  }
  for (const auto& [path, size] : cut) {
    ASSIGN_OR_RETURN(bool exists, base_->Exists(path));
    if (!exists) continue;
    // Only ever shorten: a crash loses data, it never invents zeros.
    ASSIGN_OR_RETURN(uint64_t actual, base_->FileSize(path));
    if (size < actual) RETURN_IF_ERROR(Annotate(base_->Truncate(path, size), "simulate crash"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<WritableFile>> FaultyFileSystem::NewWritableFile(
    const std::string& path, bool append) {
  ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> base, base_->NewWritableFile(path, append));
  std::lock_guard<std::mutex> l(mu_);
  auto [it, fresh] = tracked_.try_emplace(path);
  Tracked& t = it->second;
  if (!append) {
    // Truncation is treated as durable, like the rest of the namespace.
    t = Tracked{};
  } else if (fresh) {
    // Bytes written before this wrapper watched the file count as durable.
    t.written = t.synced = base->Size();
  } else {
    t.written = base->Size();
    t.synced = std::min(t.synced, t.written);
  }
  return std::unique_ptr<WritableFile>(
      new FaultyWritableFile(this, path, std::move(base), epoch_));
}

absl::StatusOr<std::string> FaultyFileSystem::ReadFile(const std::string& path) {
  if (auto fault = TakeFault(Op::kRead)) return fault->status;
  ASSIGN_OR_RETURN(std::string data, base_->ReadFile(path));
  ApplyFlips(path, &data);
  return data;
}

absl::StatusOr<std::unique_ptr<MappedFile>> FaultyFileSystem::MapFile(const std::string& path) {
  if (auto fault = TakeFault(Op::kRead)) return fault->status;
  bool flips;
  {
    std::lock_guard<std::mutex> l(mu_);
    flips = !flips_.empty();
  }
  if (!flips) return base_->MapFile(path);
  ASSIGN_OR_RETURN(std::string data, base_->ReadFile(path));
  ApplyFlips(path, &data);
  return std::unique_ptr<MappedFile>(new OwnedMappedFile(std::move(data)));
}

absl::StatusOr<bool> FaultyFileSystem::Exists(const std::string& path) {
  return base_->Exists(path);
}
absl::StatusOr<uint64_t> FaultyFileSystem::FileSize(const std::string& path) {
  return base_->FileSize(path);
}
absl::StatusOr<std::vector<std::string>> FaultyFileSystem::ListDir(const std::string& path) {
  return base_->ListDir(path);
}
absl::StatusOr<bool> FaultyFileSystem::IsDir(const std::string& path) {
  return base_->IsDir(path);
}
absl::Status FaultyFileSystem::MkdirAll(const std::string& path) { return base_->MkdirAll(path); }

absl::Status FaultyFileSystem::Remove(const std::string& path) {
  RETURN_IF_ERROR(base_->Remove(path));
  std::lock_guard<std::mutex> l(mu_);
  tracked_.erase(path);
  return absl::OkStatus();
}

absl::Status FaultyFileSystem::RemoveAll(const std::string& path) {
  RETURN_IF_ERROR(base_->RemoveAll(path));
  std::lock_guard<std::mutex> l(mu_);
  std::string prefix = path + "/";
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    bool under = it->first == path || it->first.compare(0, prefix.size(), prefix) == 0;
    it = under ? tracked_.erase(it) : std::next(it);
  }
  return absl::OkStatus();
}

absl::Status FaultyFileSystem::Rename(const std::string& from, const std::string& to) {
  if (auto fault = TakeFault(Op::kRename)) return fault->status;
  RETURN_IF_ERROR(base_->Rename(from, to));
  std::lock_guard<std::mutex> l(mu_);
  // Move the crash bookkeeping of the file, or of every file under a renamed directory.
  std::string prefix = from + "/";
  std::map<std::string, Tracked> moved;
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    if (it->first == from) {
      moved[to] = it->second;
      it = tracked_.erase(it);
    } else if (it->first.compare(0, prefix.size(), prefix) == 0) {
      moved[to + it->first.substr(from.size())] = it->second;
      it = tracked_.erase(it);
    } else {
      ++it;
    }
  }
  tracked_.erase(to);
  for (auto& [p, t] : moved) tracked_[p] = t;
  return absl::OkStatus();
}

absl::Status FaultyFileSystem::Truncate(const std::string& path, uint64_t size) {
  RETURN_IF_ERROR(base_->Truncate(path, size));
  std::lock_guard<std::mutex> l(mu_);
  if (auto it = tracked_.find(path); it != tracked_.end()) {
    it->second.written = std::min(it->second.written, size);
    it->second.synced = std::min(it->second.synced, size);
  }
  return absl::OkStatus();
}

absl::Status FaultyFileSystem::Link(const std::string& from, const std::string& to) {
  return base_->Link(from, to);
}
absl::Status FaultyFileSystem::SyncDir(const std::string& path) { return base_->SyncDir(path); }
absl::StatusOr<std::unique_ptr<FileLock>> FaultyFileSystem::Lock(const std::string& path) {
  return base_->Lock(path);
}

}  // namespace vigil::fs

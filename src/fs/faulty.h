// FaultyFileSystem: wraps another FileSystem and injects the failures storage must survive:
// a failing Nth Append/Sync/Rename, torn writes (an Append that writes a prefix and then
// fails), a full disk (ENOSPC), flipped bits on read, and a simulated power loss that drops
// whatever was written but not fsynced.
//
// Crash model: for each file written through this wrapper it remembers how many bytes were
// written and how many are known durable (covered by a successful Sync/SyncFlushed).
// SimulateCrash() truncates each such file to its durable length, or, with
// `keep_random_unsynced`, to a random length between durable and written (the kernel may
// have written back part of the page cache), chosen by a seedable generator. Files stay in
// place even if never synced (directory entries are assumed durable; SyncDir is not
// modelled). Writable files opened before the crash fail every later call.
//
// Every Append is passed through and flushed immediately, so the wrapped file never holds
// buffered bytes that could reappear after a simulated crash.
//
// Thread-safety: all methods may be called from any thread (one internal mutex). The
// wrapped FileSystem must outlive this one.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <string>
#include <vector>

#include "fs/file_system.h"

namespace vigil::fs {

class FaultyFileSystem final : public FileSystem {
 public:
  enum class Op { kAppend, kSync, kRename, kRead };

  explicit FaultyFileSystem(FileSystem* base, uint64_t seed = 1);
  ~FaultyFileSystem() override;

  // The nth (1-based, counted from now) call of `op` fails with `status` without effect.
  // kRead covers ReadFile and MapFile; kSync covers Sync and SyncFlushed.
  void FailNth(Op op, int n, absl::Status status = absl::UnavailableError("injected fault"));
  // The nth Append from now writes only its first `keep` bytes, then fails.
  void TearNthAppend(int n, size_t keep);
  // From now on, Appends may write `bytes` more in total; the Append that crosses the limit
  // writes what fits and fails with ResourceExhausted ("No space left on device"), like
  // ENOSPC. A negative value removes the limit.
  void SetSpaceLimit(int64_t bytes);
  // ReadFile and MapFile of files whose path ends with `path_suffix` return their bytes
  // with byte `offset` XORed with `mask` (when the file is that long).
  void FlipBitsOnRead(const std::string& path_suffix, uint64_t offset, uint8_t mask);
  // Removes every pending fault, the space limit and the bit flips.
  void ClearFaults();

  // Power loss: see the crash model above.
  struct CrashOptions {
    bool keep_random_unsynced = false;
  };
  absl::Status SimulateCrash(CrashOptions opts);
  absl::Status SimulateCrash() { return SimulateCrash(CrashOptions{}); }

  // Counters of calls that reached the wrapped filesystem.
  int64_t appends() const;
  int64_t syncs() const;

  // FileSystem.
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                                bool append) override;
  absl::StatusOr<std::string> ReadFile(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<MappedFile>> MapFile(const std::string& path) override;
  absl::StatusOr<bool> Exists(const std::string& path) override;
  absl::StatusOr<uint64_t> FileSize(const std::string& path) override;
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override;
  absl::StatusOr<bool> IsDir(const std::string& path) override;
  absl::Status MkdirAll(const std::string& path) override;
  absl::Status Remove(const std::string& path) override;
  absl::Status RemoveAll(const std::string& path) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status Truncate(const std::string& path, uint64_t size) override;
  absl::Status Link(const std::string& from, const std::string& to) override;
  absl::Status SyncDir(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<FileLock>> Lock(const std::string& path) override;

 private:
  friend class FaultyWritableFile;

  // What the crash model knows about one file written through this wrapper.
  struct Tracked {
    uint64_t written = 0;
    uint64_t synced = 0;
  };
  struct Pending {
    int n;  // calls left until it fires (1 = the next one)
    absl::Status status;
    size_t tear_keep = 0;
    bool tear = false;
  };

  // Counts one call of `op`; returns the fault to inject, if one fires now.
  std::unique_ptr<Pending> TakeFault(Op op);
  void ApplyFlips(const std::string& path, std::string* data);

  FileSystem* base_;
  // Appends and syncs hold it shared from their liveness check to their bookkeeping, and
  // SimulateCrash holds it exclusively, so no write lands "after" the power loss.
  std::shared_mutex crash_mu_;
  mutable std::mutex mu_;  // after crash_mu_ when both are held
  std::mt19937_64 rng_;
  std::vector<std::pair<Op, Pending>> pending_;
  int64_t space_left_ = -1;
  struct Flip {
    std::string suffix;
    uint64_t offset;
    uint8_t mask;
  };
  std::vector<Flip> flips_;
  std::map<std::string, Tracked> tracked_;
  uint64_t epoch_ = 0;  // bumped by SimulateCrash; files from older epochs are dead
  int64_t appends_ = 0;
  int64_t syncs_ = 0;
};

}  // namespace vigil::fs

// FileSystem: the seam between storage and the disk.
//
// Storage never calls POSIX directly; it goes through a FileSystem so tests can run on an
// in-memory one (fast, no temp dirs) or a fault-injecting one (torn writes, failed fsync,
// ENOSPC, bit flips on read) and so the crash tests can reason about what reached "disk".
//
// Implementations: Posix() (the real one), NewMemFileSystem(), and FaultyFileSystem
// (fs/faulty.h), which wraps another one.
//
// Thread-safety: FileSystem methods may be called from any thread. A WritableFile or
// MappedFile is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vigil::fs {

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends at the end. May buffer; data reaches the OS by Flush, Sync or Close.
  virtual absl::Status Append(std::string_view data) = 0;
  // Hands buffered data to the OS (survives a process crash, not a power loss).
  virtual absl::Status Flush() = 0;
  // Flush + fsync (survives power loss).
  virtual absl::Status Sync() = 0;
  // Makes durable the bytes that earlier Flush calls handed to the OS, without touching the
  // buffer. Unlike every other method it may run on one thread while another thread
  // Appends/Flushes the same file: the WAL's group commit and background syncer fsync while
  // committers keep writing, so an fsync never stalls ingestion.
  virtual absl::Status SyncFlushed() = 0;
  // Flushes and releases the file; later calls fail. Does not fsync.
  virtual absl::Status Close() = 0;
  // Bytes appended so far, including buffered ones.
  virtual uint64_t Size() const = 0;
};

// A read-only view of a whole file, memory-mapped by Posix(). The bytes stay valid until
// the MappedFile is destroyed.
class MappedFile {
 public:
  virtual ~MappedFile() = default;
  virtual std::string_view data() const = 0;
};

// Released on destruction.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Creates (or truncates, unless `append`) a file for writing.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                                        bool append = false) = 0;
  virtual absl::StatusOr<std::string> ReadFile(const std::string& path) = 0;
  virtual absl::StatusOr<std::unique_ptr<MappedFile>> MapFile(const std::string& path) = 0;

  // Exists and IsDir answer false (not an error) for an absent path.
  virtual absl::StatusOr<bool> Exists(const std::string& path) = 0;
  virtual absl::StatusOr<uint64_t> FileSize(const std::string& path) = 0;
  // Names (not paths) of the entries of a directory, sorted.
  virtual absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) = 0;
  virtual absl::StatusOr<bool> IsDir(const std::string& path) = 0;

  virtual absl::Status MkdirAll(const std::string& path) = 0;
  virtual absl::Status Remove(const std::string& path) = 0;      // file or empty dir
  virtual absl::Status RemoveAll(const std::string& path) = 0;   // recursive; ok if absent
  // Atomic replace, as rename(2); used to publish a finished block directory.
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  virtual absl::Status Truncate(const std::string& path, uint64_t size) = 0;
  // Hard link, for snapshots; implementations without links copy.
  virtual absl::Status Link(const std::string& from, const std::string& to) = 0;
  // fsync of a directory, so a rename or create in it is durable.
  virtual absl::Status SyncDir(const std::string& path) = 0;

  // An exclusive lock on `path` (created if absent); fails with FailedPrecondition if
  // another holder (another process, or another Lock call in this one) has it.
  virtual absl::StatusOr<std::unique_ptr<FileLock>> Lock(const std::string& path) = 0;
};

// The real filesystem. Never null, never destroyed.
FileSystem* Posix();

// A fresh in-memory filesystem (for tests). Thread-safe; Link shares the file like a hard
// link; MapFile returns a snapshot of the file at the time of the call.
std::unique_ptr<FileSystem> NewMemFileSystem();

// Joins path parts with '/'.
std::string JoinPath(std::string_view a, std::string_view b);

}  // namespace vigil::fs

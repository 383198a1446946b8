// The real filesystem: FileSystem over POSIX syscalls.
//
// WritableFile keeps its own 64 KiB buffer so that the many small appends of the WAL and
// the block writers become few write(2) calls; Flush hands the buffer to the kernel and
// Sync adds fdatasync. Errors always name the operation, the path and the errno text.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "fmt/format.h"
#include "fs/file_system.h"

namespace vigil::fs {
namespace {

constexpr size_t kWriteBufferSize = 64 << 10;

absl::Status ErrnoError(std::string_view op, const std::string& path, int err) {
  std::string msg = fmt::format("{} {}: {}", op, path, std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case EEXIST:
      return absl::AlreadyExistsError(msg);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(msg);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(msg);
    case ENOTEMPTY:
    case ENOTDIR:
    case EISDIR:
      return absl::FailedPreconditionError(msg);
    case EWOULDBLOCK:
      return absl::FailedPreconditionError(msg);
    default:
      return absl::InternalError(msg);
  }
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {
    buf_.reserve(kWriteBufferSize);
  }
  ~PosixWritableFile() override {
    if (fd_ >= 0) (void)Close();
  }

  absl::Status Append(std::string_view data) override {
    if (fd_ < 0) return Closed();
    size_ += data.size();
    if (buf_.size() + data.size() <= kWriteBufferSize) {
      buf_.append(data);
      return absl::OkStatus();
    }
    RETURN_IF_ERROR(FlushBuffer());
    // A large append goes straight to the kernel rather than through the buffer.
    if (data.size() >= kWriteBufferSize) return WriteAll(data);
    buf_.append(data);
    return absl::OkStatus();
  }

  absl::Status Flush() override {
    if (fd_ < 0) return Closed();
    return FlushBuffer();
  }

  absl::Status Sync() override {
    if (fd_ < 0) return Closed();
    RETURN_IF_ERROR(FlushBuffer());
    return SyncFd();
  }

  absl::Status SyncFlushed() override {
    int fd = fd_;
    if (fd < 0) return Closed();
    return SyncFd();
  }

  absl::Status Close() override {
    if (fd_ < 0) return absl::OkStatus();
    absl::Status s = FlushBuffer();
    if (::close(fd_) != 0 && s.ok()) s = ErrnoError("close", path_, errno);
    fd_ = -1;
    return s;
  }

  uint64_t Size() const override { return size_; }

 private:
  absl::Status Closed() const {
    return absl::FailedPreconditionError(fmt::format("write {}: file is closed", path_));
  }

  absl::Status SyncFd() {
    if (::fdatasync(fd_) != 0) return ErrnoError("fdatasync", path_, errno);
    return absl::OkStatus();
  }

  absl::Status FlushBuffer() {
    if (buf_.empty()) return absl::OkStatus();
    absl::Status s = WriteAll(buf_);
    buf_.clear();
    return s;
  }

  absl::Status WriteAll(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("write", path_, errno);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }

  const std::string path_;
  std::atomic<int> fd_;
  uint64_t size_;
  std::string buf_;
};

class PosixMappedFile final : public MappedFile {
 public:
  PosixMappedFile(void* addr, size_t size) : addr_(addr), size_(size) {}
  ~PosixMappedFile() override {
    if (addr_ != nullptr) ::munmap(addr_, size_);
  }
  std::string_view data() const override {
    return {static_cast<const char*>(addr_), size_};
  }

 private:
  void* addr_;
  size_t size_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

class PosixFileSystem final : public FileSystem {
 public:
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                                bool append) override {
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return ErrnoError("create", path, errno);
    uint64_t size = 0;
    if (append) {
      struct stat st;
      if (::fstat(fd, &st) != 0) {
        absl::Status s = ErrnoError("stat", path, errno);
        ::close(fd);
        return s;
      }
      size = static_cast<uint64_t>(st.st_size);
    }
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd, size));
  }

  absl::StatusOr<std::string> ReadFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoError("open", path, errno);
    std::string out;
    struct stat st;
    if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
    char buf[64 << 10];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n < 0) {
        if (errno == EINTR) continue;
        absl::Status s = ErrnoError("read", path, errno);
        ::close(fd);
        return s;
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
  }

  absl::StatusOr<std::unique_ptr<MappedFile>> MapFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoError("open", path, errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      absl::Status s = ErrnoError("stat", path, errno);
      ::close(fd);
      return s;
    }
    if (st.st_size == 0) {
      // mmap refuses a zero length; an empty file is simply an empty view.
      ::close(fd);
      return std::unique_ptr<MappedFile>(new PosixMappedFile(nullptr, 0));
    }
    size_t size = static_cast<size_t>(st.st_size);
    void* addr = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    int err = errno;
    ::close(fd);  // the mapping keeps the file alive
    if (addr == MAP_FAILED) return ErrnoError("mmap", path, err);
    return std::unique_ptr<MappedFile>(new PosixMappedFile(addr, size));
  }

  absl::StatusOr<bool> Exists(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return ErrnoError("stat", path, errno);
  }

  absl::StatusOr<uint64_t> FileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return ErrnoError("stat", path, errno);
    return static_cast<uint64_t>(st.st_size);
  }

  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override {
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) return ErrnoError("list directory", path, errno);
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    int err = errno;
    ::closedir(d);
    if (err != 0) return ErrnoError("list directory", path, err);
    std::sort(names.begin(), names.end());
    return names;
  }

  absl::StatusOr<bool> IsDir(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return false;
      return ErrnoError("stat", path, errno);
    }
    return S_ISDIR(st.st_mode);
  }

  absl::Status MkdirAll(const std::string& path) override {
    // Create each missing prefix in turn; EEXIST on a directory is success.
    std::string prefix;
    size_t pos = 0;
    while (pos != std::string::npos) {
      pos = path.find('/', pos + 1);
      prefix = path.substr(0, pos);
      if (prefix.empty() || prefix == "/") continue;
      if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
        return ErrnoError("create directory", prefix, errno);
      }
    }
    ASSIGN_OR_RETURN(bool is_dir, IsDir(path));
    if (!is_dir) {
      return absl::FailedPreconditionError(
          fmt::format("create directory {}: exists and is not a directory", path));
    }
    return absl::OkStatus();
  }

  absl::Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) == 0) return absl::OkStatus();
    if (errno == EISDIR || errno == EPERM) {
      if (::rmdir(path.c_str()) == 0) return absl::OkStatus();
    }
    return ErrnoError("remove", path, errno);
  }

  absl::Status RemoveAll(const std::string& path) override {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return absl::OkStatus();
      return ErrnoError("stat", path, errno);
    }
    if (S_ISDIR(st.st_mode)) {
      ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(path));
      for (const std::string& name : names) RETURN_IF_ERROR(RemoveAll(JoinPath(path, name)));
      if (::rmdir(path.c_str()) != 0) return ErrnoError("remove directory", path, errno);
      return absl::OkStatus();
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError("remove", path, errno);
    return absl::OkStatus();
  }

  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return ErrnoError("rename", fmt::format("{} to {}", from, to), errno);
    }
    return absl::OkStatus();
  }

  absl::Status Truncate(const std::string& path, uint64_t size) override {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) {
      return ErrnoError(fmt::format("truncate to {} bytes", size), path, errno);
    }
    return absl::OkStatus();
  }

  absl::Status Link(const std::string& from, const std::string& to) override {
    if (::link(from.c_str(), to.c_str()) != 0) {
      return ErrnoError("link", fmt::format("{} to {}", from, to), errno);
    }
    return absl::OkStatus();
  }

  absl::Status SyncDir(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoError("open directory", path, errno);
    absl::Status s;
    if (::fsync(fd) != 0) s = ErrnoError("fsync directory", path, errno);
    ::close(fd);
    return s;
  }

  absl::StatusOr<std::unique_ptr<FileLock>> Lock(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoError("open lock file", path, errno);
    // flock locks belong to the open file description, so a second Lock on the same path
    // fails even inside this process, which is what a double Open of one data dir needs.
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return absl::FailedPreconditionError(fmt::format(
            "lock {}: data directory is locked by another process (or another open in this "
            "one)",
            path));
      }
      return ErrnoError("lock", path, err);
    }
    return std::unique_ptr<FileLock>(new PosixFileLock(fd));
  }
};

}  // namespace

FileSystem* Posix() {
  static PosixFileSystem* fs = new PosixFileSystem();
  return fs;
}

}  // namespace vigil::fs

// An in-memory FileSystem for tests: fast, no temp directories, same semantics as Posix()
// where storage depends on them (parent directories must exist, rename replaces
// atomically, remove of a non-empty directory fails, locks are exclusive).
//
// Files are reference-counted nodes, so a WritableFile keeps writing to its file after a
// rename, and Link shares the node like a hard link. Appends reach the file immediately
// (there is no buffer to lose); crash behaviour is modelled by FaultyFileSystem instead.
//
// Thread-safety: one mutex guards the namespace; each file node has its own mutex.
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "base/status.h"
#include "fmt/format.h"
#include "fs/file_system.h"

namespace vigil::fs {
namespace {

struct MemFile {
  std::mutex mu;
  std::string data;
};

// Canonical form: no trailing or repeated '/'. "" is the current directory (the root of
// relative paths), "/" the absolute root.
std::string Clean(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (char c : path) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(c);
  }
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  if (out == ".") out.clear();
  return out;
}

std::string Parent(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool IsRoot(const std::string& p) { return p.empty() || p == "/"; }

struct State {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<MemFile>> files;
  std::set<std::string> dirs;
  std::set<std::string> locks;

  bool DirExists(const std::string& p) const { return IsRoot(p) || dirs.count(p) > 0; }

  // Entries strictly below `dir`: the range of keys starting with "dir/".
  static std::string Prefix(const std::string& dir) {
    if (dir.empty()) return "";
    return dir == "/" ? "/" : dir + "/";
  }
};

class MemWritableFile final : public WritableFile {
 public:
  MemWritableFile(std::string path, std::shared_ptr<MemFile> file, uint64_t size)
      : path_(std::move(path)), file_(std::move(file)), size_(size) {}

  absl::Status Append(std::string_view data) override {
    if (closed_) return Closed();
    std::lock_guard<std::mutex> l(file_->mu);
    file_->data.append(data);
    size_ += data.size();
    return absl::OkStatus();
  }
  absl::Status Flush() override { return closed_ ? Closed() : absl::OkStatus(); }
  absl::Status Sync() override { return closed_ ? Closed() : absl::OkStatus(); }
  absl::Status SyncFlushed() override { return closed_ ? Closed() : absl::OkStatus(); }
  absl::Status Close() override {
    closed_ = true;
    return absl::OkStatus();
  }
  uint64_t Size() const override { return size_; }

 private:
  absl::Status Closed() const {
    return absl::FailedPreconditionError(fmt::format("write {}: file is closed", path_));
  }

  const std::string path_;
  std::shared_ptr<MemFile> file_;
  uint64_t size_;
  std::atomic<bool> closed_{false};
};

class StringMappedFile final : public MappedFile {
 public:
  explicit StringMappedFile(std::string data) : data_(std::move(data)) {}
  std::string_view data() const override { return data_; }

 private:
  std::string data_;
};

class MemFileLock final : public FileLock {
 public:
  MemFileLock(std::shared_ptr<State> state, std::string path)
      : state_(std::move(state)), path_(std::move(path)) {}
  ~MemFileLock() override {
    std::lock_guard<std::mutex> l(state_->mu);
    state_->locks.erase(path_);
  }

 private:
  std::shared_ptr<State> state_;
  std::string path_;
};

class MemFileSystem final : public FileSystem {
 public:
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path_in,
                                                                bool append) override {
    std::string path = Clean(path_in);
    std::lock_guard<std::mutex> l(s_->mu);
    if (s_->dirs.count(path) || IsRoot(path)) {
      return absl::FailedPreconditionError(fmt::format("create {}: is a directory", path));
    }
    if (!s_->DirExists(Parent(path))) {
      return absl::NotFoundError(
          fmt::format("create {}: No such file or directory (parent missing)", path));
    }
    auto& file = s_->files[path];
    uint64_t size = 0;
    if (file == nullptr) {
      file = std::make_shared<MemFile>();
    } else {
      std::lock_guard<std::mutex> fl(file->mu);
      if (append) {
        size = file->data.size();
      } else {
        file->data.clear();
      }
    }
    return std::unique_ptr<WritableFile>(new MemWritableFile(path, file, size));
  }

  absl::StatusOr<std::string> ReadFile(const std::string& path) override {
    ASSIGN_OR_RETURN(std::shared_ptr<MemFile> f, Find("read", path));
    std::lock_guard<std::mutex> fl(f->mu);
    return f->data;
  }

  absl::StatusOr<std::unique_ptr<MappedFile>> MapFile(const std::string& path) override {
    ASSIGN_OR_RETURN(std::string data, ReadFile(path));
    return std::unique_ptr<MappedFile>(new StringMappedFile(std::move(data)));
  }

  absl::StatusOr<bool> Exists(const std::string& path_in) override {
    std::string path = Clean(path_in);
    std::lock_guard<std::mutex> l(s_->mu);
    return s_->files.count(path) > 0 || s_->DirExists(path);
  }

  absl::StatusOr<uint64_t> FileSize(const std::string& path) override {
    ASSIGN_OR_RETURN(std::shared_ptr<MemFile> f, Find("stat", path));
    std::lock_guard<std::mutex> fl(f->mu);
    return f->data.size();
  }

  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path_in) override {
    std::string path = Clean(path_in);
    std::lock_guard<std::mutex> l(s_->mu);
    if (!s_->DirExists(path)) {
      return absl::NotFoundError(
          fmt::format("list directory {}: No such file or directory", path));
    }
    std::string prefix = State::Prefix(path);
    std::set<std::string> names;
    auto collect = [&](const std::string& key) {
      if (key.compare(0, prefix.size(), prefix) != 0 || key.size() == prefix.size()) {
        return false;
      }
      std::string_view rest = std::string_view(key).substr(prefix.size());
      if (rest.find('/') == std::string_view::npos) names.emplace(rest);
      return true;
    };
    for (auto it = s_->files.lower_bound(prefix); it != s_->files.end() && collect(it->first);
         ++it) {
    }
    for (auto it = s_->dirs.lower_bound(prefix); it != s_->dirs.end() && collect(*it); ++it) {
    }
    // Relative paths and absolute ones share the maps; "" lists only relative names.
    if (path.empty()) {
      for (auto it = names.begin(); it != names.end();) {
        it = it->empty() || (*it)[0] == '/' ? names.erase(it) : std::next(it);
      }
    }
    return std::vector<std::string>(names.begin(), names.end());
  }

  absl::StatusOr<bool> IsDir(const std::string& path_in) override {
    std::string path = Clean(path_in);
    std::lock_guard<std::mutex> l(s_->mu);
    return s_->DirExists(path);
  }

  absl::Status MkdirAll(const std::string& path_in) override {
    std::string path = Clean(path_in);
    std::lock_guard<std::mutex> l(s_->mu);
    for (std::string p = path; !IsRoot(p); p = Parent(p)) {
      if (s_->files.count(p)) {
        return absl::FailedPreconditionError(
            fmt::format("create directory {}: {} exists and is not a directory", path, p));
      }
    }
    for (std::string p = path; !IsRoot(p); p = Parent(p)) s_->dirs.insert(p);
    return absl::OkStatus();
  }

  absl::Status Remove(const std::string& path_in) override {
    std::string path = Clean(path_in);
    std::lock_guard<std::mutex> l(s_->mu);
    if (s_->files.erase(path)) return absl::OkStatus();
    if (s_->dirs.count(path)) {
      if (HasChildren(path)) {
        return absl::FailedPreconditionError(
            fmt::format("remove {}: Directory not empty", path));
      }
      s_->dirs.erase(path);
      return absl::OkStatus();
    }
    return absl::NotFoundError(fmt::format("remove {}: No such file or directory", path));
  }

  absl::Status RemoveAll(const std::string& path_in) override {
    std::string path = Clean(path_in);
    if (IsRoot(path)) {
      return absl::InvalidArgumentError("remove all: refusing to remove the root");
    }
    std::lock_guard<std::mutex> l(s_->mu);
    s_->files.erase(path);
    s_->dirs.erase(path);
    std::string prefix = path + "/";
    EraseWithPrefix(s_->files, prefix);
    EraseWithPrefix(s_->dirs, prefix);
    return absl::OkStatus();
  }

  absl::Status Rename(const std::string& from_in, const std::string& to_in) override {
    std::string from = Clean(from_in), to = Clean(to_in);
    std::lock_guard<std::mutex> l(s_->mu);
    auto what = [&] { return fmt::format("rename {} to {}", from, to); };
    if (!s_->DirExists(Parent(to))) {
      return absl::NotFoundError(fmt::format("{}: No such file or directory", what()));
    }
    if (from == to) return absl::OkStatus();
    if (auto it = s_->files.find(from); it != s_->files.end()) {
      if (s_->dirs.count(to)) {
        return absl::FailedPreconditionError(fmt::format("{}: Is a directory", what()));
      }
      auto f = it->second;
      s_->files.erase(it);
      s_->files[to] = std::move(f);
      return absl::OkStatus();
    }
    if (!s_->dirs.count(from)) {
      return absl::NotFoundError(fmt::format("{}: No such file or directory", what()));
    }
    if (s_->files.count(to)) {
      return absl::FailedPreconditionError(fmt::format("{}: Not a directory", what()));
    }
    if (to.compare(0, from.size() + 1, from + "/") == 0) {
      return absl::InvalidArgumentError(fmt::format("{}: Invalid argument", what()));
    }
    if (s_->dirs.count(to)) {
      if (HasChildren(to)) {
        return absl::FailedPreconditionError(fmt::format("{}: Directory not empty", what()));
      }
    }
    // Move the directory and everything under it.
    std::string prefix = from + "/";
    std::map<std::string, std::shared_ptr<MemFile>> moved_files;
    std::set<std::string> moved_dirs;
    for (auto it = s_->files.lower_bound(prefix);
         it != s_->files.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
      moved_files[to + it->first.substr(from.size())] = it->second;
      it = s_->files.erase(it);
    }
    for (auto it = s_->dirs.lower_bound(prefix);
         it != s_->dirs.end() && it->compare(0, prefix.size(), prefix) == 0;) {
      moved_dirs.insert(to + it->substr(from.size()));
      it = s_->dirs.erase(it);
    }
    s_->dirs.erase(from);
    s_->dirs.insert(to);
    s_->files.merge(moved_files);
    s_->dirs.merge(moved_dirs);
    return absl::OkStatus();
  }

  absl::Status Truncate(const std::string& path, uint64_t size) override {
    ASSIGN_OR_RETURN(std::shared_ptr<MemFile> f, Find("truncate", path));
    std::lock_guard<std::mutex> fl(f->mu);
    f->data.resize(size, '\0');
    return absl::OkStatus();
  }

  absl::Status Link(const std::string& from_in, const std::string& to_in) override {
    std::string from = Clean(from_in), to = Clean(to_in);
    std::lock_guard<std::mutex> l(s_->mu);
    auto it = s_->files.find(from);
    if (it == s_->files.end()) {
      return absl::NotFoundError(
          fmt::format("link {} to {}: No such file or directory", from, to));
    }
    if (s_->files.count(to) || s_->dirs.count(to)) {
      return absl::AlreadyExistsError(fmt::format("link {} to {}: File exists", from, to));
    }
    if (!s_->DirExists(Parent(to))) {
      return absl::NotFoundError(
          fmt::format("link {} to {}: No such file or directory", from, to));
    }
    s_->files[to] = it->second;
    return absl::OkStatus();
  }

  absl::Status SyncDir(const std::string& path_in) override {
    std::string path = Clean(path_in);
    std::lock_guard<std::mutex> l(s_->mu);
    if (!s_->DirExists(path)) {
      return absl::NotFoundError(
          fmt::format("open directory {}: No such file or directory", path));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<FileLock>> Lock(const std::string& path_in) override {
    std::string path = Clean(path_in);
    {
      std::lock_guard<std::mutex> l(s_->mu);
      if (!s_->DirExists(Parent(path))) {
        return absl::NotFoundError(
            fmt::format("open lock file {}: No such file or directory", path));
      }
      if (!s_->locks.insert(path).second) {
        return absl::FailedPreconditionError(fmt::format(
            "lock {}: data directory is locked by another process (or another open in this "
            "one)",
            path));
      }
      auto& f = s_->files[path];
      if (f == nullptr) f = std::make_shared<MemFile>();
    }
    return std::unique_ptr<FileLock>(new MemFileLock(s_, path));
  }

 private:
  absl::StatusOr<std::shared_ptr<MemFile>> Find(std::string_view op, const std::string& path_in) {
    std::string path = Clean(path_in);
    std::lock_guard<std::mutex> l(s_->mu);
    auto it = s_->files.find(path);
    if (it == s_->files.end()) {
      if (s_->DirExists(path)) {
        return absl::FailedPreconditionError(fmt::format("{} {}: Is a directory", op, path));
      }
      return absl::NotFoundError(fmt::format("{} {}: No such file or directory", op, path));
    }
    return it->second;
  }

  bool HasChildren(const std::string& dir) const {
    std::string prefix = State::Prefix(dir);
    auto f = s_->files.lower_bound(prefix);
    if (f != s_->files.end() && f->first.compare(0, prefix.size(), prefix) == 0) return true;
    auto d = s_->dirs.lower_bound(prefix);
    return d != s_->dirs.end() && d->compare(0, prefix.size(), prefix) == 0;
  }

  template <typename C>
  static void EraseWithPrefix(C& c, const std::string& prefix) {
    auto key = [](const auto& e) -> const std::string& {
      if constexpr (std::is_same_v<std::decay_t<decltype(e)>, std::string>) {
        return e;
      } else {
        return e.first;
      }
    };
    for (auto it = c.lower_bound(prefix);
         it != c.end() && key(*it).compare(0, prefix.size(), prefix) == 0;) {
      it = c.erase(it);
    }
  }

  std::shared_ptr<State> s_ = std::make_shared<State>();
};

}  // namespace

std::unique_ptr<FileSystem> NewMemFileSystem() { return std::make_unique<MemFileSystem>(); }

}  // namespace vigil::fs

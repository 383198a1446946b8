#include "storage/index/postings.h"

#include <algorithm>
#include <queue>

#include "fmt/format.h"

namespace vigil::storage::index {
namespace {

class EmptyImpl final : public Postings {
 public:
  explicit EmptyImpl(absl::Status err = absl::OkStatus()) : err_(std::move(err)) {}
  bool Next() override { return false; }
  bool Seek(uint64_t) override { return false; }
  uint64_t At() const override { return 0; }
  absl::Status Err() const override { return err_; }

 private:
  absl::Status err_;
};

// A sorted random-access sequence of ids: a span of uint64 or big-endian fixed-width bytes.
struct SpanIds {
  std::span<const uint64_t> ids;
  size_t size() const { return ids.size(); }
  uint64_t operator[](size_t i) const { return ids[i]; }
};

struct BytesIds {
  const uint8_t* p;
  size_t n;
  int width;
  size_t size() const { return n; }
  uint64_t operator[](size_t i) const {
    const uint8_t* q = p + i * width;
    uint64_t v = 0;
    for (int k = 0; k < width; ++k) v = v << 8 | q[k];
    return v;
  }
};

// Iterates a sorted sequence; Seek gallops forward from the current position (doubling
// steps, then a binary search inside the last step), so a run of Seeks over the whole list
// costs O(n) total and one far Seek costs O(log distance).
template <typename Ids>
class SortedPostings final : public Postings {
 public:
  explicit SortedPostings(Ids ids, std::vector<uint64_t> owned = {})
      : owned_(std::move(owned)), ids_(ids) {}
  // Owning form: ids_ views owned_.
  explicit SortedPostings(std::vector<uint64_t> owned)
      : owned_(std::move(owned)), ids_{std::span<const uint64_t>(owned_)} {}

  bool Next() override {
    if (pos_ + 1 >= static_cast<int64_t>(ids_.size())) {
      pos_ = static_cast<int64_t>(ids_.size());
      return false;
    }
    ++pos_;
    cur_ = ids_[pos_];
    return true;
  }

  bool Seek(uint64_t v) override {
    const int64_t n = static_cast<int64_t>(ids_.size());
    if (pos_ >= n) return false;
    if (pos_ >= 0 && cur_ >= v) return true;
    int64_t lo = std::max<int64_t>(pos_, 0);  // candidates start here
    // Gallop: find hi with ids_[hi] >= v.
    int64_t step = 1;
    int64_t hi = lo;
    while (hi < n && ids_[hi] < v) {
      lo = hi + 1;
      hi += step;
      step <<= 1;
    }
    if (hi > n) hi = n;
    // Binary search in [lo, hi).
    while (lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      if (ids_[mid] < v) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    pos_ = lo;
    if (pos_ >= n) return false;
    cur_ = ids_[pos_];
    return true;
  }

  uint64_t At() const override { return cur_; }
  absl::Status Err() const override { return absl::OkStatus(); }

 private:
  std::vector<uint64_t> owned_;
  Ids ids_;
  int64_t pos_ = -1;
  uint64_t cur_ = 0;
};

class IntersectPostings final : public Postings {
 public:
  explicit IntersectPostings(std::vector<PostingsPtr> its) : its_(std::move(its)) {}

  bool Next() override {
    if (done_) return false;
    if (!its_[0]->Next()) return Finish();
    return Align(its_[0]->At());
  }

  bool Seek(uint64_t v) override {
    if (done_) return false;
    if (started_ && cur_ >= v) return true;
    if (!its_[0]->Seek(v)) return Finish();
    return Align(its_[0]->At());
  }

  uint64_t At() const override { return cur_; }
  absl::Status Err() const override {
    for (const auto& p : its_) {
      if (auto s = p->Err(); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  bool Finish() {
    done_ = true;
    return false;
  }

  // Leapfrog: seek every list to the largest candidate until all agree.
  bool Align(uint64_t target) {
    started_ = true;
    for (;;) {
      bool agreed = true;
      for (auto& p : its_) {
        if (!p->Seek(target)) return Finish();
        if (p->At() != target) {
          target = p->At();
          agreed = false;
          break;
        }
      }
      if (agreed) {
        cur_ = target;
        return true;
      }
    }
  }

  std::vector<PostingsPtr> its_;
  bool started_ = false;
  bool done_ = false;
  uint64_t cur_ = 0;
};

class MergePostings final : public Postings {
 public:
  explicit MergePostings(std::vector<PostingsPtr> its) : its_(std::move(its)) {}

  bool Next() override {
    if (!started_) {
      started_ = true;
      for (size_t i = 0; i < its_.size(); ++i) {
        if (its_[i]->Next()) heap_.push({its_[i]->At(), i});
      }
      return Pop();
    }
    return Advance(cur_ + 1);
  }

  bool Seek(uint64_t v) override {
    if (!started_) {
      started_ = true;
      for (size_t i = 0; i < its_.size(); ++i) {
        if (its_[i]->Seek(v)) heap_.push({its_[i]->At(), i});
      }
      return Pop();
    }
    if (done_) return false;
    if (cur_ >= v) return true;
    return Advance(v);
  }

  uint64_t At() const override { return cur_; }
  absl::Status Err() const override {
    for (const auto& p : its_) {
      if (auto s = p->Err(); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  struct Item {
    uint64_t id;
    size_t idx;
    bool operator>(const Item& o) const { return id > o.id; }
  };

  // Moves every list whose head is below `v` up to `v`, then takes the smallest head.
  bool Advance(uint64_t v) {
    if (done_) return false;
    if (v == 0) return Finish();  // cur_ + 1 wrapped: the maximal id was the last
    while (!heap_.empty() && heap_.top().id < v) {
      size_t i = heap_.top().idx;
      heap_.pop();
      if (its_[i]->Seek(v)) heap_.push({its_[i]->At(), i});
    }
    return Pop();
  }

  bool Pop() {
    if (heap_.empty()) return Finish();
    cur_ = heap_.top().id;
    return true;
  }

  bool Finish() {
    done_ = true;
    return false;
  }

  std::vector<PostingsPtr> its_;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> heap_;
  bool started_ = false;
  bool done_ = false;
  uint64_t cur_ = 0;
};

class WithoutPostings final : public Postings {
 public:
  WithoutPostings(PostingsPtr full, PostingsPtr drop) : full_(std::move(full)), drop_(std::move(drop)) {}

  bool Next() override {
    if (!full_->Next()) return false;
    return Skip();
  }
  bool Seek(uint64_t v) override {
    if (!full_->Seek(v)) return false;
    return Skip();
  }
  uint64_t At() const override { return full_->At(); }
  absl::Status Err() const override {
    if (auto s = full_->Err(); !s.ok()) return s;
    return drop_->Err();
  }

 private:
  // Moves full_ past ids present in drop_.
  bool Skip() {
    for (;;) {
      uint64_t id = full_->At();
      if (!drop_done_) {
        if (!drop_->Seek(id)) {
          drop_done_ = true;
        } else if (drop_->At() == id) {
          if (!full_->Next()) return false;
          continue;
        }
      }
      return true;
    }
  }

  PostingsPtr full_;
  PostingsPtr drop_;
  bool drop_done_ = false;
};

}  // namespace

PostingsPtr EmptyPostings() { return std::make_unique<EmptyImpl>(); }
PostingsPtr ErrPostings(absl::Status err) { return std::make_unique<EmptyImpl>(std::move(err)); }

PostingsPtr NewListPostings(std::vector<uint64_t> ids) {
  return std::make_unique<SortedPostings<SpanIds>>(std::move(ids));
}

PostingsPtr NewListPostingsView(std::span<const uint64_t> ids) {
  return std::make_unique<SortedPostings<SpanIds>>(SpanIds{ids});
}

PostingsPtr Intersect(std::vector<PostingsPtr> its) {
  if (its.empty()) return EmptyPostings();
  if (its.size() == 1) return std::move(its[0]);
  return std::make_unique<IntersectPostings>(std::move(its));
}

PostingsPtr Merge(std::vector<PostingsPtr> its) {
  if (its.empty()) return EmptyPostings();
  if (its.size() == 1) return std::move(its[0]);
  return std::make_unique<MergePostings>(std::move(its));
}

PostingsPtr Without(PostingsPtr full, PostingsPtr drop) {
  return std::make_unique<WithoutPostings>(std::move(full), std::move(drop));
}

absl::StatusOr<std::vector<uint64_t>> ExpandPostings(Postings& p) {
  std::vector<uint64_t> out;
  while (p.Next()) out.push_back(p.At());
  if (auto s = p.Err(); !s.ok()) return s;
  return out;
}

void EncodePostings(std::span<const uint64_t> ids, std::string* out) {
  int width = 4;
  if (!ids.empty() && ids.back() > 0xffffffffu) width = 8;
  out->push_back(static_cast<char>(width));
  uint32_t n = static_cast<uint32_t>(ids.size());
  for (int k = 3; k >= 0; --k) out->push_back(static_cast<char>(n >> (8 * k)));
  for (uint64_t id : ids) {
    for (int k = width - 1; k >= 0; --k) out->push_back(static_cast<char>(id >> (8 * k)));
  }
}

absl::Status CheckEncodedPostings(std::string_view b, size_t* body_len) {
  if (b.size() < 5) {
    return absl::DataLossError(fmt::format("postings: {} bytes is shorter than the header", b.size()));
  }
  auto* p = reinterpret_cast<const uint8_t*>(b.data());
  int width = p[0];
  if (width != 4 && width != 8) return absl::DataLossError(fmt::format("postings: bad id width {}", width));
  uint64_t n = uint64_t{p[1]} << 24 | uint64_t{p[2]} << 16 | uint64_t{p[3]} << 8 | p[4];
  if (n * width > b.size() - 5) {
    return absl::DataLossError(
        fmt::format("postings: {} ids of {} bytes overrun the {} bytes left", n, width, b.size() - 5));
  }
  *body_len = 5 + n * width;
  return absl::OkStatus();
}

PostingsPtr NewEncodedPostings(std::string_view b) {
  size_t len;
  if (auto s = CheckEncodedPostings(b, &len); !s.ok()) return ErrPostings(s);
  auto* p = reinterpret_cast<const uint8_t*>(b.data());
  int width = p[0];
  size_t n = (len - 5) / width;
  return std::make_unique<SortedPostings<BytesIds>>(BytesIds{p + 5, n, width});
}

}  // namespace vigil::storage::index

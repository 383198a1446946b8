#include "storage/merge.h"

#include <algorithm>

namespace vigil::storage {
namespace {

class MergeIterator final : public SampleIterator {
 public:
  explicit MergeIterator(std::vector<std::unique_ptr<SampleIterator>> its)
      : its_(std::move(its)), valid_(its_.size(), false) {}

  bool Next() override {
    if (done_) return false;
    if (!started_) {
      started_ = true;
      for (size_t i = 0; i < its_.size(); i++) valid_[i] = its_[i]->Next();
    } else {
      // Advance every source positioned at the sample just returned (dedup).
      for (size_t i = 0; i < its_.size(); i++) {
        if (valid_[i] && its_[i]->At().t == cur_.t) valid_[i] = its_[i]->Next();
      }
    }
    return Pick();
  }

  bool Seek(int64_t t) override {
    if (done_) return false;
    if (started_ && has_cur_ && cur_.t >= t) return true;
    for (size_t i = 0; i < its_.size(); i++) {
      if (!started_ || (valid_[i] && its_[i]->At().t < t)) {
        valid_[i] = its_[i]->Seek(t);
      }
    }
    started_ = true;
    return Pick();
  }

  model::Sample At() const override { return cur_; }

  absl::Status Err() const override {
    for (const auto& it : its_) {
      absl::Status s = it->Err();
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  bool Pick() {
    int best = -1;
    for (size_t i = 0; i < its_.size(); i++) {
      if (valid_[i] && (best < 0 || its_[i]->At().t < its_[best]->At().t)) {
        best = static_cast<int>(i);
      }
    }
    if (best < 0 || !Err().ok()) {
      done_ = true;
      has_cur_ = false;
      return false;
    }
    cur_ = its_[best]->At();
    has_cur_ = true;
    return true;
  }

  std::vector<std::unique_ptr<SampleIterator>> its_;
  std::vector<bool> valid_;
  bool started_ = false;
  bool done_ = false;
  bool has_cur_ = false;
  model::Sample cur_{0, 0};
};

// Series equal by labels across sources. Holds pointers to the sources' Series, which
// stay valid until their sets advance; the merged set only advances them after the
// caller moved on (SeriesSet::At() contract), and iterators made from them own their
// data per querier.h.
class MergedSeries final : public Series {
 public:
  const model::Labels& labels() const override { return parts_[0]->labels(); }
  std::unique_ptr<SampleIterator> Iterator() const override {
    if (parts_.size() == 1) return parts_[0]->Iterator();
    std::vector<std::unique_ptr<SampleIterator>> its;
    its.reserve(parts_.size());
    for (const Series* p : parts_) its.push_back(p->Iterator());
    return NewMergeIterator(std::move(its));
  }
  std::vector<const Series*> parts_;
};

class MergeSeriesSet final : public SeriesSet {
 public:
  explicit MergeSeriesSet(std::vector<std::unique_ptr<SeriesSet>> sets)
      : sets_(std::move(sets)), valid_(sets_.size(), false) {}

  bool Next() override {
    if (!started_) {
      started_ = true;
      for (size_t i = 0; i < sets_.size(); i++) valid_[i] = sets_[i]->Next();
    } else {
      for (size_t i : current_) valid_[i] = sets_[i]->Next();
    }
    current_.clear();
    cur_.parts_.clear();
    const model::Labels* min = nullptr;
    for (size_t i = 0; i < sets_.size(); i++) {
      if (!valid_[i]) continue;
      const model::Labels& l = sets_[i]->At().labels();
      if (min == nullptr || l < *min) {
        min = &l;
        current_.clear();
        current_.push_back(i);
      } else if (l == *min) {
        current_.push_back(i);
      }
    }
    if (min == nullptr) return false;
    for (size_t i : current_) cur_.parts_.push_back(&sets_[i]->At());
    return true;
  }

  const Series& At() const override { return cur_; }

  absl::Status Err() const override {
    for (const auto& s : sets_) {
      absl::Status st = s->Err();
      if (!st.ok()) return st;
    }
    return absl::OkStatus();
  }

  std::vector<std::string> Warnings() const override {
    std::vector<std::string> out;
    for (const auto& s : sets_) {
      auto w = s->Warnings();
      out.insert(out.end(), w.begin(), w.end());
    }
    return out;
  }

 private:
  std::vector<std::unique_ptr<SeriesSet>> sets_;
  std::vector<bool> valid_;
  std::vector<size_t> current_;
  bool started_ = false;
  MergedSeries cur_;
};

class MergeQuerier final : public Querier {
 public:
  MergeQuerier(std::vector<std::unique_ptr<Querier>> qs,
               std::vector<std::shared_ptr<const void>> keep_alive)
      : qs_(std::move(qs)), keep_alive_(std::move(keep_alive)) {}

  std::unique_ptr<SeriesSet> Select(bool sorted, const SelectHints& hints,
                                    const model::Matchers& matchers) override {
    if (qs_.size() == 1) return qs_[0]->Select(sorted, hints, matchers);
    std::vector<std::unique_ptr<SeriesSet>> sets;
    sets.reserve(qs_.size());
    for (auto& q : qs_) sets.push_back(q->Select(/*sorted=*/true, hints, matchers));
    return NewMergeSeriesSet(std::move(sets));
  }

  absl::StatusOr<std::vector<std::string>> LabelValues(std::string_view name,
                                                       const model::Matchers& matchers) override {
    std::vector<std::vector<std::string>> lists;
    for (auto& q : qs_) {
      auto v = q->LabelValues(name, matchers);
      if (!v.ok()) return v.status();
      lists.push_back(std::move(v).value());
    }
    return SortedUnion(std::move(lists));
  }

  absl::StatusOr<std::vector<std::string>> LabelNames(const model::Matchers& matchers) override {
    std::vector<std::vector<std::string>> lists;
    for (auto& q : qs_) {
      auto v = q->LabelNames(matchers);
      if (!v.ok()) return v.status();
      lists.push_back(std::move(v).value());
    }
    return SortedUnion(std::move(lists));
  }

 private:
  std::vector<std::unique_ptr<Querier>> qs_;
  std::vector<std::shared_ptr<const void>> keep_alive_;
};

}  // namespace

std::vector<std::string> SortedUnion(std::vector<std::vector<std::string>> lists) {
  std::vector<std::string> out;
  for (auto& l : lists) {
    std::vector<std::string> merged;
    merged.reserve(out.size() + l.size());
    std::set_union(std::make_move_iterator(out.begin()), std::make_move_iterator(out.end()),
                   std::make_move_iterator(l.begin()), std::make_move_iterator(l.end()),
                   std::back_inserter(merged));
    out = std::move(merged);
  }
  return out;
}

std::unique_ptr<SampleIterator> NewMergeIterator(std::vector<std::unique_ptr<SampleIterator>> its) {
  if (its.size() == 1) return std::move(its[0]);
  return std::make_unique<MergeIterator>(std::move(its));
}

std::unique_ptr<SeriesSet> NewMergeSeriesSet(std::vector<std::unique_ptr<SeriesSet>> sets) {
  if (sets.size() == 1) return std::move(sets[0]);
  return std::make_unique<MergeSeriesSet>(std::move(sets));
}

std::unique_ptr<Querier> NewMergeQuerier(std::vector<std::unique_ptr<Querier>> queriers,
                                         std::vector<std::shared_ptr<const void>> keep_alive) {
  return std::make_unique<MergeQuerier>(std::move(queriers), std::move(keep_alive));
}

}  // namespace vigil::storage

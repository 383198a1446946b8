#include "storage/exemplar/circular_storage.h"

#include <algorithm>

#include "fmt/format.h"

namespace vigil::storage::exemplar {
namespace {

size_t Utf8Runes(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

std::string SeriesKey(const model::Labels& labels) {
  std::string key;
  for (const model::Label& l : labels) {
    key.append(l.name);
    key.push_back('\xff');
    key.append(l.value);
    key.push_back('\xff');
  }
  return key;
}

bool MatchesAll(const model::Labels& labels, const model::Matchers& set) {
  for (const model::Matcher& m : set) {
    if (!m.Matches(labels.Get(m.name()))) return false;
  }
  return true;
}

}  // namespace

absl::Status ValidateExemplar(const Exemplar& e) {
  size_t runes = 0;
  for (size_t i = 0; i < e.labels.size(); ++i) {
    const model::Label& l = e.labels[i];
    if (!model::IsValidLabelName(l.name)) {
      return absl::InvalidArgumentError(
          fmt::format("invalid exemplar label name \"{}\"", l.name));
    }
    if (!model::IsValidUtf8(l.value)) {
      return absl::InvalidArgumentError(
          fmt::format("exemplar label {} has a value that is not valid UTF-8", l.name));
    }
    if (i > 0 && e.labels[i - 1].name == l.name) {
      return absl::InvalidArgumentError(
          fmt::format("duplicate exemplar label name \"{}\"", l.name));
    }
    runes += Utf8Runes(l.name) + Utf8Runes(l.value);
  }
  if (runes > kExemplarMaxLabelSetRunes) {
    return absl::InvalidArgumentError(
        fmt::format("exemplar label set has {} characters, more than the limit of {}", runes,
                    kExemplarMaxLabelSetRunes));
  }
  return absl::OkStatus();
}

// One tenant's ring.
class CircularExemplarStorage::Ring {
 public:
  explicit Ring(int64_t max) : max_(max) {}

  absl::Status Append(const model::Labels& series, const Exemplar& e) {
    std::lock_guard lock(mu_);
    std::string key = SeriesKey(series);
    absl::StatusOr<bool> add = CheckLocked(key, series, e);
    if (!add.ok()) return add.status();
    if (*add) Insert(std::move(key), series, e);
    return absl::OkStatus();
  }

  absl::StatusOr<bool> Check(const model::Labels& series, const Exemplar& e) const {
    std::lock_guard lock(mu_);
    return CheckLocked(SeriesKey(series), series, e);
  }

  void Select(int64_t start, int64_t end, const std::vector<model::Matchers>& sets,
              std::vector<ExemplarQueryResult>* out) const {
    std::lock_guard lock(mu_);
    for (const auto& [key, s] : index_) {
      bool selected = false;
      for (const model::Matchers& set : sets) {
        if (MatchesAll(s->labels, set)) {
          selected = true;
          break;
        }
      }
      if (!selected) continue;
      ExemplarQueryResult r;
      for (int64_t i = s->oldest; i >= 0; i = entries_[i].next) {
        const Exemplar& e = entries_[i].ex;
        if (e.t > end) break;  // ordered per series
        if (e.t >= start) r.exemplars.push_back(e);
      }
      if (r.exemplars.empty()) continue;
      r.series_labels = s->labels;
      out->push_back(std::move(r));
    }
  }

  void Resize(int64_t max) {
    std::lock_guard lock(mu_);
    if (max == max_) return;
    // The entries oldest first, then the newest `max` of them inserted into a fresh ring.
    std::vector<Entry> old;
    old.reserve(entries_.size());
    const size_t n = entries_.size();
    const size_t first = static_cast<int64_t>(n) < max_ ? 0 : static_cast<size_t>(next_);
    for (size_t k = 0; k < n; ++k) old.push_back(std::move(entries_[(first + k) % n]));
    std::vector<std::pair<std::string, model::Labels>> series_of(old.size());
    for (size_t k = 0; k < old.size(); ++k) {
      series_of[k] = {old[k].series->key, old[k].series->labels};
    }
    entries_.clear();
    index_.clear();
    next_ = 0;
    max_ = std::max<int64_t>(max, 0);
    const size_t keep = std::min(old.size(), static_cast<size_t>(max_));
    for (size_t k = old.size() - keep; k < old.size(); ++k) {
      Insert(std::move(series_of[k].first), series_of[k].second, old[k].ex);
    }
  }

  int64_t size() const {
    std::lock_guard lock(mu_);
    return static_cast<int64_t>(entries_.size());
  }

 private:
  struct Series {
    std::string key;
    model::Labels labels;
    int64_t oldest = -1;
    int64_t newest = -1;
  };
  struct Entry {
    Exemplar ex;
    Series* series = nullptr;
    int64_t next = -1;  // the series' next newer exemplar, or -1
  };

  // Whether `e` would be added to the series with `key`: false for a duplicate of its
  // newest exemplar (or a ring of size 0), an error if it is out of order.
  absl::StatusOr<bool> CheckLocked(const std::string& key, const model::Labels& series,
                                   const Exemplar& e) const {
    if (max_ <= 0) return false;
    auto it = index_.find(key);
    if (it == index_.end()) return true;
    const Exemplar& newest = entries_[it->second->newest].ex;
    if (newest == e) return false;
    if (e.t <= newest.t) {
      return absl::OutOfRangeError(fmt::format(
          "out of order exemplar for series {}: timestamp {} is not after the newest "
          "exemplar's {}",
          series.ToString(), e.t, newest.t));
    }
    return true;
  }

  // Adds `e` as the newest exemplar of the series, overwriting the ring's oldest entry when
  // full. The caller has checked ordering.
  void Insert(std::string key, const model::Labels& series, const Exemplar& e) {
    int64_t slot;
    if (static_cast<int64_t>(entries_.size()) < max_) {
      slot = static_cast<int64_t>(entries_.size());
      entries_.emplace_back();
    } else {
      slot = next_;
      next_ = (next_ + 1) % max_;
      // The oldest entry of the whole ring is the oldest of its series too.
      Entry& victim = entries_[slot];
      Series* vs = victim.series;
      vs->oldest = victim.next;
      if (vs->oldest < 0) index_.erase(index_.find(vs->key));
    }
    auto [it, inserted] = index_.try_emplace(key);
    if (inserted) {
      it->second = std::make_unique<Series>();
      it->second->key = std::move(key);
      it->second->labels = series;
    }
    Series* s = it->second.get();
    Entry& entry = entries_[slot];
    entry.ex = e;
    entry.series = s;
    entry.next = -1;
    if (s->newest >= 0) {
      entries_[s->newest].next = slot;
    } else {
      s->oldest = slot;
    }
    s->newest = slot;
  }

  mutable std::mutex mu_;
  int64_t max_;
  std::vector<Entry> entries_;
  int64_t next_ = 0;  // the slot overwritten next once the ring is full (its oldest entry)
  absl::flat_hash_map<std::string, std::unique_ptr<Series>> index_;
};

CircularExemplarStorage::CircularExemplarStorage(int64_t max_exemplars)
    : max_(std::max<int64_t>(max_exemplars, 0)) {}

CircularExemplarStorage::~CircularExemplarStorage() = default;

absl::Status CircularExemplarStorage::AppendExemplar(std::string_view tenant,
                                                     const model::Labels& series,
                                                     const Exemplar& e) {
  if (absl::Status s = ValidateExemplar(e); !s.ok()) return s;
  Ring* ring;
  {
    std::lock_guard lock(mu_);
    if (max_ == 0) return absl::OkStatus();
    auto it = rings_.find(tenant);
    if (it == rings_.end()) {
      it = rings_.emplace(std::string(tenant), std::make_unique<Ring>(max_)).first;
    }
    ring = it->second.get();  // rings are never removed while the storage lives
  }
  return ring->Append(series, e);
}

absl::StatusOr<bool> CircularExemplarStorage::CheckExemplar(std::string_view tenant,
                                                             const model::Labels& series,
                                                             const Exemplar& e) const {
  if (absl::Status s = ValidateExemplar(e); !s.ok()) return s;
  const Ring* ring = nullptr;
  {
    std::lock_guard lock(mu_);
    if (max_ == 0) return false;
    auto it = rings_.find(tenant);
    if (it != rings_.end()) ring = it->second.get();
  }
  return ring == nullptr ? true : ring->Check(series, e);
}

std::vector<ExemplarQueryResult> CircularExemplarStorage::SelectExemplars(
    std::string_view tenant, int64_t start, int64_t end,
    const std::vector<model::Matchers>& matcher_sets) const {
  std::vector<ExemplarQueryResult> out;
  const Ring* ring;
  {
    std::lock_guard lock(mu_);
    auto it = rings_.find(tenant);
    if (it == rings_.end()) return out;
    ring = it->second.get();
  }
  ring->Select(start, end, matcher_sets, &out);
  std::sort(out.begin(), out.end(), [](const ExemplarQueryResult& a, const ExemplarQueryResult& b) {
    return a.series_labels < b.series_labels;
  });
  return out;
}

void CircularExemplarStorage::Resize(int64_t max_exemplars) {
  std::lock_guard lock(mu_);
  max_ = std::max<int64_t>(max_exemplars, 0);
  for (auto& [tenant, ring] : rings_) ring->Resize(max_);
}

int64_t CircularExemplarStorage::max_exemplars() const {
  std::lock_guard lock(mu_);
  return max_;
}

int64_t CircularExemplarStorage::Size(std::string_view tenant) const {
  std::lock_guard lock(mu_);
  auto it = rings_.find(tenant);
  return it == rings_.end() ? 0 : it->second->size();
}

}  // namespace vigil::storage::exemplar

// Postings: sorted lists of series ids, and lazy iterators that combine them.
//
// A postings list is the set of series that carry one label pair (name=value), sorted by
// series id without repeats. Selecting series by matchers is set algebra over such lists:
// Intersect for "and", Merge for "or", Without for "and not". Every combinator is lazy and
// works through Seek, so intersecting a huge list with a tiny one costs about the tiny
// one's length times log of the huge one (ListPostings and EncodedPostings gallop).
//
// Ownership: ListPostingsView and EncodedPostings borrow their bytes (the caller keeps them
// alive, e.g. a memory-mapped index file); NewListPostings owns its vector. Combinators own
// their inputs.
// Thread-safety: an iterator is used by one thread; the data behind views is read-only.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vigil::storage::index {

class Postings {
 public:
  virtual ~Postings() = default;
  // Advances to the next id; false at the end or on error.
  virtual bool Next() = 0;
  // Advances to the first id >= v (staying put if the current one already is); never moves
  // backwards. Valid before the first Next(). False if there is none.
  virtual bool Seek(uint64_t v) = 0;
  // The current id; only after Next() or Seek() returned true.
  virtual uint64_t At() const = 0;
  virtual absl::Status Err() const = 0;
};

using PostingsPtr = std::unique_ptr<Postings>;

PostingsPtr EmptyPostings();
// Yields nothing; Err() returns `err`.
PostingsPtr ErrPostings(absl::Status err);

// Over a sorted, duplicate-free vector that the iterator owns.
PostingsPtr NewListPostings(std::vector<uint64_t> ids);
// Over a sorted, duplicate-free array the caller keeps alive.
PostingsPtr NewListPostingsView(std::span<const uint64_t> ids);

// Ids in every input (empty input list: no ids).
PostingsPtr Intersect(std::vector<PostingsPtr> its);
// Ids in any input, each once.
PostingsPtr Merge(std::vector<PostingsPtr> its);
// Ids in `full` that are not in `drop`.
PostingsPtr Without(PostingsPtr full, PostingsPtr drop);

// Drains `p` into a vector (returns p's error, if any).
absl::StatusOr<std::vector<uint64_t>> ExpandPostings(Postings& p);

// ---- on-disk form (docs/format/index.md, "Postings") ----
// uint8 width (4 or 8), uint32 BE count, then count big-endian ids of that width, ascending.
// Fixed width keeps Seek a binary search straight over the mapped bytes.

// Appends the encoding of `ids` (sorted, unique) to `out`.
void EncodePostings(std::span<const uint64_t> ids, std::string* out);
// Checks the header and length of an encoded list; on success `*body_len` is its total size.
absl::Status CheckEncodedPostings(std::string_view b, size_t* body_len);
// Iterates an encoded list in place; a bad header gives ErrPostings.
PostingsPtr NewEncodedPostings(std::string_view b);

}  // namespace vigil::storage::index

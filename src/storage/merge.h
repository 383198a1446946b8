// Merging queriers: one Querier over several sources (the blocks overlapping a time range
// and the head), as the DB hands out.
//
// Series with equal labels in several sources become one series whose samples are the
// time-ordered union of the sources' samples; a timestamp present in more than one source
// is returned once (from the earliest source in the list, i.e. the oldest block). Select
// always merges by labels, so its result is sorted whatever `sorted` asks. LabelNames and
// LabelValues return the sorted union. Errors and warnings of any source are passed on.
//
// Thread-safety: as storage/querier.h. Internal to storage (not included by other modules).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "storage/querier.h"

namespace vigil::storage {

// `keep_alive` is released only when the merged querier is destroyed (e.g. references on
// the blocks the sub-queriers read, so compaction cannot delete them meanwhile).
std::unique_ptr<Querier> NewMergeQuerier(std::vector<std::unique_ptr<Querier>> queriers,
                                         std::vector<std::shared_ptr<const void>> keep_alive = {});

// The union of several sample iterators, deduplicated by timestamp (first one wins).
std::unique_ptr<SampleIterator> NewMergeIterator(std::vector<std::unique_ptr<SampleIterator>> its);

// The sorted union of sorted string lists (label names or values from several sources).
std::vector<std::string> SortedUnion(std::vector<std::vector<std::string>> lists);

// The merge of several SeriesSets, each sorted by labels.
std::unique_ptr<SeriesSet> NewMergeSeriesSet(std::vector<std::unique_ptr<SeriesSet>> sets);

}  // namespace vigil::storage

#pragma once
// Greedy k-center selection (anomalib's KCenterGreedy), exact and pruned.
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "io/progress.h"

namespace patchcore {

// Selects `size` rows of `features` [N, D]: start from a seeded random row (not itself
// selected), then repeatedly take the row farthest from everything chosen so far; ties go
// to the lowest row. Returns row indices in selection order. On the CPU `features` may be
// bfloat16 (half the memory; the exact greedy of the rounded values, computed in float32).
//
// On the CPU each row remembers its nearest centre, and a new centre c skips every cluster
// whose centre lies at least twice the cluster's radius (plus a rounding margin) from c:
// by the triangle inequality none of its rows can come closer to c, so the selection is
// identical to visiting every row at every step. Memory: O(N) beyond the input.
//
// With `initial_centres` (rows of `features`, e.g. an existing memory bank placed first) the
// greedy continues from them instead of a random row: they are centres and not selectable,
// and `size` further rows are selected (at most N minus their number). Continuing from the
// random start row and the first k rows of a selection reproduces the rest of it.
std::vector<int64_t> k_center_greedy(const torch::Tensor& features, int64_t size, uint64_t seed,
                                     const ProgressCallback& progress = {},
                                     const std::vector<int64_t>& initial_centres = {});

// Statistics of the last CPU k_center_greedy call in this thread (benchmarks, logs).
struct GreedyStats {
  int64_t steps = 0;
  int64_t rows = 0;
  int64_t row_visits = 0;  // distance evaluations of rows against new centres
  // wall time of the phases of a step: distances between centres, row updates, moving
  // rows to the new cluster, picking the farthest row
  double centres_seconds = 0, update_seconds = 0, regroup_seconds = 0, select_seconds = 0;
};
GreedyStats last_greedy_stats();

}  // namespace patchcore

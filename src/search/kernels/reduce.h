#pragma once
// Reductions of one tile of dot products to nearest-neighbour results, one
// implementation per SIMD level (reduce_<level>.cpp, each compiled with its own
// target flags). A tile row r holds dots[r*ld + j] = x_r . y_(col0+j).
//
// The squared distance is anomalib's expression, rounded the same way:
//   d = max((|x|^2 - 2 x.y) + |y|^2, 0)
// (-2 x.y is exact in float, so a fused multiply-add rounds identically).
#include <cstdint>

#include "search/simd.h"

namespace patchcore::search::kernels {

struct Tile {
  const float* dots;   // [rows, ld], row-major
  int64_t ld;
  int64_t rows;
  int64_t cols;
  const float* x_norms;  // [rows]
  const float* y_norms;  // [cols]
  int64_t col0;          // bank row of column 0
};

// best[r], best_index[r]: running minimum squared distance of row r and its bank row;
// replaced only by a strictly smaller distance, so ties keep the lowest bank row.
using NearestFn = void (*)(const Tile& tile, float* best, int64_t* best_index);

// best[r*k .. r*k+k), best_index[...]: the k smallest (distance, bank row) pairs seen so
// far for row r, ascending; ties ordered by bank row. Start from (+inf, -1).
using KnnFn = void (*)(const Tile& tile, int64_t k, float* best, int64_t* best_index);

NearestFn nearest_kernel(SimdLevel level);
KnnFn knn_kernel(SimdLevel level);

namespace scalar {
void nearest(const Tile&, float*, int64_t*);
void knn(const Tile&, int64_t, float*, int64_t*);
}  // namespace scalar
namespace avx2 {
void nearest(const Tile&, float*, int64_t*);
void knn(const Tile&, int64_t, float*, int64_t*);
}  // namespace avx2
namespace avx512 {
void nearest(const Tile&, float*, int64_t*);
void knn(const Tile&, int64_t, float*, int64_t*);
}  // namespace avx512

}  // namespace patchcore::search::kernels

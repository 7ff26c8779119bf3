// The tile reductions, written once with GCC vector extensions and compiled once per
// SIMD level: reduce_<level>.cpp defines PATCHCORE_KERNEL_NS and PATCHCORE_KERNEL_WIDTH
// (floats per vector) and is built with that level's target flags.
// No include guard: each including translation unit instantiates its own copy.
#include <cstring>
#include <limits>

#include "search/kernels/reduce.h"
#include "search/kernels/sorted_insert.h"

namespace patchcore::search::kernels::PATCHCORE_KERNEL_NS {
namespace {

constexpr int kWidth = PATCHCORE_KERNEL_WIDTH;
typedef float Floats __attribute__((vector_size(kWidth * sizeof(float))));
typedef int32_t Ints __attribute__((vector_size(kWidth * sizeof(int32_t))));

inline Floats load(const float* p) {
  Floats v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline Floats squared_distance(Floats x_norm, Floats dots, Floats y_norm) {
  const Floats d = (x_norm - 2.0f * dots) + y_norm;
  const Floats zero = {};
  return d > zero ? d : zero;
}

inline float squared_distance(float x_norm, float dot, float y_norm) {
  const float d = (x_norm - 2.0f * dot) + y_norm;
  return d > 0.0f ? d : 0.0f;
}

}  // namespace

void nearest(const Tile& t, float* best, int64_t* best_index) {
  Ints lane;
  for (int l = 0; l < kWidth; ++l) lane[l] = l;
  const float inf = std::numeric_limits<float>::infinity();
  for (int64_t r = 0; r < t.rows; ++r) {
    const float* dots = t.dots + r * t.ld;
    const Floats x_norm = Floats{} + t.x_norms[r];
    Floats lane_best = Floats{} + inf;
    Ints lane_index = {};
    int64_t j = 0;
    for (; j + kWidth <= t.cols; j += kWidth) {
      const Floats d = squared_distance(x_norm, load(dots + j), load(t.y_norms + j));
      const Ints better = d < lane_best;
      lane_best = better ? d : lane_best;
      lane_index = better ? lane + static_cast<int32_t>(j) : lane_index;
    }
    float row_best = inf;
    int64_t row_index = -1;
    for (int l = 0; l < kWidth; ++l)  // lowest column among equal lane minima
      if (lane_best[l] < row_best || (lane_best[l] == row_best && row_index >= 0 && lane_index[l] < row_index))
        row_best = lane_best[l], row_index = lane_index[l];
    for (; j < t.cols; ++j) {
      const float d = squared_distance(t.x_norms[r], dots[j], t.y_norms[j]);
      if (d < row_best) row_best = d, row_index = j;
    }
    if (row_index >= 0 && row_best < best[r]) {
      best[r] = row_best;
      best_index[r] = t.col0 + row_index;
    }
  }
}

void knn(const Tile& t, int64_t k, float* best, int64_t* best_index) {
  for (int64_t r = 0; r < t.rows; ++r) {
    const float* dots = t.dots + r * t.ld;
    float* list = best + r * k;
    int64_t* list_index = best_index + r * k;
    const Floats x_norm = Floats{} + t.x_norms[r];
    int64_t j = 0;
    for (; j + kWidth <= t.cols; j += kWidth) {
      const Floats d = squared_distance(x_norm, load(dots + j), load(t.y_norms + j));
      const Ints candidate = d < (Floats{} + list[k - 1]);
      bool any = false;
      for (int l = 0; l < kWidth; ++l) any |= candidate[l] != 0;
      if (!any) continue;
      for (int l = 0; l < kWidth; ++l) insert_sorted(d[l], t.col0 + j + l, k, list, list_index);
    }
    for (; j < t.cols; ++j)
      insert_sorted(squared_distance(t.x_norms[r], dots[j], t.y_norms[j]), t.col0 + j, k, list, list_index);
  }
}

}  // namespace patchcore::search::kernels::PATCHCORE_KERNEL_NS

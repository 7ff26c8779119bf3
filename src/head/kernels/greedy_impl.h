// The k-center greedy kernels, written once with GCC vector extensions and compiled once
// per SIMD level: greedy_<level>.cpp defines PATCHCORE_KERNEL_NS and PATCHCORE_KERNEL_WIDTH
// (floats per vector). Built with -ffp-contract=off: a fused multiply-add would round the
// dot products differently from one level to the next.
// No include guard: each including translation unit instantiates its own copy.
#include <cstring>

#include "head/kernels/greedy.h"
#include "head/kernels/pivot_bound.h"

namespace patchcore::coreset_kernels::PATCHCORE_KERNEL_NS {
namespace {

constexpr int kWidth = PATCHCORE_KERNEL_WIDTH;
constexpr int kLanes = 16;  // partial sums of a dot product, the same on every level
constexpr int kVectors = kLanes / kWidth;
typedef float Floats __attribute__((vector_size(kWidth * sizeof(float))));

inline Floats load(const float* p) {
  Floats v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Dot products of R rows with one vector, interleaved so that the R accumulator chains
// hide each other's latency; each row's result is rounded as the single-row order says.
template <int R>
inline void dots(const float* const* rows, const float* c, int64_t dim, float* out) {
  Floats acc[R][kVectors] = {};
  int64_t j = 0;
  for (; j + kLanes <= dim; j += kLanes)
    for (int v = 0; v < kVectors; ++v) {
      const Floats cv = load(c + j + v * kWidth);
      for (int r = 0; r < R; ++r) acc[r][v] += load(rows[r] + j + v * kWidth) * cv;
    }
  for (int r = 0; r < R; ++r) {
    float sum = 0.0f;
    for (int64_t k = j; k < dim; ++k) sum += rows[r][k] * c[k];
    for (int v = 0; v < kVectors; ++v)
      for (int l = 0; l < kWidth; ++l) sum += acc[r][v][l];
    out[r] = sum;
  }
}

inline float squared_distance(float x_norm, float dot, float c_norm) {
  const float d = (x_norm - 2.0f * dot) + c_norm;
  return d > 0.0f ? d : 0.0f;
}

constexpr int kBlock = 4;  // rows per interleaved dot

inline void apply(const Rows& x, int32_t row, float dot, const Centre& c) {
  const float d = squared_distance(x.norms[row], dot, c.norm);
  if (d < x.min_d[row]) x.min_d[row] = d, x.owner[row] = c.id;
}

// The pivots prove that row cannot come closer to c.
inline bool pivots_exclude(const Rows& x, int32_t row, const Centre& c) {
  return pivot_lower_bound(x.pivots + int64_t{row} * x.pivot_count, c.pivots, x.pivot_count) >=
         double(x.min_d[row]) + c.pivot_margin;
}

}  // namespace

void norms(const float* rows, int64_t count, int64_t dim, float* out) {
  for (int64_t i = 0; i < count; ++i) {
    const float* row = rows + i * dim;
    dots<1>(&row, row, dim, out + i);
  }
}

float distance(const float* row, float row_norm, int64_t dim, const float* c, float c_norm) {
  float dot;
  dots<1>(&row, c, dim, &dot);
  return squared_distance(row_norm, dot, c_norm);
}

int64_t update(const Rows& x, const int32_t* list, int64_t count, float skip_below, const Centre& c) {
  // Filter on min_d and the pivots first (a few bytes a row), then compute the survivors'
  // distances (a whole row each).
  constexpr int kChunk = 256;
  int32_t todo[kChunk];
  int64_t computed = 0;
  auto run = [&](int n) {
    int i = 0;
    for (; i + kBlock <= n; i += kBlock) {
      const float* block[kBlock];
      for (int r = 0; r < kBlock; ++r) {
        block[r] = x.data + int64_t{todo[i + r]} * x.dim;
        // The rows of a cluster are scattered: fetch the next block's first lines early.
        if (i + kBlock + r < n) __builtin_prefetch(x.data + int64_t{todo[i + kBlock + r]} * x.dim);
      }
      float dot[kBlock];
      dots<kBlock>(block, c.data, x.dim, dot);
      for (int r = 0; r < kBlock; ++r) apply(x, todo[i + r], dot[r], c);
    }
    for (; i < n; ++i) {
      const float* row = x.data + int64_t{todo[i]} * x.dim;
      float dot;
      dots<1>(&row, c.data, x.dim, &dot);
      apply(x, todo[i], dot, c);
    }
    computed += n;
  };
  int pending = 0;
  for (int64_t i = 0; i < count; ++i) {
    const int32_t row = list[i];
    if (!(x.min_d[row] > skip_below) || pivots_exclude(x, row, c)) continue;
    todo[pending++] = row;
    if (pending == kChunk) run(pending), pending = 0;
  }
  run(pending);
  return computed;
}

}  // namespace patchcore::coreset_kernels::PATCHCORE_KERNEL_NS

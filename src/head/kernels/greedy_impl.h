// The k-center greedy kernels, written once with GCC vector extensions and compiled once
// per SIMD level: greedy_<level>.cpp defines PATCHCORE_KERNEL_NS and PATCHCORE_KERNEL_WIDTH
// (floats per vector). Built with -ffp-contract=off: a fused multiply-add would round the
// dot products differently from one level to the next.
// No include guard: each including translation unit instantiates its own copy.
#include <cstring>
#include <vector>

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

// bfloat16 -> float32 for a vector: the same conversion as bfloat16_to_float, lane by lane.
typedef uint16_t Halves __attribute__((vector_size(kWidth * sizeof(uint16_t))));
typedef uint32_t Words __attribute__((vector_size(kWidth * sizeof(uint32_t))));
inline Floats load(const uint16_t* p) {
  Halves h;
  std::memcpy(&h, p, sizeof h);
  const Words w = __builtin_convertvector(h, Words) << 16;
  Floats v;
  std::memcpy(&v, &w, sizeof v);
  return v;
}

inline float to_float(float x) { return x; }
inline float to_float(uint16_t x) { return bfloat16_to_float(x); }

// Dot products of R rows with one vector, interleaved so that the R accumulator chains
// hide each other's latency; each row's result is rounded as the single-row order says.
template <int R, typename T>
inline void dots(const T* const* rows, const float* c, int64_t dim, float* out) {
  Floats acc[R][kVectors] = {};
  int64_t j = 0;
  for (; j + kLanes <= dim; j += kLanes)
    for (int v = 0; v < kVectors; ++v) {
      const Floats cv = load(c + j + v * kWidth);
      for (int r = 0; r < R; ++r) acc[r][v] += load(rows[r] + j + v * kWidth) * cv;
    }
  for (int r = 0; r < R; ++r) {
    float sum = 0.0f;
    for (int64_t k = j; k < dim; ++k) sum += to_float(rows[r][k]) * c[k];
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

void norms(const Rows& rows, int64_t begin, int64_t end, float* out) {
  std::vector<float> row(rows.dim);  // as float32: exact, and the same arithmetic for both formats
  for (int64_t i = begin; i < end; ++i) {
    row_to_float(rows, i, row.data());
    const float* p = row.data();
    dots<1>(&p, p, rows.dim, out + (i - begin));
  }
}

float distance(const float* row, float row_norm, int64_t dim, const float* c, float c_norm) {
  float dot;
  dots<1>(&row, c, dim, &dot);
  return squared_distance(row_norm, dot, c_norm);
}

template <typename T>
int64_t typed_update(const Rows& x, const int32_t* list, int64_t count, float skip_below, const Centre& c) {
  const T* data = static_cast<const T*>(x.data);
  // Filter on min_d and the pivots first (a few bytes a row), then compute the survivors'
  // distances (a whole row each).
  constexpr int kChunk = 256;
  int32_t todo[kChunk];
  int64_t computed = 0;
  auto run = [&](int n) {
    int i = 0;
    for (; i + kBlock <= n; i += kBlock) {
      const T* block[kBlock];
      for (int r = 0; r < kBlock; ++r) {
        block[r] = data + int64_t{todo[i + r]} * x.dim;
        // The rows of a cluster are scattered: fetch the next block's first lines early.
        if (i + kBlock + r < n) __builtin_prefetch(data + int64_t{todo[i + kBlock + r]} * x.dim);
      }
      float dot[kBlock];
      dots<kBlock>(block, c.data, x.dim, dot);
      for (int r = 0; r < kBlock; ++r) apply(x, todo[i + r], dot[r], c);
    }
    for (; i < n; ++i) {
      const T* row = data + int64_t{todo[i]} * x.dim;
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

int64_t update(const Rows& x, const int32_t* list, int64_t count, float skip_below, const Centre& c) {
  return x.format == RowFormat::kBFloat16 ? typed_update<uint16_t>(x, list, count, skip_below, c)
                                          : typed_update<float>(x, list, count, skip_below, c);
}

}  // namespace patchcore::coreset_kernels::PATCHCORE_KERNEL_NS

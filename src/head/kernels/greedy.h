#pragma once
// Kernels of the k-center greedy (head/coreset.cpp), one implementation per SIMD level
// (greedy_<level>.cpp, each compiled with its own target flags and -ffp-contract=off).
//
// Every level rounds identically, so the selection does not depend on the CPU: a dot
// product is 16 partial sums (lane l adds the products of elements j = l mod 16 in order),
// then tail + lane 0 + ... + lane 15; a squared distance is max((|x|^2 - 2 x.c) + |c|^2, 0).
#include <cstdint>
#include <cstring>

#include "search/simd.h"

namespace patchcore::coreset_kernels {

// How the rows are stored. bfloat16 is the upper half of a float32, so a row converts to
// float32 exactly and the arithmetic below is the float32 one on the rounded values: the
// selection on bfloat16 rows is the exact greedy of those values (half the memory).
enum class RowFormat { kFloat32, kBFloat16 };

struct Rows {
  const void* data;      // [n, dim], row-major, in `format`
  RowFormat format;
  int64_t dim;
  const float* norms;    // [n] squared norms, from `norms` below
  float* min_d;          // [n] running minimum squared distance to the centres
  int32_t* owner;        // [n] the centre that gave min_d
  const double* pivots;  // [n, pivot_count]: coordinates along orthonormal directions
  int64_t pivot_count;
};

// A new centre, and what lets a row skip it without computing the distance.
struct Centre {
  const float* data;     // [dim]
  float norm;
  int32_t id;
  const double* pivots;  // [pivot_count]
  // Rows with sum_k (pivot_k(x) - pivot_k(c))^2 >= min_d + pivot_margin cannot come closer
  // (Bessel: that sum is at most |x - c|^2; the margin covers the rounding of min_d and d).
  double pivot_margin;
};

// bfloat16 -> float32, exact: the 16 bits become the upper half of the float.
inline float bfloat16_to_float(uint16_t x) {
  const uint32_t bits = uint32_t{x} << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Row `row` of `rows` as float32 into out[dim].
inline void row_to_float(const Rows& rows, int64_t row, float* out) {
  if (rows.format == RowFormat::kFloat32) {
    std::memcpy(out, static_cast<const float*>(rows.data) + row * rows.dim, rows.dim * sizeof(float));
    return;
  }
  const uint16_t* in = static_cast<const uint16_t*>(rows.data) + row * rows.dim;
  for (int64_t d = 0; d < rows.dim; ++d) out[d] = bfloat16_to_float(in[d]);
}

struct Kernels {
  // out[i] = squared norm of row i, for rows [begin, end) of `rows` (rows.norms unused).
  void (*norms)(const Rows& rows, int64_t begin, int64_t end, float* out);
  // Squared distance of a row (squared norm row_norm) to c.
  float (*distance)(const float* row, float row_norm, int64_t dim, const float* c, float c_norm);
  // For the rows listed that may come closer to the centre (min_d > skip_below and the
  // pivot bound does not exclude them): d = squared distance to the centre; when
  // d < min_d[i], min_d[i] = d and owner[i] = centre.id. Returns the distances computed.
  int64_t (*update)(const Rows& rows, const int32_t* list, int64_t count, float skip_below,
                    const Centre& centre);
};

const Kernels& kernels(search::SimdLevel level);

#define PATCHCORE_DECLARE_GREEDY_LEVEL(ns)                                                        \
  namespace ns {                                                                                  \
  void norms(const Rows&, int64_t, int64_t, float*);                                              \
  float distance(const float*, float, int64_t, const float*, float);                               \
  int64_t update(const Rows&, const int32_t*, int64_t, float, const Centre&);                      \
  }
PATCHCORE_DECLARE_GREEDY_LEVEL(scalar)
PATCHCORE_DECLARE_GREEDY_LEVEL(avx2)
PATCHCORE_DECLARE_GREEDY_LEVEL(avx512)
#undef PATCHCORE_DECLARE_GREEDY_LEVEL

}  // namespace patchcore::coreset_kernels

#pragma once
// Kernels of the k-center greedy (head/coreset.cpp), one implementation per SIMD level
// (greedy_<level>.cpp, each compiled with its own target flags and -ffp-contract=off).
//
// Every level rounds identically, so the selection does not depend on the CPU: a dot
// product is 16 partial sums (lane l adds the products of elements j = l mod 16 in order),
// then tail + lane 0 + ... + lane 15; a squared distance is max((|x|^2 - 2 x.c) + |c|^2, 0).
#include <cstdint>

#include "search/simd.h"

namespace patchcore::coreset_kernels {

struct Rows {
  const float* data;     // [n, dim], row-major
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

struct Kernels {
  // out[i] = squared norm of row i of [count, dim].
  void (*norms)(const float* rows, int64_t count, int64_t dim, float* out);
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
  void norms(const float*, int64_t, int64_t, float*);                                             \
  float distance(const float*, float, int64_t, const float*, float);                               \
  int64_t update(const Rows&, const int32_t*, int64_t, float, const Centre&);                      \
  }
PATCHCORE_DECLARE_GREEDY_LEVEL(scalar)
PATCHCORE_DECLARE_GREEDY_LEVEL(avx2)
PATCHCORE_DECLARE_GREEDY_LEVEL(avx512)
#undef PATCHCORE_DECLARE_GREEDY_LEVEL

}  // namespace patchcore::coreset_kernels

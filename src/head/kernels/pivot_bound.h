#pragma once
// The pivot lower bound of the k-center greedy, shared by its kernels and its
// centre-to-centre test: for orthonormal directions p_k, sum_k (p_k.x - p_k.y)^2 <= |x - y|^2
// (Bessel), shrunk by a relative 1e-9 for the double rounding of the coordinates (orders
// of magnitude above it).
#include <cstdint>

namespace patchcore::coreset_kernels {

inline double pivot_lower_bound(const double* p, const double* q, int64_t count) {
  double sum = 0.0;
  for (int64_t k = 0; k < count; ++k) sum += (p[k] - q[k]) * (p[k] - q[k]);
  return sum * (1.0 - 1e-9);
}

}  // namespace patchcore::coreset_kernels

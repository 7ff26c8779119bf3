#pragma once
// Exact f32 nearest-neighbour search over a memory bank: tiles of dot products from
// the BLAS sgemm (single-threaded per tile) reduced on the fly to (min, argmin) or to
// the k smallest by the SIMD kernels in kernels/. No [P x M] matrix and no bank-sized
// temporary exists per call; the bank's squared norms are computed once, here.
#include "search/index.h"
#include "search/simd.h"

namespace patchcore::search {

class ExactIndex final : public Index {
 public:
  // bank: [M, C] float32, M >= 1, finite (UserError otherwise). Kept by reference
  // when already contiguous float32, else copied once.
  explicit ExactIndex(const torch::Tensor& bank);

  int64_t size() const override { return bank_.size(0); }
  int64_t dim() const override { return bank_.size(1); }
  void nearest(const float* queries, int64_t count, float* distances, int64_t* indices) const override;
  void knn(const float* queries, int64_t count, int64_t k, float* distances, int64_t* indices) const override;
  std::string describe() const override { return "exact native (" + to_string(active_simd()) + ")"; }
  bool exact() const override { return true; }

 private:
  torch::Tensor bank_;     // [M, C] contiguous float32
  torch::Tensor norms_;    // [M] |y|^2
};

// |row|^2 of every row of x [N, C] as torch computes x.pow(2).sum(1), in blocks of
// rows so that no [N, C] temporary is allocated.
torch::Tensor squared_norms(const torch::Tensor& x);

}  // namespace patchcore::search

#pragma once
// Exact f32 nearest-neighbour search over a memory bank: tiles of dot products from
// the BLAS sgemm (single-threaded per tile) reduced on the fly to (min, argmin) or to
// the k smallest by the SIMD kernels in kernels/. No [P x M] matrix and no bank-sized
// temporary exists per call; the bank's squared norms are computed once, here.
#include "search/index.h"
#include "search/simd.h"

namespace patchcore::search {

// A memory bank ready for search, built once per index: contiguous float32 rows and
// their squared norms.
struct PreparedBank {
  torch::Tensor rows;   // [M, C]
  torch::Tensor norms;  // [M] |y|^2
};

// UserError when bank is not a non-empty [M, C] matrix or holds a NaN/Inf. Keeps the
// tensor by reference when it already is contiguous float32, else copies it once.
PreparedBank prepare_bank(const torch::Tensor& bank);

class ExactIndex final : public Index {
 public:
  // bank: see prepare_bank.
  explicit ExactIndex(const torch::Tensor& bank);

  int64_t size() const override { return bank_.rows.size(0); }
  int64_t dim() const override { return bank_.rows.size(1); }
  void nearest(const float* queries, int64_t count, float* distances, int64_t* indices) const override;
  // nearest() before the square root: squared distances (PrunedIndex continues from them).
  void nearest_squared(const float* queries, int64_t count, float* squared, int64_t* indices) const;
  void knn(const float* queries, int64_t count, int64_t k, float* distances, int64_t* indices) const override;
  std::string describe() const override { return "exact native (" + to_string(active_simd()) + ")"; }
  bool exact() const override { return true; }
  const PreparedBank& bank() const { return bank_; }

 private:
  PreparedBank bank_;
};

// |row|^2 of every row of x [N, C] as torch computes x.pow(2).sum(1), in blocks of
// rows so that no [N, C] temporary is allocated.
torch::Tensor squared_norms(const torch::Tensor& x);
// The same for `count` rows of `dim` floats at `rows` (e.g. a query batch).
torch::Tensor squared_norms(const float* rows, int64_t count, int64_t dim);

}  // namespace patchcore::search

#pragma once
// Shortlist search (SearchMode::kShortlist): the exact distance, computed to a few
// candidate rows picked in a reduced space.
//
// The bank is reduced to d dimensions by PCA (its d leading principal directions). A query
// is reduced the same way; its `shortlist_size` nearest bank rows in the reduced space are
// its shortlist, and the exact full-dimension distances to those rows decide. The answer
// equals the exact search whenever the true nearest row is on the shortlist (training
// measures how often: recall@1) and is otherwise a real bank row a little farther away, so a
// patch score can only rise. The exported graphs run the same steps
// (export/graph.cpp: lower_shortlist_nearest).
#include <torch/types.h>

#include <cstdint>
#include <string>

#include "search/exact_index.h"

namespace patchcore::search {

// The reduction, stored in the checkpoint (the exported graphs carry it as constants).
struct ShortlistProjection {
  torch::Tensor center;      // [C] float32: mean of the bank rows
  torch::Tensor components;  // [C, d] float32: orthonormal principal directions, by falling variance
  bool defined() const { return components.defined(); }
  int64_t dims() const { return components.size(1); }
};

// PCA of the bank rows [M, C] (covariance of at most 16384 evenly spaced rows, symmetric
// eigensolver in double, no randomness): the min(dims, C) leading directions, each signed so
// that its largest entry is positive; center = the mean of all rows. Training fits it once and
// the checkpoint stores it, so native and exported searches use the very same projection.
ShortlistProjection fit_shortlist_projection(const torch::Tensor& bank, int64_t dims);

// Throws UserError naming `where` when the projection does not fit a bank of `channels`.
void check_projection(const ShortlistProjection& projection, int64_t channels, const std::string& where);

// center . components [d]: what reduce_rows subtracts.
torch::Tensor projection_offset(const ShortlistProjection& projection);

// rows [N, C] -> [N, d] = rows . components - center . components, in float32: the form the
// exported graph computes (one MatMul, one Sub of a constant). Native: oneDNN sgemm tiles.
torch::Tensor reduce_rows(const ShortlistProjection& projection, const torch::Tensor& rows);

class ShortlistIndex final : public Index {
 public:
  ShortlistIndex(const torch::Tensor& bank, ShortlistProjection projection, int64_t shortlist_size);

  int64_t size() const override { return exact_.size(); }
  int64_t dim() const override { return exact_.dim(); }
  // Shortlist by the reduced index's k-nearest kernel, then the exact squared distance
  // |x|^2 - 2 x.y + |y|^2 (clamped at 0) to each shortlisted row; the first smallest wins.
  void nearest(const float* queries, int64_t count, float* distances, int64_t* indices) const override;
  // The exact k nearest rows (training computes the support table with it).
  void knn(const float* queries, int64_t count, int64_t k, float* distances, int64_t* indices) const override {
    exact_.knn(queries, count, k, distances, indices);
  }
  std::string describe() const override;
  bool exact() const override { return false; }

  const ShortlistProjection& projection() const { return projection_; }
  int64_t shortlist_size() const { return shortlist_size_; }

 private:
  ExactIndex exact_;    // the full bank and its norms
  ShortlistProjection projection_;
  ExactIndex reduced_;  // the bank reduced to d dimensions
  int64_t shortlist_size_;
};

}  // namespace patchcore::search

#pragma once
// The one nearest-neighbour interface of the project: every search over a memory bank
// (prediction, scoring the training images for norm_stats, the num_neighbors support
// table, coreset quality) goes through a search::Index.
#include <torch/types.h>

#include <cstdint>
#include <string>

namespace patchcore::search {

// Distances are Euclidean, computed as anomalib computes them:
// sqrt(max((|x|^2 - 2 x.y) + |y|^2, 0)) in float32.
struct Neighbours {
  torch::Tensor distances;  // float32 [P] (nearest) or [P,k] (knn, ascending)
  torch::Tensor indices;    // int64, same shape: bank rows
};

class Index {
 public:
  virtual ~Index() = default;
  virtual int64_t size() const = 0;  // bank rows M
  virtual int64_t dim() const = 0;   // channels C
  // queries: count rows of dim() floats, row-major. Writes count distances and bank rows.
  virtual void nearest(const float* queries, int64_t count, float* distances, int64_t* indices) const = 0;
  // The k nearest bank rows of each query, ascending by distance (k <= size()).
  virtual void knn(const float* queries, int64_t count, int64_t k, float* distances, int64_t* indices) const = 0;
  // e.g. "exact native (avx512)" or "faiss hnsw (M=32, efSearch=64)".
  virtual std::string describe() const = 0;
  // True when results equal exact search (up to float rounding).
  virtual bool exact() const = 0;
};

// Tensor front ends: queries [..., C] (any float dtype, any layout) -> leading shape kept.
Neighbours nearest(const Index& index, const torch::Tensor& queries);
Neighbours knn(const Index& index, const torch::Tensor& queries, int64_t k);

// Fraction of rows where `found` equals `truth` (both int64 [P]).
double recall_at_1(const torch::Tensor& found, const torch::Tensor& truth);

// Throws UserError naming the first value of `rows` [P,C] (float32, contiguous) that is NaN, Inf
// or so large (|x| >= 2^56) that a squared distance could overflow float32 and make the search
// answer nothing.
void check_feature_values(const float* rows, int64_t count, int64_t dim, const char* what);

}  // namespace patchcore::search

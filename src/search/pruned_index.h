#pragma once
// Exact nearest-neighbour search that skips most of the memory bank.
//
// The bank is grouped into clusters (k-means, kmeans.h) with centroid c and radius r (the
// farthest member from c). For a query q, every row y of a cluster is at least
// |q - c| - r away (triangle inequality). The search first finds the nearest row within
// q's own cluster (the one with the nearest centroid), computes its true distance u, and
// then visits only the clusters with |q - c| - r <= u. Rows of the other clusters are
// farther than a row already found, so the nearest row is always among those visited: the
// result is that of the exact search, up to float rounding. Every bound carries a proven
// float32 rounding margin (docs/architecture.md, "Search"). Patches of good parts lie close
// to bank rows relative to the spread of the bank, so most clusters are skipped for them;
// a query far from everything (a defect) would visit more clusters: when that is more than
// half of the bank it goes to the plain exact search instead, so the worst case stays close
// to ExactIndex's time.
#include <vector>

#include "search/exact_index.h"

namespace patchcore::search {

class PrunedIndex final : public Index {
 public:
  // bank: see prepare_bank. clusters: 0 = automatic (default_clusters).
  explicit PrunedIndex(const torch::Tensor& bank, int64_t clusters = 0);

  int64_t size() const override { return exact_.size(); }
  int64_t dim() const override { return exact_.dim(); }
  void nearest(const float* queries, int64_t count, float* distances, int64_t* indices) const override {
    nearest(queries, count, distances, indices, nullptr);
  }
  // row_visits (optional): how many (query, bank row) distances were computed, for tests
  // and benchmarks (count * size() for the exact search).
  void nearest(const float* queries, int64_t count, float* distances, int64_t* indices, int64_t* row_visits) const;
  // The k nearest rows: the exact search over the whole bank (used at training only).
  void knn(const float* queries, int64_t count, int64_t k, float* distances, int64_t* indices) const override {
    exact_.knn(queries, count, k, distances, indices);
  }
  std::string describe() const override;
  bool exact() const override { return true; }

  int64_t clusters() const { return static_cast<int64_t>(radius_.size()); }
  static constexpr double kClustersPerSqrtRow = 1.5;
  // The clusters asked of k-means for a bank of `rows` rows: kClustersPerSqrtRow * sqrt(rows), at least 1.
  static int64_t default_clusters(int64_t rows);

 private:
  // One chunk of queries; best: squared distances.
  void search_chunk(const float* queries, const float* x_norms, int64_t count, float* best, int64_t* best_row,
                    int64_t* row_visits) const;
  void search_far_queries(const float* queries, int64_t count, std::vector<std::vector<int64_t>>& visitors,
                          float* best, int64_t* best_row, int64_t* row_visits) const;
  void search_clusters(const float* queries, const float* x_norms, int64_t count,
                       const std::vector<std::vector<int64_t>>& visitors, bool merge, float* best,
                       int64_t* best_row, int64_t* row_visits) const;

  ExactIndex exact_;                 // knn; holds the bank in its own row order
  torch::Tensor rows_;               // [M, C] bank rows grouped by cluster, ascending bank row within one
  torch::Tensor row_norms_;          // [M] |y|^2 in float32, as the exact search computes them
  std::vector<int64_t> bank_row_;    // rows_ position -> bank row
  std::vector<int64_t> begin_;       // cluster c holds rows_[begin_[c], begin_[c + 1])
  torch::Tensor centroids_;          // [K, C]
  torch::Tensor centroid_norms_;     // [K] |c|^2 in float32
  std::vector<double> centroid_length_;  // |c|
  std::vector<double> radius_;           // max |y - c| over the cluster's rows, rounded up
};

}  // namespace patchcore::search

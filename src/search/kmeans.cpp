#include "search/kmeans.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "search/exact_index.h"

namespace patchcore::search {
namespace {

// count rows spread evenly over [0, total).
torch::Tensor evenly_spaced(const torch::Tensor& rows, int64_t count) {
  const auto picks = torch::arange(count, torch::kLong).mul(rows.size(0)).div(count, "floor");  // i * M / count
  return rows.index_select(0, picks);
}

torch::Tensor nearest_centroid(const torch::Tensor& centroids, const torch::Tensor& rows) {
  auto assignment = torch::empty({rows.size(0)}, torch::kLong);
  std::vector<float> distances(rows.size(0));
  ExactIndex(centroids).nearest(rows.data_ptr<float>(), rows.size(0), distances.data(),
                                assignment.data_ptr<int64_t>());
  return assignment;
}

// Mean of each cluster's rows (accumulated in double); a cluster without rows keeps its centroid.
void update_means(torch::Tensor& centroids, const torch::Tensor& rows, const torch::Tensor& assignment) {
  const int64_t k = centroids.size(0), dim = centroids.size(1);
  auto sums = torch::zeros({k, dim}, torch::kDouble);
  sums.index_add_(0, assignment, rows.to(torch::kDouble));
  const auto counts = torch::bincount(assignment, {}, k);
  const auto filled = counts.gt(0);
  const auto means = (sums / counts.clamp_min(1).unsqueeze(1).to(torch::kDouble)).to(torch::kFloat);
  centroids = torch::where(filled.unsqueeze(1), means, centroids).contiguous();
}

}  // namespace

Clustering kmeans(const torch::Tensor& rows, int64_t clusters, int iterations) {
  if (rows.dim() != 2 || rows.size(0) == 0 || rows.scalar_type() != torch::kFloat || !rows.is_contiguous())
    throw std::invalid_argument("kmeans: rows must be a non-empty contiguous float32 [M, C] matrix");
  if (clusters < 1) throw std::invalid_argument("kmeans: clusters = " + std::to_string(clusters) + " < 1");
  const int64_t k = std::min(clusters, rows.size(0));
  const auto sample = evenly_spaced(rows, std::min(rows.size(0), kSampleRowsPerCluster * k));
  auto centroids = evenly_spaced(sample, k).contiguous();
  for (int i = 0; i < iterations; ++i) update_means(centroids, sample, nearest_centroid(centroids, sample));

  auto assignment = nearest_centroid(centroids, rows);
  // Renumber the clusters that received rows: 0 .. K'-1, in centroid order.
  const auto used = torch::bincount(assignment, {}, k).gt(0);
  const auto renumber = used.to(torch::kLong).cumsum(0) - 1;
  return {centroids.index({used}).contiguous(), renumber.index_select(0, assignment)};
}

}  // namespace patchcore::search

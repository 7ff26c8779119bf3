#pragma once
// Lloyd's k-means over the rows of a memory bank: groups the bank for the pruned exact
// search (pruned_index.h). Deterministic: no random numbers, the same bank gives the same
// clusters. The quality of the clusters only affects speed, never search results.
#include <torch/types.h>

#include <cstdint>

namespace patchcore::search {

struct Clustering {
  torch::Tensor centroids;   // float32 [K, C]
  torch::Tensor assignment;  // int64 [M]: the nearest centroid of each row; no cluster is empty
};

// rows: float32 [M, C], contiguous, finite. Centroids start from evenly spaced rows and
// are refined for `iterations` rounds on an evenly spaced sample of at most
// kSampleRowsPerCluster * clusters rows; then every row is assigned to its nearest centroid
// and clusters left empty are dropped (so K <= min(clusters, M)).
constexpr int64_t kSampleRowsPerCluster = 32;
Clustering kmeans(const torch::Tensor& rows, int64_t clusters, int iterations);

}  // namespace patchcore::search

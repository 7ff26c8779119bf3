#pragma once
// FAISS (libfaiss) behind the search::Index interface: IndexFlatL2 (exact),
// IndexHNSWFlat or IndexIVFFlat (approximate). FAISS finds the rows; the distances
// reported are recomputed with anomalib's expression so every backend scores alike.
#include <memory>

#include "search/exact_index.h"
#include "search/index.h"
#include "search/search_options.h"

namespace faiss {
struct Index;
}

namespace patchcore::search {

class FaissIndex final : public Index {
 public:
  // Builds the index over bank [M, C] (float32, finite). HNSW is built on one thread
  // so that the graph, and with it every result, is the same on every run.
  FaissIndex(const torch::Tensor& bank, const SearchOptions& options);
  ~FaissIndex() override;

  int64_t size() const override { return bank_.rows.size(0); }
  int64_t dim() const override { return bank_.rows.size(1); }
  void nearest(const float* queries, int64_t count, float* distances, int64_t* indices) const override;
  void knn(const float* queries, int64_t count, int64_t k, float* distances, int64_t* indices) const override;
  std::string describe() const override;
  bool exact() const override { return options_.faiss_index == FaissIndexType::kFlat; }

 private:
  PreparedBank bank_;
  SearchOptions options_;
  std::unique_ptr<faiss::Index> index_;
};

}  // namespace patchcore::search

#include "search/faiss_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <omp.h>

#include <cmath>

#include "search/exact_index.h"

namespace patchcore::search {
namespace {

// Restores OpenMP's thread count when a single-threaded section ends.
class SingleThreaded {
 public:
  SingleThreaded() : saved_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~SingleThreaded() { omp_set_num_threads(saved_); }

 private:
  int saved_;
};

std::unique_ptr<faiss::Index> build(const torch::Tensor& bank, const SearchOptions& o) {
  const int dim = static_cast<int>(bank.size(1));
  const auto rows = bank.size(0);
  const float* data = bank.data_ptr<float>();
  switch (o.faiss_index) {
    case FaissIndexType::kHnsw: {
      auto index = std::make_unique<faiss::IndexHNSWFlat>(dim, o.hnsw_m);
      index->hnsw.efConstruction = o.hnsw_ef_construction;
      index->hnsw.efSearch = o.hnsw_ef_search;
      SingleThreaded deterministic;
      index->add(rows, data);
      return index;
    }
    case FaissIndexType::kIvf: {
      const int nlist = ivf_nlist_for(o, static_cast<long>(rows));
      auto quantizer = new faiss::IndexFlatL2(dim);
      auto index = std::make_unique<faiss::IndexIVFFlat>(quantizer, dim, nlist, faiss::METRIC_L2);
      index->own_fields = true;
      index->cp.verbose = false;
      index->train(rows, data);  // k-means with FAISS's fixed seed: deterministic
      index->add(rows, data);
      index->nprobe = std::min(o.ivf_nprobe, nlist);
      return index;
    }
    case FaissIndexType::kFlat: break;
  }
  auto index = std::make_unique<faiss::IndexFlatL2>(dim);
  index->add(rows, data);
  return index;
}

// anomalib's distance for one (query, bank row) pair.
float distance(const float* x, float x_norm, const float* y, float y_norm, int64_t dim) {
  float dot = 0.0f;
  for (int64_t c = 0; c < dim; ++c) dot += x[c] * y[c];
  const float d = (x_norm - 2.0f * dot) + y_norm;
  return std::sqrt(d > 0.0f ? d : 0.0f);
}

}  // namespace

FaissIndex::FaissIndex(const torch::Tensor& bank, const SearchOptions& options)
    : bank_(prepare_bank(bank)), options_(options) {
  validate(options);
  check_feature_values(bank_.rows.data_ptr<float>(), bank_.rows.size(0), bank_.rows.size(1), "memory bank");
  index_ = build(bank_.rows, options_);
}

FaissIndex::~FaissIndex() = default;

void FaissIndex::nearest(const float* queries, int64_t count, float* distances, int64_t* indices) const {
  knn(queries, count, 1, distances, indices);
}

void FaissIndex::knn(const float* queries, int64_t count, int64_t k, float* distances, int64_t* indices) const {
  if (k < 1 || k > size())
    throw std::invalid_argument("FaissIndex::knn: k must be in [1, " + std::to_string(size()) + "]");
  if (count == 0) return;
  check_feature_values(queries, count, dim(), "query feature");
  index_->search(count, queries, k, distances, indices);
  const auto x_norms = squared_norms(queries, count, dim());
  const float* xn = x_norms.data_ptr<float>();
  const float* yn = bank_.norms.data_ptr<float>();
  const float* y = bank_.rows.data_ptr<float>();
  for (int64_t i = 0; i < count; ++i) {
    for (int64_t j = 0; j < k; ++j) {
      int64_t& row = indices[i * k + j];
      if (row < 0) {  // approximate index found fewer than k rows
        distances[i * k + j] = std::numeric_limits<float>::infinity();
        continue;
      }
      distances[i * k + j] = distance(queries + i * dim(), xn[i], y + row * dim(), yn[row], dim());
    }
  }
}

std::string FaissIndex::describe() const {
  switch (options_.faiss_index) {
    case FaissIndexType::kHnsw:
      return "faiss hnsw (M=" + std::to_string(options_.hnsw_m) + ", efConstruction=" +
             std::to_string(options_.hnsw_ef_construction) + ", efSearch=" + std::to_string(options_.hnsw_ef_search) +
             ")";
    case FaissIndexType::kIvf:
      return "faiss ivf (nlist=" + std::to_string(ivf_nlist_for(options_, static_cast<long>(size()))) +
             ", nprobe=" + std::to_string(options_.ivf_nprobe) + ")";
    case FaissIndexType::kFlat: break;
  }
  return "faiss flat (exact)";
}

}  // namespace patchcore::search

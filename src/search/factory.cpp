#include "search/factory.h"

#include "search/exact_index.h"
#include "io/error.h"
#include "search/faiss_index.h"
#include "search/pruned_index.h"

namespace patchcore::search {

Backend resolve(Backend backend) {
  return backend == Backend::kAuto ? Backend::kNative : backend;
}

namespace {

enum class IndexKind { kExact, kPruned, kShortlist, kFaiss };

IndexKind index_kind(int64_t rows, const SearchOptions& options) {
  if (options.mode == SearchMode::kShortlist) return IndexKind::kShortlist;
  if (resolve(options.backend) == Backend::kFaiss) return IndexKind::kFaiss;
  return rows >= kPrunedMinRows ? IndexKind::kPruned : IndexKind::kExact;
}

}  // namespace

std::unique_ptr<Index> make_index(const torch::Tensor& bank, const SearchOptions& options,
                                  const ShortlistProjection& projection) {
  validate(options);
  switch (index_kind(bank.dim() == 2 ? bank.size(0) : 0, options)) {
    case IndexKind::kShortlist:
      if (!projection.defined())
        throw UserError("the model searches by shortlist but holds no shortlist projection; retrain the model");
      return std::make_unique<ShortlistIndex>(bank, projection, options.shortlist_size);
    case IndexKind::kFaiss: return std::make_unique<FaissIndex>(bank, options);
    case IndexKind::kPruned: return std::make_unique<PrunedIndex>(bank);
    case IndexKind::kExact: break;
  }
  return std::make_unique<ExactIndex>(bank);
}

bool searches_exactly(const SearchOptions& options) {
  switch (index_kind(kPrunedMinRows, options)) {
    case IndexKind::kShortlist: return false;
    case IndexKind::kFaiss: return options.faiss_index == FaissIndexType::kFlat;
    case IndexKind::kExact:
    case IndexKind::kPruned: break;
  }
  return true;
}

int64_t index_memory_bytes(int64_t rows, int64_t dims, const SearchOptions& options) {
  constexpr int64_t kFloat = 4, kInt32 = 4, kInt64 = 8;
  constexpr int64_t kHeaders = 16384;  // objects, tensor metadata, allocator headers (measured: under 3 KB)
  const int64_t bank_copy = rows * dims * kFloat;
  // Every index keeps |y|^2 of the bank rows (prepare_bank).
  const int64_t norms = kHeaders + rows * kFloat;
  switch (index_kind(rows, options)) {
    case IndexKind::kExact: return norms;
    case IndexKind::kPruned: {
      // ExactIndex's norms; the rows in cluster order with their norms and bank positions; per
      // cluster its centroid, centroid norm and length, radius and first row.
      const int64_t clusters = PrunedIndex::default_clusters(rows);  // k-means may return fewer
      return norms + bank_copy + rows * (kFloat + kInt64) + clusters * (dims * kFloat + kFloat + 3 * kInt64);
    }
    case IndexKind::kShortlist: {
      const int64_t d = shortlist_dims_for(options, dims);
      return norms + rows * d * kFloat + rows * kFloat;  // + the reduced bank and its norms
    }
    case IndexKind::kFaiss:
      switch (options.faiss_index) {
        case FaissIndexType::kFlat: return norms + bank_copy;
        case FaissIndexType::kHnsw:
          // Level 0 links 2M neighbours per row, the levels above about M / (M - 1) more in all
          // (a row reaches level l with probability M^-l), in a vector FAISS grows (measured
          // 1.4x its size at M = 16 and 32): counted at twice; per row also its level and offset.
          return norms + bank_copy + rows * (2 * (2 * options.hnsw_m + 1) * kInt32 + kInt32 + kInt64);
        case FaissIndexType::kIvf: {
          // Each list's codes and ids grow one entry at a time (std::vector doubling: up to
          // twice their size); the quantizer holds the centroids.
          const int64_t lists = ivf_nlist_for(options, static_cast<long>(rows));
          return norms + 2 * (bank_copy + rows * kInt64) + lists * dims * kFloat;
        }
      }
  }
  return norms;
}

}  // namespace patchcore::search

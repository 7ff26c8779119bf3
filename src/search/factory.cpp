#include "search/factory.h"

#include "search/exact_index.h"
#include "io/error.h"
#include "search/faiss_index.h"
#include "search/pruned_index.h"

namespace patchcore::search {

Backend resolve(Backend backend) {
  return backend == Backend::kAuto ? Backend::kNative : backend;
}

std::unique_ptr<Index> make_index(const torch::Tensor& bank, const SearchOptions& options,
                                  const ShortlistProjection& projection) {
  validate(options);
  if (options.mode == SearchMode::kShortlist) {
    if (!projection.defined())
      throw UserError("the model searches by shortlist but holds no shortlist projection; retrain the model");
    return std::make_unique<ShortlistIndex>(bank, projection, options.shortlist_size);
  }
  if (resolve(options.backend) == Backend::kFaiss)
    return std::make_unique<FaissIndex>(bank, options);
  if (bank.dim() == 2 && bank.size(0) >= kPrunedMinRows) return std::make_unique<PrunedIndex>(bank);
  return std::make_unique<ExactIndex>(bank);
}

}  // namespace patchcore::search

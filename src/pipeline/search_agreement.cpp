#include "pipeline/search_agreement.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <limits>

namespace patchcore {
namespace {

// max over elements of |a - e| / scale (broadcast); a 0 difference is no error whatever the scale.
double max_relative_error(const torch::Tensor& approximate, const torch::Tensor& exact, const torch::Tensor& scale) {
  const auto a = approximate.to(torch::kDouble), e = exact.to(torch::kDouble);
  const auto error = (a - e).abs() / scale.to(torch::kDouble).clamp_min(std::numeric_limits<double>::min());
  return at::where((a - e).abs() == 0, at::zeros_like(error), error).max().item<double>();
}

}  // namespace

void SearchAgreement::add(const BatchScores& approximate, const BatchScores& exact) {
  images += exact.image_scores.size(0);
  patches += exact.nearest.numel();
  agreeing += approximate.nearest.eq(exact.nearest).sum().item<int64_t>();
  // Patch scores where the search returned another row than exact search (elsewhere both
  // computed the same distance, and differ only by the two kernels' float rounding, which near a
  // distance of 0 is large relative to it), relative to the image's highest exact patch score
  // (the map's scale, which a change moves).
  const auto image_scale = std::get<0>(exact.distances.max(1, /*keepdim=*/true)).expand_as(exact.distances);
  const auto missed = approximate.nearest.ne(exact.nearest);
  if (missed.any().item<bool>())
    max_patch_error = std::max(max_patch_error, max_relative_error(approximate.distances.masked_select(missed),
                                                                   exact.distances.masked_select(missed),
                                                                   image_scale.masked_select(missed)));
  max_image_error = std::max(max_image_error,
                             max_relative_error(approximate.image_scores, exact.image_scores, exact.image_scores));
}

PatchModel exact_twin(const PatchModel& model) {
  ModelConfig config = model.config();
  config.search = search::SearchOptions{};  // native exact
  return PatchModel(config, model.shared_backbone(),
                    model.memory_bank(), model.support());
}

}  // namespace patchcore

#include "search/index.h"

#include <cmath>
#include <stdexcept>

#include "io/error.h"

namespace patchcore::search {
namespace {

torch::Tensor as_rows(const Index& index, const torch::Tensor& queries) {
  if (queries.dim() < 1 || queries.size(-1) != index.dim())
    throw std::invalid_argument("search: queries have " + std::to_string(queries.size(-1)) +
                                " channels, the memory bank " + std::to_string(index.dim()));
  return queries.reshape({-1, index.dim()}).to(torch::kFloat).contiguous();
}

std::vector<int64_t> leading_shape(const torch::Tensor& queries) {
  auto sizes = queries.sizes().vec();
  sizes.pop_back();
  return sizes;
}

}  // namespace

Neighbours nearest(const Index& index, const torch::Tensor& queries) {
  const auto rows = as_rows(index, queries);
  auto distances = torch::empty({rows.size(0)}, torch::kFloat);
  auto indices = torch::empty({rows.size(0)}, torch::kLong);
  index.nearest(rows.data_ptr<float>(), rows.size(0), distances.data_ptr<float>(), indices.data_ptr<int64_t>());
  const auto shape = leading_shape(queries);
  return {distances.view(shape), indices.view(shape)};
}

Neighbours knn(const Index& index, const torch::Tensor& queries, int64_t k) {
  if (k < 1 || k > index.size())
    throw std::invalid_argument("search: k = " + std::to_string(k) + " must be in [1, " +
                                std::to_string(index.size()) + "]");
  const auto rows = as_rows(index, queries);
  auto distances = torch::empty({rows.size(0), k}, torch::kFloat);
  auto indices = torch::empty({rows.size(0), k}, torch::kLong);
  index.knn(rows.data_ptr<float>(), rows.size(0), k, distances.data_ptr<float>(), indices.data_ptr<int64_t>());
  auto shape = leading_shape(queries);
  shape.push_back(k);
  return {distances.view(shape), indices.view(shape)};
}

double recall_at_1(const torch::Tensor& found, const torch::Tensor& truth) {
  if (found.numel() != truth.numel() || truth.numel() == 0)
    throw std::invalid_argument("recall_at_1: need two non-empty index tensors of equal size");
  return found.reshape(-1).eq(truth.reshape(-1)).to(torch::kDouble).mean().item<double>();
}

void check_feature_values(const float* rows, int64_t count, int64_t dim, const char* what) {
  // Fast pass on the bits (exponent field at or above that of 2^56, which includes NaN and Inf;
  // integer ops vectorise), then locate. Below 2^56 a squared distance over up to 2^16 channels
  // stays below 2^128, the float32 range.
  constexpr uint32_t kTooLarge = (127u + 56u) << 23;
  const auto* bits = reinterpret_cast<const uint32_t*>(rows);
  uint32_t bad = 0;
  for (int64_t i = 0; i < count * dim; ++i) bad |= ((bits[i] & 0x7f800000u) >= kTooLarge);
  if (!bad) return;
  for (int64_t i = 0; i < count * dim; ++i) {
    const std::string where = std::string(what) + " row " + std::to_string(i / dim) + " (channel " +
                              std::to_string(i % dim) + ")";
    if (!std::isfinite(rows[i]))
      throw UserError(where + " holds a NaN or Inf feature; check the input image and the backbone weights");
    if ((bits[i] & 0x7f800000u) >= kTooLarge)
      throw UserError(where + " holds " + std::to_string(rows[i]) + ", too large for float32 distances (real "
                      "features are many orders of magnitude smaller); the model or its weights are damaged");
  }
}

}  // namespace patchcore::search

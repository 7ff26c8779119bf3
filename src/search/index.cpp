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

void check_finite(const float* rows, int64_t count, int64_t dim, const char* what) {
  // Fast pass on the bits (all-ones exponent = NaN or Inf; integer ops vectorise), then locate.
  const auto* bits = reinterpret_cast<const uint32_t*>(rows);
  uint32_t bad = 0;
  for (int64_t i = 0; i < count * dim; ++i) bad |= ((bits[i] & 0x7f800000u) == 0x7f800000u);
  if (!bad) return;
  for (int64_t i = 0; i < count * dim; ++i)
    if (!std::isfinite(rows[i]))
      throw UserError(std::string(what) + " row " + std::to_string(i / dim) + " holds a NaN or Inf feature (" +
                      "channel " + std::to_string(i % dim) + "); check the input image and the backbone weights");
}

}  // namespace patchcore::search

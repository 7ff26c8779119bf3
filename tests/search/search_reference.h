#pragma once
// The double-precision reference both native searches are tested against, and the
// fixture that runs a test at one forced SIMD level.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "search/simd.h"

namespace patchcore::search::reference {

constexpr double kEps32 = 1.1920929e-7;

// Exact squared distances [P, M] in double.
inline torch::Tensor squared_distances(const torch::Tensor& x, const torch::Tensor& y) {
  const auto xd = x.to(torch::kDouble), yd = y.to(torch::kDouble);
  // Query rows in chunks: the [rows, M, C] difference stays within ~32 MB.
  const int64_t chunk = std::max<int64_t>(1, (int64_t{4} << 20) / std::max<int64_t>(1, y.size(0) * y.size(1)));
  std::vector<torch::Tensor> parts;
  for (int64_t r = 0; r < x.size(0); r += chunk)
    parts.push_back((xd.narrow(0, r, std::min(chunk, x.size(0) - r)).unsqueeze(1) - yd.unsqueeze(0)).pow(2).sum(-1));
  return at::cat(parts, 0);
}

// float32 rounding bound of anomalib's |x|^2 - 2x.y + |y|^2 in units of d^2.
inline torch::Tensor rounding_bound(const torch::Tensor& x, const torch::Tensor& y_rows) {
  return 16 * kEps32 * (x.to(torch::kDouble).pow(2).sum(1) + y_rows.to(torch::kDouble).pow(2).sum(1)) + 1e-12;
}

// Parameterised by a SIMD level: forces it (skips when this CPU lacks it), restores after.
class SimdLevels : public ::testing::TestWithParam<SimdLevel> {
 protected:
  void SetUp() override {
    if (static_cast<int>(GetParam()) > static_cast<int>(detected_simd()))
      GTEST_SKIP() << "skipped: this CPU lacks " << to_string(GetParam());
    force_simd(GetParam());
  }
  void TearDown() override { force_simd(std::nullopt); }
};

}  // namespace patchcore::search::reference

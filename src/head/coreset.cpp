#include "head/coreset.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>

#include "head/seeded_random.h"
#include "io/error.h"
#include "search/exact_index.h"

namespace patchcore {
int64_t johnson_lindenstrauss_min_dim(int64_t n_samples, double eps) {
  if (n_samples <= 0) throw std::invalid_argument("johnson_lindenstrauss_min_dim: n_samples must be > 0");
  if (!(eps > 0.0 && eps < 1.0))
    throw std::invalid_argument("johnson_lindenstrauss_min_dim: eps must be in (0, 1)");
  const double denominator = (eps * eps / 2) - (eps * eps * eps / 3);
  // numpy's astype(int64): truncation toward zero.
  return static_cast<int64_t>(4 * std::log(static_cast<double>(n_samples)) / denominator);
}

int64_t coreset_size(int64_t n_patches, double ratio) {
  if (!(ratio > 0.0))
    throw UserError("coreset ratio must be in (0, 1], got " + std::to_string(ratio));
  if (n_patches <= 0) return 0;
  if (ratio >= 1.0) return n_patches;
  const auto size = static_cast<int64_t>(std::floor(static_cast<double>(n_patches) * ratio));
  return std::clamp<int64_t>(size, 1, n_patches);
}

SparseRandomProjection::SparseRandomProjection(int64_t n_features, int64_t n_components,
                                               uint64_t seed) {
  if (n_features <= 0 || n_components <= 0)
    throw std::invalid_argument("SparseRandomProjection: n_features and n_components must be > 0");
  std::mt19937_64 rng(seed);
  const double density = 1.0 / std::sqrt(static_cast<double>(n_features));
  const float scale =
      static_cast<float>(std::sqrt(1.0 / density) / std::sqrt(static_cast<double>(n_components)));
  components_ = at::zeros({n_components, n_features}, at::kFloat);
  float* out = components_.data_ptr<float>();
  std::vector<int64_t> columns(n_features);
  for (int64_t i = 0; i < n_components; ++i) {
    // nnz ~ Binomial(n_features, density), drawn as n_features Bernoulli trials.
    int64_t nnz = 0;
    for (int64_t j = 0; j < n_features; ++j) nnz += uniform01(rng) < density ? 1 : 0;
    // nnz distinct columns, uniformly: partial Fisher-Yates shuffle.
    std::iota(columns.begin(), columns.end(), int64_t{0});
    for (int64_t j = 0; j < nnz; ++j) {
      const auto pick = j + static_cast<int64_t>(uniform_below(rng, n_features - j));
      std::swap(columns[j], columns[pick]);
      out[i * n_features + columns[j]] = (rng() >> 63) ? scale : -scale;  // +-1, p = 1/2
    }
  }
}

torch::Tensor SparseRandomProjection::transform(const torch::Tensor& x) const {
  if (x.dim() != 2 || x.size(1) != components_.size(1))
    throw std::invalid_argument("SparseRandomProjection::transform: expected [N, " +
                                std::to_string(components_.size(1)) + "] input");
  if (!x.device().is_cpu() || x.scalar_type() != at::kFloat) {
    const auto c = components_.to(x.device(), x.scalar_type());
    return at::mm(x, c.t());
  }
  // CPU: use the sparsity (density 1/sqrt(n_features), ~2.6% for 1536 features): about
  // sqrt(n_features) multiply-adds per output instead of n_features, and no dependence on
  // the speed of the BLAS LibTorch links (netlib's reference BLAS on Debian).
  const int64_t n_components = components_.size(0), n_features = components_.size(1);
  const float* dense = components_.data_ptr<float>();
  std::vector<int64_t> offsets(n_components + 1, 0);
  std::vector<int32_t> columns;
  std::vector<float> values;
  for (int64_t c = 0; c < n_components; ++c) {
    for (int64_t j = 0; j < n_features; ++j)
      if (const float v = dense[c * n_features + j]; v != 0.0f) {
        columns.push_back(static_cast<int32_t>(j));
        values.push_back(v);
      }
    offsets[c + 1] = static_cast<int64_t>(columns.size());
  }
  const auto input = x.contiguous();
  const float* in = input.data_ptr<float>();
  auto result = at::empty({input.size(0), n_components}, input.options());
  float* out = result.data_ptr<float>();
  at::parallel_for(0, input.size(0), 256, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* row = in + i * n_features;
      for (int64_t c = 0; c < n_components; ++c) {
        float acc = 0.0f;
        for (int64_t k = offsets[c]; k < offsets[c + 1]; ++k) acc += values[k] * row[columns[k]];
        out[i * n_components + c] = acc;
      }
    }
  });
  return result;
}

double coreset_radius(const torch::Tensor& bank, const std::vector<int64_t>& selected) {
  if (bank.dim() != 2 || selected.empty())
    throw std::invalid_argument("coreset_radius: need a [N,D] bank and a non-empty selection");
  const auto index = at::tensor(selected, at::kLong).to(bank.device());
  const auto centers = bank.index_select(0, index);
  const search::ExactIndex center_index(centers);
  return search::nearest(center_index, bank).distances.max().item<double>();
}

}  // namespace patchcore

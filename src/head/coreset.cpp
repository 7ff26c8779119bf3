#include "head/coreset.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>

#include "search/exact_index.h"
#include "io/error.h"

namespace patchcore {
namespace {

// Own mappings from the engine's 64-bit output, so results do not depend on the
// standard library's (implementation-defined) distributions.
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Uniform integer in [0, n) by multiply-shift (bias < n / 2^64, negligible).
uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(rng()) * n) >> 64);
}

// Dot product with 16 independent accumulators, so the compiler vectorises it without
// -ffast-math (netlib's sgemv, which Debian's LibTorch may link, is ~3x slower here).
inline float dot16(const float* a, const float* b, int64_t n) {
  float acc[16] = {0};
  int64_t j = 0;
  for (; j + 16 <= n; j += 16)
    for (int k = 0; k < 16; ++k) acc[k] += a[j + k] * b[j + k];
  float tail = 0;
  for (; j < n; ++j) tail += a[j] * b[j];
  for (int k = 0; k < 16; ++k) tail += acc[k];
  return tail;
}

}  // namespace

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

std::vector<int64_t> k_center_greedy(const torch::Tensor& features, int64_t size, uint64_t seed,
                                     const ProgressCallback& progress) {
  if (features.dim() != 2) throw std::invalid_argument("k_center_greedy: features must be [N,D]");
  const int64_t n = features.size(0);
  if (size < 0 || size > n)
    throw std::invalid_argument("k_center_greedy: size " + std::to_string(size) + " not in [0, " +
                                std::to_string(n) + "]");
  std::vector<int64_t> selected;
  selected.reserve(size);
  if (size == 0) return selected;

  // No copy when the caller already passes contiguous float32 (the normal case).
  const auto x = features.to(at::kFloat).contiguous();
  std::mt19937_64 rng(seed);
  int64_t idx = static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(n)));
  const int64_t report_every = std::max<int64_t>(1, size / 200);
  if (progress) progress(0, size);

  if (x.device().is_cpu()) {
    // Squared row norms and the running min squared distance: 8 bytes per row, allocated
    // once. Each step is one fused pass over the rows: dot with the new centre (the
    // matrix-vector product), squared distance |x|^2 - 2 x.c + |c|^2, min in place, argmax.
    // norms use the same dot kernel, so a row's distance to itself is exactly 0.
    auto norms_t = at::empty({n}, at::kFloat);
    auto min_t = at::empty({n}, at::kFloat);
    float* norms = norms_t.data_ptr<float>();
    float* min_d = min_t.data_ptr<float>();
    const float* data = x.data_ptr<float>();
    const int64_t dim = x.size(1);
    at::parallel_for(0, n, 1024, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        norms[i] = dot16(data + i * dim, data + i * dim, dim);
        min_d[i] = std::numeric_limits<float>::infinity();
      }
    });
    // A fixed number of blocks (independent of the thread count) so the argmax, taken
    // per block and then combined by lowest index on ties, is deterministic.
    constexpr int64_t kBlocks = 64;
    const int64_t block = (n + kBlocks - 1) / kBlocks;
    std::vector<float> block_best(kBlocks);
    std::vector<int64_t> block_arg(kBlocks);
    for (int64_t it = 0; it < size; ++it) {
      const float* centre = data + idx * dim;
      const float centre_norm = norms[idx];
      at::parallel_for(0, kBlocks, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
          float best = -std::numeric_limits<float>::infinity();
          int64_t arg = -1;
          const int64_t end = std::min(n, (b + 1) * block);
          for (int64_t i = b * block; i < end; ++i) {
            const float dot = dot16(data + i * dim, centre, dim);
            const float d = std::max(0.0f, norms[i] - 2.0f * dot + centre_norm);
            float m = min_d[i];
            if (d < m) min_d[i] = m = d;
            if (m > best) best = m, arg = i;
          }
          block_best[b] = best;
          block_arg[b] = arg;
        }
      });
      float best = -std::numeric_limits<float>::infinity();
      for (int64_t b = 0; b < kBlocks; ++b)
        if (block_arg[b] >= 0 && block_best[b] > best) best = block_best[b], idx = block_arg[b];
      // anomalib zeroes the chosen row's distance; -1 (below any distance) additionally
      // keeps a chosen row from ever being chosen again when the rest are duplicates.
      min_d[idx] = -1.0f;
      selected.push_back(idx);
      if (progress && ((it + 1) % report_every == 0 || it + 1 == size)) progress(it + 1, size);
    }
    return selected;
  }

  // Other devices: the same algorithm with in-place tensor ops on preallocated buffers.
  const auto norms = x.pow(2).sum(1);
  auto min_d = at::full({n}, std::numeric_limits<float>::infinity(), x.options());
  auto dots = at::empty({n}, x.options());
  for (int64_t it = 0; it < size; ++it) {
    at::mv_out(dots, x, x[idx]);
    dots.mul_(-2).add_(norms).add_(norms[idx]).clamp_min_(0);
    at::minimum_out(min_d, min_d, dots);
    idx = min_d.argmax().item<int64_t>();
    min_d[idx] = -1.0;
    selected.push_back(idx);
    if (progress && ((it + 1) % report_every == 0 || it + 1 == size)) progress(it + 1, size);
  }
  return selected;
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

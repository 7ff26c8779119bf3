#pragma once
// The k-center greedy as patchcore shipped it before cluster pruning (commit a06f2a8): every
// row visited at every step, in 64 fixed blocks over the threads. The pruned greedy
// (head/k_center_greedy.h) must select exactly the same rows: the arithmetic is the same
// (a 16-lane dot product, tail first, then lanes 0..15; squared distance
// max((|x|^2 - 2 x.c) + |c|^2, 0); ties to the lowest row). Used by tests and benchmarks.
#include <ATen/Parallel.h>
#include <torch/types.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace patchcore::reference {

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

// `size` rows of x [N, D] (contiguous float32), starting from row `start` (not selected).
inline std::vector<int64_t> full_scan_greedy(const torch::Tensor& x, int64_t size, int64_t start) {
  const int64_t n = x.size(0), dim = x.size(1);
  const float* data = x.data_ptr<float>();
  std::vector<float> norms(n), min_d(n, std::numeric_limits<float>::infinity());
  for (int64_t i = 0; i < n; ++i) norms[i] = dot16(data + i * dim, data + i * dim, dim);
  constexpr int64_t kBlocks = 64;
  const int64_t block = (n + kBlocks - 1) / kBlocks;
  std::vector<float> block_best(kBlocks);
  std::vector<int64_t> block_arg(kBlocks);
  std::vector<int64_t> selected;
  int64_t idx = start;
  for (int64_t it = 0; it < size; ++it) {
    const float* centre = data + idx * dim;
    const float centre_norm = norms[idx];
    at::parallel_for(0, kBlocks, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        float best = -std::numeric_limits<float>::infinity();
        int64_t arg = -1;
        for (int64_t i = b * block; i < std::min(n, (b + 1) * block); ++i) {
          const float d = std::max(0.0f, norms[i] - 2.0f * dot16(data + i * dim, centre, dim) + centre_norm);
          if (d < min_d[i]) min_d[i] = d;
          if (min_d[i] > best) best = min_d[i], arg = i;
        }
        block_best[b] = best;
        block_arg[b] = arg;
      }
    });
    float best = -std::numeric_limits<float>::infinity();
    for (int64_t b = 0; b < kBlocks; ++b)
      if (block_arg[b] >= 0 && block_best[b] > best) best = block_best[b], idx = block_arg[b];
    min_d[idx] = -1.0f;
    selected.push_back(idx);
  }
  return selected;
}

}  // namespace patchcore::reference

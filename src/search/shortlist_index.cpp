#include "search/shortlist_index.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "io/error.h"
#include "search/dots.h"

namespace patchcore::search {
namespace {

// Queries per step of nearest(): bounds the reduced rows and candidate lists it holds
// (2048 x (d + 2k) values) whatever the batch.
constexpr int64_t kQueryChunk = 2048;
// Rows the PCA is fitted on (see fit_shortlist_projection).
constexpr int64_t kFitRows = 16384;

// x . y over `dim` floats in 16 partial sums (vectorised by the compiler at any ISA level).
float dot(const float* x, const float* y, int64_t dim) {
  constexpr int kLanes = 16;
  float lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= dim; i += kLanes)
    for (int l = 0; l < kLanes; ++l) lanes[l] += x[i + l] * y[i + l];
  float sum = 0;
  for (; i < dim; ++i) sum += x[i] * y[i];
  for (int l = 0; l < kLanes; ++l) sum += lanes[l];
  return sum;
}

// Mean of the rows [N, C] in double, a block of rows at a time (no [N, C] double copy).
torch::Tensor column_means(const torch::Tensor& rows) {
  auto sum = at::zeros({rows.size(1)}, torch::kDouble);
  constexpr int64_t kBlock = 4096;
  for (int64_t first = 0; first < rows.size(0); first += kBlock)
    sum.add_(rows.narrow(0, first, std::min(kBlock, rows.size(0) - first)).to(torch::kDouble).sum(0));
  return sum / static_cast<double>(rows.size(0));
}

}  // namespace

ShortlistProjection fit_shortlist_projection(const torch::Tensor& bank, int64_t dims) {
  if (bank.dim() != 2 || bank.size(0) == 0) throw UserError("shortlist: the memory bank must be a non-empty [M, C]");
  if (dims < 1) throw UserError("--shortlist-dims must be at least 1");
  const int64_t channels = bank.size(1), d = std::min(dims, channels);
  // At most kFitRows rows, evenly spaced: the leading directions of a large bank are as well
  // determined by a sample of this size, and the fit stays at seconds for 100k-row banks.
  const int64_t step = (bank.size(0) + kFitRows - 1) / kFitRows;
  const auto rows = bank.slice(0, 0, bank.size(0), step).to(torch::kFloat);
  const auto center = column_means(rows);
  // Covariance of the centred rows: blocks of float32 products summed in double.
  auto covariance = at::zeros({channels, channels}, torch::kDouble);
  const auto center32 = center.to(torch::kFloat);
  constexpr int64_t kBlock = 1024;
  for (int64_t first = 0; first < rows.size(0); first += kBlock) {
    const auto block = rows.narrow(0, first, std::min(kBlock, rows.size(0) - first)) - center32;
    covariance.add_(at::matmul(block.t(), block).to(torch::kDouble));
  }
  const auto [values, vectors] = at::linalg_eigh(covariance);  // ascending eigenvalues
  auto components = vectors.narrow(1, channels - d, d).flip({1}).contiguous();  // descending
  const auto largest = components.abs().argmax(0);
  const auto signs = components.gather(0, largest.unsqueeze(0)).sign();
  components.mul_(at::where(signs == 0, at::ones_like(signs), signs));
  return {column_means(bank).to(torch::kFloat).contiguous(), components.to(torch::kFloat).contiguous()};
}

void check_projection(const ShortlistProjection& p, int64_t channels, const std::string& where) {
  const bool ok = p.center.defined() && p.components.defined() && p.center.dim() == 1 &&
                  p.center.size(0) == channels && p.components.dim() == 2 && p.components.size(0) == channels &&
                  p.components.size(1) >= 1 && p.center.scalar_type() == torch::kFloat &&
                  p.components.scalar_type() == torch::kFloat && at::isfinite(p.components).all().item<bool>() &&
                  at::isfinite(p.center).all().item<bool>();
  if (!ok)
    throw UserError(where + ": the shortlist projection does not fit the memory bank (" + std::to_string(channels) +
                    " channels); retrain the model");
}

torch::Tensor projection_offset(const ShortlistProjection& p) {
  return at::matmul(p.center.unsqueeze(0), p.components).view({-1}).contiguous();
}

torch::Tensor reduce_rows(const ShortlistProjection& p, const torch::Tensor& rows) {
  // Blocks of rows times W by oneDNN's sgemm (search/dots.h; LibTorch's matmul would go to Debian's
  // OpenBLAS, which runs SSE3 kernels on recent Xeons), in parallel.
  const auto x = rows.to(torch::kFloat).contiguous();
  const auto w_t = p.components.t().contiguous();                                   // [d, C]
  const auto offset = projection_offset(p);                                         // [d]
  const int64_t n = x.size(0), channels = x.size(1), d = w_t.size(0);
  auto out = at::empty({n, d}, torch::kFloat);
  const float* x_data = x.data_ptr<float>();
  const float* w_data = w_t.data_ptr<float>();
  const float* offset_data = offset.data_ptr<float>();
  float* out_data = out.data_ptr<float>();
  constexpr int64_t kBlock = 128;
  at::parallel_for(0, (n + kBlock - 1) / kBlock, 1, [&](int64_t begin, int64_t end) {
    for (int64_t block = begin; block < end; ++block) {
      const int64_t r0 = block * kBlock, count = std::min(kBlock, n - r0);
      float* o = out_data + r0 * d;
      tile_dots(x_data + r0 * channels, count, w_data, d, channels, o);
      for (int64_t i = 0; i < count * d; ++i) o[i] -= offset_data[i % d];
    }
  });
  return out;
}

ShortlistIndex::ShortlistIndex(const torch::Tensor& bank, ShortlistProjection projection, int64_t shortlist_size)
    : exact_(bank),
      projection_(std::move(projection)),
      reduced_((check_projection(projection_, exact_.dim(), "shortlist index"),
                reduce_rows(projection_, exact_.bank().rows).contiguous())),
      shortlist_size_(std::min<int64_t>(shortlist_size, exact_.size())) {
  if (shortlist_size < 1) throw UserError("--shortlist-size must be at least 1");
}

std::string ShortlistIndex::describe() const {
  return "shortlist native (" + std::to_string(shortlist_size_) + " of " + std::to_string(size()) +
         " rows by PCA to " + std::to_string(projection_.dims()) + " dims, exact re-rank; " +
         to_string(active_simd()) + ")";
}

void ShortlistIndex::nearest(const float* queries, int64_t count, float* distances, int64_t* indices) const {
  const int64_t dim = this->dim(), k = shortlist_size_;
  const float* bank = exact_.bank().rows.data_ptr<float>();
  const float* bank_norms = exact_.bank().norms.data_ptr<float>();
  std::vector<float> reduced_distances(std::min(count, kQueryChunk) * k);
  std::vector<int64_t> candidates(reduced_distances.size());
  for (int64_t first = 0; first < count; first += kQueryChunk) {
    const int64_t n = std::min(kQueryChunk, count - first);
    const float* x = queries + first * dim;
    check_feature_values(x, n, dim, "query feature");
    const auto rows = at::from_blob(const_cast<float*>(x), {n, dim}, torch::kFloat);
    const auto reduced = reduce_rows(projection_, rows).contiguous();
    reduced_.knn(reduced.data_ptr<float>(), n, k, reduced_distances.data(), candidates.data());
    const auto x_norms = squared_norms(x, n, dim);
    const float* xn = x_norms.data_ptr<float>();
    at::parallel_for(0, n, 64, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        float best = std::numeric_limits<float>::infinity();
        int64_t best_row = -1;
        for (int64_t j = 0; j < k; ++j) {
          const int64_t row = candidates[i * k + j];
          const float d2 = std::max((xn[i] - 2.0f * dot(x + i * dim, bank + row * dim, dim)) + bank_norms[row], 0.0f);
          if (d2 < best) {
            best = d2;
            best_row = row;
          }
        }
        distances[first + i] = std::sqrt(best);
        indices[first + i] = best_row;
      }
    });
  }
}

}  // namespace patchcore::search

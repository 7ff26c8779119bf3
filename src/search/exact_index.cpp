#include "search/exact_index.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "io/error.h"
#include "search/dots.h"
#include "search/kernels/reduce.h"
#include "search/kernels/sorted_insert.h"

namespace patchcore::search {
namespace {

// A tile is kQueryBlock query rows x at most kBankBlock bank rows of dot products: 512 KiB,
// which stays in L2 between the sgemm that writes it and the reduction that reads it.
// 128 query rows: sgemm repacks the bank tile on every call, so fewer, taller tiles
// (bench/search_bench: 64 rows was slower when many queries meet a small bank).
constexpr int64_t kQueryBlock = 128;
constexpr int64_t kBankBlock = 1024;
constexpr float kInf = std::numeric_limits<float>::infinity();

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

float* tile_buffer() {
  thread_local std::vector<float> buffer(kQueryBlock * kBankBlock);  // reused: no page faults per call
  return buffer.data();
}

// Work items = query groups x bank parts. A group is up to 8 query blocks that share
// each bank tile while it is in L2 (tiles are at most 1.5 MiB: bank_block): the bank
// streams from memory once per group (once per image at prediction) instead of once per
// query block (100k rows x 384 channels: 1.11-1.17x; 10k x 1536 with 256-row tiles instead
// of 1024: 1.17x; bench/search_bench). The bank is split into parts only when there are
// too few groups to give every thread 4 items, which bounds the imbalance of the static
// split to about 1/8.
constexpr int64_t kGroupBlocks = 8;
// Bank rows per tile: 1024, fewer for wide rows so that a bank tile stays within 1.5 MiB.
int64_t bank_block(int64_t dim) { return std::clamp<int64_t>((int64_t{3} << 19) / (4 * dim) / 64 * 64, 64, kBankBlock); }

struct Plan {
  int64_t query_blocks;
  int64_t groups;
  int64_t bank_parts;
  int64_t part_begin(int64_t part, int64_t bank_rows) const { return bank_rows * part / bank_parts; }
};

Plan make_plan(int64_t count, int64_t bank_rows, int64_t dim) {
  const int64_t query_blocks = ceil_div(count, kQueryBlock);
  const int64_t groups = ceil_div(query_blocks, kGroupBlocks);
  const int64_t wanted = 4 * static_cast<int64_t>(at::get_num_threads());
  const int64_t parts = std::clamp<int64_t>(ceil_div(wanted, groups), 1, ceil_div(bank_rows, bank_block(dim)));
  return {query_blocks, groups, parts};
}

// Runs `reduce(tile, part, first_query)` over every tile of every work item in parallel.
template <typename Reduce>
void for_each_tile(const Plan& plan, const float* queries, int64_t count, const torch::Tensor& bank,
                   const float* x_norms, const float* y_norms, Reduce reduce) {
  const int64_t bank_rows = bank.size(0), dim = bank.size(1);
  const float* y = bank.data_ptr<float>();
  at::parallel_for(0, plan.groups * plan.bank_parts, 1, [&](int64_t begin, int64_t end) {
    float* dots = tile_buffer();
    for (int64_t item = begin; item < end; ++item) {
      const int64_t part = item % plan.bank_parts, group = item / plan.bank_parts;
      const int64_t first_block = group * kGroupBlocks;
      const int64_t last_block = std::min(first_block + kGroupBlocks, plan.query_blocks);
      const int64_t part_end = plan.part_begin(part + 1, bank_rows);
      const int64_t block_rows = bank_block(dim);
      for (int64_t c0 = plan.part_begin(part, bank_rows); c0 < part_end; c0 += block_rows) {
        const int64_t cols = std::min(block_rows, part_end - c0);
        for (int64_t block = first_block; block < last_block; ++block) {
          const int64_t q0 = block * kQueryBlock, rows = std::min(kQueryBlock, count - q0);
          tile_dots(queries + q0 * dim, rows, y + c0 * dim, cols, dim, dots);
          reduce(kernels::Tile{dots, cols, rows, cols, x_norms + q0, y_norms + c0, c0}, part, q0);
        }
      }
    }
  });
}

}  // namespace

torch::Tensor squared_norms(const torch::Tensor& x) {
  constexpr int64_t kRowsPerBlock = 256;
  auto norms = at::empty({x.size(0)}, x.options());
  for (int64_t start = 0; start < x.size(0); start += kRowsPerBlock) {
    const int64_t len = std::min(kRowsPerBlock, x.size(0) - start);
    auto block = norms.narrow(0, start, len);
    at::sum_out(block, x.narrow(0, start, len).pow(2), {-1});
  }
  return norms;
}

torch::Tensor squared_norms(const float* rows, int64_t count, int64_t dim) {
  return squared_norms(at::from_blob(const_cast<float*>(rows), {count, dim}, at::kFloat));
}

PreparedBank prepare_bank(const torch::Tensor& bank) {
  if (bank.dim() != 2 || bank.size(0) == 0 || bank.size(1) == 0)
    throw UserError("memory bank must be a non-empty [M, C] matrix, got shape " + std::to_string(bank.dim()) +
                    "-D with " + std::to_string(bank.numel()) + " values; retrain the model");
  PreparedBank prepared;
  prepared.rows = bank.to(torch::kFloat).contiguous();
  check_feature_values(prepared.rows.data_ptr<float>(), prepared.rows.size(0), prepared.rows.size(1), "memory bank");
  prepared.norms = squared_norms(prepared.rows);
  return prepared;
}

ExactIndex::ExactIndex(const torch::Tensor& bank) : bank_(prepare_bank(bank)) {}

void ExactIndex::nearest(const float* queries, int64_t count, float* distances, int64_t* indices) const {
  nearest_squared(queries, count, distances, indices);
  for (int64_t i = 0; i < count; ++i) distances[i] = std::sqrt(distances[i]);
}

void ExactIndex::nearest_squared(const float* queries, int64_t count, float* distances, int64_t* indices) const {
  if (count == 0) return;
  check_feature_values(queries, count, dim(), "query feature");
  const auto x_norms = squared_norms(queries, count, dim());
  const Plan plan = make_plan(count, size(), dim());
  // One (best, index) array per bank part; part 0 lives in the output arrays.
  std::vector<float> extra_best((plan.bank_parts - 1) * count, kInf);
  std::vector<int64_t> extra_index((plan.bank_parts - 1) * count, -1);
  std::fill(distances, distances + count, kInf);
  std::fill(indices, indices + count, -1);
  const auto kernel = kernels::nearest_kernel(active_simd());
  for_each_tile(plan, queries, count, bank_.rows, x_norms.data_ptr<float>(), bank_.norms.data_ptr<float>(),
                [&](const kernels::Tile& tile, int64_t part, int64_t q0) {
                  float* best = part == 0 ? distances : extra_best.data() + (part - 1) * count;
                  int64_t* index = part == 0 ? indices : extra_index.data() + (part - 1) * count;
                  kernel(tile, best + q0, index + q0);
                });
  for (int64_t part = 1; part < plan.bank_parts; ++part)  // ascending parts: ties keep the lower row
    for (int64_t i = 0; i < count; ++i)
      if (extra_best[(part - 1) * count + i] < distances[i]) {
        distances[i] = extra_best[(part - 1) * count + i];
        indices[i] = extra_index[(part - 1) * count + i];
      }
}

void ExactIndex::knn(const float* queries, int64_t count, int64_t k, float* distances, int64_t* indices) const {
  if (k < 1 || k > size())
    throw std::invalid_argument("ExactIndex::knn: k = " + std::to_string(k) + " must be in [1, " +
                                std::to_string(size()) + "]");
  if (count == 0) return;
  check_feature_values(queries, count, dim(), "query feature");
  const auto x_norms = squared_norms(queries, count, dim());
  const Plan plan = make_plan(count, size(), dim());
  std::vector<float> best(plan.bank_parts * count * k, kInf);
  std::vector<int64_t> best_index(plan.bank_parts * count * k, -1);
  const auto kernel = kernels::knn_kernel(active_simd());
  for_each_tile(plan, queries, count, bank_.rows, x_norms.data_ptr<float>(), bank_.norms.data_ptr<float>(),
                [&](const kernels::Tile& tile, int64_t part, int64_t q0) {
                  const int64_t offset = (part * count + q0) * k;
                  kernel(tile, k, best.data() + offset, best_index.data() + offset);
                });
  for (int64_t i = 0; i < count; ++i) {
    float* out = distances + i * k;
    int64_t* out_index = indices + i * k;
    std::copy_n(best.data() + i * k, k, out);
    std::copy_n(best_index.data() + i * k, k, out_index);
    for (int64_t part = 1; part < plan.bank_parts; ++part) {  // merge: ascending parts, ties keep lower rows
      const int64_t offset = (part * count + i) * k;
      for (int64_t j = 0; j < k && best[offset + j] < out[k - 1]; ++j)
        kernels::insert_sorted(best[offset + j], best_index[offset + j], k, out, out_index);
    }
    for (int64_t j = 0; j < k; ++j) out[j] = std::sqrt(out[j]);
  }
}

}  // namespace patchcore::search

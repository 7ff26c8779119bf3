#include "search/pruned_index.h"

#include <ATen/Parallel.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>

#include "search/dots.h"
#include "search/kernels/reduce.h"
#include "search/kmeans.h"

namespace patchcore::search {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr int kKmeansIterations = 6;
// Queries per pass: their distances to the centroids take kQueryChunk * K floats.
constexpr int64_t kQueryChunk = 1024;
// Tiles of at most 128 queries x 256 cluster rows of dot products (128 KiB, in L2).
constexpr int64_t kQueryBlock = 128;
constexpr int64_t kRowBlock = 256;
// Relative headroom on bounds computed in double from float data (their own rounding
// is ~1e-16 relative).
constexpr double kDoubleHeadroom = 1e-9;
// A query whose bounds leave more than this share of the bank to visit (a patch far from
// every row) goes to the plain exact search instead: its large tiles beat many small
// cluster tiles (bench/search_bench BM_Pruned on unclustered rows).
constexpr double kExactSearchShare = 0.5;

// gamma(n) = n u / (1 - n u): the relative error bound of a sum of n float32 products
// (Higham, Accuracy and Stability of Numerical Algorithms, section 3.1).
double gamma(int64_t n) {
  const double nu = static_cast<double>(n) * 0x1p-24;
  return nu / (1.0 - nu);
}

double length(const float* x, int64_t dim) {
  double sum = 0;
  for (int64_t i = 0; i < dim; ++i) sum += static_cast<double>(x[i]) * x[i];
  return std::sqrt(sum);
}

double distance(const float* x, const float* y, int64_t dim) {
  double sum = 0;
  for (int64_t i = 0; i < dim; ++i) {
    const double d = static_cast<double>(x[i]) - y[i];
    sum += d * d;
  }
  return std::sqrt(sum);
}

// Whether (distance, bank row) comes before (best, best_row): the smaller distance, and
// among equal distances the lower bank row, as the exact search orders them.
bool precedes(float distance, int64_t row, float best, int64_t best_row) {
  return distance < best || (distance == best && row < best_row);
}

// Rethrows, after an OpenMP loop, the first exception one of its iterations threw.
class FirstError {
 public:
  template <typename F>
  void run(F&& f) {
    try {
      f();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::mutex mutex_;
  std::exception_ptr error_;
};

}  // namespace

int64_t PrunedIndex::default_clusters(int64_t rows) {
  return std::max<int64_t>(1, std::llround(kClustersPerSqrtRow * std::sqrt(double(rows))));
}

PrunedIndex::PrunedIndex(const torch::Tensor& bank, int64_t clusters) : exact_(bank) {
  const auto& rows = exact_.bank().rows;
  const int64_t m = rows.size(0), dim = rows.size(1);
  const int64_t wanted = clusters > 0 ? clusters : default_clusters(m);
  const Clustering clustering = kmeans(rows, wanted, kKmeansIterations);
  centroids_ = clustering.centroids;
  const int64_t k = centroids_.size(0);

  // Counting sort by cluster: stable, so rows of one cluster keep ascending bank order.
  const int64_t* cluster_of = clustering.assignment.data_ptr<int64_t>();
  begin_.assign(k + 1, 0);
  for (int64_t r = 0; r < m; ++r) ++begin_[cluster_of[r] + 1];
  for (int64_t c = 0; c < k; ++c) begin_[c + 1] += begin_[c];
  bank_row_.resize(m);
  std::vector<int64_t> next(begin_.begin(), begin_.end() - 1);
  for (int64_t r = 0; r < m; ++r) bank_row_[next[cluster_of[r]]++] = r;
  const auto order = torch::from_blob(bank_row_.data(), {m}, torch::kLong);
  rows_ = rows.index_select(0, order).contiguous();
  row_norms_ = exact_.bank().norms.index_select(0, order).contiguous();
  centroid_norms_ = squared_norms(centroids_);

  centroid_length_.resize(k);
  radius_.assign(k, 0.0);
  const float* y = rows_.data_ptr<float>();
  const float* c_rows = centroids_.data_ptr<float>();
  at::parallel_for(0, k, 1, [&](int64_t first, int64_t last) {
    for (int64_t c = first; c < last; ++c) {
      centroid_length_[c] = length(c_rows + c * dim, dim);
      for (int64_t r = begin_[c]; r < begin_[c + 1]; ++r)
        radius_[c] = std::max(radius_[c], distance(y + r * dim, c_rows + c * dim, dim));
      radius_[c] *= 1 + kDoubleHeadroom;
    }
  });
}

std::string PrunedIndex::describe() const {
  return "exact native, pruned by " + std::to_string(clusters()) + " clusters (" + to_string(active_simd()) + ")";
}

// Visits cluster c for the queries visitors[c] (indices into the chunk at `queries`) and
// keeps, per query, the smaller of (best, best_row) and what the cluster holds; equal
// distances keep the lower bank row. A query listed in one cluster only may be written
// directly (merge = false); otherwise each thread collects its own minima and they are
// merged at the end.
void PrunedIndex::search_clusters(const float* queries, const float* x_norms, int64_t count,
                                  const std::vector<std::vector<int64_t>>& visitors, bool merge, float* best,
                                  int64_t* best_row, int64_t* row_visits) const {
  const int64_t dim = this->dim(), k = clusters();
  const int threads = at::get_num_threads();
  std::vector<std::vector<float>> thread_best(merge ? threads : 0, std::vector<float>(count, kInf));
  std::vector<std::vector<int64_t>> thread_row(merge ? threads : 0, std::vector<int64_t>(count, -1));
  const auto kernel = kernels::nearest_kernel(active_simd());
  const float* y = rows_.data_ptr<float>();
  const float* y_norms = row_norms_.data_ptr<float>();
  int64_t visits = 0;
  FirstError error;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) reduction(+ : visits)
  for (int64_t c = 0; c < k; ++c) {
    const auto& list = visitors[c];
    if (list.empty()) continue;
    error.run([&] {
      thread_local std::vector<float> gathered, norms, dots, local_best;
      thread_local std::vector<int64_t> local_row;
      gathered.resize(kQueryBlock * dim);
      norms.resize(kQueryBlock);
      dots.resize(kQueryBlock * kRowBlock);
      float* out_best = merge ? thread_best[omp_get_thread_num()].data() : best;
      int64_t* out_row = merge ? thread_row[omp_get_thread_num()].data() : best_row;
      const int64_t listed = static_cast<int64_t>(list.size());
      for (int64_t q0 = 0; q0 < listed; q0 += kQueryBlock) {
        const int64_t rows = std::min(kQueryBlock, listed - q0);
        for (int64_t t = 0; t < rows; ++t) {
          std::copy_n(queries + list[q0 + t] * dim, dim, gathered.data() + t * dim);
          norms[t] = x_norms[list[q0 + t]];
        }
        local_best.assign(rows, kInf);
        local_row.assign(rows, -1);
        for (int64_t r0 = begin_[c]; r0 < begin_[c + 1]; r0 += kRowBlock) {
          const int64_t cols = std::min(kRowBlock, begin_[c + 1] - r0);
          tile_dots(gathered.data(), rows, y + r0 * dim, cols, dim, dots.data());
          kernel(kernels::Tile{dots.data(), cols, rows, cols, norms.data(), y_norms + r0, r0}, local_best.data(),
                 local_row.data());
        }
        visits += rows * (begin_[c + 1] - begin_[c]);
        for (int64_t t = 0; t < rows; ++t) {
          const int64_t i = list[q0 + t], bank_row = bank_row_[local_row[t]];
          if (precedes(local_best[t], bank_row, out_best[i], out_row[i])) {
            out_best[i] = local_best[t];
            out_row[i] = bank_row;
          }
        }
      }
    });
  }
  error.rethrow();
  for (int t = 0; t < static_cast<int>(thread_best.size()); ++t)
    for (int64_t i = 0; i < count; ++i)
      if (precedes(thread_best[t][i], thread_row[t][i], best[i], best_row[i])) {
        best[i] = thread_best[t][i];
        best_row[i] = thread_row[t][i];
      }
  if (row_visits) *row_visits += visits;
}

void PrunedIndex::search_chunk(const float* queries, const float* x_norms, int64_t count, float* best,
                               int64_t* best_row, int64_t* row_visits) const {
  const int64_t dim = this->dim(), k = clusters();
  // 1. Squared distances to the centroids, in float32 as the search computes distances.
  std::vector<float> d2(count * k);
  const float* c_norms = centroid_norms_.data_ptr<float>();
  at::parallel_for(0, (count + kQueryBlock - 1) / kQueryBlock, 1, [&](int64_t first, int64_t last) {
    for (int64_t block = first; block < last; ++block) {
      const int64_t q0 = block * kQueryBlock, rows = std::min(kQueryBlock, count - q0);
      float* out = d2.data() + q0 * k;
      tile_dots(queries + q0 * dim, rows, centroids_.data_ptr<float>(), k, dim, out);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < k; ++c) out[r * k + c] = (x_norms[q0 + r] - 2.0f * out[r * k + c]) + c_norms[c];
    }
  });

  // 2. Each query's nearest row within its own cluster: an upper bound on its distance.
  std::vector<int64_t> home(count);
  std::vector<std::vector<int64_t>> visitors(k);
  for (int64_t i = 0; i < count; ++i) {
    home[i] = std::min_element(d2.begin() + i * k, d2.begin() + (i + 1) * k) - (d2.begin() + i * k);
    visitors[home[i]].push_back(i);
  }
  std::fill(best, best + count, kInf);
  std::fill(best_row, best_row + count, int64_t{-1});
  search_clusters(queries, x_norms, count, visitors, false, best, best_row, row_visits);

  // 3. The other clusters that may hold a nearer row. With u the true distance of the row
  // found and D = d2 as computed in float32, visit c unless |q - c| - r > u, i.e. unless
  // D - slack > (u + r)^2, where slack bounds the rounding of D: the dot product and both
  // squared norms are sums of dim float32 products, each within gamma(dim + 1) of exact,
  // and the two additions add 2 units of roundoff; in total at most
  // gamma(dim + 4) (|q| + |c|)^2.
  const float* bank = exact_.bank().rows.data_ptr<float>();
  std::vector<double> reach(count), q_length(count);
  for (int64_t i = 0; i < count; ++i) {
    reach[i] = distance(queries + i * dim, bank + best_row[i] * dim, dim) * (1 + kDoubleHeadroom);
    q_length[i] = length(queries + i * dim, dim);
  }
  const double slack_factor = 1.01 * gamma(dim + 4);
  at::parallel_for(0, k, 1, [&](int64_t first, int64_t last) {
    for (int64_t c = first; c < last; ++c) {
      visitors[c].clear();
      for (int64_t i = 0; i < count; ++i) {
        if (home[i] == c) continue;
        const double lengths = q_length[i] + centroid_length_[c], within = reach[i] + radius_[c];
        if (static_cast<double>(d2[i * k + c]) - slack_factor * lengths * lengths <= within * within)
          visitors[c].push_back(i);
      }
    }
  });
  search_far_queries(queries, count, visitors, best, best_row, row_visits);
  search_clusters(queries, x_norms, count, visitors, true, best, best_row, row_visits);
}

// Takes the queries that would visit more than kExactSearchShare of the bank out of
// `visitors` and answers them by the plain exact search (the bank in its own order: lowest
// bank row among ties, as everywhere).
void PrunedIndex::search_far_queries(const float* queries, int64_t count, std::vector<std::vector<int64_t>>& visitors,
                                     float* best, int64_t* best_row, int64_t* row_visits) const {
  std::vector<int64_t> planned(count, 0);
  for (int64_t c = 0; c < clusters(); ++c)
    for (const int64_t i : visitors[c]) planned[i] += begin_[c + 1] - begin_[c];
  std::vector<char> far(count, 0);
  std::vector<int64_t> far_queries;
  for (int64_t i = 0; i < count; ++i)
    if (static_cast<double>(planned[i]) > kExactSearchShare * static_cast<double>(size())) {
      far[i] = 1;
      far_queries.push_back(i);
    }
  if (far_queries.empty()) return;
  for (auto& list : visitors)
    list.erase(std::remove_if(list.begin(), list.end(), [&](int64_t i) { return far[i] != 0; }), list.end());
  const int64_t n = static_cast<int64_t>(far_queries.size()), dim = this->dim();
  std::vector<float> gathered(n * dim), squared(n);
  std::vector<int64_t> rows(n);
  for (int64_t t = 0; t < n; ++t) std::copy_n(queries + far_queries[t] * dim, dim, gathered.data() + t * dim);
  exact_.nearest_squared(gathered.data(), n, squared.data(), rows.data());
  for (int64_t t = 0; t < n; ++t) {
    best[far_queries[t]] = squared[t];
    best_row[far_queries[t]] = rows[t];
  }
  if (row_visits) *row_visits += n * size();
}

void PrunedIndex::nearest(const float* queries, int64_t count, float* distances, int64_t* indices,
                          int64_t* row_visits) const {
  if (row_visits) *row_visits = 0;
  if (count == 0) return;
  check_feature_values(queries, count, dim(), "query feature");
  const auto x_norms = squared_norms(queries, count, dim());
  for (int64_t first = 0; first < count; first += kQueryChunk) {
    const int64_t rows = std::min(kQueryChunk, count - first);
    search_chunk(queries + first * dim(), x_norms.data_ptr<float>() + first, rows, distances + first,
                 indices + first, row_visits);
  }
  for (int64_t i = 0; i < count; ++i) distances[i] = std::sqrt(distances[i]);
}

}  // namespace patchcore::search

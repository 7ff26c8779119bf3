#include "head/k_center_greedy.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>

#include "head/kernels/greedy.h"
#include "head/kernels/pivot_bound.h"
#include "head/seeded_random.h"
#include "io/error.h"

namespace patchcore {
namespace {

thread_local GreedyStats g_last_stats;

using Clock = std::chrono::steady_clock;

// Seconds since t; restarts t.
double lap(Clock::time_point& t) {
  const auto now = Clock::now();
  const double s = std::chrono::duration<double>(now - t).count();
  t = now;
  return s;
}

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr int64_t kPieceRows = 512;     // rows per parallel work item
constexpr int64_t kParallelPieces = 8;  // fewer pieces run on one thread: waking threads costs more

constexpr int64_t kPivots = 8;            // orthonormal directions for the per-row bound
constexpr int64_t kPivotSampleRows = 16384;  // rows whose principal axes give the pivots

// The running state of the greedy on the CPU: each unselected row's distance to its
// nearest centre and that centre; each centre's cluster with its radius.
//
// Two exact bounds let a new centre c skip work (with E bounding the rounding error of any
// computed squared distance, so that a skipped row provably keeps its computed min_d):
//  - triangle inequality: a row x of cluster j (centre c_j, |x - c_j| <= b) satisfies
//    |x - c|^2 - |x - c_j|^2 >= a (a - 2b), a = |c - c_j|, once a >= 2b; whole clusters
//    are skipped when their radius is small enough, and rows when their own min_d is;
//  - pivots: for orthonormal directions p_k, sum_k (p_k.(x - c))^2 <= |x - c|^2, from 8
//    numbers a row; the principal axes of the data make it tight.
class PrunedGreedy {
 public:
  // x: contiguous float32 or bfloat16 [n, dim].
  PrunedGreedy(const torch::Tensor& x, int64_t centres)
      : data_(x.data_ptr()),
        format_(x.scalar_type() == at::kBFloat16 ? coreset_kernels::RowFormat::kBFloat16
                                                 : coreset_kernels::RowFormat::kFloat32),
        n_(x.size(0)), dim_(x.size(1)),
        kernels_(coreset_kernels::kernels(search::active_simd())),
        norms_(n_), min_d_(n_, kInf), owner_(n_, -1) {
    at::parallel_for(0, n_, 4096, [&](int64_t begin, int64_t end) {
      kernels_.norms(rows(), begin, end, norms_.data() + begin);
    });
    for (int64_t i = 0; i < n_; ++i)
      if (!std::isfinite(norms_[i]))
        throw UserError("coreset selection: feature row " + std::to_string(i) +
                        " is not finite (NaN/Inf, or too large to square in float32)");
    // Bound on the rounding error of any computed squared distance (Higham's gamma for the
    // dot product's longest summation chain, plus the three roundings of the expression),
    // with |x| + |y| <= 2 max |x|.
    const double max_norm = n_ ? *std::max_element(norms_.begin(), norms_.end()) : 0.0;
    const double chain = double(dim_ / 16) + 18.0;
    error_bound_ = (chain + 8.0) * std::ldexp(1.0, -24) * 4.0 * max_norm * 1.01;
    compute_pivots(x);
    stats_.rows = n_;
    centres_.reserve(centres * dim_);
    centre_norms_.reserve(centres);
    centre_pivots_.reserve(centres * pivot_count_);
    clusters_.reserve(centres);
  }

  // Makes `row` a centre: updates the rows it can come closer to.
  void add_centre(int64_t row) {
    const auto id = static_cast<int32_t>(clusters_.size());
    // The centre as float32 at the end of centres_ (reserved: the pointer stays valid).
    centres_.resize(centres_.size() + dim_);
    coreset_kernels::row_to_float(rows(), row, centres_.data() + int64_t{id} * dim_);
    const coreset_kernels::Centre c{centres_.data() + int64_t{id} * dim_, norms_[row], id,
                                    pivots_.data() + row * pivot_count_, 2.0 * error_bound_};
    auto t = Clock::now();
    std::vector<Visit> active = clusters_to_visit(c);
    stats_.centres_seconds += lap(t);
    centre_norms_.push_back(c.norm);
    centre_pivots_.insert(centre_pivots_.end(), c.pivots, c.pivots + pivot_count_);
    clusters_.emplace_back();
    if (id == 0) {  // the start row: every row is visited
      auto& all = clusters_[0].rows;
      all.resize(n_);
      for (int64_t i = 0; i < n_; ++i) all[i] = static_cast<int32_t>(i);
      active.push_back({0, -kInf});
    }
    visit(active, c);
    stats_.update_seconds += lap(t);
    regroup(active, id);
    stats_.regroup_seconds += lap(t);
    ++stats_.steps;
  }

  // Makes `row` a centre the caller chose (an earlier selection being continued): it is
  // selected, not a candidate any more.
  void add_given_centre(int64_t row) {
    if (!clusters_.empty()) {
      if (owner_[row] < 0) throw std::invalid_argument("k_center_greedy: initial centre " + std::to_string(row) + " given twice");
      // Its computed distance to every centre is at least its min_d.
      farthest_min_d_ = min_d_[row];
      Cluster& k = clusters_[owner_[row]];
      k.rows.erase(std::find(k.rows.begin(), k.rows.end(), static_cast<int32_t>(row)));
      refresh(k);
    }
    min_d_[row] = -1.0f;
    owner_[row] = -1;
    add_centre(row);
  }

  // The farthest unselected row (lowest index on ties); it is marked selected.
  int64_t take_farthest() {
    auto t = Clock::now();
    int64_t best_cluster = -1;
    for (size_t j = 0; j < clusters_.size(); ++j) {
      const Cluster& k = clusters_[j];
      if (k.farthest < 0) continue;
      if (best_cluster < 0 || k.radius2 > clusters_[best_cluster].radius2 ||
          (k.radius2 == clusters_[best_cluster].radius2 && k.farthest < clusters_[best_cluster].farthest))
        best_cluster = static_cast<int64_t>(j);
    }
    if (best_cluster < 0) throw std::logic_error("k_center_greedy: no unselected row left");
    Cluster& k = clusters_[best_cluster];
    const int32_t row = k.farthest;
    // Its computed distance to every centre is at least this (the minimum over them).
    farthest_min_d_ = k.radius2;
    k.rows.erase(std::find(k.rows.begin(), k.rows.end(), row));
    min_d_[row] = -1.0f;  // below any distance: never the farthest again
    owner_[row] = -1;
    refresh(k);
    stats_.select_seconds += lap(t);
    return row;
  }

  GreedyStats stats() const { return stats_; }

 private:
  struct Cluster {
    std::vector<int32_t> rows;  // unselected rows whose nearest centre this is
    float radius2 = -kInf;      // their largest min_d
    int32_t farthest = -1;      // the lowest row with that distance
  };
  struct Visit {
    int32_t cluster;
    float skip_below;  // rows with min_d <= this cannot come closer to the new centre
  };
  struct Piece {
    const int32_t* rows;
    int64_t count;
    float skip_below;
  };

  // Pivots: the principal axes of a sample of rows (any orthonormal set keeps the bound
  // valid, so the selection never depends on them; good axes make it tight).
  void compute_pivots(const torch::Tensor& x) {
    if (n_ < 2 * kPivots || dim_ < 2 * kPivots) return;  // too small to be worth it: no pivots
    pivot_count_ = kPivots;
    const int64_t stride = std::max<int64_t>(1, n_ / kPivotSampleRows);
    auto sample = x.slice(0, 0, n_, stride).to(at::kDouble);
    sample = sample - sample.mean(0);
    const auto axes = std::get<1>(at::linalg_eigh(sample.t().mm(sample)));  // ascending eigenvalues
    const auto directions = axes.slice(1, dim_ - pivot_count_, dim_).contiguous();  // [dim, P]
    const double* dir = directions.data_ptr<double>();
    // Row by row into the final array: no per-chunk temporaries (fresh pages are expensive).
    pivots_.resize(n_ * kPivots);
    at::parallel_for(0, n_, 4096, [&](int64_t begin, int64_t end) {
      std::vector<float> row(dim_);
      for (int64_t i = begin; i < end; ++i) {
        coreset_kernels::row_to_float(rows(), i, row.data());
        double acc[kPivots] = {};
        for (int64_t d = 0; d < dim_; ++d)
          for (int64_t k = 0; k < kPivots; ++k) acc[k] += double(row[d]) * dir[d * kPivots + k];
        std::copy(acc, acc + kPivots, pivots_.begin() + i * kPivots);
      }
    });
  }

  // The most min_d a row of cluster j can have and still be skipped, for a new centre at
  // squared distance at least a2 from the cluster's centre; -inf when nothing can be.
  double skip_below(double a2) const {
    const double e = error_bound_;
    const double a = std::sqrt(std::max(0.0, a2 - e));
    const double half_reach = a > 0.0 ? (a - 4.0 * e / a) / 2.0 : 0.0;
    return half_reach > 0.0 ? half_reach * half_reach - e : -kInf;
  }

  // Clusters the new centre may improve, each with the min_d below which its rows cannot.
  // The centre-to-centre distance is only computed when the cheap lower bounds (the new
  // centre's own min_d, and the pivots) do not already rule the cluster out.
  std::vector<Visit> clusters_to_visit(const coreset_kernels::Centre& c) {
    const int64_t count = static_cast<int64_t>(clusters_.size());
    const double known_a2 = count ? double(farthest_min_d_) : 0.0;
    std::vector<Visit> active;
    centre_distance_.assign(count, kInf);
    std::vector<int32_t> measure;
    for (int64_t j = 0; j < count; ++j) {
      const double radius2 = clusters_[j].radius2;
      if (!(radius2 > 0.0)) continue;  // empty, or every row already at distance 0
      const double* centre_pivots = centre_pivots_.data() + j * pivot_count_;
      const double a2 = std::max(known_a2, coreset_kernels::pivot_lower_bound(c.pivots, centre_pivots, pivot_count_));
      if (radius2 > skip_below(a2)) measure.push_back(static_cast<int32_t>(j));
    }
    // Threads only for enough work to pay for waking them (a distance is ~100 ns).
    at::parallel_for(0, static_cast<int64_t>(measure.size()), 4096, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const int64_t j = measure[i];
        centre_distance_[j] = kernels_.distance(centres_.data() + j * dim_, centre_norms_[j], dim_, c.data, c.norm);
      }
    });
    for (const int32_t j : measure) {
      const double limit = skip_below(centre_distance_[j]);
      if (clusters_[j].radius2 <= limit) continue;
      // Round down, so that float rounding never skips a row the bound does not cover.
      float threshold = static_cast<float>(limit);
      if (double(threshold) > limit) threshold = std::nextafter(threshold, -kInf);
      active.push_back({j, threshold});
    }
    return active;
  }

  // Distance updates of the rows of the active clusters, in parallel pieces.
  void visit(const std::vector<Visit>& active, const coreset_kernels::Centre& c) {
    pieces_.clear();
    for (const Visit& v : active) {
      const auto& rows = clusters_[v.cluster].rows;
      const int64_t size = static_cast<int64_t>(rows.size());
      for (int64_t begin = 0; begin < size; begin += kPieceRows)
        pieces_.push_back({rows.data() + begin, std::min(kPieceRows, size - begin), v.skip_below});
    }
    const coreset_kernels::Rows all = rows();
    const auto count = static_cast<int64_t>(pieces_.size());
    int64_t computed = 0;
    // Dynamic: the bounds leave very different work in pieces of equal size.
#pragma omp parallel for schedule(dynamic, 1) num_threads(at::get_num_threads()) \
    if (count >= kParallelPieces) reduction(+ : computed)
    for (int64_t p = 0; p < count; ++p)
      computed += kernels_.update(all, pieces_[p].rows, pieces_[p].count, pieces_[p].skip_below, c);
    stats_.row_visits += computed;
  }

  // Moves the rows that the new centre `id` took over into its cluster.
  void regroup(const std::vector<Visit>& active, int32_t id) {
    std::vector<int32_t> taken;
    for (const Visit& v : active) {
      const int32_t j = v.cluster;
      auto& rows = clusters_[j].rows;
      auto kept = rows.begin();
      for (const int32_t row : rows) {
        if (owner_[row] == id) taken.push_back(row);
        else *kept++ = row;
      }
      rows.erase(kept, rows.end());
      // Clusters only shrink after they are made: give memory back, or the lists of all
      // clusters together would hold many times N entries by the end.
      if (rows.capacity() > 2 * rows.size() + 1024) rows.shrink_to_fit();
      if (j != id) refresh(clusters_[j]);
    }
    taken.shrink_to_fit();
    clusters_[id].rows = std::move(taken);
    refresh(clusters_[id]);
  }

  void refresh(Cluster& k) const {
    k.radius2 = -kInf;
    k.farthest = -1;
    for (const int32_t row : k.rows)
      if (min_d_[row] > k.radius2 || (min_d_[row] == k.radius2 && row < k.farthest))
        k.radius2 = min_d_[row], k.farthest = row;
  }

  coreset_kernels::Rows rows() {
    return {data_, format_, dim_, norms_.data(), min_d_.data(), owner_.data(), pivots_.data(), pivot_count_};
  }

  const void* data_;
  coreset_kernels::RowFormat format_;
  int64_t n_, dim_;
  const coreset_kernels::Kernels& kernels_;
  std::vector<float> norms_, min_d_;
  std::vector<int32_t> owner_;
  double error_bound_ = 0;
  int64_t pivot_count_ = 0;
  std::vector<double> pivots_;  // [n, pivot_count]
  float farthest_min_d_ = 0;    // min_d of the latest selected row when it was selected
  std::vector<Cluster> clusters_;
  std::vector<float> centres_, centre_norms_, centre_distance_;
  std::vector<double> centre_pivots_;
  std::vector<Piece> pieces_;
  GreedyStats stats_;
};

}  // namespace

GreedyStats last_greedy_stats() { return g_last_stats; }

std::vector<int64_t> k_center_greedy(const torch::Tensor& features, int64_t size, uint64_t seed,
                                     const ProgressCallback& progress, const std::vector<int64_t>& initial_centres) {
  if (features.dim() != 2) throw std::invalid_argument("k_center_greedy: features must be [N,D]");
  const int64_t n = features.size(0);
  const int64_t candidates = n - static_cast<int64_t>(initial_centres.size());
  if (size < 0 || size > candidates)
    throw std::invalid_argument("k_center_greedy: size " + std::to_string(size) + " not in [0, " +
                                std::to_string(candidates) + "]");
  for (const int64_t r : initial_centres)
    if (r < 0 || r >= n) throw std::invalid_argument("k_center_greedy: initial centre " + std::to_string(r) + " not a row");
  if (n > std::numeric_limits<int32_t>::max())
    throw std::invalid_argument("k_center_greedy: more than 2^31 rows");
  std::vector<int64_t> selected;
  selected.reserve(size);
  if (size == 0) return selected;

  // No copy when the caller already passes contiguous float32 or (CPU) bfloat16.
  const bool keep_bfloat16 = features.scalar_type() == at::kBFloat16 && features.device().is_cpu();
  const auto x = features.to(keep_bfloat16 ? at::kBFloat16 : at::kFloat).contiguous();
  std::mt19937_64 rng(seed);
  int64_t idx = static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(n)));
  const int64_t report_every = std::max<int64_t>(1, size / 200);
  if (progress) progress(0, size);

  if (x.device().is_cpu() && !initial_centres.empty()) {
    PrunedGreedy greedy(x, static_cast<int64_t>(initial_centres.size()) + size);
    for (const int64_t r : initial_centres) greedy.add_given_centre(r);
    for (int64_t it = 0; it < size; ++it) {
      idx = greedy.take_farthest();
      selected.push_back(idx);
      if (it + 1 < size) greedy.add_centre(idx);
      if (progress && ((it + 1) % report_every == 0 || it + 1 == size)) progress(it + 1, size);
    }
    g_last_stats = greedy.stats();
    return selected;
  }
  if (x.device().is_cpu()) {
    PrunedGreedy greedy(x, size);
    for (int64_t it = 0; it < size; ++it) {
      greedy.add_centre(idx);
      idx = greedy.take_farthest();
      selected.push_back(idx);
      if (progress && ((it + 1) % report_every == 0 || it + 1 == size)) progress(it + 1, size);
    }
    g_last_stats = greedy.stats();
    return selected;
  }

  // Other devices: every row at every step, with in-place tensor ops on preallocated buffers.
  const auto norms = x.pow(2).sum(1);
  auto min_d = at::full({n}, kInf, x.options());
  auto dots = at::empty({n}, x.options());
  auto add_centre = [&](int64_t row) {
    at::mv_out(dots, x, x[row]);
    dots.mul_(-2).add_(norms).add_(norms[row]).clamp_min_(0);
    at::minimum_out(min_d, min_d, dots);
  };
  if (!initial_centres.empty()) {
    for (const int64_t r : initial_centres) add_centre(r);
    for (const int64_t r : initial_centres) min_d[r] = -1.0;
    for (int64_t it = 0; it < size; ++it) {
      idx = min_d.argmax().item<int64_t>();
      min_d[idx] = -1.0;
      selected.push_back(idx);
      add_centre(idx);
    }
    return selected;
  }
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

}  // namespace patchcore

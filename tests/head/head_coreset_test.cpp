#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "head/coreset.h"
#include "head/k_center_greedy.h"
#include "head/seeded_random.h"
#include "io/error.h"
#include "reference/full_scan_greedy.h"
#include "search/simd.h"

namespace patchcore {
namespace {

// The start row k_center_greedy draws for a seed (documented: uniform_below on mt19937_64).
int64_t start_row(const torch::Tensor& x, uint64_t seed) {
  std::mt19937_64 rng(seed);
  return static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(x.size(0))));
}

TEST(JohnsonLindenstrauss, ClosedForm) {
  // eps = 0.9: eps^2/2 - eps^3/3 = 0.405 - 0.243 = 0.162.
  // n = 784000: ln(784000) = 13.5721643; 4 * 13.5721643 / 0.162 = 335.115 -> 335 (truncated).
  EXPECT_EQ(johnson_lindenstrauss_min_dim(784000), 335);
  // n = 6272: ln(6272) = 8.7438506; 4 * 8.7438506 / 0.162 = 215.898 -> 215 (truncated, not rounded).
  EXPECT_EQ(johnson_lindenstrauss_min_dim(6272), 215);
  // n = 100000: 4 * 11.5129255 / 0.162 = 284.27 -> 284.
  EXPECT_EQ(johnson_lindenstrauss_min_dim(100000), 284);
  // eps = 0.5: 0.125 - 0.0416667 = 0.0833333; n = 1000: 4 * 6.9077553 / 0.0833333 = 331.57 -> 331.
  EXPECT_EQ(johnson_lindenstrauss_min_dim(1000, 0.5), 331);
  EXPECT_EQ(johnson_lindenstrauss_min_dim(1), 0);
  EXPECT_THROW(johnson_lindenstrauss_min_dim(0), std::invalid_argument);
  EXPECT_THROW(johnson_lindenstrauss_min_dim(10, 1.0), std::invalid_argument);
}

TEST(CoresetSize, EdgeCases) {
  EXPECT_EQ(coreset_size(6272, 0.1), 627);    // floor(627.2)
  EXPECT_EQ(coreset_size(784000, 0.1), 78400);
  EXPECT_EQ(coreset_size(10, 0.19), 1);       // floor(1.9)
  EXPECT_EQ(coreset_size(10, 0.01), 1);       // floor(0.1) = 0 -> at least 1
  EXPECT_EQ(coreset_size(10, 1.0), 10);
  EXPECT_EQ(coreset_size(10, 2.5), 10);
  EXPECT_EQ(coreset_size(1, 0.5), 1);
  EXPECT_EQ(coreset_size(0, 0.1), 0);
  EXPECT_THROW(coreset_size(10, 0.0), UserError);
  EXPECT_THROW(coreset_size(10, -0.1), UserError);
  EXPECT_THROW(coreset_size(10, std::nan("")), UserError);
}

TEST(SparseRandomProjection, DeterministicAndSparse) {
  const int64_t features = 1536, components = 335;
  SparseRandomProjection a(features, components, 42), b(features, components, 42),
      c(features, components, 43);
  EXPECT_TRUE(a.components().equal(b.components()));
  EXPECT_FALSE(a.components().equal(c.components()));
  ASSERT_EQ(a.components().sizes(), (std::vector<int64_t>{components, features}));
  // Entries are 0 or +-sqrt(1/density)/sqrt(n_components), density = 1/sqrt(n_features).
  const double density = 1.0 / std::sqrt(double(features));
  const float scale = float(std::sqrt(1.0 / density) / std::sqrt(double(components)));
  const auto m = a.components();
  const auto nonzero = m.ne(0);
  EXPECT_TRUE(m.abs().masked_select(nonzero).eq(scale).all().item<bool>());
  const double nnz = nonzero.sum().item<double>();
  const double expected = double(features) * components * density;  // ~13129
  EXPECT_NEAR(nnz / expected, 1.0, 0.05);
  const double positive = m.gt(0).sum().item<double>();
  EXPECT_NEAR(positive / nnz, 0.5, 0.05);

  const auto x = at::randn({100, features});
  EXPECT_TRUE(a.transform(x).equal(b.transform(x)));
  EXPECT_EQ(a.transform(x).sizes(), (std::vector<int64_t>{100, components}));
  // The sparse CPU path equals the dense product x @ components^T.
  EXPECT_LT((a.transform(x) - x.mm(a.components().t())).abs().max().item<double>(), 1e-4);
  EXPECT_LT((a.transform(x.to(at::kDouble)) - x.to(at::kDouble).mm(a.components().to(at::kDouble).t()))
                .abs().max().item<double>(), 1e-9);
  // Batches project independently: concatenated batches equal the whole.
  const auto whole = a.transform(x);
  const auto parts = at::cat({a.transform(x.narrow(0, 0, 40)), a.transform(x.narrow(0, 40, 60))});
  EXPECT_LT((whole - parts).abs().max().item<double>(), 1e-4);
  EXPECT_THROW(a.transform(at::zeros({3, 7})), std::invalid_argument);
}

TEST(SparseRandomProjection, SameSeedSameCoreset) {
  const auto bank = at::randn({2000, 64});
  const int64_t dim = johnson_lindenstrauss_min_dim(2000);
  auto run = [&](uint64_t seed) {
    SparseRandomProjection p(64, dim, seed);
    return k_center_greedy(p.transform(bank), 200, seed);
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

// 1-D points x = {0, 3, 4, 10} (rows 0..3). The greedy sequence for size 3 depends only on
// the (seeded, not appended) start row, worked out by hand:
//   start 0 (x=0):  dist {0,3,4,10} -> 3; min {0,3,4,-} -> 2; min {0,1,-,-} -> 1: [3,2,1]
//   start 1 (x=3):  dist {3,0,1,7}  -> 3; min {3,0,1,-} -> 0; min {-,0,1,-} -> 2: [3,0,2]
//   start 2 (x=4):  dist {4,1,0,6}  -> 3; min {4,1,0,-} -> 0; min {-,1,0,-} -> 1: [3,0,1]
//   start 3 (x=10): dist {10,7,6,0} -> 0; min {-,3,4,0} -> 2; min {-,1,-,0} -> 1: [0,2,1]
TEST(KCenterGreedy, HandWorkedLine) {
  const auto points = at::tensor({0.f, 3.f, 4.f, 10.f}).view({4, 1});
  const std::vector<std::vector<int64_t>> by_start = {{3, 2, 1}, {3, 0, 2}, {3, 0, 1}, {0, 2, 1}};
  std::set<std::vector<int64_t>> seen;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    const auto got = k_center_greedy(points, 3, seed);
    EXPECT_NE(std::find(by_start.begin(), by_start.end(), got), by_start.end())
        << "seed " << seed << ": " << ::testing::PrintToString(got);
    seen.insert(got);
  }
  EXPECT_GE(seen.size(), 3u) << "the seed should move the random start";
}

TEST(KCenterGreedy, FullSelectionWithDuplicatesIsAPermutation) {
  const auto points = at::tensor({1.f, 1.f, 1.f, 2.f, 2.f, 5.f}).view({6, 1});
  auto got = k_center_greedy(points, 6, 3);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_TRUE(k_center_greedy(points, 0, 3).empty());
  EXPECT_THROW(k_center_greedy(points, 7, 3), std::invalid_argument);
}

TEST(KCenterGreedy, MatchesNaiveReference) {
  // A straightforward re-implementation in double (per-iteration distance recomputation with
  // cdist, allocation and all), run from every start row whose farthest row is the first pick;
  // one of them must reproduce the whole selection.
  const auto x = at::randn({300, 16}, at::kDouble);
  const auto got = k_center_greedy(x.to(at::kFloat), 40, 11);
  const auto all = at::cdist(x, x);
  auto naive = [&](int64_t start) {
    std::vector<int64_t> out;
    auto min_d = all[start].clone();
    for (size_t i = 0; i < got.size(); ++i) {
      const int64_t idx = min_d.argmax().item<int64_t>();
      out.push_back(idx);
      min_d = at::minimum(min_d, all[idx]);
      min_d[idx] = 0;
    }
    return out;
  };
  int matches = 0, candidates = 0;
  for (int64_t s = 0; s < x.size(0); ++s) {
    if (all[s].argmax().item<int64_t>() != got[0]) continue;
    ++candidates;
    if (naive(s) == got) ++matches;
  }
  EXPECT_GT(candidates, 0);
  EXPECT_GE(matches, 1);
}

// Blobs in a few dimensions (where the triangle inequality prunes most clusters), with
// duplicated rows and points on an integer grid (exact ties, and near-ties after rounding).
torch::Tensor clustered_points(int64_t rows, int64_t dim, uint64_t seed) {
  at::manual_seed(seed);
  const auto centres = at::randn({40, dim}) * 10;
  const auto which = at::randint(40, {rows}, at::kLong);
  auto x = centres.index_select(0, which) + at::randn({rows, dim});
  x.narrow(0, 0, rows / 10).copy_(at::round(x.narrow(0, 0, rows / 10)));  // grid points
  x.narrow(0, rows / 10, rows / 20).copy_(x.narrow(0, 0, rows / 20));    // duplicates
  return x.contiguous();
}

class PrunedGreedy : public ::testing::TestWithParam<search::SimdLevel> {
 protected:
  void SetUp() override {
    if (GetParam() > search::detected_simd()) GTEST_SKIP() << "this CPU lacks " << search::to_string(GetParam());
    search::force_simd(GetParam());
  }
  void TearDown() override { search::force_simd(std::nullopt); }
};

TEST_P(PrunedGreedy, SelectsExactlyWhatTheFullScanSelects) {
  const int saved_threads = at::get_num_threads();
  for (const int64_t dim : {3, 16, 37}) {
    const auto x = clustered_points(3000, dim, 5 + dim);
    for (const int threads : {1, 3}) {
      at::set_num_threads(threads);
      const auto got = k_center_greedy(x, 300, 11);
      const auto stats = last_greedy_stats();
      const int64_t start = start_row(x, 11);
      EXPECT_EQ(got, reference::full_scan_greedy(x, 300, start)) << "dim " << dim << ", threads " << threads;
      // The pruning must actually skip most row visits on clustered data.
      EXPECT_EQ(stats.steps, 300);
      EXPECT_LT(stats.row_visits, stats.steps * stats.rows / 4) << "dim " << dim;
    }
  }
  at::set_num_threads(saved_threads);
}

TEST_P(PrunedGreedy, LargeNormsAndTinyDistances) {
  // Rows far from the origin, close to each other: the rounding margin of the skip test
  // matters here (distances are small next to the norms being subtracted).
  auto x = clustered_points(2000, 24, 3) * 0.01 + 100.0;
  const auto got = k_center_greedy(x, 200, 4);
  EXPECT_EQ(got, reference::full_scan_greedy(x, 200, start_row(x, 4)));
}

// Continuing from given centres (a model's bank, when images are added): from the start row
// and the first k rows of a selection, the greedy selects exactly the rest of it.
TEST_P(PrunedGreedy, ContinuingFromTheFirstCentresReproducesTheRest) {
  const auto x = clustered_points(3000, 16, 21);
  const auto full = k_center_greedy(x, 300, 5);
  for (const size_t k : {size_t{0}, size_t{1}, size_t{120}, size_t{299}}) {
    std::vector<int64_t> initial = {start_row(x, 5)};
    initial.insert(initial.end(), full.begin(), full.begin() + k);
    const auto rest = k_center_greedy(x, 300 - static_cast<int64_t>(k), /*seed=*/999, {}, initial);
    EXPECT_EQ(rest, std::vector<int64_t>(full.begin() + k, full.end())) << "continued after " << k;
  }
}

// bfloat16 rows (the training's compact projection): the exact greedy of the rounded values.
TEST_P(PrunedGreedy, BFloat16RowsSelectWhatTheFullScanSelectsOnTheRoundedValues) {
  for (const int64_t dim : {7, 16, 45}) {
    const auto x = clustered_points(3000, dim, 31 + dim).to(at::kBFloat16);
    const auto rounded = x.to(at::kFloat).contiguous();
    const auto got = k_center_greedy(x, 250, 13);
    EXPECT_EQ(got, reference::full_scan_greedy(rounded, 250, start_row(rounded, 13))) << "dim " << dim;
    EXPECT_LT(last_greedy_stats().row_visits, int64_t{250} * 3000 / 4) << "pruning still works";
    // Continuing from given centres works on bfloat16 rows too.
    std::vector<int64_t> initial = {start_row(rounded, 13)};
    initial.insert(initial.end(), got.begin(), got.begin() + 100);
    EXPECT_EQ(k_center_greedy(x, 150, 0, {}, initial), std::vector<int64_t>(got.begin() + 100, got.end()));
  }
}

TEST(KCenterGreedy, InitialCentresAreValidated) {
  const auto x = at::randn({20, 4});
  EXPECT_THROW(k_center_greedy(x, 19, 0, {}, {3, 5}), std::invalid_argument);   // only 18 candidates
  EXPECT_THROW(k_center_greedy(x, 2, 0, {}, {3, 20}), std::invalid_argument);   // not a row
  EXPECT_THROW(k_center_greedy(x, 2, 0, {}, {3, 3}), std::invalid_argument);    // twice
  const auto all = k_center_greedy(x, 18, 0, {}, {3, 5});
  EXPECT_EQ(std::set<int64_t>(all.begin(), all.end()).size(), 18u);
  EXPECT_EQ(std::count(all.begin(), all.end(), 3) + std::count(all.begin(), all.end(), 5), 0);
}

INSTANTIATE_TEST_SUITE_P(Levels, PrunedGreedy,
                         ::testing::Values(search::SimdLevel::kScalar, search::SimdLevel::kAvx2,
                                           search::SimdLevel::kAvx512),
                         [](const auto& info) { return search::to_string(info.param); });

TEST(KCenterGreedy, RefusesNonFiniteFeatures) {
  auto x = at::randn({50, 8});
  x[17][3] = std::nan("");
  EXPECT_THROW(k_center_greedy(x, 5, 0), UserError);
}

TEST(CoresetRadius, HandWorked) {
  const auto points = at::tensor({0.f, 3.f, 4.f, 10.f}).view({4, 1});
  EXPECT_NEAR(coreset_radius(points, {3}), 10.0, 1e-5);
  EXPECT_NEAR(coreset_radius(points, {0, 3}), 4.0, 1e-5);  // x=4 is 4 from 0, 6 from 10
  EXPECT_NEAR(coreset_radius(points, {0, 1, 2, 3}), 0.0, 1e-3);
}

}  // namespace
}  // namespace patchcore

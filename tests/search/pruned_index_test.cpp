// The pruned exact search against the double-precision reference and against the plain
// exact search, on data shaped like patch features (clusters of close rows, non-negative
// with a large common offset so that the float32 rounding margins matter), on queries near
// the bank and far from it, at every SIMD level, and on the edges of the clustering (one
// cluster, more clusters asked for than rows, one row).
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <limits>
#include <tuple>

#include "search/factory.h"
#include "search/pruned_index.h"
#include "search_reference.h"
#include "test_support.h"

namespace patchcore::search {
namespace {

using reference::rounding_bound;
using testing::user_error_message;

struct Features {
  torch::Tensor bank;
  torch::Tensor near;  // queries close to bank rows (patches of good parts)
  torch::Tensor far;   // queries away from every row (defects)
};

// m bank rows around `blobs` centres in c channels, `spread` around centres ~10 apart.
// Blobs that overlap (spread ~1 and more) put many nearest rows outside the query's own
// cluster, where only the bounds decide what is visited.
Features blob_features(int64_t m, int64_t c, int64_t blobs, double offset, uint64_t seed, double spread = 0.3) {
  torch::manual_seed(seed);
  const auto centres = torch::rand({blobs, c}) * 10 + offset;
  const auto around = [&](int64_t rows) {
    return centres.index_select(0, torch::randint(blobs, {rows}, torch::kLong)) + torch::randn({rows, c}) * spread;
  };
  return {around(m).clamp_min(0), around(97).clamp_min(0), torch::rand({31, c}) * 25 + offset};
}

// Distances within float32 rounding of the true nearest distance, and each chosen row no
// farther than rounding from the true nearest row; at least `same` of the rows equal.
void expect_exact(const Neighbours& found, const torch::Tensor& x, const torch::Tensor& y, double same = 0.99) {
  const auto d2 = reference::squared_distances(x, y);
  const auto [ref_d2, ref_index] = d2.min(1);
  const auto bound = rounding_bound(x, y.index_select(0, ref_index));
  const auto ours_d2 = found.distances.to(torch::kDouble).pow(2);
  EXPECT_TRUE(((ours_d2 - ref_d2).abs() <= bound).all().item<bool>())
      << "max error " << (ours_d2 - ref_d2).abs().max().item<double>();
  const auto chosen_d2 = d2.gather(1, found.indices.unsqueeze(1)).squeeze(1);
  EXPECT_TRUE(((chosen_d2 - ref_d2) <= 2 * bound).all().item<bool>());
  EXPECT_GE(found.indices.eq(ref_index).to(torch::kDouble).mean().item<double>(), same);
}

using PrunedSimdLevels = reference::SimdLevels;

TEST_P(PrunedSimdLevels, MatchesTheDoubleReferenceAndTheExactSearch) {
  // rows, channels, blobs, clusters asked for (0 = automatic), offset, spread
  const std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t, double, double>> cases = {
      {5000, 64, 50, 0, 0, 0.3}, {3001, 384, 30, 0, 5, 0.3}, {1200, 1536, 12, 0, 0, 0.3}, {777, 33, 10, 7, 0, 0.3},
      {100, 16, 4, 1, 0, 0.3},   {3, 8, 2, 5, 0, 0.3},       {1, 5, 1, 3, 0, 0.3},        {4100, 20, 40, 0, 300, 0.3},
      {4000, 8, 30, 0, 0, 1.5},  {3000, 24, 200, 0, 0, 2.0}, {2500, 6, 1, 0, 0, 4.0}};
  uint64_t seed = 11;
  for (const auto& [m, c, blobs, clusters, offset, spread] : cases) {
    SCOPED_TRACE("M=" + std::to_string(m) + " C=" + std::to_string(c) + " clusters=" + std::to_string(clusters) +
                 " spread=" + std::to_string(spread));
    const auto data = blob_features(m, c, blobs, offset, seed++, spread);
    const PrunedIndex pruned(data.bank, clusters);
    EXPECT_LE(pruned.clusters(), std::min<int64_t>(m, clusters > 0 ? clusters : m));
    const ExactIndex exact(data.bank);
    for (const auto& queries : {data.near, data.far, data.bank.narrow(0, 0, std::min<int64_t>(m, 50))}) {
      // With an offset, float32 rounding is comparable to the gaps between rows and picks
      // among near-ties (for the plain exact search too): only the rounding bounds apply.
      const double same = offset == 0 ? 0.99 : 0.0;
      const auto found = nearest(pruned, queries);
      expect_exact(found, queries, data.bank, same);
      const auto plain = nearest(exact, queries);
      EXPECT_GE(found.indices.eq(plain.indices).to(torch::kDouble).mean().item<double>(), same);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, PrunedSimdLevels,
                         ::testing::Values(SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512),
                         [](const auto& info) { return to_string(info.param); });

TEST(PrunedIndex, SkipsMostOfTheBankForQueriesNearIt) {
  const auto data = blob_features(8000, 128, 80, 0, 3);
  const PrunedIndex index(data.bank);
  std::vector<float> distances(data.near.size(0));
  std::vector<int64_t> rows(data.near.size(0));
  int64_t visits = 0;
  index.nearest(data.near.contiguous().data_ptr<float>(), data.near.size(0), distances.data(), rows.data(), &visits);
  const double fraction = double(visits) / double(data.near.size(0) * data.bank.size(0));
  EXPECT_LT(fraction, 0.1) << "visited " << fraction << " of the bank";
  EXPECT_GT(visits, 0);
  expect_exact(nearest(index, data.near), data.near, data.bank);
}

TEST(PrunedIndex, QueriesTheBoundsCannotPruneGoToThePlainExactSearch) {
  // Rows without cluster structure (Gaussian in 64 channels): the bounds rule out little for
  // any query, so every query is answered by the exact search over the whole bank.
  torch::manual_seed(21);
  const auto bank = torch::randn({4000, 64});
  const auto queries = torch::randn({40, 64}).contiguous();
  const PrunedIndex index(bank);
  std::vector<float> distances(queries.size(0));
  std::vector<int64_t> rows(queries.size(0));
  int64_t visits = 0;
  index.nearest(queries.data_ptr<float>(), queries.size(0), distances.data(), rows.data(), &visits);
  EXPECT_GE(visits, queries.size(0) * bank.size(0));
  expect_exact(nearest(index, queries), queries, bank);
}

TEST(PrunedIndex, LargeCommonOffsetStaysExact) {
  // Rows ~7 apart at norms ~800: the bounds on distances to centroids are only valid with
  // their rounding margin.
  const auto data = blob_features(6000, 256, 60, 50, 5);
  const PrunedIndex index(data.bank);
  for (const auto& queries : {data.near, data.far}) expect_exact(nearest(index, queries), queries, data.bank, 0.95);
}

TEST(PrunedIndex, TiesGoToTheLowestBankRow) {
  auto data = blob_features(3000, 21, 20, 0, 7);
  const auto target = data.bank[1234].clone();
  data.bank[3] = target;
  data.bank[1500] = target;
  data.bank[2999] = target;
  const PrunedIndex index(data.bank);
  const auto found = nearest(index, target.unsqueeze(0).repeat({5, 1}));
  EXPECT_TRUE(found.indices.eq(3).all().item<bool>()) << found.indices;
}

TEST(PrunedIndex, SameOnOneThreadAndOnMany) {
  // 2500 queries: more than one chunk of queries per call.
  const auto data = blob_features(5000, 48, 40, 0, 9);
  const auto queries = at::cat({data.bank.narrow(0, 0, 2400) + 0.01, data.far});
  const PrunedIndex index(data.bank);
  const int saved = at::get_num_threads();
  at::set_num_threads(1);
  const auto one = nearest(index, queries);
  at::set_num_threads(4);
  const auto many = nearest(index, queries);
  at::set_num_threads(saved);
  EXPECT_TRUE(one.indices.equal(many.indices));
  EXPECT_TRUE(one.distances.equal(many.distances));
  expect_exact(one, queries, data.bank);
}

TEST(PrunedIndex, RejectsBadInputLikeTheExactSearch) {
  EXPECT_NE(user_error_message([] { PrunedIndex(torch::empty({0, 4})); }).find("non-empty"), std::string::npos);
  const PrunedIndex index(torch::randn({10, 4}));
  auto x = torch::randn({3, 4});
  x[2][1] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_NE(user_error_message([&] { nearest(index, x); }).find("row 2"), std::string::npos);
  EXPECT_THROW(nearest(index, torch::randn({2, 5})), std::invalid_argument);
}

TEST(PrunedIndex, KnnIsTheExactSearch) {
  const auto data = blob_features(2000, 32, 20, 0, 13);
  const PrunedIndex pruned(data.bank);
  const ExactIndex exact(data.bank);
  const auto a = knn(pruned, data.near, 9), b = knn(exact, data.near, 9);
  EXPECT_TRUE(a.indices.equal(b.indices));
  EXPECT_TRUE(a.distances.equal(b.distances));
}

TEST(PrunedIndex, TheNativeBackendUsesItForLargeBanks) {
  SearchOptions options;
  options.backend = Backend::kNative;
  EXPECT_NE(make_index(torch::randn({kPrunedMinRows, 8}), options)->describe().find("pruned"), std::string::npos);
  EXPECT_EQ(make_index(torch::randn({kPrunedMinRows - 1, 8}), options)->describe().find("pruned"),
            std::string::npos);
}

}  // namespace
}  // namespace patchcore::search

// The native exact search against a naive double-precision reference, at every SIMD
// level this CPU runs, with sizes that hit every edge of the tiling (one bank row,
// bank rows and channels that are not multiples of the tile or vector width, bank
// split across threads), plus ties, NaN/Inf and empty banks.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "search/exact_index.h"
#include "search_reference.h"
#include "test_support.h"

namespace patchcore::search {
namespace {

using testing::user_error_message;

using reference::kEps32;
using reference::rounding_bound;
const auto reference_squared = reference::squared_distances;

using reference::SimdLevels;

// Checks nearest() of P random queries against M random bank rows of C channels.
void expect_nearest_matches_reference(int64_t p, int64_t m, int64_t c, uint64_t seed) {
  SCOPED_TRACE("P=" + std::to_string(p) + " M=" + std::to_string(m) + " C=" + std::to_string(c));
  torch::manual_seed(seed);
  const auto y = torch::randn({m, c});
  const auto x = torch::randn({p, c});
  const ExactIndex index(y);
  const auto found = nearest(index, x);
  const auto d2 = reference_squared(x, y);
  const auto [ref_d2, ref_index] = d2.min(1);
  const auto ours_d2 = found.distances.to(torch::kDouble).pow(2);
  const auto bound = rounding_bound(x, y.index_select(0, ref_index));
  EXPECT_TRUE(((ours_d2 - ref_d2).abs() <= bound).all().item<bool>())
      << "max error " << (ours_d2 - ref_d2).abs().max().item<double>();
  // The index must be the true nearest row unless another row is within rounding of it.
  const auto chosen_d2 = d2.gather(1, found.indices.unsqueeze(1)).squeeze(1);
  EXPECT_TRUE(((chosen_d2 - ref_d2) <= 2 * bound).all().item<bool>());
  EXPECT_GE(found.indices.eq(ref_index).to(torch::kDouble).mean().item<double>(), p > 20 ? 0.99 : 1.0);
}

TEST_P(SimdLevels, NearestMatchesDoubleReferenceOnOddSizes) {
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> sizes = {
      {1, 1, 1},      {5, 1, 17},    {7, 3, 1},      {64, 1024, 16}, {65, 1025, 33},
      {130, 2049, 7}, {3, 3000, 100}, {200, 17, 384}, {1, 5000, 23},
      // Wide rows: shorter bank tiles (256 rows at 1536 channels, 64 at 7000), and more
      // than one group of 8 query blocks sharing each tile.
      {1100, 300, 1536}, {20, 150, 7000}};
  uint64_t seed = 1;
  for (const auto& [p, m, c] : sizes) expect_nearest_matches_reference(p, m, c, seed++);
}

TEST_P(SimdLevels, NearestIsTheSameOnOneThreadAndOnMany) {
  // Few queries split the bank across threads; the merge must give the same answer.
  const int saved = at::get_num_threads();
  torch::manual_seed(7);
  const auto y = torch::randn({4100, 40});
  const auto x = torch::randn({10, 40});
  const ExactIndex index(y);
  at::set_num_threads(1);
  const auto one = nearest(index, x);
  at::set_num_threads(4);
  const auto many = nearest(index, x);
  at::set_num_threads(saved);
  EXPECT_TRUE(one.indices.equal(many.indices));
  EXPECT_TRUE(one.distances.equal(many.distances));
  expect_nearest_matches_reference(10, 4100, 40, 7);
}

TEST_P(SimdLevels, KnnMatchesDoubleReference) {
  for (const auto& [p, m, c, k] : std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t>>{
           {9, 1, 5, 1}, {33, 2500, 19, 9}, {70, 1030, 64, 5}, {2, 3000, 3, 17}, {1100, 300, 1536, 3}}) {
    SCOPED_TRACE("P=" + std::to_string(p) + " M=" + std::to_string(m) + " k=" + std::to_string(k));
    torch::manual_seed(p * 31 + m);
    const auto y = torch::randn({m, c}), x = torch::randn({p, c});
    const ExactIndex index(y);
    const auto found = knn(index, x, k);
    ASSERT_EQ(found.indices.sizes(), (std::vector<int64_t>{p, k}));
    const auto [ref_d2, ref_index] = reference_squared(x, y).topk(k, 1, /*largest=*/false);
    const auto ours_d2 = found.distances.to(torch::kDouble).pow(2);
    // Ascending, and within rounding of the true k smallest distances.
    EXPECT_TRUE((found.distances.diff(1, 1) >= 0).all().item<bool>());
    const auto bound = 16 * kEps32 * (x.pow(2).sum(1, true).to(torch::kDouble) + y.pow(2).sum(1).max().item<double>());
    EXPECT_TRUE(((ours_d2 - ref_d2).abs() <= bound).all().item<bool>());
    EXPECT_GE(found.indices.eq(ref_index).to(torch::kDouble).mean().item<double>(), 0.99);
  }
}

TEST_P(SimdLevels, TiesGoToTheLowestBankRow) {
  // Rows 3, 1500 and 2999 are identical: every query's nearest must be row 3, and knn
  // lists the copies in row order.
  torch::manual_seed(3);
  auto y = torch::randn({3000, 21}) * 10;
  const auto target = torch::randn({21}) * 0.01;
  y[3] = target;
  y[1500] = target;
  y[2999] = target;
  const ExactIndex index(y);
  const auto x = target.unsqueeze(0).repeat({5, 1});
  const auto found = nearest(index, x);
  EXPECT_TRUE(found.indices.eq(3).all().item<bool>()) << found.indices;
  const auto three = knn(index, x, 3);
  for (int64_t i = 0; i < 5; ++i)
    EXPECT_EQ(std::vector<int64_t>(three.indices[i].data_ptr<int64_t>(), three.indices[i].data_ptr<int64_t>() + 3),
              (std::vector<int64_t>{3, 1500, 2999}));
}

TEST_P(SimdLevels, DistanceIsAnomalibsClampedExpression) {
  // A query equal to a bank row: anomalib's expression may round below zero, which is
  // clamped to 0 before the square root (never NaN).
  torch::manual_seed(5);
  const auto y = torch::randn({50, 300}) * 40;
  const ExactIndex index(y);
  const auto found = nearest(index, y);
  EXPECT_FALSE(found.distances.isnan().any().item<bool>());
  EXPECT_TRUE(found.indices.equal(torch::arange(50)));
  const auto expected = (y.pow(2).sum(1) - 2 * (y * y).sum(1) + y.pow(2).sum(1)).clamp_min(0).sqrt();
  EXPECT_LE((found.distances - expected).abs().max().item<float>(), std::sqrt(16 * kEps32 * 2 * y.pow(2).sum(1).max().item<double>()));
}

INSTANTIATE_TEST_SUITE_P(AllLevels, SimdLevels,
                         ::testing::Values(SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512),
                         [](const auto& info) { return to_string(info.param); });

TEST(ExactIndex, RejectsNanAndInfQueriesNamingTheRow) {
  const ExactIndex index(torch::randn({10, 4}));
  auto x = torch::randn({3, 4});
  x[2][1] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_NE(user_error_message([&] { nearest(index, x); }).find("row 2"), std::string::npos);
  x[2][1] = std::numeric_limits<float>::infinity();
  EXPECT_NE(user_error_message([&] { knn(index, x, 2); }).find("NaN or Inf"), std::string::npos);
}

// Finite values whose squares overflow float32 would make every distance Inf or NaN and the
// search answer no row (found by fuzzing a checkpoint): refused, with 2^56 as the line.
TEST(ExactIndex, RejectsValuesTooLargeToSquare) {
  auto bank = torch::randn({6, 4});
  bank[3][2] = 2.5e38f;
  EXPECT_NE(user_error_message([&] { ExactIndex{bank}; }).find("too large"), std::string::npos);
  const ExactIndex index(torch::randn({6, 4}));
  auto x = torch::randn({2, 4});
  x[1][0] = -std::ldexp(1.0f, 56);
  EXPECT_NE(user_error_message([&] { nearest(index, x); }).find("row 1"), std::string::npos);
  x[1][0] = std::nextafter(std::ldexp(1.0f, 56), 0.0f);  // just below the line: searched
  EXPECT_NO_THROW(nearest(index, x));
}

TEST(ExactIndex, RejectsEmptyOrNonFiniteBanks) {
  EXPECT_NE(user_error_message([] { ExactIndex(torch::empty({0, 4})); }).find("non-empty"), std::string::npos);
  auto bank = torch::randn({5, 4});
  bank[1][1] = -std::numeric_limits<float>::infinity();
  EXPECT_NE(user_error_message([&] { ExactIndex{bank}; }).find("memory bank row 1"), std::string::npos);
}

TEST(ExactIndex, RejectsWrongChannelCountAndK) {
  const ExactIndex index(torch::randn({10, 4}));
  EXPECT_THROW(nearest(index, torch::randn({2, 5})), std::invalid_argument);
  EXPECT_THROW(knn(index, torch::randn({2, 4}), 11), std::invalid_argument);
  EXPECT_THROW(knn(index, torch::randn({2, 4}), 0), std::invalid_argument);
}

TEST(Simd, ForcingALevelTheCpuLacksIsRefused) {
  if (detected_simd() == SimdLevel::kAvx512) GTEST_SKIP() << "skipped: this CPU has every level";
  EXPECT_NE(user_error_message([] { force_simd(SimdLevel::kAvx512); }).find("only supports"), std::string::npos);
}

TEST(Simd, LevelNamesRoundTrip) {
  for (auto level : {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512})
    EXPECT_EQ(simd_level_from_string(to_string(level)), level);
  EXPECT_NE(user_error_message([] { simd_level_from_string("sse9"); }).find("scalar, avx2 or avx512"),
            std::string::npos);
}

}  // namespace
}  // namespace patchcore::search

// The shortlist search against independent references: the PCA projection against an SVD of
// the centred bank; the search against a double-precision brute force of the same definition
// (shortlist in the reduced space, exact distances on it); and the closed-form cases where a
// shortlist must equal exact search (a full-rank projection is a rotation; a shortlist of the
// whole bank is the whole bank).
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "io/error.h"
#include "search/exact_index.h"
#include "search/factory.h"
#include "search/shortlist_index.h"
#include "search_reference.h"
#include "test_support.h"

namespace patchcore::search {
namespace {

using reference::squared_distances;

// Rows shaped like patch features: a large common offset, a few strong directions, noise.
torch::Tensor feature_rows(int64_t rows, int64_t channels, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  const auto loadings = at::randn({8, channels}, gen, torch::kFloat) * 3;
  const auto factors = at::randn({rows, 8}, gen, torch::kFloat);
  return (at::matmul(factors, loadings) + at::randn({rows, channels}, gen, torch::kFloat) * 0.5 + 4).contiguous();
}

struct Found {
  torch::Tensor distances, indices;
};

Found run_nearest(const Index& index, const torch::Tensor& queries) {
  auto q = queries.contiguous();
  Found f{at::empty({q.size(0)}, torch::kFloat), at::empty({q.size(0)}, torch::kLong)};
  index.nearest(q.data_ptr<float>(), q.size(0), f.distances.data_ptr<float>(), f.indices.data_ptr<int64_t>());
  return f;
}

TEST(ShortlistProjection, SpansTheLeadingPrincipalDirections) {
  const auto bank = feature_rows(500, 48, 1);
  const auto p = fit_shortlist_projection(bank, 6);
  ASSERT_EQ(p.components.sizes(), (std::vector<int64_t>{48, 6}));
  // Reference: SVD of the centred bank in double.
  const auto centred = bank.to(torch::kDouble) - bank.to(torch::kDouble).mean(0);
  const auto [u, s, vh] = at::linalg_svd(centred, /*full_matrices=*/false);
  const auto leading = vh.narrow(0, 0, 6).t();  // [48, 6]
  // Orthonormal, and the same directions up to sign (the singular values are well separated).
  const auto w = p.components.to(torch::kDouble);
  EXPECT_LT((at::matmul(w.t(), w) - at::eye(6, torch::kDouble)).abs().max().item<double>(), 1e-5);
  const auto overlap = at::matmul(w.t(), leading).abs();
  EXPECT_LT((overlap - at::eye(6, torch::kDouble)).abs().max().item<double>(), 1e-4);
  EXPECT_LT((p.center.to(torch::kDouble) - bank.to(torch::kDouble).mean(0)).abs().max().item<double>(), 1e-5);
  // Signs fixed: every direction's largest entry is positive.
  EXPECT_TRUE((w.gather(0, w.abs().argmax(0).unsqueeze(0)) > 0).all().item<bool>());
  // More dimensions than channels: all of them.
  EXPECT_EQ(fit_shortlist_projection(bank, 100).dims(), 48);
}

TEST(ShortlistIndex, MatchesTheBruteForceDefinition) {
  const auto bank = feature_rows(900, 64, 2);
  const auto queries = feature_rows(300, 64, 3) * 1.1f;  // some near the bank, some off it
  const auto p = fit_shortlist_projection(bank, 8);
  const int64_t k = 5;
  const ShortlistIndex index(bank, p, k);
  const auto found = run_nearest(index, queries);
  // Reference in double: the k nearest rows by reduced distance, then the exact nearest of them.
  const auto w = p.components.to(torch::kDouble);
  const auto reduced_bank = at::matmul(bank.to(torch::kDouble) - p.center.to(torch::kDouble), w);
  const auto reduced_queries = at::matmul(queries.to(torch::kDouble) - p.center.to(torch::kDouble), w);
  const auto shortlist = std::get<1>(squared_distances(reduced_queries, reduced_bank).topk(k, 1, false));
  const auto exact = squared_distances(queries, bank);                          // [Q, M]
  const auto on_shortlist = exact.gather(1, shortlist);                         // [Q, k]
  const auto [best, position] = on_shortlist.min(1);
  const auto expected_rows = shortlist.gather(1, position.unsqueeze(1)).squeeze(1);
  const double agree = found.indices.eq(expected_rows).to(torch::kDouble).mean().item<double>();
  EXPECT_GE(agree, 0.99);  // rounding may swap rows at the shortlist's edge or in near-ties
  const auto same = found.indices.eq(expected_rows);
  const auto err = (found.distances.to(torch::kDouble) - best.sqrt()).abs().masked_select(same);
  EXPECT_LT(err.max().item<double>(), 1e-3 * best.sqrt().max().item<double>());
  // Never below the exact nearest distance (it is a real bank row's distance).
  const auto true_nearest = std::get<0>(exact.min(1)).sqrt();
  EXPECT_TRUE((found.distances.to(torch::kDouble) >= true_nearest * (1 - 1e-4)).all().item<bool>());
  // And the returned distance is the one to the returned row.
  const auto to_returned = exact.gather(1, found.indices.unsqueeze(1)).squeeze(1).sqrt();
  EXPECT_LT((found.distances.to(torch::kDouble) - to_returned).abs().max().item<double>(),
            1e-3 * to_returned.max().item<double>());
}

TEST(ShortlistIndex, EqualsExactSearchInTheClosedFormCases) {
  const auto bank = feature_rows(400, 32, 4);
  const auto queries = feature_rows(200, 32, 5);
  const ExactIndex exact(bank);
  const auto truth = run_nearest(exact, queries);
  // A full-rank projection is a rotation: reduced distances are the distances, so the
  // reduced nearest row is the nearest row.
  const auto rotation = run_nearest(ShortlistIndex(bank, fit_shortlist_projection(bank, 32), 1), queries);
  EXPECT_GE(recall_at_1(rotation.indices, truth.indices), 0.99);
  // A shortlist of the whole bank: every row is re-ranked exactly, whatever the projection.
  const auto whole = run_nearest(ShortlistIndex(bank, fit_shortlist_projection(bank, 2), 400), queries);
  EXPECT_TRUE(whole.indices.equal(truth.indices));
  EXPECT_LT((whole.distances - truth.distances).abs().max().item<float>(), 1e-4f * truth.distances.max().item<float>());
  // Recall rises with the shortlist's length.
  double previous = 0;
  for (int64_t k : {1, 4, 16, 64}) {
    const double recall =
        recall_at_1(run_nearest(ShortlistIndex(bank, fit_shortlist_projection(bank, 4), k), queries).indices,
                    truth.indices);
    EXPECT_GE(recall, previous) << "k=" << k;
    previous = recall;
  }
}

TEST(ShortlistIndex, ComesFromTheSearchOptions) {
  const auto bank = feature_rows(50, 16, 6);
  SearchOptions options;
  options.mode = SearchMode::kShortlist;
  options.shortlist_size = 4;
  EXPECT_NE(testing::user_error_message([&] { make_index(bank, options); }).find("projection"), std::string::npos);
  const auto index = make_index(bank, options, fit_shortlist_projection(bank, 4));
  EXPECT_FALSE(index->exact());
  EXPECT_NE(index->describe().find("shortlist"), std::string::npos);
  options.backend = Backend::kFaiss;
  EXPECT_NE(testing::user_error_message([&] { validate(options); }).find("--use-faiss"), std::string::npos);
  options = {};
  options.shortlist_size = 0;
  EXPECT_THROW(validate(options), UserError);
  // Automatic d: min(128, C/6) down to a multiple of 8, at least 8, at most C.
  options = {};
  EXPECT_EQ(shortlist_dims_for(options, 384), 64);    // resnet18 layer2+3
  EXPECT_EQ(shortlist_dims_for(options, 576), 96);    // mobilenet_v1_0.75 pw5+pw11
  EXPECT_EQ(shortlist_dims_for(options, 1536), 128);  // wide_resnet50_2 layer2+3
  EXPECT_EQ(shortlist_dims_for(options, 40), 8);
  EXPECT_EQ(shortlist_dims_for(options, 4), 4);
  options.shortlist_dims = 300;
  EXPECT_EQ(shortlist_dims_for(options, 100), 100);
  EXPECT_EQ(shortlist_dims_for(options, 1536), 300);
  EXPECT_EQ(search_mode_from_string("shortlist"), SearchMode::kShortlist);
  EXPECT_THROW(search_mode_from_string("approximate"), UserError);
  // A projection that does not fit the bank is refused with the fix.
  auto wrong = fit_shortlist_projection(feature_rows(50, 8, 7), 4);
  EXPECT_NE(testing::user_error_message([&] { ShortlistIndex(bank, wrong, 4); }).find("retrain"), std::string::npos);
}

}  // namespace
}  // namespace patchcore::search

// The precomputed support table gives the image scores of anomalib's on-the-fly
// search (PatchcoreModel.compute_anomaly_score: topk over the distances from the worst
// patch's nearest bank row to the whole bank), reimplemented here in plain LibTorch.
#include <gtest/gtest.h>

#include "head/scorer.h"
#include "search/exact_index.h"
#include "search/faiss_index.h"

namespace patchcore {
namespace {

// anomalib's euclidean_dist.
torch::Tensor euclidean(const torch::Tensor& x, const torch::Tensor& y) {
  const auto x_norm = x.pow(2).sum(-1, true);
  const auto y_norm = y.pow(2).sum(-1, true);
  return (x_norm - 2 * at::matmul(x, y.transpose(-2, -1)) + y_norm.transpose(-2, -1)).clamp_min(0).sqrt();
}

// anomalib's compute_anomaly_score for patch scores [B,P] with nearest rows [B,P].
torch::Tensor anomalib_scores(const torch::Tensor& patch_scores, const torch::Tensor& locations,
                              const torch::Tensor& embedding, const torch::Tensor& bank, int64_t k) {
  const int64_t batch = patch_scores.size(0);
  const auto rows = torch::arange(batch);
  const auto max_patches = patch_scores.argmax(1);
  const auto max_features = embedding.index({rows, max_patches});
  const auto score = patch_scores.index({rows, max_patches});
  const auto nn_index = locations.index({rows, max_patches});
  const auto nn_sample = bank.index_select(0, nn_index);
  const auto support = std::get<1>(euclidean(nn_sample, bank).topk(k, 1, /*largest=*/false));
  const auto d = euclidean(max_features.unsqueeze(1), bank.index({support}));
  const auto weights = 1 - at::softmax(d.squeeze(1), 1).select(1, 0);
  return weights * score;
}

TEST(SupportTable, HoldsEachBankRowsNearestRowsWithItselfFirst) {
  torch::manual_seed(1);
  const auto bank = torch::rand({700, 64});
  const search::ExactIndex index(bank);
  const auto table = support_table(index, bank, 9);
  ASSERT_EQ(table.sizes(), (std::vector<int64_t>{700, 9}));
  EXPECT_TRUE(table.select(1, 0).equal(torch::arange(700)));
  const auto reference = std::get<1>(euclidean(bank, bank).topk(9, 1, /*largest=*/false));
  EXPECT_TRUE(std::get<0>(table.sort(1)).equal(std::get<0>(reference.sort(1))));
  // k beyond the bank is capped at the bank size.
  EXPECT_EQ(support_table(search::ExactIndex(bank.narrow(0, 0, 4)), bank.narrow(0, 0, 4), 9).size(1), 4);
}

TEST(SupportTable, GivesTheImageScoresOfTheOnTheFlySearch) {
  torch::manual_seed(2);
  const auto bank = torch::rand({1500, 96});
  const auto patches = torch::rand({6, 200, 96}) * 1.1;
  for (bool faiss : {false, true}) {
    SCOPED_TRACE(faiss ? "faiss flat" : "native");
    std::unique_ptr<search::Index> index;
    if (faiss) {
      search::SearchOptions o;
      o.backend = search::Backend::kFaiss;
      index = std::make_unique<search::FaissIndex>(bank, o);
    } else {
      index = std::make_unique<search::ExactIndex>(bank);
    }
    const auto scores = nearest_patch_scores(patches, *index);
    for (int64_t k : {2, 3, 9}) {
      const auto ours = image_scores(scores, patches, bank, support_table(*index, bank, k), k);
      const auto theirs = anomalib_scores(scores.distances, scores.nearest, patches, bank, k);
      EXPECT_LE((ours - theirs).abs().max().item<float>(), 1e-6 * theirs.abs().max().item<float>()) << "k=" << k;
    }
  }
}

TEST(SupportTable, ImageScoresRejectATableThatDoesNotFitTheBank) {
  const auto bank = torch::rand({20, 8});
  const auto patches = torch::rand({1, 5, 8});
  const search::ExactIndex index(bank);
  const auto scores = nearest_patch_scores(patches, index);
  EXPECT_THROW(image_scores(scores, patches, bank, support_table(index, bank, 3), 5), std::invalid_argument);
  EXPECT_THROW(image_scores(scores, patches, bank, torch::zeros({19, 5}, torch::kLong), 5), std::invalid_argument);
}

}  // namespace
}  // namespace patchcore

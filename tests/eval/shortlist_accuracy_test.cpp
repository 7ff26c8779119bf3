// Real data: the shortlist search against exact search on the shared magnetic tiles with the
// real MobileNet weights. One training, with --search shortlist at its defaults (576 channels:
// 96 dims; 8 rows): it reports recall@1 on its held-out images; the exact model is the same folder with the
// search set back to exact (the bank does not depend on the search mode). Both score a third of
// every test category (the comparison is paired, image by image): image and pixel AUROC within
// 0.002 of exact search, image scores in the same order (Spearman rank correlation >= 0.999), as
// issue 13 asks.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdio>

#include "eval/metrics.h"
#include "eval/scoring.h"
#include "pipeline/checkpoint.h"
#include "pipeline/model_folder.h"
#include "pipeline/search_agreement.h"
#include "pipeline/trainer.h"
#include "test_support.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;

// Spearman's rank correlation (ranks by position after sorting; the scores have no ties).
double spearman(const std::vector<float>& a, const std::vector<float>& b) {
  const auto rank = [](const std::vector<float>& v) {
    return at::argsort(at::argsort(at::tensor(v).to(torch::kDouble))).to(torch::kDouble);
  };
  const auto ra = rank(a), rb = rank(b);
  const auto ca = ra - ra.mean(), cb = rb - rb.mean();
  return ((ca * cb).sum() / (ca.pow(2).sum() * cb.pow(2).sum()).sqrt()).item<double>();
}

// A copy of the model folder that searches exactly (the same bank and statistics).
fs::path exact_copy(const fs::path& model_dir, const fs::path& dir) {
  fs::create_directories(dir);
  for (const auto& entry : fs::directory_iterator(model_dir))
    if (entry.is_regular_file()) fs::copy_file(entry.path(), dir / entry.path().filename());
  Checkpoint c = load_checkpoint(model_dir / ModelFolder::kCheckpoint);
  c.config.search = search::SearchOptions{};
  c.shortlist = {};
  fs::remove(dir / ModelFolder::kCheckpoint);
  save_checkpoint(dir / ModelFolder::kCheckpoint, c);
  write_manifest(dir);
  return dir;
}

// Every `step`-th image of each test category (with its masks), linked as an MVTec folder.
fs::path test_subset(const fs::path& tiles, const fs::path& dir, size_t step) {
  for (const auto& category : fs::directory_iterator(tiles / "test")) {
    const std::string name = category.path().filename().string();
    fs::create_directories(dir / "test" / name);
    std::vector<fs::path> files;
    for (const auto& f : fs::directory_iterator(category.path())) files.push_back(f.path());
    std::sort(files.begin(), files.end());
    for (size_t i = 0; i < files.size(); i += step) {
      fs::create_symlink(files[i], dir / "test" / name / files[i].filename());
      if (name == "good") continue;
      const std::string mask = files[i].stem().string() + "_mask.png";
      fs::create_directories(dir / "ground_truth" / name);
      fs::create_symlink(tiles / "ground_truth" / name / mask, dir / "ground_truth" / name / mask);
    }
  }
  return dir;
}

std::vector<float> image_scores(const eval::ScoredDataset& s) {
  std::vector<float> out;
  for (const auto& image : s.images) out.push_back(image.score);
  return out;
}

TEST(ShortlistAccuracy, MagneticTilesScoreAsWithExactSearch) {
  PATCHCORE_REQUIRE_SHARED("data/magnetic_tile");
  PATCHCORE_REQUIRE_SHARED("weights/mobilenet_v1_0.75_224_tfjs");
  const fs::path tiles = testing::shared_dir() / "data/magnetic_tile";
  testing::TempDir dir;
  // 100 training images, spread over train/good; 15 of them held out (the default).
  fs::create_directories(dir.path() / "train");
  for (const auto& f : testing::every_kth(tiles / "train/good", 100))
    fs::create_symlink(f, dir.path() / "train" / f.filename());
  TrainOptions options;
  options.data_dir = dir.path() / "train";
  options.output_dir = dir.path() / "out";
  options.pattern_name = "tile";
  options.model.backbone = "mobilenet_v1_0.75";
  options.model.coreset_ratio = 0.05;
  options.model.search.mode = search::SearchMode::kShortlist;  // the defaults a user gets
  options.weights = (testing::shared_dir() / "weights/mobilenet_v1_0.75_224_tfjs").string();
  options.show_progress = false;
  options.export_model = false;
  const TrainReport report = train(options);
  ASSERT_TRUE(report.search_agreement.has_value());
  const SearchAgreement& agreement = *report.search_agreement;
  EXPECT_TRUE(agreement.meets_bars());

  const fs::path shortlist_dir = dir.path() / "out/tile";
  const fs::path exact_dir = exact_copy(shortlist_dir, dir.path() / "exact/tile");
  const auto data = eval::find_eval_dataset(test_subset(tiles, dir.path() / "test-subset", 3));
  eval::ScoringOptions scoring;
  scoring.show_progress = false;
  const Model exact_model = Model::load(exact_dir), shortlist_model = Model::load(shortlist_dir);
  const auto exact = eval::score_dataset(exact_model, data, scoring);
  const auto approx = eval::score_dataset(shortlist_model, data, scoring);
  ASSERT_EQ(exact.images.size(), approx.images.size());
  const auto me = eval::compute_metrics(exact, exact_model.threshold());
  const auto ma = eval::compute_metrics(approx, shortlist_model.threshold());
  ASSERT_TRUE(me.pixel && ma.pixel);
  const double rho = spearman(image_scores(exact), image_scores(approx));
  const auto search = load_checkpoint(shortlist_dir / ModelFolder::kCheckpoint).config.search;
  std::printf("magnetic_tile, %zu test tiles, bank %lld x %lld, shortlist %d rows in %d dims: recall@1 %.4f on %s "
              "(largest error: patch %.4f, image %.4f); image AUROC exact %.4f shortlist %.4f; pixel AUROC exact "
              "%.4f shortlist %.4f; Spearman %.6f\n",
              exact.images.size(), static_cast<long long>(report.bank_rows), static_cast<long long>(report.feature_dim),
              search.shortlist_size, search.shortlist_dims, agreement.recall_at_1(), agreement.measured_on.c_str(),
              agreement.max_patch_error, agreement.max_image_error, me.image_auroc, ma.image_auroc, me.pixel->auroc,
              ma.pixel->auroc, rho);
  EXPECT_NEAR(ma.image_auroc, me.image_auroc, 0.002);
  EXPECT_NEAR(ma.pixel->auroc, me.pixel->auroc, 0.002);
  EXPECT_GE(rho, 0.999);
}

}  // namespace
}  // namespace patchcore

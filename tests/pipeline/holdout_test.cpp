// Thresholds from good images only: the held-out split, that held-out images stay out
// of the bank, and the stored thresholds recomputed from their scores by the prediction path.
#include "pipeline/holdout.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "data/dataset.h"
#include "data/preprocess.h"
#include "head/norm_stats.h"
#include "patchcore/model.h"
#include "pipeline/checkpoint.h"
#include "pipeline_test_support.h"
#include "test_support.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;

TEST(Holdout, SplitIsEvenDeterministicAndHasAMinimum) {
  const HoldoutSplit s = split_holdout(100, 0.15);
  EXPECT_EQ(s.held_out.size(), 15u);
  EXPECT_EQ(s.train.size(), 85u);
  std::set<size_t> all(s.train.begin(), s.train.end());
  all.insert(s.held_out.begin(), s.held_out.end());
  EXPECT_EQ(all.size(), 100u);  // a partition
  // Spread over the list: gaps of 6 or 7 (1 / 0.15 = 6.67).
  for (size_t i = 1; i < s.held_out.size(); ++i) {
    EXPECT_GE(s.held_out[i] - s.held_out[i - 1], 6u);
    EXPECT_LE(s.held_out[i] - s.held_out[i - 1], 7u);
  }
  EXPECT_EQ(split_holdout(100, 0.15).held_out, s.held_out);
  EXPECT_TRUE(split_holdout(30, 0.15).held_out.empty());  // 4 < kMinHoldoutImages
  EXPECT_EQ(split_holdout(30, 0.15).train.size(), 30u);
  EXPECT_TRUE(split_holdout(100, 0.0).held_out.empty());
}

TEST(Holdout, GoodThresholdIsMeanPlusSigmas) {
  // mean 2, sample std 1 (ddof 1): 3 sigmas -> 5.
  const GoodThreshold t = threshold_from_good_scores({1, 2, 3}, 3.0);
  EXPECT_DOUBLE_EQ(t.mean, 2.0);
  EXPECT_DOUBLE_EQ(t.std, 1.0);
  EXPECT_DOUBLE_EQ(t.max, 3.0);
  EXPECT_DOUBLE_EQ(t.value, 5.0);
  EXPECT_DOUBLE_EQ(threshold_from_good_scores({1, 2, 3}, 0.5).value, 2.5);
}

TEST(Holdout, HeldOutImagesStayOutOfTheBankAndSetTheThresholds) {
  testing::TempDir dir;
  const TrainReport report = train(testing::holdout_train_options(dir.path()));
  EXPECT_EQ(report.num_held_out, 5);
  const fs::path model_dir = dir.path() / "out/wire";

  const YAML::Node config = YAML::LoadFile((model_dir / "config.yaml").string());
  ASSERT_EQ(config["threshold"]["method"].as<std::string>(), "holdout");
  std::set<std::string> held_out;
  for (const auto& n : config["threshold"]["details"]["images"]) held_out.insert(n.as<std::string>());
  ASSERT_EQ(held_out.size(), 5u);
  const Checkpoint checkpoint = load_checkpoint(model_dir / "checkpoint.safetensors");
  EXPECT_EQ(checkpoint.training_images.size(), 15u);
  for (const auto& image : checkpoint.training_images)
    EXPECT_EQ(held_out.count(fs::path(image.path).filename().string()), 0u) << image.path << " is in the bank";

  // The thresholds again, from the held-out images scored one by one through Model.
  const Model model = Model::load(model_dir);
  std::vector<double> scores, max_pixels;
  for (const auto& path : find_training_images(dir.path() / "data")) {
    if (!held_out.count(path.filename().string())) continue;
    const Prediction p = model.predict(read_image_bgr(path));
    scores.push_back(p.score);
    double mx = 0;
    cv::minMaxLoc(p.model_map, nullptr, &mx);
    max_pixels.push_back(mx);
  }
  auto expected = [](const std::vector<double>& v) {
    double mean = 0, ss = 0;
    for (double x : v) mean += x / v.size();
    for (double x : v) ss += (x - mean) * (x - mean);
    return mean + 3.0 * std::sqrt(ss / (v.size() - 1));
  };
  const NormStats stats = read_norm_stats(model_dir / "norm_stats.txt");
  ASSERT_TRUE(stats.image_threshold && stats.pixel_threshold);
  // Never below the old rule (highest training score / pixel).
  const double image_expected = std::max(expected(scores), stats.max_score);
  const double pixel_expected = std::max(expected(max_pixels), stats.max_pixel);
  EXPECT_NEAR(*stats.image_threshold, image_expected, 1e-3 * image_expected);
  EXPECT_NEAR(*stats.pixel_threshold, pixel_expected, 1e-3 * pixel_expected);
  EXPECT_DOUBLE_EQ(model.threshold(), *stats.image_threshold);

  // How many held-out images each rule flags, counted from the scores of Model::predict.
  auto above = [](const std::vector<double>& v, double t) { return std::count_if(v.begin(), v.end(), [&](double x) { return x > t; }); };
  const YAML::Node details = config["threshold"]["details"];
  EXPECT_EQ(details["image_scores"]["above_threshold"].as<int64_t>(), above(scores, *stats.image_threshold));
  EXPECT_EQ(details["image_scores"]["above_highest_training_value"].as<int64_t>(), above(scores, stats.max_score));
  EXPECT_EQ(details["max_pixel_per_image"]["above_threshold"].as<int64_t>(), above(max_pixels, *stats.pixel_threshold));
  EXPECT_EQ(details["max_pixel_per_image"]["above_highest_training_value"].as<int64_t>(),
            above(max_pixels, stats.max_pixel));
}

TEST(Holdout, BadSettingsAreUserErrorsAndWriteNothing) {
  testing::TempDir dir;
  TrainOptions o = testing::holdout_train_options(dir.path());
  o.holdout_fraction = 0.6;
  EXPECT_NE(testing::user_error_message([&] { train(o); }).find("--holdout-fraction"), std::string::npos);
  o.holdout_fraction = 0.15;
  o.threshold_sigmas = -1;
  EXPECT_NE(testing::user_error_message([&] { train(o); }).find("--threshold-sigmas"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir.path() / "out/wire"));
}

TEST(Holdout, TooFewImagesFallBackToTheHighestTrainingScore) {
  testing::TempDir dir;
  write_demo_dataset(dir.path() / "data", testing::small_demo_data());  // 10 images
  const TrainReport report = train(testing::fast_train_options(dir.path() / "data", dir.path() / "out"));
  EXPECT_EQ(report.num_held_out, 0);
  const NormStats stats = read_norm_stats(dir.path() / "out/wire/norm_stats.txt");
  ASSERT_TRUE(stats.image_threshold);
  EXPECT_DOUBLE_EQ(*stats.image_threshold, stats.max_score);
  EXPECT_EQ(YAML::LoadFile((dir.path() / "out/wire/config.yaml").string())["threshold"]["method"].as<std::string>(),
            "max_training_score");
}

}  // namespace
}  // namespace patchcore

// score_dataset's two map geometries: the model's --image-size (default) and, with
// full_size (`patchcore eval --full-size`), each image's own size; pixels and labels are
// checked against Model::predict and the mask files read here independently.
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "eval/scoring.h"
#include "pipeline/pipeline_test_support.h"
#include "test_support.h"

namespace patchcore {
namespace {

TEST(EvalScoring, FullSizeComparesMapsAndMasksAtEachImagesOwnSize) {
  testing::TempDir dir;
  write_demo_dataset(dir.path() / "data", testing::small_demo_data());  // 96x96 images
  train(testing::fast_train_options(dir.path() / "data", dir.path() / "out"));  // 64x64 model
  const Model model = Model::load(dir.path() / "out" / "wire");
  const auto data = eval::find_eval_dataset(dir.path() / "data");
  ASSERT_TRUE(data.has_masks);
  eval::ScoringOptions options;
  options.show_progress = false;

  const auto model_size = eval::score_dataset(model, data, options);
  options.full_size = true;
  const auto full = eval::score_dataset(model, data, options);
  const size_t n = data.samples.size();
  ASSERT_EQ(full.images.size(), n);
  EXPECT_EQ(model_size.pixels.scores.size(), n * 64 * 64);
  ASSERT_EQ(full.pixels.scores.size(), n * 96 * 96);

  // Image order, per pixel: the full-size anomaly map and the mask binarised at 128.
  size_t offset = 0, defect_pixels = 0;
  for (size_t i = 0; i < n; ++i) {
    const auto& sample = full.images[i].sample;
    const cv::Mat image = cv::imread(sample.image.string());
    const Prediction p = model.predict(image);
    EXPECT_FLOAT_EQ(full.images[i].score, p.score);
    cv::Mat mask = cv::Mat::zeros(image.size(), CV_8UC1);
    if (sample.mask) mask = cv::imread(sample.mask->string(), cv::IMREAD_GRAYSCALE) >= 128;
    for (int y = 0; y < image.rows; ++y)
      for (int x = 0; x < image.cols; ++x, ++offset) {
        ASSERT_FLOAT_EQ(full.pixels.scores[offset], p.anomaly_map.at<float>(y, x)) << sample.image << " " << x << "," << y;
        ASSERT_EQ(full.pixels.labels[offset], mask.at<uint8_t>(y, x) ? 1 : 0) << sample.image << " " << x << "," << y;
        defect_pixels += mask.at<uint8_t>(y, x) ? 1 : 0;
      }
  }
  EXPECT_GT(defect_pixels, 0u);
}

}  // namespace
}  // namespace patchcore

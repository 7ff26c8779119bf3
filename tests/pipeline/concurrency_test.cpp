// A loaded Model is immutable and predict() may be called from several threads at once
// (include/patchcore/model.h): 8 threads x 200 calls give exactly the serial results.
#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "patchcore/model.h"
#include "pipeline/pipeline_test_support.h"
#include "test_support.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;

TEST(Concurrency, PredictFromEightThreadsEqualsSerialCalls) {
  testing::TempDir dir;
  write_demo_dataset(dir.path() / "data", testing::small_demo_data());
  train(testing::fast_train_options(dir.path() / "data", dir.path() / "out"));
  const Model model = Model::load(dir.path() / "out/wire");

  std::vector<cv::Mat> images;
  for (const auto& e : fs::recursive_directory_iterator(dir.path() / "data/test"))
    if (e.is_regular_file()) images.push_back(cv::imread(e.path().string()));
  ASSERT_GE(images.size(), 5u);
  std::vector<Prediction> serial;
  for (const auto& image : images) serial.push_back(model.predict(image));

  constexpr int kThreads = 8, kCalls = 200;
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int call = 0; call < kCalls; ++call) {
        const size_t i = static_cast<size_t>(t + call) % images.size();
        const Prediction p = model.predict(images[i]);
        const bool same = p.score == serial[i].score && p.anomaly_map.size() == serial[i].anomaly_map.size() &&
                          cv::norm(p.anomaly_map, serial[i].anomaly_map, cv::NORM_INF) == 0.0;
        if (!same) ++mismatches;
      }
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0) << "of " << kThreads * kCalls << " concurrent predictions";
}

}  // namespace
}  // namespace patchcore

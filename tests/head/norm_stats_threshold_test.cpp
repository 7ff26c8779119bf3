// norm_stats.txt's threshold keys: written after the original keys, read back, optional;
// pooled statistics of two sets of images.
#include <ATen/ATen.h>

#include <fstream>

#include "head/norm_stats.h"
#include "test_support.h"

namespace patchcore {
namespace {

// Pooling two sets' statistics equals computing them over the union (train --from).
TEST(NormStats, PooledEqualsTheStatisticsOfTheUnion) {
  auto gen = at::detail::createCPUGenerator(3);
  const auto scores_a = at::rand({7}, gen) * 4.0, scores_b = at::rand({12}, gen) * 2.0 + 1.0;
  const auto maps_a = at::rand({7, 1, 5, 5}, gen), maps_b = at::rand({12, 1, 5, 5}, gen) * 3.0;
  const NormStats pooled =
      pooled_norm_stats(compute_norm_stats(scores_a, maps_a), compute_norm_stats(scores_b, maps_b));
  const NormStats all = compute_norm_stats(at::cat({scores_a, scores_b}), at::cat({maps_a, maps_b}));
  EXPECT_EQ(pooled.num_samples, 19);
  EXPECT_NEAR(pooled.max_score, all.max_score, 1e-6);
  EXPECT_NEAR(pooled.mean_score, all.mean_score, 1e-6);
  EXPECT_NEAR(pooled.std_score, all.std_score, 1e-6);
  EXPECT_NEAR(pooled.max_pixel, all.max_pixel, 1e-6);
  EXPECT_NEAR(pooled.mean_pixel, all.mean_pixel, 1e-6);
}

TEST(NormStatsThresholds, WrittenAfterTheOriginalKeysAndReadBack) {
  NormStats s;
  s.max_score = 2.5;
  s.num_samples = 7;
  s.image_threshold = 3.25;
  s.pixel_threshold = 4.5;
  const std::string text = format_norm_stats(s);
  EXPECT_NE(text.find("num_samples=7\nimage_threshold=3.25\npixel_threshold=4.5\n"), std::string::npos) << text;
  testing::TempDir dir;
  std::ofstream(dir.path() / "norm_stats.txt") << text;
  const NormStats r = read_norm_stats(dir.path() / "norm_stats.txt");
  EXPECT_EQ(r.image_threshold, 3.25);
  EXPECT_EQ(r.pixel_threshold, 4.5);

  // A file from before the keys existed reads without them.
  s.image_threshold.reset();
  s.pixel_threshold.reset();
  std::ofstream(dir.path() / "old.txt") << format_norm_stats(s);
  const NormStats old = read_norm_stats(dir.path() / "old.txt");
  EXPECT_FALSE(old.image_threshold.has_value());
  EXPECT_FALSE(old.pixel_threshold.has_value());

  std::ofstream(dir.path() / "bad.txt") << text << "image_threshold=abc\n";
  const std::string message = testing::user_error_message([&] { read_norm_stats(dir.path() / "bad.txt"); });
  EXPECT_NE(message.find("image_threshold"), std::string::npos) << message;
}

}  // namespace
}  // namespace patchcore

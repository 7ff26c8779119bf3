// The hand-written embedding and anomaly-map kernels against the ATen expressions they
// replace, on random inputs of awkward sizes.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cstdio>
#include <string>
#include <vector>

#include "head/embedding.h"
#include "head/scorer.h"

namespace patchcore {
namespace {

// max|actual - expected| / max|expected|.
double scaled_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  return (actual - expected).abs().max().item<double>() / expected.abs().max().item<double>();
}

// anomalib's generate_embedding in ATen: pool every map, resize the deeper ones, concatenate.
torch::Tensor reference_embedding(const std::vector<torch::Tensor>& maps) {
  const int64_t h = maps[0].size(2), w = maps[0].size(3);
  std::vector<torch::Tensor> parts;
  for (const auto& m : maps) {
    auto pooled = at::avg_pool2d(m, {3, 3}, {1, 1}, {1, 1}, /*ceil_mode=*/false, /*count_include_pad=*/true);
    if (pooled.size(2) != h || pooled.size(3) != w)
      pooled = at::upsample_bilinear2d(pooled, {h, w}, /*align_corners=*/false);
    parts.push_back(pooled);
  }
  return at::cat(parts, 1);
}

// anomalib's anomaly map in ATen: nearest upsampling, reflect padding, separable Gaussian.
torch::Tensor reference_maps(const torch::Tensor& grid, int64_t height, int64_t width) {
  auto kernel = at::arange(-16, 17, at::kDouble);
  kernel = at::exp(-(kernel * kernel) / (2 * 4.0 * 4.0));
  kernel = (kernel / kernel.sum()).to(at::kFloat);
  auto maps = at::upsample_nearest2d(grid, {height, width});
  maps = at::reflection_pad2d(maps, {16, 16, 16, 16});
  maps = at::conv2d(maps, kernel.view({1, 1, 33, 1}));
  return at::conv2d(maps, kernel.view({1, 1, 1, 33}));
}

struct LayerShape {
  int64_t channels, height, width;
};

std::vector<torch::Tensor> random_maps(const std::vector<LayerShape>& shapes, at::MemoryFormat format,
                                       uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  std::vector<torch::Tensor> maps;
  for (const auto& s : shapes)
    maps.push_back(at::randn({2, s.channels, s.height, s.width}, gen).contiguous(format));
  return maps;
}

void expect_embedding_matches(const std::vector<LayerShape>& shapes) {
  for (auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
    SCOPED_TRACE(format == at::MemoryFormat::Contiguous ? "contiguous maps" : "channels-last maps");
    const auto maps = random_maps(shapes, format, 7);
    const auto embedding = build_embedding(maps);
    const auto expected = reference_embedding(maps);
    ASSERT_EQ(embedding.sizes(), expected.sizes());
    EXPECT_TRUE(embedding.is_contiguous(at::MemoryFormat::ChannelsLast));
    const double err = scaled_error(embedding, expected);
    std::printf("embedding %lldx%lld: scaled error %.3g\n", static_cast<long long>(shapes[0].height),
                static_cast<long long>(shapes[0].width), err);
    EXPECT_LT(err, 1e-5);
  }
}

TEST(FastEmbedding, MatchesAtenThreeLayers) {
  expect_embedding_matches({{20, 28, 28}, {37, 14, 14}, {45, 7, 7}});
  expect_embedding_matches({{20, 9, 9}, {37, 5, 5}, {45, 3, 3}});
}

TEST(FastEmbedding, MatchesAtenUnevenShapes) {
  // A deeper map of the first map's size is pooled only; one smaller in one dimension only.
  expect_embedding_matches({{5, 12, 10}, {3, 12, 10}, {17, 12, 7}, {1, 4, 3}});
  expect_embedding_matches({{19, 6, 6}});
}

TEST(FastEmbedding, PatchRowsAreAView) {
  const auto embedding = build_embedding(random_maps({{24, 8, 8}, {40, 4, 4}}, at::MemoryFormat::ChannelsLast, 3));
  const auto rows = embedding_to_patches(embedding);
  EXPECT_EQ(rows.data_ptr(), embedding.data_ptr());
  EXPECT_TRUE(rows.is_contiguous());
}

TEST(FastEmbedding, RejectsWhatItCannotRead) {
  EXPECT_THROW(build_embedding({at::zeros({1, 4, 5, 5}, at::kDouble)}), std::invalid_argument);
  EXPECT_THROW(build_embedding({at::zeros({1, 4, 5, 5}), at::zeros({1, 4, 0, 3})}), std::invalid_argument);
}

void expect_maps_match(int64_t h, int64_t w, int64_t height, int64_t width) {
  auto gen = at::detail::createCPUGenerator(static_cast<uint64_t>(h * 1000 + height));
  const auto grid = at::rand({2, 1, h, w}, gen) * 3.0f;
  const auto maps = anomaly_maps(grid, height, width);
  const auto expected = reference_maps(grid, height, width);
  ASSERT_EQ(maps.sizes(), expected.sizes());
  const double err = scaled_error(maps, expected);
  std::printf("maps %lldx%lld -> %lldx%lld: scaled error %.3g\n", static_cast<long long>(h),
              static_cast<long long>(w), static_cast<long long>(height), static_cast<long long>(width), err);
  EXPECT_LT(err, 1e-6);
}

TEST(FastAnomalyMaps, MatchesAten) {
  expect_maps_match(28, 28, 224, 224);
  expect_maps_match(14, 14, 224, 224);
  expect_maps_match(32, 32, 256, 256);
  expect_maps_match(28, 28, 200, 180);  // non-integer ratios: nearest's floor(dst * in / out)
  expect_maps_match(7, 11, 40, 17);
}

TEST(FastAnomalyMaps, RejectsWhatItCannotRead) {
  EXPECT_THROW(anomaly_maps(at::zeros({1, 1, 4, 4}, at::kDouble), 32, 32), std::invalid_argument);
  EXPECT_THROW(anomaly_maps(at::zeros({1, 1, 0, 4}), 32, 32), std::invalid_argument);
}

TEST(FastAnomalyMaps, StridedGrid) {
  auto gen = at::detail::createCPUGenerator(9);
  const auto grid = at::rand({2, 1, 20, 20}, gen).transpose(2, 3);
  EXPECT_LT(scaled_error(anomaly_maps(grid, 120, 100), reference_maps(grid, 120, 100)), 1e-6);
}

}  // namespace
}  // namespace patchcore

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <vector>

#include "head/norm_stats.h"
#include "head/scorer.h"
#include "io/error.h"
#include "test_support.h"

namespace patchcore {
namespace {

// The normalised 1-D Gaussian, sigma 4, radius 2*int(4*4+0.5)+1 = 33 taps, computed here in
// plain double arithmetic independently of the implementation.
std::vector<double> gaussian_taps() {
  std::vector<double> k(33);
  double sum = 0;
  for (int i = 0; i < 33; ++i) sum += k[i] = std::exp(-double((i - 16) * (i - 16)) / (2 * 16.0));
  for (auto& v : k) v /= sum;
  return k;
}

// A delta at (cy, cx) in an H x W map, blurred with torch "reflect" borders, is the outer
// product of the 1-D responses, each of which is the kernel plus its mirror images (reflect:
// the edge pixel is not repeated, index -j -> j, index H-1+j -> H-1-j).
double expected_delta_response(int y, int x, int cy, int cx, int h, int w) {
  const auto k = gaussian_taps();
  auto axis = [&](int out, int centre, int n) {
    double s = 0;
    for (int t = -16; t <= 16; ++t) {
      int src = out + t;
      if (src < 0) src = -src;
      if (src > n - 1) src = 2 * (n - 1) - src;
      if (src == centre) s += k[t + 16];
    }
    return s;
  };
  return axis(y, cy, h) * axis(x, cx, w);
}

TEST(AnomalyMaps, DeltaGivesOuterProductOfKernel) {
  // A 64x64 patch grid mapped to 64x64 (identity nearest upsampling).
  auto grid = at::zeros({1, 1, 64, 64});
  grid[0][0][30][40] = 1.0f;
  const auto maps = anomaly_maps(grid, 64, 64);
  ASSERT_EQ(maps.sizes(), (std::vector<int64_t>{1, 1, 64, 64}));
  const auto k = gaussian_taps();
  double max_err = 0;
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) {
      const int dy = y - 30, dx = x - 40;
      const double e = (std::abs(dy) <= 16 && std::abs(dx) <= 16) ? k[dy + 16] * k[dx + 16] : 0.0;
      max_err = std::max(max_err, std::abs(maps[0][0][y][x].item<double>() - e));
    }
  EXPECT_LT(max_err, 1e-7);
  EXPECT_NEAR(maps.sum().item<double>(), 1.0, 1e-5);
}

TEST(AnomalyMaps, ReflectBorder) {
  auto grid = at::zeros({2, 1, 40, 48});
  grid[0][0][1][2] = 1.0f;   // mirrored across the top and left borders
  grid[1][0][38][47] = 1.0f;  // on the right border: not mirrored horizontally, but at the bottom
  const auto maps = anomaly_maps(grid, 40, 48);
  double max_err = 0;
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 48; ++x) {
      max_err = std::max(max_err, std::abs(maps[0][0][y][x].item<double>() -
                                           expected_delta_response(y, x, 1, 2, 40, 48)));
      max_err = std::max(max_err, std::abs(maps[1][0][y][x].item<double>() -
                                           expected_delta_response(y, x, 38, 47, 40, 48)));
    }
  EXPECT_LT(max_err, 1e-7);
}

TEST(AnomalyMaps, ConstantStaysConstant) {
  const auto grid = at::full({3, 1, 28, 28}, 2.5f);
  const auto maps = anomaly_maps(grid, 224, 224);
  ASSERT_EQ(maps.sizes(), (std::vector<int64_t>{3, 1, 224, 224}));
  EXPECT_LT((maps - 2.5f).abs().max().item<double>(), 1e-5);
}

TEST(AnomalyMaps, NearestUpsamplingBeforeBlur) {
  // Nearest: output pixel (y, x) takes input (floor(y*h/H), floor(x*w/W)); a grid that is
  // constant per 8x8 block after upsampling 28 -> 224 keeps the block structure in the middle.
  auto grid = at::zeros({1, 1, 28, 28});
  grid.index_put_({0, 0, at::indexing::Slice(0, 14), at::indexing::Slice()}, 1.0f);
  const auto maps = anomaly_maps(grid, 224, 224);
  // Rows far from the edge at y = 112 are 1 above and 0 below; symmetric about the edge.
  EXPECT_NEAR(maps[0][0][20][100].item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(maps[0][0][200][100].item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(maps[0][0][111][100].item<double>() + maps[0][0][112][100].item<double>(), 1.0, 1e-6);
  EXPECT_THROW(anomaly_maps(grid, 16, 224), std::invalid_argument);
}

TEST(NormStats, ClosedForm) {
  const auto scores = at::tensor({1.0f, 2.0f, 3.0f, 6.0f});
  // mean 3; deviations -2,-1,0,3 -> squares 4,1,0,9 = 14; population var 3.5.
  auto maps = at::zeros({4, 1, 2, 2});
  maps[2][0][1][1] = 8.0f;
  maps[0][0][0][0] = 4.0f;
  const auto s = compute_norm_stats(scores, maps);
  EXPECT_DOUBLE_EQ(s.max_score, 6.0);
  EXPECT_DOUBLE_EQ(s.mean_score, 3.0);
  EXPECT_NEAR(s.std_score, std::sqrt(3.5), 1e-12);
  EXPECT_DOUBLE_EQ(s.max_pixel, 8.0);
  EXPECT_DOUBLE_EQ(s.mean_pixel, 12.0 / 16.0);
  EXPECT_EQ(s.num_samples, 4);
}

TEST(NormStats, FormatAndRoundTrip) {
  NormStats s;
  s.max_score = 3.1415927410125732;  // float(pi)
  s.mean_score = 1.0 / 3.0;
  s.std_score = 0.1f;
  s.max_pixel = 12345.678f;
  s.mean_pixel = 1e-7f;
  s.num_samples = 213;
  const std::string text = format_norm_stats(s);
  EXPECT_EQ(text.substr(0, text.find('\n')), "max_score=3.14159274");
  const std::vector<std::string> keys = {"max_score=", "mean_score=", "std_score=",
                                         "max_pixel=", "mean_pixel=", "num_samples=213"};
  size_t pos = 0;
  for (const auto& key : keys) {
    EXPECT_EQ(text.compare(pos, key.size(), key), 0) << text;
    pos = text.find('\n', pos) + 1;
  }
  EXPECT_EQ(pos, text.size());

  testing::TempDir dir;
  const auto file = dir.path() / "norm_stats.txt";
  std::ofstream(file) << text;
  const auto r = read_norm_stats(file);
  // %.9g round-trips every float exactly.
  EXPECT_EQ(float(r.max_score), float(s.max_score));
  EXPECT_EQ(float(r.mean_score), float(s.mean_score));
  EXPECT_EQ(float(r.std_score), float(s.std_score));
  EXPECT_EQ(float(r.max_pixel), float(s.max_pixel));
  EXPECT_EQ(float(r.mean_pixel), float(s.mean_pixel));
  EXPECT_EQ(r.num_samples, 213);
}

TEST(NormStats, MissingKeyOrFileIsUserError) {
  testing::TempDir dir;
  const auto file = dir.path() / "norm_stats.txt";
  std::ofstream(file) << "max_score=1\nmean_score=0.5\nstd_score=0.1\nmax_pixel=2\nnum_samples=3\n";
  try {
    read_norm_stats(file);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(file.string()), std::string::npos) << what;
    EXPECT_NE(what.find("mean_pixel"), std::string::npos) << what;
  }
  const auto bad = dir.path() / "bad.txt";
  std::ofstream(bad) << "max_score=abc\nmean_score=0.5\nstd_score=0.1\nmax_pixel=2\n"
                        "mean_pixel=1\nnum_samples=3\n";
  EXPECT_THROW(read_norm_stats(bad), UserError);
  try {
    read_norm_stats(dir.path() / "absent.txt");
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("absent.txt"), std::string::npos);
  }
  // Windows line endings and surrounding spaces are accepted.
  const auto crlf = dir.path() / "crlf.txt";
  std::ofstream(crlf) << "max_score = 1\r\nmean_score=0.5\r\nstd_score=0.1\r\nmax_pixel=2\r\n"
                         "mean_pixel=1\r\nnum_samples=3\r\n";
  EXPECT_EQ(read_norm_stats(crlf).num_samples, 3);
}

}  // namespace
}  // namespace patchcore

// Tests of image decoding and pre-processing against hand-computed closed forms.
#include "data/preprocess.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <fstream>
#include <string>

#include "data/dataset.h"
#include "io/error.h"
#include "test_support.h"

namespace patchcore {
namespace {

using ::patchcore::testing::TempDir;
namespace fs = std::filesystem;

constexpr float kMean[3] = {0.485f, 0.456f, 0.406f};
constexpr float kStd[3] = {0.229f, 0.224f, 0.225f};

float imagenet(int value, int channel) {
  return (static_cast<float>(value) / 255.0f - kMean[channel]) / kStd[channel];
}
float symmetric(int value) { return static_cast<float>(value) / 255.0f * 2.0f - 1.0f; }

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

using ::patchcore::testing::user_error_message;

TEST(Preprocess, ScalingNamesRoundTrip) {
  EXPECT_EQ(to_string(InputScaling::kImageNet), "imagenet");
  EXPECT_EQ(to_string(InputScaling::kSymmetric), "symmetric");
  EXPECT_EQ(input_scaling_from_string("imagenet"), InputScaling::kImageNet);
  EXPECT_EQ(input_scaling_from_string("symmetric"), InputScaling::kSymmetric);
  EXPECT_THROW(input_scaling_from_string("caffe"), UserError);
}

TEST(Preprocess, ImageNetClosedFormOnSyntheticImage) {
  // 2x3 BGR image; no resize (target size equals image size).
  cv::Mat bgr(2, 3, CV_8UC3);
  // pixel (y, x) = B, G, R
  const int values[2][3][3] = {{{0, 128, 255}, {10, 20, 30}, {255, 255, 255}},
                               {{1, 2, 3}, {200, 100, 50}, {0, 0, 0}}};
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x)
      bgr.at<cv::Vec3b>(y, x) = cv::Vec3b(values[y][x][0], values[y][x][1], values[y][x][2]);

  Preprocessing spec;
  spec.height = 2;
  spec.width = 3;
  spec.scaling = InputScaling::kImageNet;
  torch::Tensor t = preprocess(bgr, spec);
  ASSERT_EQ(t.dim(), 3);
  EXPECT_EQ(t.size(0), 3);
  EXPECT_EQ(t.size(1), 2);
  EXPECT_EQ(t.size(2), 3);
  EXPECT_EQ(t.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(t.is_contiguous());
  auto a = t.accessor<float, 3>();
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x)
      for (int c = 0; c < 3; ++c) {
        // channel c of the output is RGB: R = BGR[2], G = BGR[1], B = BGR[0]
        const int value = values[y][x][2 - c];
        EXPECT_NEAR(a[c][y][x], imagenet(value, c), 1e-5) << "y=" << y << " x=" << x << " c=" << c;
      }
  // A few values written out by hand: R of pixel (0,0) is 255 -> (1-0.485)/0.229.
  EXPECT_NEAR(a[0][0][0], 2.2489083f, 1e-5);
  // B of pixel (0,0) is 0 -> -0.406/0.225.
  EXPECT_NEAR(a[2][0][0], -1.8044444f, 1e-5);
  // G of pixel (0,0) is 128 -> (128/255-0.456)/0.224.
  EXPECT_NEAR(a[1][0][0], 0.2051821f, 1e-5);
}

TEST(Preprocess, SymmetricClosedForm) {
  cv::Mat bgr(1, 2, CV_8UC3);
  bgr.at<cv::Vec3b>(0, 0) = cv::Vec3b(0, 51, 255);
  bgr.at<cv::Vec3b>(0, 1) = cv::Vec3b(102, 204, 153);
  Preprocessing spec{1, 2, InputScaling::kSymmetric};
  auto t = preprocess(bgr, spec);
  auto a = t.accessor<float, 3>();
  EXPECT_NEAR(a[0][0][0], 1.0f, 1e-6);        // R = 255
  EXPECT_NEAR(a[1][0][0], -0.6f, 1e-6);       // G = 51 -> 0.2*2-1
  EXPECT_NEAR(a[2][0][0], -1.0f, 1e-6);       // B = 0
  EXPECT_NEAR(a[0][0][1], symmetric(153), 1e-6);
  EXPECT_NEAR(a[1][0][1], 0.6f, 1e-6);        // G = 204 -> 0.8*2-1
  EXPECT_NEAR(a[2][0][1], -0.2f, 1e-6);       // B = 102 -> 0.4*2-1
}

TEST(Preprocess, ResizeMatchesCvResize) {
  cv::Mat bgr(37, 53, CV_8UC3);
  cv::RNG rng(7);
  rng.fill(bgr, cv::RNG::UNIFORM, 0, 256);
  Preprocessing spec{16, 24, InputScaling::kImageNet};
  auto t = preprocess(bgr, spec);
  ASSERT_EQ(t.sizes(), (torch::IntArrayRef{3, 16, 24}));

  cv::Mat resized;
  cv::resize(bgr, resized, cv::Size(24, 16), 0, 0, cv::INTER_LINEAR);
  auto a = t.accessor<float, 3>();
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 24; ++x) {
      const cv::Vec3b p = resized.at<cv::Vec3b>(y, x);
      for (int c = 0; c < 3; ++c) ASSERT_NEAR(a[c][y][x], imagenet(p[2 - c], c), 1e-5);
    }
  // Upscaling too.
  Preprocessing up{80, 90, InputScaling::kSymmetric};
  auto u = preprocess(bgr, up);
  cv::resize(bgr, resized, cv::Size(90, 80), 0, 0, cv::INTER_LINEAR);
  auto b = u.accessor<float, 3>();
  for (int y = 0; y < 80; ++y)
    for (int x = 0; x < 90; ++x) {
      const cv::Vec3b p = resized.at<cv::Vec3b>(y, x);
      for (int c = 0; c < 3; ++c) ASSERT_NEAR(b[c][y][x], symmetric(p[2 - c]), 1e-6);
    }
}

TEST(ReadImage, GrayPngIsReplicatedToThreeChannels) {
  TempDir dir;
  cv::Mat gray(2, 2, CV_8UC1);
  gray.at<uint8_t>(0, 0) = 0;
  gray.at<uint8_t>(0, 1) = 100;
  gray.at<uint8_t>(1, 0) = 200;
  gray.at<uint8_t>(1, 1) = 255;
  const auto path = dir.path() / "gray.png";
  ASSERT_TRUE(cv::imwrite(path.string(), gray));

  cv::Mat bgr = read_image_bgr(path);
  ASSERT_EQ(bgr.type(), CV_8UC3);
  EXPECT_EQ(bgr.at<cv::Vec3b>(0, 1), cv::Vec3b(100, 100, 100));
  EXPECT_EQ(bgr.at<cv::Vec3b>(1, 0), cv::Vec3b(200, 200, 200));

  auto t = preprocess(bgr, Preprocessing{2, 2, InputScaling::kImageNet});
  auto a = t.accessor<float, 3>();
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(a[c][0][0], -kMean[c] / kStd[c], 1e-5);
    EXPECT_NEAR(a[c][0][1], imagenet(100, c), 1e-5);
    EXPECT_NEAR(a[c][1][0], imagenet(200, c), 1e-5);
    EXPECT_NEAR(a[c][1][1], (1.0f - kMean[c]) / kStd[c], 1e-5);
  }
}

TEST(ReadImage, RgbaPngDropsAlpha) {
  TempDir dir;
  cv::Mat bgra(1, 2, CV_8UC4);
  bgra.at<cv::Vec4b>(0, 0) = cv::Vec4b(10, 20, 30, 0);     // fully transparent
  bgra.at<cv::Vec4b>(0, 1) = cv::Vec4b(40, 50, 60, 255);   // opaque
  const auto path = dir.path() / "rgba.png";
  ASSERT_TRUE(cv::imwrite(path.string(), bgra));

  cv::Mat bgr = read_image_bgr(path);
  ASSERT_EQ(bgr.type(), CV_8UC3);
  EXPECT_EQ(bgr.at<cv::Vec3b>(0, 0), cv::Vec3b(10, 20, 30));
  EXPECT_EQ(bgr.at<cv::Vec3b>(0, 1), cv::Vec3b(40, 50, 60));

  auto t = preprocess(bgr, Preprocessing{1, 2, InputScaling::kSymmetric});
  auto a = t.accessor<float, 3>();
  EXPECT_NEAR(a[0][0][0], symmetric(30), 1e-6);  // R
  EXPECT_NEAR(a[1][0][0], symmetric(20), 1e-6);  // G
  EXPECT_NEAR(a[2][0][0], symmetric(10), 1e-6);  // B
  EXPECT_NEAR(a[0][0][1], symmetric(60), 1e-6);
}

TEST(ReadImage, SixteenBitIsScaledToEightBit) {
  TempDir dir;
  cv::Mat gray16(1, 3, CV_16UC1);
  gray16.at<uint16_t>(0, 0) = 0;
  gray16.at<uint16_t>(0, 1) = 65535;
  gray16.at<uint16_t>(0, 2) = 257 * 100;  // exactly 100 in 8 bit
  const auto path = dir.path() / "deep.png";
  ASSERT_TRUE(cv::imwrite(path.string(), gray16));
  cv::Mat bgr = read_image_bgr(path);
  ASSERT_EQ(bgr.type(), CV_8UC3);
  EXPECT_EQ(bgr.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(bgr.at<cv::Vec3b>(0, 1), cv::Vec3b(255, 255, 255));
  EXPECT_EQ(bgr.at<cv::Vec3b>(0, 2), cv::Vec3b(100, 100, 100));
}

TEST(ReadImage, ColorPngRoundTrip) {
  TempDir dir;
  cv::Mat bgr(3, 4, CV_8UC3);
  cv::RNG rng(3);
  rng.fill(bgr, cv::RNG::UNIFORM, 0, 256);
  const auto path = dir.path() / "color.BMP";
  ASSERT_TRUE(cv::imwrite(path.string(), bgr));
  cv::Mat back = read_image_bgr(path);
  ASSERT_EQ(back.type(), CV_8UC3);
  EXPECT_EQ(cv::norm(back, bgr, cv::NORM_INF), 0.0);
}

TEST(ReadImage, ToBgr3ConvertsChannelCounts) {
  cv::Mat gray(2, 2, CV_8UC1, cv::Scalar(7));
  EXPECT_EQ(to_bgr3(gray).type(), CV_8UC3);
  cv::Mat bgra(2, 2, CV_8UC4, cv::Scalar(1, 2, 3, 4));
  cv::Mat bgr = to_bgr3(bgra);
  EXPECT_EQ(bgr.type(), CV_8UC3);
  EXPECT_EQ(bgr.at<cv::Vec3b>(1, 1), cv::Vec3b(1, 2, 3));
}

TEST(ReadImage, MissingFileNamesIt) {
  TempDir dir;
  const auto path = dir.path() / "nope.png";
  const std::string msg = user_error_message([&] { read_image_bgr(path); });
  EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("not found"), std::string::npos) << msg;
}

TEST(ReadImage, ZeroByteFileIsEmpty) {
  TempDir dir;
  const auto path = dir.path() / "zero.png";
  write_bytes(path, "");
  const std::string msg = user_error_message([&] { read_image_bgr(path); });
  EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("empty file"), std::string::npos) << msg;
}

TEST(ReadImage, GarbageWithPngExtensionIsUndecodable) {
  TempDir dir;
  const auto path = dir.path() / "garbage.png";
  write_bytes(path, "this is definitely not a PNG file, just some text bytes\n");
  const std::string msg = user_error_message([&] { read_image_bgr(path); });
  EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("not an image OpenCV can decode"), std::string::npos) << msg;
}

TEST(ReadImage, RealGrayscaleJpegFromSharedData) {
  PATCHCORE_REQUIRE_SHARED("data/magnetic_tile");
  const auto folder = ::patchcore::testing::shared_dir() / "data/magnetic_tile";
  const auto images = find_training_images(folder);  // resolves to train/good
  ASSERT_FALSE(images.empty());
  EXPECT_NE(images.front().string().find("train"), std::string::npos);
  const auto& path = images.front();

  cv::Mat raw = cv::imread(path.string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(raw.empty());
  EXPECT_EQ(raw.channels(), 1) << "magnetic_tile images are grayscale JPEGs";

  cv::Mat bgr = read_image_bgr(path);
  ASSERT_EQ(bgr.type(), CV_8UC3);
  EXPECT_EQ(bgr.rows, raw.rows);
  EXPECT_EQ(bgr.cols, raw.cols);
  std::vector<cv::Mat> planes;
  cv::split(bgr, planes);
  EXPECT_EQ(cv::norm(planes[0], raw, cv::NORM_INF), 0.0);
  EXPECT_EQ(cv::norm(planes[1], raw, cv::NORM_INF), 0.0);
  EXPECT_EQ(cv::norm(planes[2], raw, cv::NORM_INF), 0.0);

  auto t = preprocess(bgr, Preprocessing{});
  EXPECT_EQ(t.sizes(), (torch::IntArrayRef{3, 224, 224}));
  EXPECT_TRUE(torch::isfinite(t).all().item<bool>());
  // gray input: (R - meanR)*stdR == (G - meanG)*stdG ... the unnormalised channels agree.
  auto r = t[0] * kStd[0] + kMean[0];
  auto g = t[1] * kStd[1] + kMean[1];
  EXPECT_LT((r - g).abs().max().item<float>(), 1e-5);
}

}  // namespace
}  // namespace patchcore

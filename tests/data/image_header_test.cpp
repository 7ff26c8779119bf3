// Image sizes read from file headers (data/image_header.h) against OpenCV's own encoders, and
// read_image_bgr on absurd and unusual files: decompression bombs, 1x1, float and multi-page TIFF.
#include "data/image_header.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "data/preprocess.h"
#include "io/error.h"
#include "test_support.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;
using ::patchcore::testing::TempDir;
using ::patchcore::testing::user_error_message;

std::string encode(const std::string& ext, const cv::Mat& image, const std::vector<int>& params = {}) {
  std::vector<uchar> bytes;
  EXPECT_TRUE(cv::imencode(ext, image, bytes, params)) << ext;
  return std::string(bytes.begin(), bytes.end());
}

cv::Mat gradient(cv::Size size, int type = CV_8UC3) {
  cv::Mat m(size, type);
  cv::randu(m, 0, 255);
  return m;
}

void write_bytes(const fs::path& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

void put_be16(std::string& s, size_t at, uint32_t v) {
  s[at] = static_cast<char>(v >> 8);
  s[at + 1] = static_cast<char>(v);
}
void put_be32(std::string& s, size_t at, uint32_t v) {
  put_be16(s, at, v >> 16);
  put_be16(s, at + 2, v & 0xFFFF);
}
void put_le32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>(v >> (8 * i));
}

TEST(ImageHeader, SizesOfFilesOpenCvEncodes) {
  for (const cv::Size size : {cv::Size(1, 1), cv::Size(37, 21), cv::Size(640, 480)}) {
    const auto image = gradient(size);
    SCOPED_TRACE(std::to_string(size.width) + "x" + std::to_string(size.height));
    for (const char* ext : {".png", ".jpg", ".bmp", ".tiff", ".webp"})
      EXPECT_EQ(declared_image_size(encode(ext, image)), size) << ext;
    EXPECT_EQ(declared_image_size(encode(".webp", image, {cv::IMWRITE_WEBP_QUALITY, 101})), size) << "lossless";
    EXPECT_EQ(declared_image_size(encode(".webp", gradient(size, CV_8UC4))), size) << "with alpha";
    EXPECT_EQ(declared_image_size(encode(".png", gradient(size, CV_16UC1))), size) << "16-bit";
    EXPECT_EQ(declared_image_size(encode(".jpg", image, {cv::IMWRITE_JPEG_PROGRESSIVE, 1})), size) << "progressive";
  }
}

TEST(ImageHeader, UnknownOrTruncatedHeadersAreUnknown) {
  EXPECT_FALSE(declared_image_size(""));
  EXPECT_FALSE(declared_image_size("P6\n4 4\n255\n"));  // a format it does not read (PPM): OpenCV's limit applies
  const auto png = encode(".png", gradient({8, 8}));
  EXPECT_FALSE(declared_image_size(png.substr(0, 20)));
  const auto jpg = encode(".jpg", gradient({8, 8}));
  EXPECT_FALSE(declared_image_size(jpg.substr(0, 30)));
}

// A few hundred bytes announcing 50000 x 50000 pixels (7.5 GB as BGR): refused before decoding.
TEST(ReadImage, DecompressionBombsAreRefusedBeforeDecoding) {
  TempDir dir;
  std::string png = encode(".png", gradient({8, 8}));
  put_be32(png, 16, 50000);
  put_be32(png, 20, 50000);
  std::string jpg = encode(".jpg", gradient({8, 8}));
  const size_t sof = jpg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  put_be16(jpg, sof + 5, 50000);
  put_be16(jpg, sof + 7, 50000);
  std::string bmp = encode(".bmp", gradient({8, 8}));
  put_le32(bmp, 18, 50000);
  put_le32(bmp, 22, 50000);
  // TIFF by hand: header, one IFD with ImageWidth and ImageLength (LONG) = 50000.
  std::string tiff("II*\0\x08\0\0\0\x02\0", 10);
  for (uint32_t tag : {256u, 257u}) {
    std::string entry(12, '\0');
    entry[0] = static_cast<char>(tag & 0xFF);
    entry[1] = static_cast<char>(tag >> 8);
    entry[2] = 4;  // LONG
    entry[4] = 1;  // count
    put_le32(entry, 8, 50000);
    tiff += entry;
  }
  tiff += std::string(4, '\0');
  for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"bomb.png", png}, {"bomb.jpg", jpg}, {"bomb.bmp", bmp}, {"bomb.tiff", tiff}}) {
    const fs::path path = dir.path() / name;
    write_bytes(path, bytes);
    const std::string message = user_error_message([&] { read_image_bgr(path); });
    EXPECT_NE(message.find("declares 50000 x 50000 pixels"), std::string::npos) << name << ": " << message;
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  }
}

TEST(ReadImage, OnePixelImageDecodes) {
  TempDir dir;
  const cv::Mat pixel(1, 1, CV_8UC3, cv::Scalar(10, 20, 30));
  ASSERT_TRUE(cv::imwrite((dir.path() / "p.png").string(), pixel));
  const cv::Mat read = read_image_bgr(dir.path() / "p.png");
  ASSERT_EQ(read.size(), cv::Size(1, 1));
  EXPECT_EQ(read.at<cv::Vec3b>(0, 0), cv::Vec3b(10, 20, 30));
}

// Float TIFF values are taken to be in [0, 1] and scaled to 8 bit (data/preprocess.h).
TEST(ReadImage, FloatTiffIsScaledToEightBit) {
  TempDir dir;
  cv::Mat f(2, 3, CV_32FC1);
  const float values[6] = {0.0f, 0.25f, 0.5f, 0.75f, 1.0f, 0.1f};
  for (int i = 0; i < 6; ++i) f.at<float>(i / 3, i % 3) = values[i];
  ASSERT_TRUE(cv::imwrite((dir.path() / "f.tiff").string(), f));
  const cv::Mat read = read_image_bgr(dir.path() / "f.tiff");
  ASSERT_EQ(read.type(), CV_8UC3);
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(read.at<cv::Vec3b>(i / 3, i % 3)[0], cv::saturate_cast<uchar>(values[i] * 255.0)) << values[i];
}

// A multi-page TIFF gives its first page.
TEST(ReadImage, MultiPageTiffGivesTheFirstPage) {
  TempDir dir;
  const std::vector<cv::Mat> pages = {cv::Mat(4, 4, CV_8UC3, cv::Scalar(1, 2, 3)), cv::Mat(4, 4, CV_8UC3, cv::Scalar(9, 9, 9))};
  ASSERT_TRUE(cv::imwritemulti((dir.path() / "pages.tiff").string(), pages));
  const cv::Mat read = read_image_bgr(dir.path() / "pages.tiff");
  EXPECT_EQ(read.at<cv::Vec3b>(2, 2), cv::Vec3b(1, 2, 3));
}

// A CMYK JPEG (as print workflows write them), made with Pillow (Debian python3-pil): decoded
// to BGR. Pure red in CMYK (0, 255, 255, 0) -> BGR about (0, 0, 255).
TEST(ReadImage, CmykJpegIsConvertedToBgr) {
  TempDir dir;
  const fs::path path = dir.path() / "cmyk.jpg";
  const std::string make = "/usr/bin/python3 -c \"from PIL import Image; "
                           "Image.new('CMYK', (8, 8), (0, 255, 255, 0)).save('" + path.string() + "', quality=95)\"";
  if (std::system(make.c_str()) != 0) GTEST_SKIP() << "Pillow (python3-pil) is not installed";
  ASSERT_TRUE(declared_image_size(::patchcore::testing::read_file(path)));
  const cv::Mat read = read_image_bgr(path);
  ASSERT_EQ(read.size(), cv::Size(8, 8));
  const cv::Vec3b px = read.at<cv::Vec3b>(4, 4);
  EXPECT_LE(px[0], 10);
  EXPECT_LE(px[1], 10);
  EXPECT_GE(px[2], 245);
}

}  // namespace
}  // namespace patchcore

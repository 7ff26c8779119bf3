#pragma once
// Synthetic ROI scenes for the ROI tests: a textured "part" pasted at a known position
// on a textured background that differs from image to image. The known paste
// positions are the truth the located rectangles are checked against.
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdio>
#include <filesystem>
#include <random>
#include <vector>

namespace patchcore::roi_testing {

// Blurred random noise: a texture without any strong, repeated structure.
inline cv::Mat texture(cv::Size size, uint64_t seed, double blur, int mean, int spread) {
  cv::RNG rng(seed);
  cv::Mat noise(size, CV_32FC1);
  rng.fill(noise, cv::RNG::NORMAL, 0.0, 1.0);
  if (blur > 0) cv::GaussianBlur(noise, noise, cv::Size(), blur);
  cv::normalize(noise, noise, 0, 1, cv::NORM_MINMAX);
  cv::Mat gray;
  noise.convertTo(gray, CV_8UC1, 2.0 * spread, mean - spread);
  cv::Mat bgr;
  cv::cvtColor(gray, bgr, cv::COLOR_GRAY2BGR);
  return bgr;
}

// The background of image `index`: a different texture for every image.
inline cv::Mat background(cv::Size size, uint64_t index) { return texture(size, 1000 + index, 2.0, 110, 40); }

// A part with clear structure: bars, rings and a texture of its own.
inline cv::Mat make_part(cv::Size size, uint64_t seed = 7) {
  cv::Mat part = texture(size, seed, 1.0, 150, 25);
  cv::RNG rng(seed);
  for (int i = 0; i < 6; ++i) {
    const cv::Point a(rng.uniform(0, size.width), rng.uniform(0, size.height));
    const cv::Point b(rng.uniform(0, size.width), rng.uniform(0, size.height));
    cv::line(part, a, b, cv::Scalar::all(rng.uniform(0, 60)), rng.uniform(2, 5), cv::LINE_AA);
  }
  for (int i = 0; i < 3; ++i)
    cv::circle(part, cv::Point(rng.uniform(0, size.width), rng.uniform(0, size.height)),
               rng.uniform(4, std::max(5, size.height / 3)), cv::Scalar::all(rng.uniform(200, 255)), 2, cv::LINE_AA);
  cv::rectangle(part, cv::Rect(0, 0, size.width, size.height), cv::Scalar::all(30), 2);
  return part;
}

// `part` pasted at `at` on background `index` (plus mild sensor noise).
inline cv::Mat scene(cv::Size size, const cv::Mat& part, cv::Point at, uint64_t index, double noise = 3.0) {
  cv::Mat image = background(size, index);
  part.copyTo(image(cv::Rect(at, part.size())));
  if (noise > 0) {
    cv::Mat n(size, CV_16SC3);
    cv::RNG(77 + index).fill(n, cv::RNG::NORMAL, 0.0, noise);
    cv::Mat wide;
    image.convertTo(wide, CV_16SC3);
    wide += n;
    wide.convertTo(image, CV_8UC3);
  }
  return image;
}

// Writes `count` images DIR/000.png ... : the part at `reference` + a seeded random shift
// of up to +-10% of the image size (image 0 unshifted). Returns the true top-left
// corners, in file order.
inline std::vector<cv::Point> write_dataset(const std::filesystem::path& dir, int count, cv::Size size,
                                            const cv::Mat& part, cv::Point reference, uint32_t seed,
                                            uint64_t first_background = 0) {
  std::filesystem::create_directories(dir);
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> ux(-size.width / 10, size.width / 10), uy(-size.height / 10, size.height / 10);
  std::vector<cv::Point> truths;
  for (int i = 0; i < count; ++i) {
    const cv::Point at = i == 0 ? reference : reference + cv::Point(ux(gen), uy(gen));
    char name[32];
    std::snprintf(name, sizeof name, "%03d.png", i);
    cv::imwrite((dir / name).string(), scene(size, part, at, first_background + static_cast<uint64_t>(i)));
    truths.push_back(at);
  }
  return truths;
}

}  // namespace patchcore::roi_testing

#include "pipeline/demo_dataset.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdio>
#include <string>

#include "io/error.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;

// A good part: a horizontal copper-coloured wire with lengthwise strands and
// lighting gradient, slightly shifted/tilted per image, on textured dark background.
cv::Mat good_part(cv::RNG& rng, int size) {
  cv::Mat image(size, size, CV_8UC3);
  rng.fill(image, cv::RNG::NORMAL, cv::Scalar(40, 40, 45), cv::Scalar(6, 6, 6));
  const double center = size * 0.5 + rng.uniform(-0.04, 0.04) * size;
  const double tilt = rng.uniform(-0.03, 0.03);
  const double half_width = size * 0.16;
  for (int y = 0; y < size; ++y) {
    auto* row = image.ptr<cv::Vec3b>(y);
    for (int x = 0; x < size; ++x) {
      const double offset = (y - (center + tilt * (x - size / 2.0))) / half_width;  // -1..1 across the wire
      if (std::abs(offset) > 1.0) continue;
      const double shade = 0.55 + 0.45 * std::sqrt(1.0 - offset * offset);            // round wire
      const double strands = 0.88 + 0.12 * std::cos(offset * 18.0);                   // strand ridges
      const double v = shade * strands;
      row[x] = cv::Vec3b(cv::saturate_cast<uchar>(60 * v + rng.gaussian(3)),
                         cv::saturate_cast<uchar>(125 * v + rng.gaussian(3)),
                         cv::saturate_cast<uchar>(205 * v + rng.gaussian(3)));
    }
  }
  cv::GaussianBlur(image, image, cv::Size(3, 3), 0.8);
  return image;
}

enum class Defect { kScratch, kMissingStrand, kStain };
const char* defect_name(Defect d) {
  switch (d) {
    case Defect::kScratch: return "scratch";
    case Defect::kMissingStrand: return "missing_strand";
    case Defect::kStain: return "stain";
  }
  return "defect";
}

// Draws a defect on the wire; returns its binary mask.
cv::Mat add_defect(cv::Mat& image, cv::RNG& rng, Defect defect) {
  const int size = image.rows;
  cv::Mat mask = cv::Mat::zeros(image.size(), CV_8UC1);
  const cv::Point c(rng.uniform(size / 4, 3 * size / 4), size / 2 + rng.uniform(-size / 20, size / 20));
  switch (defect) {
    case Defect::kScratch: {
      const cv::Point d(rng.uniform(-size / 8, size / 8), rng.uniform(size / 10, size / 6));
      cv::line(image, c - d, c + d, cv::Scalar(25, 35, 50), std::max(2, size / 90), cv::LINE_AA);
      cv::line(mask, c - d, c + d, 255, std::max(2, size / 90) + 2);
      break;
    }
    case Defect::kMissingStrand: {
      const cv::Size axes(rng.uniform(size / 14, size / 9), rng.uniform(size / 28, size / 18));
      cv::ellipse(image, c, axes, 0, 0, 360, cv::Scalar(42, 42, 46), cv::FILLED, cv::LINE_AA);
      cv::ellipse(mask, c, axes, 0, 0, 360, 255, cv::FILLED);
      break;
    }
    case Defect::kStain: {
      const int radius = rng.uniform(size / 22, size / 14);
      cv::Mat layer = image.clone();
      cv::circle(layer, c, radius, cv::Scalar(30, 90, 60), cv::FILLED, cv::LINE_AA);  // green oxidation
      cv::addWeighted(image, 0.35, layer, 0.65, 0, image);
      cv::circle(mask, c, radius, 255, cv::FILLED);
      break;
    }
  }
  return mask;
}

void write_png(const fs::path& path, const cv::Mat& image) {
  if (!cv::imwrite(path.string(), image)) throw UserError("cannot write " + path.string());
}

std::string numbered(int i) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%03d.png", i);
  return buffer;
}

}  // namespace

DemoDatasetSummary write_demo_dataset(const fs::path& root, const DemoDatasetOptions& options) {
  cv::RNG rng(options.seed * 7919 + 17);
  DemoDatasetSummary summary;
  std::error_code ec;
  for (const char* sub : {"train/good", "test/good"}) fs::create_directories(root / sub, ec);
  if (ec) throw UserError("cannot create " + root.string() + ": " + ec.message());
  for (int i = 0; i < options.train_images; ++i, ++summary.train)
    write_png(root / "train/good" / numbered(i), good_part(rng, options.size));
  for (int i = 0; i < options.test_good; ++i, ++summary.test_good)
    write_png(root / "test/good" / numbered(i), good_part(rng, options.size));
  for (Defect defect : {Defect::kScratch, Defect::kMissingStrand, Defect::kStain}) {
    const std::string name = defect_name(defect);
    fs::create_directories(root / "test" / name);
    fs::create_directories(root / "ground_truth" / name);
    for (int i = 0; i < options.test_per_defect; ++i, ++summary.test_defective) {
      cv::Mat image = good_part(rng, options.size);
      cv::Mat mask = add_defect(image, rng, defect);
      write_png(root / "test" / name / numbered(i), image);
      write_png(root / "ground_truth" / name / (numbered(i).substr(0, 3) + "_mask.png"), mask);
    }
  }
  return summary;
}

}  // namespace patchcore

#pragma once
// Client-side pre- and post-processing shared by the two examples: exactly what
// `patchcore train/predict` do before the model (src/data/preprocess.h), the ROI crop of
// models trained with --roi / --roi-rect (include/patchcore/roi.h, header-only), and how
// norm_stats.txt turns a raw score into a decision.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <patchcore/roi.h>  // include/ of the patchcore project: header-only, OpenCV only

namespace client {

// Makes `bgr` (8-bit, 3-channel BGR) the model input: resizes to W x H with INTER_LINEAR,
// converts BGR -> RGB, scales to [0,1] and normalises: "imagenet" (ResNets) =
// (x - mean) / std, "symmetric" (MobileNet) = x * 2 - 1. Returns NCHW float data.
inline std::vector<float> preprocess(const cv::Mat& bgr, int height, int width, const std::string& scaling) {
  cv::Mat resized, rgb;
  cv::resize(bgr, resized, cv::Size(width, height), 0, 0, cv::INTER_LINEAR);
  cv::cvtColor(resized, rgb, cv::COLOR_BGR2RGB);
  const float mean[3] = {0.485f, 0.456f, 0.406f}, stdev[3] = {0.229f, 0.224f, 0.225f};
  std::vector<float> chw(static_cast<size_t>(3 * height * width));
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) {
        const float v = rgb.at<cv::Vec3b>(y, x)[c] / 255.0f;
        chw[(static_cast<size_t>(c) * height + y) * width + x] =
            scaling == "imagenet" ? (v - mean[c]) / stdev[c] : v * 2.0f - 1.0f;
      }
  return chw;
}

// The same for an image file (decoded as 3-channel BGR: grayscale/RGBA are converted).
inline std::vector<float> preprocess(const std::string& path, int height, int width,
                                     const std::string& scaling) {
  cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR);
  if (bgr.empty()) throw std::runtime_error("cannot read image " + path);
  return preprocess(bgr, height, width, scaling);
}

// The model input for one image. ROI models (metadata "patchcore.roi_*"): locate the ROI
// by template matching, crop it, pre-process the crop; when the match is below the
// model's ROI threshold, roi_found is false and the image must not be scored.
struct PreparedInput {
  std::vector<float> chw;   // [1,3,H,W] data; empty when !roi_found
  bool roi_found = true;
  double roi_score = 0;
  cv::Rect roi;             // what was fed, in the image's pixels (whole image without ROI)
};

inline PreparedInput prepare_input(const cv::Mat& bgr, int height, int width, const std::string& scaling,
                                   const patchcore::RoiLocator* roi) {
  PreparedInput in;
  in.roi = cv::Rect(0, 0, bgr.cols, bgr.rows);
  if (roi) {
    const patchcore::RoiMatch m = roi->locate(bgr);  // 1. locate (grayscale TM_CCOEFF_NORMED)
    in.roi_found = m.found;                           // 2. check the threshold
    in.roi_score = m.score;
    if (!m.found) return in;
    in.roi = m.rect;                                  // 3. crop the ROI at the found position
  }
  in.chw = preprocess(bgr(in.roi), height, width, scaling);  // 4. resize + normalise the crop
  return in;
}

// norm_stats.txt: "key=value" lines (max_score, mean_score, std_score, max_pixel,
// mean_pixel, num_samples: statistics of the training images; then image_threshold and
// pixel_threshold when training or `patchcore eval --write-threshold` set them).
inline std::map<std::string, double> read_norm_stats(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::map<std::string, double> stats;
  std::string line;
  while (std::getline(f, line)) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) stats[line.substr(0, eq)] = std::stod(line.substr(eq + 1));
  }
  return stats;
}

// The decision threshold `patchcore predict` uses: image_threshold when present, else
// max_score (models trained before thresholds were recorded).
inline double default_threshold(const std::map<std::string, double>& stats) {
  const auto it = stats.find("image_threshold");
  return it != stats.end() ? it->second : stats.at("max_score");
}

}  // namespace client

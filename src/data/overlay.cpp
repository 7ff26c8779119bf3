#include "data/overlay.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>

namespace patchcore {

cv::Mat heat_overlay(const cv::Mat& image_bgr, const cv::Mat& map, double pixel_scale) {
  cv::Mat normalised, heat, blended;
  map.convertTo(normalised, CV_8UC1, 255.0 / std::max(pixel_scale, 1e-12));
  cv::applyColorMap(normalised, heat, cv::COLORMAP_JET);
  cv::addWeighted(image_bgr, 0.5, heat, 0.5, 0.0, blended);
  return blended;
}

}  // namespace patchcore

#pragma once
// The heat-map overlay of predict's overlays/ and eval's thumbnails.
#include <opencv2/core.hpp>

namespace patchcore {

// Colour scale of the overlays: the highest training pixel maps to mid-scale, so good
// parts stay blue and defects turn red, the same for every image.
inline double overlay_pixel_scale(double max_training_pixel) { return 2.0 * max_training_pixel; }

// map / pixel_scale in JET colours blended 50% over the BGR image (same size).
cv::Mat heat_overlay(const cv::Mat& image_bgr, const cv::Mat& map, double pixel_scale);

}  // namespace patchcore

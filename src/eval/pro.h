#pragma once
// AUPRO: area under the per-region-overlap curve up to a false-positive rate limit,
// divided by that limit (Bergmann et al., "The MVTec Anomaly Detection Dataset", IJCV
// 2021, and their evaluation code). Every connected component (8-connectivity) of every
// ground-truth mask is one region; PRO at a threshold is the mean over all regions of
// the fraction of the region's pixels at or above it; FPR is over all defect-free pixels
// of all images. The curve is exact (one point per distinct score), linearly
// interpolated at the limit.
#include <opencv2/core.hpp>

#include <vector>

namespace patchcore::eval {

// For one mask (CV_8U, non-zero = defect): per pixel 1 / area of its connected
// component, 0 outside defects; adds the number of components to `regions`.
cv::Mat region_weights(const cv::Mat& mask, int& regions);

// scores / labels / weights per pixel (weights from region_weights, not yet divided by
// the total number of regions). NaN when there is no region or no defect-free pixel.
double aupro(const std::vector<float>& scores, const std::vector<uint8_t>& labels,
             const std::vector<float>& region_weights, int regions, double fpr_limit = 0.3);

}  // namespace patchcore::eval

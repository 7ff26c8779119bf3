#include "eval/pro.h"

#include <opencv2/imgproc.hpp>

#include <cmath>
#include <limits>

#include "eval/curves.h"

namespace patchcore::eval {

cv::Mat region_weights(const cv::Mat& mask, int& regions) {
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(mask != 0, labels, stats, centroids, 8, CV_32S);
  cv::Mat weights(mask.size(), CV_32F, cv::Scalar(0));
  for (int y = 0; y < labels.rows; ++y) {
    const int* l = labels.ptr<int>(y);
    float* w = weights.ptr<float>(y);
    for (int x = 0; x < labels.cols; ++x)
      if (l[x] > 0) w[x] = 1.0f / static_cast<float>(stats.at<int>(l[x], cv::CC_STAT_AREA));
  }
  regions += n - 1;  // label 0 is the background
  return weights;
}

double aupro(const std::vector<float>& scores, const std::vector<uint8_t>& labels,
             const std::vector<float>& region_weights, int regions, double fpr_limit) {
  const RankedCounts c = rank_counts(scores, labels, region_weights);
  if (regions <= 0 || c.total_negative <= 0) return std::numeric_limits<double>::quiet_NaN();
  double area = 0, fpr0 = 0, pro0 = 0;
  for (size_t i = 0; i < c.fp.size(); ++i) {
    const double fpr = c.fp[i] / c.total_negative, pro = c.tp[i] / regions;
    if (fpr >= fpr_limit) {  // the last trapezoid ends at the limit, PRO interpolated there
      const double t = fpr > fpr0 ? (fpr_limit - fpr0) / (fpr - fpr0) : 0.0;
      const double pro_at_limit = pro0 + t * (pro - pro0);
      area += (fpr_limit - fpr0) * (pro0 + pro_at_limit) / 2;
      return area / fpr_limit;
    }
    area += (fpr - fpr0) * (pro0 + pro) / 2;
    fpr0 = fpr;
    pro0 = pro;
  }
  return area / fpr_limit;  // not reached: the last point has FPR 1
}

}  // namespace patchcore::eval

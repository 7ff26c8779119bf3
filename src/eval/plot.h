#pragma once
// Charts drawn with OpenCV (cv::line / cv::putText on a white canvas): no plotting
// library of Debian has a maintained C++ API that writes PNG without a GUI or
// Python stack, and OpenCV is already linked for image I/O.
#include <opencv2/core.hpp>

#include <string>
#include <vector>

namespace patchcore::eval {

struct Series {
  std::string name;
  std::vector<double> x, y;
  cv::Scalar color;  // BGR
};

struct Marker {
  std::string label;
  double x = 0, y = 0;
  cv::Scalar color;
};

// Axes 0..1 on both sides, ticks every 0.2, legend with the series names.
cv::Mat line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                   const std::vector<Series>& series, const std::vector<Marker>& markers = {},
                   bool diagonal = false);

struct VerticalLine {
  std::string label;
  double x = 0;
  cv::Scalar color;
};

// Overlaid histograms of good (green) and defect (red) scores, `bins` bins over their
// common range, with vertical threshold lines.
cv::Mat score_histogram(const std::string& title, const std::vector<float>& good, const std::vector<float>& defect,
                        const std::vector<VerticalLine>& lines, int bins = 40);

struct Thumbnail {
  cv::Mat image;  // BGR, any size
  std::string caption;
};

// A row of thumbnails (each fitted into `cell` px) under a title; a note when empty.
cv::Mat thumbnail_sheet(const std::string& title, const std::vector<Thumbnail>& thumbnails, int cell = 200);

}  // namespace patchcore::eval

#include "eval/plot.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace patchcore::eval {
namespace {

constexpr int kWidth = 640, kHeight = 480;
constexpr int kLeft = 70, kRight = 20, kTop = 55, kBottom = 60;
const cv::Scalar kBlack(0, 0, 0), kGrey(200, 200, 200), kWhite(255, 255, 255);

void text(cv::Mat& img, const std::string& s, cv::Point at, double scale = 0.45, cv::Scalar color = kBlack) {
  cv::putText(img, s, at, cv::FONT_HERSHEY_SIMPLEX, scale, color, 1, cv::LINE_AA);
}

std::string format(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

// Maps data coordinates to pixels inside the plot area.
struct Frame {
  double x0, x1, y0, y1;
  cv::Point at(double x, double y) const {
    const double fx = x1 > x0 ? (x - x0) / (x1 - x0) : 0, fy = y1 > y0 ? (y - y0) / (y1 - y0) : 0;
    return {kLeft + static_cast<int>(std::lround(fx * (kWidth - kLeft - kRight))),
            kHeight - kBottom - static_cast<int>(std::lround(fy * (kHeight - kTop - kBottom)))};
  }
};

cv::Mat axes(const std::string& title, const std::string& x_label, const std::string& y_label, const Frame& f) {
  cv::Mat img(kHeight, kWidth, CV_8UC3, kWhite);
  for (int i = 0; i <= 5; ++i) {
    const double x = f.x0 + (f.x1 - f.x0) * i / 5, y = f.y0 + (f.y1 - f.y0) * i / 5;
    cv::line(img, f.at(x, f.y0), f.at(x, f.y1), kGrey, 1);
    cv::line(img, f.at(f.x0, y), f.at(f.x1, y), kGrey, 1);
    text(img, format(x), f.at(x, f.y0) + cv::Point(-12, 18), 0.4);
    text(img, format(y), f.at(f.x0, y) + cv::Point(-45, 5), 0.4);
  }
  cv::rectangle(img, f.at(f.x0, f.y1), f.at(f.x1, f.y0), kBlack, 1);
  text(img, title, {10, 22}, 0.6);
  text(img, x_label, {kWidth / 2 - 40, kHeight - 15});
  text(img, y_label, {5, kTop - 12});
  return img;
}

void legend(cv::Mat& img, const std::vector<std::pair<std::string, cv::Scalar>>& entries) {
  // Right-aligned inside the plot area, on a half-transparent white box: the text stays
  // readable and bars behind it stay visible.
  int width = 0;
  for (const auto& entry : entries)
    width = std::max(width, cv::getTextSize(entry.first, cv::FONT_HERSHEY_SIMPLEX, 0.45, 1, nullptr).width);
  const int x = kWidth - kRight - width - 45, top = kHeight - kBottom - 20 * static_cast<int>(entries.size()) - 10;
  const cv::Rect box(cv::Point(x - 5, top), cv::Point(kWidth - kRight - 2, kHeight - kBottom - 2));
  cv::Mat area = img(box);
  cv::addWeighted(area, 0.35, cv::Mat(area.size(), area.type(), kWhite), 0.65, 0, area);
  int y = top + 20;
  for (const auto& [name, color] : entries) {
    cv::line(img, {x, y - 4}, {x + 25, y - 4}, color, 2);
    text(img, name, {x + 30, y});
    y += 20;
  }
}

}  // namespace

cv::Mat line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                   const std::vector<Series>& series, const std::vector<Marker>& markers, bool diagonal) {
  const Frame f{0, 1, 0, 1};
  cv::Mat img = axes(title, x_label, y_label, f);
  if (diagonal) cv::line(img, f.at(0, 0), f.at(1, 1), kGrey, 1, cv::LINE_AA);
  std::vector<std::pair<std::string, cv::Scalar>> entries;
  for (const auto& s : series) {
    std::vector<cv::Point> points;
    for (size_t i = 0; i < s.x.size(); ++i) points.push_back(f.at(s.x[i], s.y[i]));
    cv::polylines(img, points, false, s.color, 2, cv::LINE_AA);
    entries.emplace_back(s.name, s.color);
  }
  for (const auto& m : markers) {
    cv::circle(img, f.at(m.x, m.y), 5, m.color, cv::FILLED, cv::LINE_AA);
    entries.emplace_back(m.label, m.color);
  }
  legend(img, entries);
  return img;
}

cv::Mat score_histogram(const std::string& title, const std::vector<float>& good, const std::vector<float>& defect,
                        const std::vector<VerticalLine>& lines, int bins) {
  double lo = INFINITY, hi = -INFINITY;
  for (const auto* v : {&good, &defect})
    for (float s : *v) lo = std::min(lo, static_cast<double>(s)), hi = std::max(hi, static_cast<double>(s));
  for (const auto& l : lines) lo = std::min(lo, l.x), hi = std::max(hi, l.x);
  if (!(hi > lo)) hi = lo + 1;
  const double pad = (hi - lo) * 0.02;
  lo -= pad;
  hi += pad;
  auto histogram = [&](const std::vector<float>& v) {
    std::vector<double> h(bins, 0);
    for (float s : v) h[std::clamp(static_cast<int>((s - lo) / (hi - lo) * bins), 0, bins - 1)] += 1;
    for (auto& c : h) c /= std::max<size_t>(1, v.size());  // fractions: both groups comparable
    return h;
  };
  const auto hg = histogram(good), hd = histogram(defect);
  const double top = std::max(*std::max_element(hg.begin(), hg.end()), *std::max_element(hd.begin(), hd.end()));
  const Frame f{lo, hi, 0, top > 0 ? top * 1.1 : 1};
  cv::Mat img = axes(title, "image score", "fraction of images", f);
  const cv::Scalar green(60, 170, 60), red(50, 50, 220);
  for (int b = 0; b < bins; ++b) {
    const double x0 = lo + (hi - lo) * b / bins, x1 = lo + (hi - lo) * (b + 1) / bins;
    cv::Mat layer = img.clone();
    cv::rectangle(layer, f.at(x0, 0), f.at(x1, hg[b]), green, cv::FILLED);
    cv::rectangle(layer, f.at(x0, 0), f.at(x1, hd[b]), red, cv::FILLED);
    cv::addWeighted(layer, 0.5, img, 0.5, 0, img);
  }
  std::vector<std::pair<std::string, cv::Scalar>> entries = {
      {"good (" + std::to_string(good.size()) + ")", green}, {"defect (" + std::to_string(defect.size()) + ")", red}};
  // In reverse so that the first line (the model's threshold) is drawn on top.
  for (auto l = lines.rbegin(); l != lines.rend(); ++l)
    cv::line(img, f.at(l->x, 0), f.at(l->x, f.y1), l->color, 2, cv::LINE_AA);
  for (const auto& l : lines) entries.emplace_back(l.label + " " + format(l.x), l.color);
  legend(img, entries);
  return img;
}

cv::Mat thumbnail_sheet(const std::string& title, const std::vector<Thumbnail>& thumbnails, int cell) {
  const int columns = std::max<int>(1, static_cast<int>(thumbnails.size()));
  const int title_width = cv::getTextSize(title, cv::FONT_HERSHEY_SIMPLEX, 0.6, 1, nullptr).width + 20;
  cv::Mat img(cell + 70, std::max(cell * columns + 10 * (columns + 1), title_width), CV_8UC3, kWhite);
  text(img, title, {10, 25}, 0.6);
  if (thumbnails.empty()) text(img, "none", {10, 60});
  for (int i = 0; i < static_cast<int>(thumbnails.size()); ++i) {
    const cv::Mat& src = thumbnails[i].image;
    const double scale = std::min(static_cast<double>(cell) / src.cols, static_cast<double>(cell) / src.rows);
    cv::Mat small;
    cv::resize(src, small, cv::Size(std::max(1, static_cast<int>(src.cols * scale)),
                                    std::max(1, static_cast<int>(src.rows * scale))), 0, 0, cv::INTER_AREA);
    const int x = 10 + i * (cell + 10);
    small.copyTo(img(cv::Rect(x, 40, small.cols, small.rows)));
    text(img, thumbnails[i].caption, {x, 40 + cell + 20}, 0.4);
  }
  return img;
}

}  // namespace patchcore::eval

#pragma once
// ROI mode, public and header-only (needs only OpenCV core, imgproc and imgcodecs), so
// an inspection app that runs the exported ONNX / OpenVINO model can crop exactly as
// `patchcore predict` does:
//
//   auto roi = patchcore::RoiLocator::load("models/crimp_a");      // roi/roi.json + roi/template.png
//   // or: patchcore::RoiLocator::from_metadata(onnx_metadata_props) (keys "patchcore.roi_*")
//   patchcore::RoiMatch m = roi.locate(image);                      // image: 8-bit BGR/gray/BGRA
//   if (!m.found) { /* part not found: m.score < roi.settings().threshold, don't score */ }
//   cv::Mat part = roi.crop(image, m);  // then resize to the model's H x W and normalise as usual
//
// How locate() works: the template (the ROI of the reference image plus an optional
// context margin) is searched with cv::matchTemplate (TM_CCOEFF_NORMED) on grayscale
// images, only within the template's reference position widened by search_margin x
// the image's width (left/right) and height (up/down). The best match gives the
// template's position; the ROI sits at the same offset inside it as in the reference.
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace patchcore {

struct RoiSettings {
  cv::Rect rect;               // the ROI in the reference image's pixels
  cv::Rect template_rect;      // rect plus the context margin, clipped to the reference image
  cv::Size reference_size;     // size of the reference image
  int context = 0;             // context margin in pixels (template_rect = rect widened by it)
  double search_margin = 0.15; // search +- this fraction of the image's width / height
  double threshold = 0.5;      // minimum TM_CCOEFF_NORMED score of a match
  std::string reference_image; // file the ROI was chosen on (for the record)
};

struct RoiMatch {
  cv::Rect rect;       // the located ROI (size = settings().rect's size) in the image's pixels
  double score = 0;    // normalised correlation of the template at the best position, [-1, 1]
  bool found = false;  // score >= threshold (false too when the image is smaller than the template)
};

class RoiLocator {
 public:
  static constexpr const char* kMethod = "cv::matchTemplate TM_CCOEFF_NORMED on grayscale";

  RoiLocator() = default;
  // template_image: the pixels of settings.template_rect in the reference image (BGR or gray).
  RoiLocator(RoiSettings settings, cv::Mat template_image)
      : settings_(std::move(settings)), template_(std::move(template_image)) {
    if (template_.empty() || template_.size() != settings_.template_rect.size())
      throw std::invalid_argument("RoiLocator: template image size does not match template_rect");
    template_gray_ = to_gray(template_);
  }

  // From a model folder written by `patchcore train --roi...`: roi/roi.json + roi/template.png.
  static RoiLocator load(const std::filesystem::path& model_dir) {
    const auto json = model_dir / "roi" / "roi.json";
    const auto png = model_dir / "roi" / "template.png";
    if (!std::filesystem::exists(json))
      throw std::runtime_error("cannot read " + json.string() + " (model trained without ROI?)");
    cv::FileStorage fs;
    try {
      fs.open(json.string(), cv::FileStorage::READ | cv::FileStorage::FORMAT_JSON);
    } catch (const cv::Exception&) {
    }
    if (!fs.isOpened()) throw std::runtime_error("cannot read " + json.string() + " (model trained without ROI?)");
    RoiSettings s;
    s.rect = rect_from(fs["rect"], json);
    s.template_rect = rect_from(fs["template_rect"], json);
    std::vector<int> size;
    fs["reference_size"] >> size;
    if (size.size() != 2) throw std::runtime_error(json.string() + ": bad reference_size");
    s.reference_size = cv::Size(size[0], size[1]);
    s.context = static_cast<int>(fs["context"]);
    s.search_margin = static_cast<double>(fs["search_margin"]);
    s.threshold = static_cast<double>(fs["threshold"]);
    s.reference_image = static_cast<std::string>(fs["reference_image"]);
    cv::Mat t = cv::imread(png.string(), cv::IMREAD_COLOR);
    if (t.empty()) throw std::runtime_error("cannot read " + png.string());
    return RoiLocator(std::move(s), std::move(t));
  }

  // From the exported model's metadata (ONNX metadata_props / OpenVINO rt_info<patchcore>):
  // keys "patchcore.roi_rect", ... (the "patchcore." prefix is optional, as in rt_info).
  // Throws std::runtime_error when the model has no ROI (see has_roi_metadata()).
  static RoiLocator from_metadata(const std::map<std::string, std::string>& metadata) {
    auto get = [&](const std::string& key) -> std::string {
      for (const std::string& k : {"patchcore." + key, key}) {
        auto it = metadata.find(k);
        if (it != metadata.end()) return it->second;
      }
      throw std::runtime_error("model metadata has no " + key + " (model trained without ROI?)");
    };
    RoiSettings s;
    s.rect = rect_from_text(get("roi_rect"));
    s.template_rect = rect_from_text(get("roi_template_rect"));
    const auto size = ints_from_text(get("roi_reference_size"));
    if (size.size() != 2) throw std::runtime_error("bad roi_reference_size in the model metadata");
    s.reference_size = cv::Size(size[0], size[1]);
    s.context = std::stoi(get("roi_context"));
    s.search_margin = std::stod(get("roi_search_margin"));
    s.threshold = std::stod(get("roi_threshold"));
    const std::string bytes = base64_decode(get("roi_template_png"));
    cv::Mat t = cv::imdecode(std::vector<uchar>(bytes.begin(), bytes.end()), cv::IMREAD_COLOR);
    if (t.empty()) throw std::runtime_error("roi_template_png in the model metadata is not a PNG image");
    return RoiLocator(std::move(s), std::move(t));
  }

  static bool has_roi_metadata(const std::map<std::string, std::string>& metadata) {
    return metadata.count("patchcore.roi_rect") || metadata.count("roi_rect");
  }

  // The settings and template as metadata entries (what `patchcore export` writes).
  std::map<std::string, std::string> to_metadata() const {
    std::vector<uchar> png;
    cv::imencode(".png", template_, png);
    const auto& s = settings_;
    return {{"patchcore.roi_rect", rect_to_text(s.rect)},
            {"patchcore.roi_template_rect", rect_to_text(s.template_rect)},
            {"patchcore.roi_reference_size",
             std::to_string(s.reference_size.width) + "," + std::to_string(s.reference_size.height)},
            {"patchcore.roi_context", std::to_string(s.context)},
            {"patchcore.roi_search_margin", number_to_text(s.search_margin)},
            {"patchcore.roi_threshold", number_to_text(s.threshold)},
            {"patchcore.roi_method", kMethod},
            {"patchcore.roi_template_png", base64_encode(std::string(png.begin(), png.end()))}};
  }

  // Finds the ROI in `image` (8-bit 1/3/4 channels, any size). Thread-safe.
  RoiMatch locate(const cv::Mat& image) const {
    RoiMatch m;
    const cv::Size t = template_gray_.size();
    m.rect = cv::Rect(settings_.rect.tl() - settings_.template_rect.tl(), settings_.rect.size());
    if (image.empty() || t.width > image.cols || t.height > image.rows) return m;
    const cv::Rect window = search_window(image.size());
    cv::Mat gray = to_gray(image(window)), result;
    cv::matchTemplate(gray, template_gray_, result, cv::TM_CCOEFF_NORMED);
    cv::patchNaNs(result, -1.0);
    double best = 0;
    cv::Point at;
    cv::minMaxLoc(result, nullptr, &best, nullptr, &at);
    m.score = std::isfinite(best) ? best : -1.0;
    m.rect += window.tl() + at;
    m.found = m.score >= settings_.threshold;
    return m;
  }

  // The located ROI of `image` (a view into it; clone() to keep it).
  cv::Mat crop(const cv::Mat& image, const RoiMatch& match) const { return image(match.rect); }

  // Where locate() looks in an image of `size`: every template position within
  // +-search_margin x size of the reference position (clamped to the image), as the
  // region of the image those positions cover.
  cv::Rect search_window(cv::Size size) const {
    const cv::Rect& r = settings_.template_rect;
    const int mx = static_cast<int>(std::ceil(settings_.search_margin * size.width));
    const int my = static_cast<int>(std::ceil(settings_.search_margin * size.height));
    const int max_x = size.width - r.width, max_y = size.height - r.height;
    const int x0 = std::clamp(r.x - mx, 0, std::max(max_x, 0)), x1 = std::clamp(r.x + mx, 0, std::max(max_x, 0));
    const int y0 = std::clamp(r.y - my, 0, std::max(max_y, 0)), y1 = std::clamp(r.y + my, 0, std::max(max_y, 0));
    return cv::Rect(x0, y0, x1 - x0 + r.width, y1 - y0 + r.height);
  }

  const RoiSettings& settings() const { return settings_; }
  const cv::Mat& template_image() const { return template_; }  // as given (BGR for models from patchcore)

  // ---- small helpers, public for apps and tests --------------------------------------
  static cv::Mat to_gray(const cv::Mat& image) {
    cv::Mat eight = image;
    if (image.depth() != CV_8U) image.convertTo(eight, CV_8U, image.depth() == CV_16U ? 255.0 / 65535.0 : 1.0);
    cv::Mat gray;
    switch (eight.channels()) {
      case 1: gray = eight; break;
      case 3: cv::cvtColor(eight, gray, cv::COLOR_BGR2GRAY); break;
      case 4: cv::cvtColor(eight, gray, cv::COLOR_BGRA2GRAY); break;
      default: cv::extractChannel(eight, gray, 0); break;
    }
    return gray;
  }

  static std::string rect_to_text(const cv::Rect& r) {
    return std::to_string(r.x) + "," + std::to_string(r.y) + "," + std::to_string(r.width) + "," +
           std::to_string(r.height);
  }
  static std::string number_to_text(double v) {
    std::ostringstream s;
    s.precision(17);
    s << v;
    return s.str();
  }
  static std::vector<int> ints_from_text(const std::string& text) {
    std::vector<int> out;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) out.push_back(std::stoi(item));
    return out;
  }
  static cv::Rect rect_from_text(const std::string& text) {
    const auto v = ints_from_text(text);
    if (v.size() != 4) throw std::runtime_error("bad rectangle '" + text + "' (expected x,y,w,h)");
    return cv::Rect(v[0], v[1], v[2], v[3]);
  }

  static std::string base64_encode(const std::string& in) {
    static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    for (size_t i = 0; i < in.size(); i += 3) {
      const unsigned n = static_cast<unsigned char>(in[i]) << 16 |
                         (i + 1 < in.size() ? static_cast<unsigned char>(in[i + 1]) << 8 : 0) |
                         (i + 2 < in.size() ? static_cast<unsigned char>(in[i + 2]) : 0);
      out += table[(n >> 18) & 63];
      out += table[(n >> 12) & 63];
      out += i + 1 < in.size() ? table[(n >> 6) & 63] : '=';
      out += i + 2 < in.size() ? table[n & 63] : '=';
    }
    return out;
  }
  static std::string base64_decode(const std::string& in) {
    auto value = [](char c) -> int {
      if (c >= 'A' && c <= 'Z') return c - 'A';
      if (c >= 'a' && c <= 'z') return c - 'a' + 26;
      if (c >= '0' && c <= '9') return c - '0' + 52;
      if (c == '+') return 62;
      if (c == '/') return 63;
      return -1;
    };
    std::string out;
    unsigned buffer = 0;
    int bits = 0;
    for (char c : in) {
      const int v = value(c);
      if (v < 0) continue;  // '=' padding, whitespace
      buffer = (buffer << 6) | static_cast<unsigned>(v);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out += static_cast<char>((buffer >> bits) & 0xFF);
      }
    }
    return out;
  }

 private:
  static cv::Rect rect_from(const cv::FileNode& node, const std::filesystem::path& file) {
    std::vector<int> v;
    node >> v;
    if (v.size() != 4) throw std::runtime_error(file.string() + ": bad rectangle (expected [x, y, w, h])");
    return cv::Rect(v[0], v[1], v[2], v[3]);
  }

  RoiSettings settings_;
  cv::Mat template_;
  cv::Mat template_gray_;
};

}  // namespace patchcore

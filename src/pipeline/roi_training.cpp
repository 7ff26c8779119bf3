#include "pipeline/roi_training.h"

#include <opencv2/imgcodecs.hpp>

#include <cmath>
#include <cstdio>
#include <sstream>

#include "io/atomic_file.h"
#include "io/error.h"
#include "pipeline/image_batch.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;

std::string score_text(double score) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3f", score);
  return buffer;
}

void write_image(const fs::path& path, const cv::Mat& image) {
  if (!cv::imwrite(path.string(), image)) throw UserError("cannot write " + path.string());
}

}  // namespace

std::vector<cv::Rect> RoiPlan::crops_for(size_t first, size_t count) const {
  if (crops.empty()) return {};
  return std::vector<cv::Rect>(crops.begin() + static_cast<std::ptrdiff_t>(first),
                               crops.begin() + static_cast<std::ptrdiff_t>(first + count));
}

RoiPlan plan_roi(const RoiOptions& options, std::vector<fs::path> images, const Preprocessing& preprocessing,
                 const std::function<void(const std::string&)>& log) {
  validate_roi_options(options);
  RoiPlan plan;
  if (!options.enabled()) {
    const cv::Mat first = read_image_bgr(images.front());
    const std::string advice = aspect_ratio_advice(first.size(), preprocessing.height, preprocessing.width);
    if (!advice.empty()) log("note: " + advice);
    plan.images = std::move(images);
    return plan;
  }
  if (options.interactive) require_display();  // fail at once, before any work
  const fs::path reference_path = options.image.empty() ? images.front() : options.image;
  const cv::Mat reference = read_image_bgr(reference_path);
  cv::Rect rect;
  if (options.interactive) {
    log("ROI: choose the region on " + reference_path.string() + " in the window");
    rect = select_roi_interactively(reference, reference_path.string());
  } else {
    rect = *options.rect;
  }
  plan.locator = make_roi_locator(reference, rect, options, reference_path.string());
  const auto& s = plan.locator->settings();
  log("ROI " + std::to_string(rect.x) + " " + std::to_string(rect.y) + " " + std::to_string(rect.width) + " " +
      std::to_string(rect.height) + " of " + reference_path.string() + " (template " +
      std::to_string(s.template_rect.width) + " x " + std::to_string(s.template_rect.height) + ", search +-" +
      score_text(s.search_margin) + " of the image size, threshold " + score_text(s.threshold) + ")");

  const auto located = locate_in_files(images, *plan.locator);
  plan.all_images = images;
  size_t skipped = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    const RoiMatch& m = located[i].match;
    plan.matches.push_back(m);
    plan.used.push_back(m.found);
    if (m.found) {
      plan.images.push_back(images[i]);
      plan.crops.push_back(m.rect);
    } else {
      ++skipped;
      log("warning: skipping " + images[i].string() + ": ROI match score " + score_text(m.score) +
          " is below --roi-threshold " + score_text(s.threshold));
    }
  }
  const size_t needed = std::max<size_t>(1, (images.size() + 1) / 2);
  if (plan.images.size() < needed)
    throw UserError("too few training images match the ROI: " + std::to_string(plan.images.size()) + " of " +
                    std::to_string(images.size()) + " reach --roi-threshold " + score_text(s.threshold) +
                    " (at least " + std::to_string(needed) +
                    ", half of them, are needed). Check the ROI rectangle (it should cover a part that is in every "
                    "image), widen --roi-search-margin if the parts move more, or lower --roi-threshold");
  if (skipped) log("ROI: " + std::to_string(skipped) + " of " + std::to_string(images.size()) + " images skipped");
  const std::string advice = aspect_ratio_advice(rect.size(), preprocessing.height, preprocessing.width);
  if (!advice.empty()) log("note: " + advice);
  return plan;
}

void write_roi_report(const RoiPlan& plan, const fs::path& model_dir) {
  if (!plan.locator) return;
  const fs::path dir = model_dir / "roi";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw UserError("cannot create " + dir.string() + ": " + ec.message());
  write_file_atomically(dir / "roi.json", roi_json(*plan.locator));
  write_image(dir / "template.png", plan.locator->template_image());
  std::ostringstream csv;
  csv << "image,x,y,score,used\n";
  for (size_t i = 0; i < plan.all_images.size(); ++i) {
    std::string name = plan.all_images[i].string();
    if (name.find_first_of(",\"") != std::string::npos) {
      std::string quoted = "\"";
      for (char c : name) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
      name = quoted + "\"";
    }
    csv << name << "," << plan.matches[i].rect.x << "," << plan.matches[i].rect.y << ","
        << score_text(plan.matches[i].score) << "," << (plan.used[i] ? 1 : 0) << "\n";
  }
  write_file_atomically(dir / "matches.csv", csv.str());
  // Contact sheet: up to 48 of the crops the model trains on, evenly spread.
  std::vector<cv::Mat> crops;
  std::vector<std::string> labels;
  const size_t n = plan.images.size(), shown = std::min<size_t>(n, 48);
  for (size_t k = 0; k < shown; ++k) {
    const size_t i = k * n / shown;
    crops.push_back(read_image_bgr(plan.images[i])(plan.crops[i]).clone());
    labels.push_back(plan.images[i].filename().string());
  }
  write_image(dir / "crops.jpg", contact_sheet(crops, labels));
}

void write_roi_yaml(YAML::Emitter& y, const std::optional<RoiLocator>& roi) {
  y << YAML::Key << "roi" << YAML::Value;
  if (!roi) {
    y << "none";
    return;
  }
  const auto& s = roi->settings();
  auto rect = [](const cv::Rect& r) { return std::vector<int>{r.x, r.y, r.width, r.height}; };
  y << YAML::BeginMap;
  y << YAML::Key << "rect" << YAML::Value << YAML::Flow << rect(s.rect);
  y << YAML::Key << "template_rect" << YAML::Value << YAML::Flow << rect(s.template_rect);
  y << YAML::Key << "reference_image" << YAML::Value << s.reference_image;
  y << YAML::Key << "reference_size" << YAML::Value << YAML::Flow
    << std::vector<int>{s.reference_size.width, s.reference_size.height};
  y << YAML::Key << "context" << YAML::Value << s.context;
  y << YAML::Key << "search_margin" << YAML::Value << YAML::DoublePrecision(6) << s.search_margin;
  y << YAML::Key << "threshold" << YAML::Value << YAML::DoublePrecision(6) << s.threshold;
  y << YAML::Key << "method" << YAML::Value << RoiLocator::kMethod;
  y << YAML::Key << "report" << YAML::Value << "roi/ (roi.json, template.png, matches.csv, crops.jpg)";
  y << YAML::EndMap;
}

}  // namespace patchcore

#pragma once
// ROI mode in training (`patchcore train --roi | --roi-rect`): choose the ROI on the
// reference image, locate it in every training image, keep the images that match, and
// write the report roi/ (roi.json, template.png, matches.csv, crops.jpg).
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "data/preprocess.h"
#include "data/roi.h"

namespace patchcore {

struct RoiPlan {
  std::optional<RoiLocator> locator;            // unset: whole images (no ROI)
  std::vector<std::filesystem::path> images;    // the images to train on
  std::vector<cv::Rect> crops;                  // per entry of `images` (empty without ROI)
  // Every training image with its match (ROI mode only), for roi/matches.csv.
  std::vector<std::filesystem::path> all_images;
  std::vector<RoiMatch> matches;
  std::vector<bool> used;

  // The crops of images [first, first + count), or {} without ROI.
  std::vector<cv::Rect> crops_for(size_t first, size_t count) const;
};

// Without ROI options: all images, and the aspect-ratio advice for the first image.
// With them: resolves the rect (window or --roi-rect) on --roi-image or the first image,
// locates it in every image, warns about (and drops) those below the threshold, and
// fails with a UserError when fewer than half of the images (or none) match. The
// aspect-ratio advice then compares the ROI with the image size.
RoiPlan plan_roi(const RoiOptions& options, std::vector<std::filesystem::path> images,
                 const Preprocessing& preprocessing, const std::function<void(const std::string&)>& log);

// roi/roi.json, roi/template.png, roi/matches.csv, roi/crops.jpg inside `model_dir`.
void write_roi_report(const RoiPlan& plan, const std::filesystem::path& model_dir);

// The `roi:` section of config.yaml ("roi: none" without ROI).
void write_roi_yaml(YAML::Emitter& y, const std::optional<RoiLocator>& roi);

}  // namespace patchcore

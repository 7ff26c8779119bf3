#pragma once
// The ROI options of `patchcore train` (ROI mode, data/roi.h). Their values are checked
// by validate_roi_options (UserError, exit code 1), not by CLI11.
#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <vector>

#include "data/roi.h"

namespace patchcore::cli {

// Registers --roi, --roi-rect, --roi-image, --roi-threshold, --roi-search-margin and
// --roi-context on `cmd`, filling `roi`; call the returned function after parsing.
inline std::function<void()> add_roi_options(CLI::App* cmd, RoiOptions& roi) {
  auto rect = std::make_shared<std::vector<int>>();
  const RoiOptions defaults;
  cmd->add_flag("--roi", roi.interactive,
                "ROI mode: choose the region to inspect in a window on the first training image (drag, ENTER); "
                "it is then found in every image by template matching and only that crop is used. Needs a "
                "display; see --roi-rect");
  cmd->add_option("--roi-rect", *rect,
                  "ROI mode without a window: the region X Y W H in pixels of the first training image "
                  "(or of --roi-image)")
      ->expected(4);
  cmd->add_option("--roi-image", roi.image, "Image the ROI is chosen on (default: the first training image)");
  cmd->add_option("--roi-threshold", roi.threshold,
                  "Minimum template-match score in [0, 1]; images below it are skipped in training and reported "
                  "as roi_found=false by predict")
      ->default_val(defaults.threshold)
      ->capture_default_str();
  cmd->add_option("--roi-search-margin", roi.search_margin,
                  "Search for the ROI within +- this fraction of the image width/height around its position in "
                  "the reference image (1 = the whole image)")
      ->default_val(defaults.search_margin)
      ->capture_default_str();
  cmd->add_option("--roi-context", roi.context,
                  "Pixels of context around the ROI included in the matching template (the crop stays the ROI)")
      ->default_val(defaults.context)
      ->capture_default_str();
  return [rect, &roi]() {
    if (!rect->empty()) roi.rect = cv::Rect((*rect)[0], (*rect)[1], (*rect)[2], (*rect)[3]);
  };
}

}  // namespace patchcore::cli

#pragma once
// ROI mode, the project side: building a RoiLocator from user input (with UserError
// checks), the interactive selection window, the aspect-ratio advice and the contact
// sheet. The locator itself (template matching, crop) is public: include/patchcore/roi.h.
#include <opencv2/core.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "patchcore/roi.h"

namespace patchcore {

// What the user asked for on the command line (`patchcore train --roi...`).
struct RoiOptions {
  bool interactive = false;            // --roi: choose the rectangle in a window
  std::optional<cv::Rect> rect;        // --roi-rect X Y W H
  std::filesystem::path image;         // --roi-image FILE ("" = the first training image)
  double threshold = 0.5;              // --roi-threshold, in [0, 1]
  double search_margin = 0.15;         // --roi-search-margin, fraction of the image size, in [0, 1]
  int context = 0;                     // --roi-context, pixels of context around the ROI in the template
  bool enabled() const { return interactive || rect.has_value(); }
};

// Checks the option values that do not need an image (threshold and margin ranges,
// --roi with --roi-rect, a zero-size rect, a negative context); throws UserError.
void validate_roi_options(const RoiOptions& options);

// Throws UserError naming --roi-rect unless a window can be opened: $DISPLAY must be
// set (and, for a local display ":N", its X socket must exist) and OpenCV's highgui
// must have a GUI backend.
void require_display();

// Opens a window on `image`, lets the user drag a rectangle and confirm it with
// ENTER/SPACE (c or ESC cancels), and returns it in the image's pixels. Large images
// are shown scaled down. Throws UserError if the selection is cancelled or empty.
// Height of the hint band shown above the image in that window (image row 0 is window row 44).
constexpr int kRoiHintBand = 44;
cv::Rect select_roi_interactively(const cv::Mat& image, const std::string& image_name);

// Builds the locator from the reference image: checks that the rect lies inside the
// image, has a non-zero size and holds some structure (a uniform template matches
// anywhere); the template is the rect widened by `context` pixels, clipped to the image.
RoiLocator make_roi_locator(const cv::Mat& reference_bgr, const cv::Rect& rect, const RoiOptions& options,
                            const std::string& reference_name);

// UserError naming the image when it is smaller than the template (it can never match).
void check_image_fits_template(const RoiLocator& locator, cv::Size image_size, const std::string& image_name);

// When the aspect ratio (width / height) of what the model sees (the ROI, or the
// training images) differs from --image-size's by more than 1.5x: advice naming a
// --image-size with the content's aspect ratio and about the same pixel count (both
// sides multiples of 16). Empty otherwise.
std::string aspect_ratio_advice(cv::Size content, int height, int width);
// The suggested size {height, width} used by aspect_ratio_advice.
cv::Size suggested_image_size(cv::Size content, int height, int width);

// A contact sheet: the crops scaled to one height, in rows, each labelled.
cv::Mat contact_sheet(const std::vector<cv::Mat>& crops, const std::vector<std::string>& labels,
                      int thumb_height = 96, int columns = 8);

// roi/roi.json content: reference rect, template rect and size, search margin, threshold,
// method (read back by RoiLocator::load, so keep the keys in sync).
std::string roi_json(const RoiLocator& locator);
// The inverse, given the template pixels; throws UserError naming `where` on bad JSON.
RoiLocator roi_from_json(const std::string& json, cv::Mat template_image, const std::string& where);

}  // namespace patchcore

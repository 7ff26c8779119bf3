#pragma once
// Decoding + pre-processing a batch of image files in parallel.
#include <filesystem>
#include <vector>

#include <opencv2/core.hpp>

#include "data/preprocess.h"
#include "patchcore/roi.h"

namespace patchcore {

struct ImageBatch {
  torch::Tensor input;             // [B,3,H,W] pre-processed
  std::vector<cv::Size> original_sizes;
};

// Throws UserError naming the first unreadable file. With `crops` (one rect per path,
// ROI mode) each image is cropped to its rect before pre-processing.
ImageBatch load_image_batch(const std::vector<std::filesystem::path>& paths, const Preprocessing& spec,
                            const std::vector<cv::Rect>& crops = {});
struct LocatedImage {
  RoiMatch match;
  cv::Size size;  // of the decoded image
};
// ROI mode: decodes every file and locates the ROI in it, in parallel. Throws UserError
// naming the first unreadable file, or (via check) an image smaller than the template.
std::vector<LocatedImage> locate_in_files(const std::vector<std::filesystem::path>& paths, const RoiLocator& roi);

// Pre-processes already-decoded images (any size, 1/3/4 channels).
torch::Tensor preprocess_batch(const std::vector<cv::Mat>& images, const Preprocessing& spec);

}  // namespace patchcore

#pragma once
// Decoding + pre-processing a batch of image files in parallel.
#include <filesystem>
#include <vector>

#include <opencv2/core.hpp>

#include "data/preprocess.h"

namespace patchcore {

struct ImageBatch {
  torch::Tensor input;             // [B,3,H,W] pre-processed
  std::vector<cv::Size> original_sizes;
};

// Throws UserError naming the first unreadable file.
ImageBatch load_image_batch(const std::vector<std::filesystem::path>& paths, const Preprocessing& spec);
// Pre-processes already-decoded images (any size, 1/3/4 channels).
torch::Tensor preprocess_batch(const std::vector<cv::Mat>& images, const Preprocessing& spec);

}  // namespace patchcore

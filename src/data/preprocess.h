#pragma once
// Image pre-processing, identical at train and predict time and identical to what
// client apps do before feeding the exported model:
//   decode (OpenCV) -> 3-channel -> cv::resize(INTER_LINEAR) to H x W -> BGR->RGB
//   -> /255 -> ImageNet mean/std (ResNets) or x*2-1 (Keras MobileNet).
#include <opencv2/core.hpp>
#include <torch/types.h>

#include <filesystem>
#include <string>

namespace patchcore {

enum class InputScaling {
  kImageNet,   // (x/255 - mean) / std, torchvision's ImageNet statistics
  kSymmetric,  // x/255 * 2 - 1, Keras MobileNet's [-1, 1]
};

std::string to_string(InputScaling scaling);            // "imagenet" | "symmetric"
InputScaling input_scaling_from_string(const std::string& text);

struct Preprocessing {
  int height = 224;
  int width = 224;
  InputScaling scaling = InputScaling::kImageNet;
};

// Decodes an image file into an 8-bit 3-channel BGR cv::Mat. Grayscale and
// RGBA/BGRA inputs are converted (never rejected); 16-bit images are scaled to 8 bit.
// Throws UserError naming the file for missing, zero-byte or undecodable files.
cv::Mat read_image_bgr(const std::filesystem::path& path);

// Converts any 8-bit 1/3/4-channel BGR(A) Mat (as cv::imread gives) to 3-channel BGR.
cv::Mat to_bgr3(const cv::Mat& image);

// BGR 8-bit image (any size) -> float tensor [3, H, W] in the model's input space.
torch::Tensor preprocess(const cv::Mat& bgr, const Preprocessing& spec);

}  // namespace patchcore

#include "data/preprocess.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <fstream>
#include <system_error>

#include "data/image_header.h"
#include "io/error.h"

namespace patchcore {

std::string to_string(InputScaling scaling) {
  switch (scaling) {
    case InputScaling::kImageNet: return "imagenet";
    case InputScaling::kSymmetric: return "symmetric";
  }
  return "imagenet";
}

InputScaling input_scaling_from_string(const std::string& text) {
  if (text == "imagenet") return InputScaling::kImageNet;
  if (text == "symmetric") return InputScaling::kSymmetric;
  throw UserError("unknown input scaling '" + text + "' (expected 'imagenet' or 'symmetric')");
}

cv::Mat to_bgr3(const cv::Mat& image) {
  if (image.empty()) throw UserError("cannot convert an empty image to BGR");
  cv::Mat eight_bit = image;
  if (image.depth() != CV_8U) {
    double scale = 1.0;
    switch (image.depth()) {
      case CV_16U: scale = 255.0 / 65535.0; break;
      case CV_16S: scale = 255.0 / 32767.0; break;
      case CV_32F:
      case CV_64F: scale = 255.0; break;  // float images are taken to be in [0, 1]
      default: break;
    }
    image.convertTo(eight_bit, CV_8U, scale);
  }
  cv::Mat bgr;
  switch (eight_bit.channels()) {
    case 1: cv::cvtColor(eight_bit, bgr, cv::COLOR_GRAY2BGR); break;
    case 3: bgr = eight_bit; break;
    case 4: cv::cvtColor(eight_bit, bgr, cv::COLOR_BGRA2BGR); break;
    case 2: {  // gray + alpha: keep the gray channel
      cv::Mat gray;
      cv::extractChannel(eight_bit, gray, 0);
      cv::cvtColor(gray, bgr, cv::COLOR_GRAY2BGR);
      break;
    }
    default:
      throw UserError("unsupported image with " + std::to_string(eight_bit.channels()) +
                      " channels (expected 1, 3 or 4)");
  }
  return bgr;
}

namespace {

// Refuses a file whose header declares more than kMaxImagePixels, before anything is decoded.
void refuse_too_many_pixels(const std::filesystem::path& path) {
  constexpr size_t kHeadBytes = 256 * 1024;
  std::string head(kHeadBytes, '\0');
  std::ifstream file(path, std::ios::binary);
  file.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(file.gcount()));
  const auto declared = declared_image_size(head);
  if (declared && static_cast<int64_t>(declared->width) * declared->height > kMaxImagePixels)
    throw UserError("image file " + path.string() + " declares " + std::to_string(declared->width) + " x " +
                    std::to_string(declared->height) + " pixels, more than the " +
                    std::to_string(kMaxImagePixels / 1'000'000) +
                    " megapixels patchcore decodes (a corrupt or hostile file, or a scan to cut into parts first)");
}

}  // namespace

cv::Mat read_image_bgr(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw UserError("image file not found: " + path.string());
  if (std::filesystem::is_directory(path, ec))
    throw UserError("expected an image file but found a folder: " + path.string());
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw UserError("cannot read image file " + path.string() + ": " + ec.message());
  if (size == 0) throw UserError("image file " + path.string() + " is an empty file (0 bytes)");
  refuse_too_many_pixels(path);
  cv::Mat image;
  try {
    image = cv::imread(path.string(), cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    throw UserError("image file " + path.string() +
                    " is not an image OpenCV can decode (" + e.what() + ")");
  }
  if (image.empty())
    throw UserError("image file " + path.string() +
                    " is not an image OpenCV can decode (corrupt, truncated or unsupported format)");
  try {
    return to_bgr3(image);
  } catch (const UserError& e) {
    throw UserError("image file " + path.string() + ": " + e.what());
  }
}

torch::Tensor preprocess(const cv::Mat& bgr, const Preprocessing& spec) {
  if (spec.height <= 0 || spec.width <= 0)
    throw UserError("invalid input size " + std::to_string(spec.height) + "x" +
                    std::to_string(spec.width));
  cv::Mat image = (bgr.type() == CV_8UC3) ? bgr : to_bgr3(bgr);
  cv::Mat resized;
  if (image.rows == spec.height && image.cols == spec.width) {
    resized = image;
  } else {
    cv::resize(image, resized, cv::Size(spec.width, spec.height), 0, 0, cv::INTER_LINEAR);
  }
  cv::Mat rgb;
  cv::cvtColor(resized, rgb, cv::COLOR_BGR2RGB);

  static constexpr float kMean[3] = {0.485f, 0.456f, 0.406f};
  static constexpr float kStd[3] = {0.229f, 0.224f, 0.225f};
  // Per channel: out = pixel * scale + offset, computed as in the closed form
  // ((x/255) - mean) / std, resp. (x/255) * 2 - 1.
  const int h = spec.height, w = spec.width;
  torch::Tensor out = torch::empty({3, h, w}, torch::kFloat32);
  float* dst = out.data_ptr<float>();
  const int64_t plane = static_cast<int64_t>(h) * w;
  for (int y = 0; y < h; ++y) {
    const uint8_t* row = rgb.ptr<uint8_t>(y);
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < 3; ++c) {
        const float v = static_cast<float>(row[x * 3 + c]) / 255.0f;
        const float o = spec.scaling == InputScaling::kImageNet ? (v - kMean[c]) / kStd[c]
                                                                : v * 2.0f - 1.0f;
        dst[c * plane + static_cast<int64_t>(y) * w + x] = o;
      }
    }
  }
  return out;
}

}  // namespace patchcore

#pragma once
// The pixel size an image file declares, read from its header without decoding it, so that a
// tiny file announcing billions of pixels (a decompression bomb) is refused before OpenCV
// allocates them.
#include <opencv2/core/types.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace patchcore {

// The most pixels an image file may declare: 200 megapixels (e.g. 20000 x 10000), 600 MB
// decoded as 8-bit BGR. Far above industrial cameras (up to about 65 MP) and below OpenCV's
// own limit of 2^30 pixels, which it checks only after allocating the image.
constexpr int64_t kMaxImagePixels = 200'000'000;

// Width x height from the header of a PNG, JPEG, BMP, TIFF (first page) or WebP file, given
// its first bytes (`head`; 256 KiB are enough for JPEG files with large metadata segments).
// nullopt for other formats, or when `head` ends before the size; the decoder then reports
// what is wrong, and OpenCV's own limit applies.
std::optional<cv::Size> declared_image_size(const std::string& head);

}  // namespace patchcore

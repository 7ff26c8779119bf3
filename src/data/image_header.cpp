// Header fields as the format specifications place them: PNG (IHDR), JPEG (ITU T.81 frame
// header SOFn), BMP (BITMAPINFOHEADER / BITMAPCOREHEADER), TIFF 6.0 (tags 256/257 of the first
// IFD), WebP (RIFF container: VP8, VP8L, VP8X chunks).
#include "data/image_header.h"

#include <cstdlib>

namespace patchcore {
namespace {

class Bytes {
 public:
  explicit Bytes(const std::string& s) : s_(s) {}
  bool has(size_t at, size_t n) const { return at <= s_.size() && n <= s_.size() - at; }
  uint32_t u8(size_t at) const { return static_cast<unsigned char>(s_[at]); }
  uint32_t be16(size_t at) const { return u8(at) << 8 | u8(at + 1); }
  uint32_t le16(size_t at) const { return u8(at) | u8(at + 1) << 8; }
  uint32_t be32(size_t at) const { return be16(at) << 16 | be16(at + 2); }
  uint32_t le32(size_t at) const { return le16(at) | le16(at + 2) << 16; }
  uint32_t le24(size_t at) const { return le16(at) | u8(at + 2) << 16; }
  bool starts(size_t at, const char* magic, size_t n) const { return has(at, n) && s_.compare(at, n, magic, n) == 0; }

 private:
  const std::string& s_;
};

using Size = std::optional<cv::Size>;

Size size_of(int64_t width, int64_t height) {
  // cv::Size holds int: larger declarations are clamped, still far above the limit.
  auto clamp = [](int64_t v) { return static_cast<int>(std::min<int64_t>(std::llabs(v), 1 << 30)); };
  return cv::Size(clamp(width), clamp(height));
}

Size png(const Bytes& b) {
  if (!b.starts(0, "\x89PNG\r\n\x1a\n", 8) || !b.starts(12, "IHDR", 4) || !b.has(16, 8)) return std::nullopt;
  return size_of(b.be32(16), b.be32(20));
}

Size jpeg(const Bytes& b) {
  if (!b.has(0, 2) || b.u8(0) != 0xFF || b.u8(1) != 0xD8) return std::nullopt;
  size_t at = 2;
  while (b.has(at, 4)) {
    if (b.u8(at) != 0xFF) return std::nullopt;
    const uint32_t marker = b.u8(at + 1);
    if (marker == 0xFF) { ++at; continue; }  // fill byte
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) { at += 2; continue; }  // no length
    const bool frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (frame) return b.has(at + 5, 4) ? size_of(b.be16(at + 7), b.be16(at + 5)) : std::nullopt;
    if (marker == 0xDA || marker == 0xD9) return std::nullopt;  // scan data before any frame header
    at += 2 + b.be16(at + 2);
  }
  return std::nullopt;
}

Size bmp(const Bytes& b) {
  if (!b.starts(0, "BM", 2) || !b.has(14, 4)) return std::nullopt;
  const uint32_t dib = b.le32(14);
  if (dib == 12 && b.has(18, 4)) return size_of(b.le16(18), b.le16(20));
  if (dib >= 40 && b.has(18, 8))
    return size_of(static_cast<int32_t>(b.le32(18)), static_cast<int32_t>(b.le32(22)));  // height < 0: top-down
  return std::nullopt;
}

Size tiff(const Bytes& b) {
  const bool little = b.starts(0, "II*\0", 4), big = b.starts(0, "MM\0*", 4);
  if (!little && !big) return std::nullopt;
  auto u16 = [&](size_t at) { return little ? b.le16(at) : b.be16(at); };
  auto u32 = [&](size_t at) { return little ? b.le32(at) : b.be32(at); };
  const size_t ifd = u32(4);
  if (!b.has(ifd, 2)) return std::nullopt;
  int64_t width = -1, height = -1;
  for (uint32_t i = 0, n = u16(ifd); i < n; ++i) {
    const size_t entry = ifd + 2 + 12 * static_cast<size_t>(i);
    if (!b.has(entry, 12)) return std::nullopt;
    const uint32_t tag = u16(entry), type = u16(entry + 2);
    const int64_t value = type == 3 ? u16(entry + 8) : type == 4 ? u32(entry + 8) : -1;  // SHORT or LONG
    if (tag == 256) width = value;
    if (tag == 257) height = value;
  }
  return width >= 0 && height >= 0 ? size_of(width, height) : std::nullopt;
}

Size webp(const Bytes& b) {
  if (!b.starts(0, "RIFF", 4) || !b.starts(8, "WEBP", 4)) return std::nullopt;
  if (b.starts(12, "VP8X", 4) && b.has(24, 6)) return size_of(b.le24(24) + 1, b.le24(27) + 1);
  if (b.starts(12, "VP8L", 4) && b.has(21, 4) && b.u8(20) == 0x2F) {
    const uint32_t bits = b.le32(21);
    return size_of((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1);
  }
  if (b.starts(12, "VP8 ", 4) && b.has(26, 4)) return size_of(b.le16(26) & 0x3FFF, b.le16(28) & 0x3FFF);
  return std::nullopt;
}

}  // namespace

std::optional<cv::Size> declared_image_size(const std::string& head) {
  const Bytes b(head);
  for (auto reader : {png, jpeg, bmp, tiff, webp})
    if (auto size = reader(b)) return size;
  return std::nullopt;
}

}  // namespace patchcore

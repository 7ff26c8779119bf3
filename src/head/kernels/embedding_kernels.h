#pragma once
// Per-patch loops of build_embedding (head/embedding.cpp) over channels-last float32 maps.
// Compiled with -ffp-contract=off (CMakeLists.txt), so every sum rounds in the order written,
// which is ATen's order (avg_pool2d, upsample_bilinear2d).
#include <cstdint>

namespace patchcore::embedding_kernels {

// A [B,C,H,W] map stored channels-last: element (b, c, y, x) at pixel(b, y, x)[c].
struct Map {
  const float* data;
  int64_t channels, height, width;
  const float* pixel(int64_t b, int64_t y, int64_t x) const {
    return data + ((b * height + y) * width + x) * channels;
  }
};

// One output coordinate of a bilinear resize: source indices and their weights.
struct Lerp {
  int64_t i0, i1;
  float l0, l1;
};

// out[0..C) = 3x3 average around (b, y, x) with zero padding, always divided by 9
// (avg_pool2d's count_include_pad), summed row by row as ATen does.
void average_3x3(const Map& map, int64_t b, int64_t y, int64_t x, float* out);

// out[0..C) = the bilinear blend of map's four pixels (row.i0|i1, col.i0|i1) of image b,
// with ATen's channels-last weights and order: w00*p00 + w01*p01 + w10*p10 + w11*p11.
void blend(const Map& map, int64_t b, const Lerp& row, const Lerp& col, float* out);

}  // namespace patchcore::embedding_kernels

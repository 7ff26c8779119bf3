#include "head/kernels/embedding_kernels.h"

#include <algorithm>

namespace patchcore::embedding_kernels {

void average_3x3(const Map& map, int64_t b, int64_t y, int64_t x, float* __restrict out) {
  const int64_t channels = map.channels;
  std::fill_n(out, channels, 0.0f);
  for (int64_t yy = std::max<int64_t>(y - 1, 0); yy <= std::min(y + 1, map.height - 1); ++yy)
    for (int64_t xx = std::max<int64_t>(x - 1, 0); xx <= std::min(x + 1, map.width - 1); ++xx) {
      const float* __restrict in = map.pixel(b, yy, xx);
      for (int64_t c = 0; c < channels; ++c) out[c] += in[c];
    }
  for (int64_t c = 0; c < channels; ++c) out[c] /= 9.0f;
}

void blend(const Map& map, int64_t b, const Lerp& row, const Lerp& col, float* __restrict out) {
  const float w00 = row.l0 * col.l0, w01 = row.l0 * col.l1;
  const float w10 = row.l1 * col.l0, w11 = row.l1 * col.l1;
  const float* __restrict p00 = map.pixel(b, row.i0, col.i0);
  const float* __restrict p01 = map.pixel(b, row.i0, col.i1);
  const float* __restrict p10 = map.pixel(b, row.i1, col.i0);
  const float* __restrict p11 = map.pixel(b, row.i1, col.i1);
  for (int64_t c = 0; c < map.channels; ++c) out[c] = w00 * p00[c] + w01 * p01[c] + w10 * p10[c] + w11 * p11[c];
}

}  // namespace patchcore::embedding_kernels

#include "head/kernels/blur_kernels.h"

namespace patchcore::blur_kernels {
namespace {

// Sums kWidth outputs from x on: the accumulators stay in registers across all taps
// ("omp simd": without it GCC splits the block into uneven vector and scalar parts).
template <int64_t kWidth>
void weighted_block(const float* const* sources, const float* taps, int64_t tap_count, int64_t x, float* out) {
  float acc[kWidth] = {};
  for (int64_t t = 0; t < tap_count; ++t) {
    const float k = taps[t];
    const float* source = sources[t] + x;
#pragma omp simd
    for (int64_t i = 0; i < kWidth; ++i) acc[i] += k * source[i];
  }
  for (int64_t i = 0; i < kWidth; ++i) out[x + i] = acc[i];
}

}  // namespace

void weighted_sum(const float* const* sources, const float* taps, int64_t tap_count, int64_t width, float* out) {
  constexpr int64_t kBlock = 16;  // 4 SSE registers; 32 made GCC give up on registers
  int64_t x = 0;
  for (; x + kBlock <= width; x += kBlock) weighted_block<kBlock>(sources, taps, tap_count, x, out);
  for (; x + 4 <= width; x += 4) weighted_block<4>(sources, taps, tap_count, x, out);  // e.g. a 28-wide grid
  for (; x < width; ++x) weighted_block<1>(sources, taps, tap_count, x, out);
}

}  // namespace patchcore::blur_kernels

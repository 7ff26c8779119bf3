#pragma once
// The inner loop of the anomaly-map Gaussian blur (head/scorer.cpp), both passes. Compiled
// with -ffp-contract=off (CMakeLists.txt): each output sums taps[0] * first + ... in tap order.
#include <cstdint>

namespace patchcore::blur_kernels {

// out[j] = sum_t taps[t] * sources[t][j] for j < width. The vertical pass gives each tap's
// source row; the horizontal pass gives the padded row shifted by t.
void weighted_sum(const float* const* sources, const float* taps, int64_t tap_count, int64_t width, float* out);

}  // namespace patchcore::blur_kernels

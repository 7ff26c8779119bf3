#pragma once
// A decision threshold from the scores of good images the memory bank has never seen
// (training's held-out images): mean + sigmas * std, a tail bound that one odd image
// cannot drag up the way "the highest held-out score" would (measured on magnetic tiles:
// one held-out tile at 9.92 against mean + 3 std = 9.14 halved the detection rate).
// std is the sample standard deviation (ddof = 1): a small held-out set estimates the
// population's spread.
#include <cstdint>
#include <vector>

namespace patchcore {

struct GoodThreshold {
  double value = 0;  // mean + sigmas * std
  double mean = 0, std = 0, max = 0, sigmas = 0;
  int64_t count = 0;
};

// Throws std::invalid_argument for fewer than 2 scores (no spread).
GoodThreshold threshold_from_good_scores(const std::vector<double>& scores, double sigmas);

}  // namespace patchcore

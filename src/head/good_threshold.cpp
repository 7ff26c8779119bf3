#include "head/good_threshold.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace patchcore {

GoodThreshold threshold_from_good_scores(const std::vector<double>& scores, double sigmas) {
  if (scores.size() < 2) throw std::invalid_argument("threshold_from_good_scores: needs at least 2 scores");
  GoodThreshold t;
  t.count = static_cast<int64_t>(scores.size());
  t.sigmas = sigmas;
  double sum = 0;
  for (double s : scores) sum += s;
  t.mean = sum / static_cast<double>(t.count);
  double squares = 0;
  for (double s : scores) squares += (s - t.mean) * (s - t.mean);
  t.std = std::sqrt(squares / static_cast<double>(t.count - 1));
  t.max = *std::max_element(scores.begin(), scores.end());
  t.value = t.mean + sigmas * t.std;
  return t;
}

}  // namespace patchcore

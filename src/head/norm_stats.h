#pragma once
// Normalisation statistics in the client apps' norm_stats.txt format.
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace patchcore {

struct NormStats {
  double max_score = 0, mean_score = 0, std_score = 0;
  double max_pixel = 0, mean_pixel = 0;
  int64_t num_samples = 0;
  // Decision thresholds, written after the keys above (older folders lack them):
  // image score / anomaly-map value above which a part / pixel is anomalous. Set by
  // training from held-out good images, or by `patchcore eval --write-threshold`.
  std::optional<double> image_threshold, pixel_threshold;
};

// image_scores [N]; maps [N,1,H,W]. std is the population standard deviation
// (numpy's np.std default, ddof=0), as the Python tool this replaces wrote it.
NormStats compute_norm_stats(const torch::Tensor& image_scores, const torch::Tensor& maps);

// The statistics of two sets of images together, from each set's statistics alone (counts,
// means, population variances and maxima combine exactly; every image has as many map
// pixels). Thresholds are not carried over.
NormStats pooled_norm_stats(const NormStats& a, const NormStats& b);

// "max_score=...\nmean_score=...\n..." in that fixed order, full float precision,
// then image_threshold= / pixel_threshold= when set.
std::string format_norm_stats(const NormStats& stats);
// Parses the format above; throws UserError naming the file on missing keys.
// Unknown keys are ignored (newer files stay readable).
NormStats read_norm_stats(const std::filesystem::path& path);

}  // namespace patchcore

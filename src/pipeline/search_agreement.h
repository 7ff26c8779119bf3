#pragma once
// How closely an approximate search (a shortlist, a FAISS HNSW / IVF index) reproduces exact
// search, measured at training: on the held-out good images when there are any (the bank has
// not seen them, as it will not see the parts it inspects), else on the training images
// (optimistic: their own patches may be bank rows).
#include <cstdint>
#include <string>

#include "pipeline/patch_model.h"

namespace patchcore {

struct SearchAgreement {
  std::string measured_on;     // e.g. "12 held-out images"
  int64_t images = 0, patches = 0;
  int64_t agreeing = 0;        // patches whose nearest bank row is the exact search's
  // Largest |approximate - exact| of a patch score where the search returned another row than
  // exact search, relative to the image's highest exact patch score.
  double max_patch_error = 0;
  double max_image_error = 0;  // the same over image scores

  // Adds one batch scored by the approximate model and by its exact twin.
  void add(const BatchScores& approximate, const BatchScores& exact);
  double recall_at_1() const { return patches ? static_cast<double>(agreeing) / static_cast<double>(patches) : 1.0; }
  // Below these bars training warns (and says what to change): a recall@1 under 0.98 or an
  // image score off by more than 1% moves scores enough to reorder close images.
  static constexpr double kMinRecall = 0.98;
  static constexpr double kMaxImageError = 0.01;
  bool meets_bars() const { return recall_at_1() >= kMinRecall && max_image_error <= kMaxImageError; }
};

// The same model searching exactly (native exact kernels), for the measurement.
PatchModel exact_twin(const PatchModel& model);

}  // namespace patchcore

#pragma once
// Everything that defines a trained model besides its tensors. Stored in the
// checkpoint and in config.yaml; the same values drive training and prediction.
#include <cstdint>
#include <string>
#include <vector>

#include "data/preprocess.h"
#include "search/search_options.h"

namespace patchcore {

struct ModelConfig {
  std::string backbone = "wide_resnet50_2";
  std::vector<std::string> layers;  // empty until resolved from the backbone's defaults
  Preprocessing preprocessing;      // image size + input scaling
  int64_t num_neighbors = 9;
  double coreset_ratio = 0.001;
  uint64_t seed = 0;
  search::SearchOptions search;   // nearest-neighbour backend for scoring
};

}  // namespace patchcore

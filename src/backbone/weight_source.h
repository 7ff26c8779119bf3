#pragma once
// Where backbone weights come from:
//   --weights FILE|DIR  -> that file (safetensors for ResNets) or TF.js folder (MobileNet)
//   --weights random:SEED -> seeded random weights (explicit only; never a fallback)
//   otherwise           -> the official weights: the cache ($PATCHCORE_HOME, default
//                          ~/.cache/patchcore), else a download, SHA-256 checked
//                          (weight_cache.h, weight_locations.h)
#include <filesystem>
#include <string>

#include "backbone/backbone.h"

namespace patchcore {

struct ResolvedWeights {
  WeightMap weights;
  std::string source;  // file/folder path, URL, or "random:SEED"
  std::string sha256;  // of the weight file (TF.js: of model.json + shards in manifest order)
};

// option: "" (cache, then download), a path, or "random:SEED".
ResolvedWeights resolve_weights(const std::string& backbone, const std::string& option);

// Reads a weight file or folder for `backbone` (safetensors for ResNets; TF.js
// layers-model folder or its model.json for MobileNet). Throws UserError naming the
// path for missing, truncated or wrong-format files.
WeightMap load_weight_file(const std::string& backbone, const std::filesystem::path& path);

}  // namespace patchcore

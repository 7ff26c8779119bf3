#pragma once
// Where backbone weights come from:
//   --weights FILE|DIR  -> that file (safetensors for ResNets) or TF.js folder (MobileNet)
//   --weights random:SEED -> seeded random weights (explicit only; never a fallback)
//   otherwise           -> the cache ($PATCHCORE_HOME, default ~/.cache/patchcore),
//                          else a download from the official location, SHA-256 checked,
//                          with a progress bar; offline -> UserError naming the URL and
//                          where to put the file by hand.
#include <filesystem>
#include <string>

#include "backbone/backbone.h"

namespace patchcore {

struct ResolvedWeights {
  WeightMap weights;
  std::string source;  // file/folder path, URL, or "random:SEED"
  std::string sha256;  // of the weight file (TF.js: of model.json + shards in manifest order)
};

std::filesystem::path weights_cache_dir();

// Official download location of a backbone's pretrained weights.
struct WeightLocation {
  std::string url;               // for MobileNet: the model.json URL; shards sit beside it
  std::string sha256;            // expected SHA-256 of the file (MobileNet: of model.json)
  std::string cache_relative;    // path below weights_cache_dir()
};
const WeightLocation& official_weight_location(const std::string& backbone);

// option: "" (cache, then download), a path, or "random:SEED".
ResolvedWeights resolve_weights(const std::string& backbone, const std::string& option);

// Reads a weight file or folder for `backbone` (safetensors for ResNets; TF.js
// layers-model folder or its model.json for MobileNet). Throws UserError naming the
// path for missing, truncated or wrong-format files.
WeightMap load_weight_file(const std::string& backbone, const std::filesystem::path& path);

}  // namespace patchcore

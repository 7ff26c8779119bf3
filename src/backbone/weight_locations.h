#pragma once
// Where each backbone's official pretrained weights are published, their SHA-256, and the
// local cache folder they are downloaded into.
#include <filesystem>
#include <map>
#include <string>

namespace patchcore {

struct WeightLocation {
  std::string url;               // for MobileNet: the model.json URL; shards sit beside it
  std::string sha256;            // expected SHA-256 of the file (MobileNet: of model.json)
  std::string cache_relative;    // path below weights_cache_dir()
};

// UserError listing the backbones that have official weights for any other name.
const WeightLocation& official_weight_location(const std::string& backbone);

// SHA-256 of each official TF.js weight shard of mobilenet_v1_0.75_224, by file name.
const std::map<std::string, std::string>& official_tfjs_shard_sha256();

// $PATCHCORE_HOME, else ~/.cache/patchcore; UserError when neither HOME nor PATCHCORE_HOME is set.
std::filesystem::path weights_cache_dir();

}  // namespace patchcore

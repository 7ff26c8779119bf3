#pragma once
// Reader for TensorFlow.js *layers* models: model.json (modelTopology + weightsManifest)
// and its binary shards (raw little-endian float32, concatenated in manifest order across
// each group's paths).
#include <filesystem>

#include "backbone/backbone.h"

namespace patchcore {

// `path`: the model.json file or the folder holding it. Returns the weights under their
// manifest names, in the manifest shapes. Throws UserError naming the file for a missing or
// unreadable model.json or shard, malformed JSON, an unsupported dtype or a shard group whose
// size does not match its manifest.
WeightMap load_tfjs_layers_model(const std::filesystem::path& path);

}  // namespace patchcore

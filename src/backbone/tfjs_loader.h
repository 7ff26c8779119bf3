#pragma once
// The one reader of TensorFlow.js *layers* models: model.json (modelTopology +
// weightsManifest) and its binary shards (raw little-endian float32, concatenated in
// manifest order across each group's paths).
#include <filesystem>
#include <string>
#include <vector>

#include "backbone/backbone.h"

namespace patchcore {

// `path`: the model.json file or the folder holding it. Returns the weights under their
// manifest names, in the manifest shapes. Throws UserError naming the file for a missing or
// unreadable model.json or shard, malformed JSON, an unsupported dtype or a shard group whose
// size does not match its manifest.
WeightMap load_tfjs_layers_model(const std::filesystem::path& path);

// `path` itself, or the model.json inside the folder `path`.
std::filesystem::path tfjs_model_json(const std::filesystem::path& path);

// The shard file names model.json lists, in manifest order; UserError (naming the file) for
// unreadable JSON, a missing manifest or a shard path that is not a plain name beside it.
std::vector<std::string> tfjs_shard_names(const std::filesystem::path& model_json);

// SHA-256 over model.json followed by its shards in manifest order: the identity of a
// TF.js model recorded with the weights it gave.
std::string tfjs_sha256(const std::filesystem::path& model_json);

}  // namespace patchcore

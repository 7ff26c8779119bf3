#include "backbone/tfjs_loader.h"

#include <cstring>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "io/error.h"
#include "io/file_bytes.h"
#include "io/sha256.h"

namespace patchcore {
namespace {

nlohmann::json read_model_json(const std::filesystem::path& json_path) {
  try {
    return nlohmann::json::parse(read_file_bytes(json_path, "the TF.js model.json"));
  } catch (const nlohmann::json::exception& e) {
    throw UserError(json_path.string() + ": not a valid TF.js model.json (" + std::string(e.what()) + ")");
  }
}

const nlohmann::json& weights_manifest(const nlohmann::json& model, const std::string& file) {
  if (!model.is_object() || !model.contains("weightsManifest") || !model["weightsManifest"].is_array())
    throw UserError(file + ": not a TF.js layers model (no \"weightsManifest\" array)");
  return model["weightsManifest"];
}

// The shard file names of one manifest group. Shards must sit beside model.json: no
// absolute paths, no way out of the folder.
std::vector<std::string> group_shards(const nlohmann::json& group, const std::string& file) {
  if (!group.is_object() || !group.contains("paths") || !group["paths"].is_array())
    throw UserError(file + ": a weightsManifest group lacks its 'paths'");
  std::vector<std::string> shards;
  for (const auto& p : group["paths"]) {
    if (!p.is_string()) throw UserError(file + ": a shard path is not a string");
    const std::string name = p.get<std::string>();
    if (name.empty() || name.find('/') != std::string::npos || name.find('\\') != std::string::npos || name == "." ||
        name == "..")
      throw UserError(file + ": unsupported shard path '" + name +
                      "' (shards must be plain file names beside model.json)");
    shards.push_back(name);
  }
  return shards;
}

}  // namespace

std::filesystem::path tfjs_model_json(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec) ? path / "model.json" : path;
}

std::vector<std::string> tfjs_shard_names(const std::filesystem::path& model_json) {
  const std::string file = model_json.string();
  const auto model = read_model_json(model_json);
  std::vector<std::string> shards;
  for (const auto& group : weights_manifest(model, file))
    for (auto& name : group_shards(group, file)) shards.push_back(std::move(name));
  return shards;
}

std::string tfjs_sha256(const std::filesystem::path& model_json) {
  Sha256 hash;
  hash.add_file(model_json);
  for (const auto& shard : tfjs_shard_names(model_json)) {
    const std::filesystem::path p = model_json.parent_path() / shard;
    if (!std::filesystem::exists(p))
      throw UserError("TF.js weight shard " + p.string() + " (listed in " + model_json.string() + ") is missing");
    hash.add_file(p);
  }
  return hash.hex();
}

WeightMap load_tfjs_layers_model(const std::filesystem::path& path) {
  const std::filesystem::path json_path = tfjs_model_json(path);
  const std::string file = json_path.string();
  const std::filesystem::path folder = json_path.parent_path();
  const nlohmann::json model = read_model_json(json_path);

  WeightMap weights;
  try {
    for (const auto& group : weights_manifest(model, file)) {
      std::string data;
      std::string shard_names;
      for (const auto& shard : group_shards(group, file)) {
        const std::filesystem::path shard_path = folder / shard;
        data += read_file_bytes(shard_path, "a weight shard listed in " + file);
        shard_names += (shard_names.empty() ? "" : ", ") + shard_path.string();
      }
      size_t offset = 0;
      for (const auto& entry : group.at("weights")) {
        const auto name = entry.at("name").get<std::string>();
        const auto dtype = entry.value("dtype", std::string("float32"));
        if (dtype != "float32" || entry.contains("quantization"))
          throw UserError(file + ": weight '" + name + "' has unsupported dtype '" + dtype +
                          (entry.contains("quantization") ? "' (quantized)" : "'") +
                          "; only float32 TF.js models are supported");
        std::vector<int64_t> shape = entry.at("shape").get<std::vector<int64_t>>();
        int64_t count = 1;
        for (int64_t d : shape) {
          if (d < 0) throw UserError(file + ": weight '" + name + "' has a negative dimension");
          count *= d;
        }
        const size_t bytes = static_cast<size_t>(count) * sizeof(float);
        if (offset + bytes > data.size())
          throw UserError(shard_names + ": weight shard data too short for '" + name + "' (the " +
                          "manifest in " + file + " needs more than the " +
                          std::to_string(data.size()) + " bytes found); re-download the model");
        auto t = torch::empty(shape, torch::kFloat);
        std::memcpy(t.data_ptr<float>(), data.data() + offset, bytes);  // little-endian hosts
        weights[name] = t;
        offset += bytes;
      }
      if (offset != data.size())
        throw UserError(shard_names + ": weight shards hold " + std::to_string(data.size()) +
                        " bytes but the manifest in " + file + " describes " +
                        std::to_string(offset) + "; re-download the model");
    }
  } catch (const nlohmann::json::exception& e) {
    throw UserError(file + ": malformed TF.js weightsManifest (" + std::string(e.what()) + ")");
  }
  return weights;
}

}  // namespace patchcore

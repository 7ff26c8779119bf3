#include "backbone/tfjs_loader.h"

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/error.h"

namespace patchcore {
namespace {

std::string read_file_bytes(const std::filesystem::path& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw UserError(path.string() + ": cannot open " + what +
                    " (does the file exist and is it readable?)");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw UserError(path.string() + ": read error");
  return bytes;
}

}  // namespace

WeightMap load_tfjs_layers_model(const std::filesystem::path& path) {
  const std::filesystem::path json_path =
      std::filesystem::is_directory(path) ? path / "model.json" : path;
  const std::string file = json_path.string();
  const std::filesystem::path folder = json_path.parent_path();

  nlohmann::json model;
  try {
    model = nlohmann::json::parse(read_file_bytes(json_path, "the TF.js model.json"));
  } catch (const nlohmann::json::exception& e) {
    throw UserError(file + ": not a valid TF.js model.json (" + std::string(e.what()) + ")");
  }

  WeightMap weights;
  try {
    if (!model.is_object() || !model.contains("weightsManifest") ||
        !model["weightsManifest"].is_array())
      throw UserError(file + ": not a TF.js layers model (no \"weightsManifest\" array)");
    for (const auto& group : model["weightsManifest"]) {
      std::string data;
      std::string shard_names;
      for (const auto& shard : group.at("paths")) {
        const std::filesystem::path shard_path = folder / shard.get<std::string>();
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

#include "pipeline/checkpoint.h"

#include <nlohmann/json.hpp>

#include <stdexcept>

#include "io/error.h"
#include "io/safetensors.h"
#include "pipeline/checkpoint_roi.h"

namespace patchcore {
namespace {

constexpr const char* kBankName = "memory_bank";
constexpr const char* kSupportName = "support_neighbours";
constexpr const char* kBackbonePrefix = "backbone.";
constexpr const char* kShortlistCenterName = "shortlist_center";
constexpr const char* kShortlistComponentsName = "shortlist_components";

nlohmann::json search_to_json(const search::SearchOptions& o) {
  return {{"backend", search::to_string(o.backend)},       {"faiss_index", search::to_string(o.faiss_index)},
          {"hnsw_m", o.hnsw_m},                              {"hnsw_ef_construction", o.hnsw_ef_construction},
          {"hnsw_ef_search", o.hnsw_ef_search},              {"ivf_nlist", o.ivf_nlist},
          {"ivf_nprobe", o.ivf_nprobe},                      {"mode", search::to_string(o.mode)},
          {"shortlist_dims", o.shortlist_dims},              {"shortlist_size", o.shortlist_size}};
}

// Checkpoints written before the search settings existed have none: defaults.
search::SearchOptions search_from_json(const nlohmann::json& j) {
  search::SearchOptions o;
  if (!j.contains("search")) return o;
  const auto& s = j.at("search");
  o.backend = search::backend_from_string(s.at("backend").get<std::string>());
  o.faiss_index = search::faiss_index_from_string(s.at("faiss_index").get<std::string>());
  o.hnsw_m = s.at("hnsw_m").get<int>();
  o.hnsw_ef_construction = s.at("hnsw_ef_construction").get<int>();
  o.hnsw_ef_search = s.at("hnsw_ef_search").get<int>();
  o.ivf_nlist = s.at("ivf_nlist").get<int>();
  o.ivf_nprobe = s.at("ivf_nprobe").get<int>();
  if (s.contains("mode")) {  // format 3
    o.mode = search::search_mode_from_string(s.at("mode").get<std::string>());
    o.shortlist_dims = s.at("shortlist_dims").get<int>();
    o.shortlist_size = s.at("shortlist_size").get<int>();
  }
  return o;
}

nlohmann::json config_to_json(const Checkpoint& c) {
  nlohmann::json images = nlohmann::json::array();
  for (const auto& image : c.training_images) images.push_back({{"path", image.path}, {"sha256", image.sha256}});
  const bool shortlist = c.config.search.mode == search::SearchMode::kShortlist;
  nlohmann::json j = {{"format_version", shortlist ? Checkpoint::kFormatVersion : 2},
          {"backbone", c.config.backbone},
          {"layers", c.config.layers},
          {"image_size", {c.config.preprocessing.height, c.config.preprocessing.width}},
          {"input_scaling", to_string(c.config.preprocessing.scaling)},
          {"num_neighbors", c.config.num_neighbors},
          {"coreset_ratio", c.config.coreset_ratio},
          {"seed", c.config.seed},
          {"search", search_to_json(c.config.search)},
          {"weights_source", c.weights_source},
          {"weights_sha256", c.weights_sha256},
          {"training_images", images}};
  if (c.parent)  // optional key: readers of format 2 that predate it ignore it, which changes nothing they compute
    j["parent"] = {{"model", c.parent->model},
                   {"checkpoint_sha256", c.parent->checkpoint_sha256},
                   {"images", c.parent->images}};
  if (c.shard)  // optional key: a reader that predates it is stopped by the missing norm_stats.txt
    j["shard"] = {{"index", c.shard->index},
                  {"count", c.shard->count},
                  {"total_images", c.shard->total_images},
                  {"total_patches", c.shard->total_patches},
                  {"holdout_fraction", c.shard->holdout_fraction}};
  return j;
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint) {
  SafetensorsFile file;
  file.tensors[kBankName] = checkpoint.memory_bank.to(torch::kFloat).contiguous();
  if (checkpoint.support.defined()) file.tensors[kSupportName] = checkpoint.support.to(torch::kLong).contiguous();
  if (checkpoint.config.search.mode == search::SearchMode::kShortlist && !checkpoint.shard) {  // shards: no final bank yet
    if (!checkpoint.shortlist.defined()) throw std::logic_error("save_checkpoint: shortlist model without projection");
    file.tensors[kShortlistCenterName] = checkpoint.shortlist.center.contiguous();
    file.tensors[kShortlistComponentsName] = checkpoint.shortlist.components.contiguous();
  }
  for (const auto& [name, tensor] : checkpoint.backbone_weights) file.tensors[kBackbonePrefix + name] = tensor;
  file.metadata["patchcore"] = config_to_json(checkpoint).dump();
  save_roi(checkpoint.roi, file);
  write_safetensors(path, file);
}

Checkpoint load_checkpoint(const std::filesystem::path& path) {
  auto file = read_safetensors(path);
  const std::string where = path.string();
  auto meta = file.metadata.find("patchcore");
  if (meta == file.metadata.end())
    throw UserError(where + ": not a patchcore checkpoint (no 'patchcore' metadata); point --model at a folder written by `patchcore train`");
  Checkpoint c;
  try {
    auto j = nlohmann::json::parse(meta->second);
    const int version = j.at("format_version").get<int>();
    if (version < Checkpoint::kOldestReadableVersion || version > Checkpoint::kFormatVersion)
      throw UserError(where + ": checkpoint format version " + std::to_string(version) +
                      " is not supported by this build (reads " + std::to_string(Checkpoint::kOldestReadableVersion) +
                      " to " + std::to_string(Checkpoint::kFormatVersion) +
                      "); retrain the model or use a matching patchcore version");
    c.config.backbone = j.at("backbone").get<std::string>();
    c.config.layers = j.at("layers").get<std::vector<std::string>>();
    c.config.preprocessing.height = j.at("image_size").at(0).get<int>();
    c.config.preprocessing.width = j.at("image_size").at(1).get<int>();
    c.config.preprocessing.scaling = input_scaling_from_string(j.at("input_scaling").get<std::string>());
    c.config.num_neighbors = j.at("num_neighbors").get<int64_t>();
    c.config.coreset_ratio = j.at("coreset_ratio").get<double>();
    c.config.seed = j.at("seed").get<uint64_t>();
    c.config.search = search_from_json(j);
    c.weights_source = j.at("weights_source").get<std::string>();
    c.weights_sha256 = j.at("weights_sha256").get<std::string>();
    for (const auto& image : j.at("training_images"))
      c.training_images.push_back({image.at("path").get<std::string>(), image.at("sha256").get<std::string>()});
    if (j.contains("parent")) {
      const auto& p = j.at("parent");
      c.parent = Lineage{p.at("model").get<std::string>(), p.at("checkpoint_sha256").get<std::string>(),
                         p.at("images").get<int64_t>()};
    }
    if (j.contains("shard")) {
      const auto& s = j.at("shard");
      c.shard = ShardRecord{s.at("index").get<int>(), s.at("count").get<int>(), s.at("total_images").get<int64_t>(),
                            s.at("total_patches").get<int64_t>(), s.at("holdout_fraction").get<double>()};
    }
  } catch (const nlohmann::json::exception& e) {
    throw UserError(where + ": corrupt checkpoint metadata (" + e.what() + "); retrain the model");
  }
  auto bank = file.tensors.find(kBankName);
  if (bank == file.tensors.end() || bank->second.dim() != 2 || bank->second.size(0) == 0)
    throw UserError(where + ": checkpoint has no memory bank; retrain the model");
  c.memory_bank = bank->second;
  // Older checkpoints have no support table: PatchModel computes it on load.
  if (auto support = file.tensors.find(kSupportName); support != file.tensors.end()) c.support = support->second;
  if (c.config.search.mode == search::SearchMode::kShortlist && !c.shard) {
    auto center = file.tensors.find(kShortlistCenterName);
    auto components = file.tensors.find(kShortlistComponentsName);
    if (center == file.tensors.end() || components == file.tensors.end())
      throw UserError(where + ": the model searches by shortlist but its checkpoint lacks the shortlist projection; "
                      "retrain the model");
    c.shortlist = {center->second, components->second};
    search::check_projection(c.shortlist, c.memory_bank.size(1), where);
  }
  const std::string prefix = kBackbonePrefix;
  for (auto& [name, tensor] : file.tensors)
    if (name.rfind(prefix, 0) == 0) c.backbone_weights[name.substr(prefix.size())] = tensor;
  if (c.backbone_weights.empty())
    throw UserError(where + ": checkpoint holds no backbone weights; retrain the model");
  c.roi = load_roi(file, where);
  return c;
}

void require_complete_model(const Checkpoint& checkpoint, const std::string& where) {
  if (!checkpoint.shard) return;
  throw UserError(where + " is the partial model of shard " + std::to_string(checkpoint.shard->index) + "/" +
                  std::to_string(checkpoint.shard->count) + " (`train --shard`): combine the shards with `patchcore "
                  "merge PARTS... --data-dir DIR --output OUT --pattern-name NAME` and use the merged model");
}

PatchModel patch_model_of(const Checkpoint& checkpoint) {
  std::shared_ptr<const Backbone> backbone =
      create_backbone(checkpoint.config.backbone, checkpoint.config.layers, checkpoint.backbone_weights);
  return PatchModel(checkpoint.config, std::move(backbone), checkpoint.memory_bank, checkpoint.support,
                    checkpoint.shortlist);
}

}  // namespace patchcore

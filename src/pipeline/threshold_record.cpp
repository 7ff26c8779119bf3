#include "pipeline/threshold_record.h"

#include "export/metadata_update.h"
#include "head/norm_stats.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "pipeline/model_export.h"
#include "pipeline/model_folder.h"

namespace patchcore {

YAML::Node threshold_yaml(const ThresholdRecord& record) {
  YAML::Node node;
  node["method"] = record.method;
  node["image_threshold"] = record.image;
  if (record.pixel) node["pixel_threshold"] = *record.pixel;
  node["rule"] = "score > image_threshold is anomalous (predict, Model::threshold)";
  if (record.details) node["details"] = record.details;
  return node;
}

void store_threshold(const std::filesystem::path& model_dir, const ThresholdRecord& record) {
  const auto stats_path = model_dir / ModelFolder::kNormStats, config_path = model_dir / ModelFolder::kConfig;
  NormStats stats = read_norm_stats(stats_path);
  YAML::Node config;
  try {
    config = YAML::LoadFile(config_path.string());
  } catch (const YAML::Exception& e) {
    throw UserError(config_path.string() + ": cannot read (" + e.what() + "); is --model a folder written by "
                    "`patchcore train`?");
  }
  if (!config.IsMap())  // a list or a plain value at the top: not a config.yaml of ours
    throw UserError(config_path.string() + ": not a patchcore config.yaml (its top level is not a map); is --model a "
                    "folder written by `patchcore train`?");
  ThresholdRecord stored = record;
  if (!stored.pixel && stats.pixel_threshold) {  // config.yaml keeps describing both thresholds
    stored.pixel = stats.pixel_threshold;
    stored.details["pixel_threshold"] = "unchanged: " + record.method + " sets the image threshold only";
  }
  stats.image_threshold = stored.image;
  stats.pixel_threshold = stored.pixel;
  config["threshold"] = threshold_yaml(stored);
  YAML::Emitter out;
  out << config;
  // config.yaml first, the exported files' model_info next, norm_stats.txt (what predict
  // reads) last: should a write fail, predict is unchanged.
  write_file_atomically(config_path, std::string(out.c_str()) + "\n");
  for (const GraphOutputs outputs : {GraphOutputs::kMapAndScore, GraphOutputs::kMapOnly})
    update_export_metadata(model_dir, export_stem(model_dir.filename().string(), outputs),
                           threshold_metadata(stats, outputs));
  write_file_atomically(stats_path, format_norm_stats(stats));
  write_manifest(model_dir);
}

}  // namespace patchcore

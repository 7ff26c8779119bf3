#include "pipeline/model_export.h"

#include <algorithm>
#include <cstdio>


namespace patchcore {
namespace {

std::string number(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

std::string numbers(std::initializer_list<double> values) {
  std::string out;
  for (double v : values) out += (out.empty() ? "" : " ") + number(v);
  return out;
}

}  // namespace

std::map<std::string, std::string> threshold_metadata(const NormStats& stats, GraphOutputs outputs) {
  const double pixel = stats.pixel_threshold.value_or(stats.max_pixel);
  const double image = outputs == GraphOutputs::kMapOnly ? pixel : stats.image_threshold.value_or(stats.max_score);
  return {{"model_info image_threshold", number(image)}, {"model_info pixel_threshold", number(pixel)}};
}

std::string export_stem(const std::string& pattern, GraphOutputs outputs) {
  return outputs == GraphOutputs::kMapOnly ? pattern + "_model_api" : pattern;
}

std::map<std::string, std::string> model_info_metadata(const ModelConfig& config, const NormStats& stats,
                                                       GraphOutputs outputs) {
  const auto& p = config.preprocessing;
  std::map<std::string, std::string> info = {
      {"model_type", "AnomalyDetection"},
      {"task", "segmentation"},  // anomaly map + score (anomalib's task names)
      // (x - threshold) / scale + 0.5 maps 0 .. the largest training value to about [0, 1]:
      // PatchCore distances start at 0, so max - min is the largest training value.
      {"normalization_scale", number(std::max(stats.max_score, stats.max_pixel))},
      {"labels", "Normal Anomaly"},  // label 0 normal, 1 anomalous (AnomalyModel's order)
      {"reverse_input_channels", "True"},  // Model API feeds OpenCV BGR; the model wants RGB
      {"resize_type", "standard"},         // plain resize to the input size, as training
      {"image_shape", std::to_string(p.height) + " " + std::to_string(p.width)},
  };
  // Model API computes (pixel - mean) / scale on 0..255 values.
  if (p.scaling == InputScaling::kImageNet) {
    info["mean_values"] = numbers({0.485 * 255, 0.456 * 255, 0.406 * 255});
    info["scale_values"] = numbers({0.229 * 255, 0.224 * 255, 0.225 * 255});
  } else {  // x / 255 * 2 - 1 = (x - 127.5) / 127.5
    info["mean_values"] = numbers({127.5, 127.5, 127.5});
    info["scale_values"] = numbers({127.5, 127.5, 127.5});
  }
  std::map<std::string, std::string> metadata = threshold_metadata(stats, outputs);
  for (const auto& [key, value] : info) metadata["model_info " + key] = value;
  return metadata;
}

ExportSource export_source(const PatchModel& model, const std::optional<RoiLocator>& roi, const NormStats& stats,
                           GraphOutputs outputs) {
  ExportSource source;
  source.outputs = outputs;
  source.backbone = &model.backbone();
  source.memory_bank = model.memory_bank();
  source.support = model.support();
  source.num_neighbors = model.config().num_neighbors;
  source.shortlist = model.shortlist();  // defined in SearchMode::kShortlist
  source.shortlist_size = model.config().search.shortlist_size;
  source.preprocessing = model.config().preprocessing;
  if (roi) source.metadata = roi->to_metadata();
  for (const auto& [key, value] : model_info_metadata(model.config(), stats, outputs)) source.metadata[key] = value;
  return source;
}

void export_model(const PatchModel& model, const std::optional<RoiLocator>& roi, const NormStats& stats,
                  const std::filesystem::path& model_dir, const std::string& pattern, ExportFormats formats,
                  bool fp16, GraphOutputs outputs) {
  write_exports(export_source(model, roi, stats, outputs), model_dir, export_stem(pattern, outputs), formats, fp16);
}

}  // namespace patchcore

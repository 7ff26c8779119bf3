#pragma once
// Exporting a model to PATTERN.onnx and PATTERN.xml + .bin: the graph is lowered from
// the PatchModel that native prediction runs (its backbone network, bank and support table).
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "export/export.h"
#include "head/norm_stats.h"
#include "patchcore/roi.h"
#include "pipeline/patch_model.h"

namespace patchcore {

// The keys Intel's OpenVINO Model API reads for anomaly models (AnomalyModel /
// AnomalyDetection: model_type, task, image_threshold, pixel_threshold,
// normalization_scale; ImageModel: mean_values, scale_values, reverse_input_channels,
// resize_type, labels, image_shape), as metadata keys "model_info <key>": the IR writer
// puts them under rt_info/model_info, ONNX keeps the space-separated key as Model API's
// ONNX adapter expects. Thresholds: image_threshold / pixel_threshold of norm_stats.txt
// (max_score / max_pixel where absent). docs/export.md lists them.
std::map<std::string, std::string> model_info_metadata(const ModelConfig& config, const NormStats& stats);

// The part of model_info_metadata that the decision thresholds set: "model_info
// image_threshold" and "model_info pixel_threshold".
std::map<std::string, std::string> threshold_metadata(const NormStats& stats);

// The export's view of `model` (no copies), with the ROI and model_info metadata.
ExportSource export_source(const PatchModel& model, const std::optional<RoiLocator>& roi, const NormStats& stats);

// Writes the exported model files for `model` into `model_dir`, named after the folder
// (OUTPUT/PATTERN -> PATTERN.onnx, PATTERN.xml, PATTERN.bin).
void export_model(const PatchModel& model, const std::optional<RoiLocator>& roi, const NormStats& stats,
                  const std::filesystem::path& model_dir, const std::string& pattern, ExportFormats formats,
                  bool fp16);

}  // namespace patchcore

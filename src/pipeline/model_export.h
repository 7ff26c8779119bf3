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
std::map<std::string, std::string> model_info_metadata(const ModelConfig& config, const NormStats& stats,
                                                       GraphOutputs outputs);

// The part of model_info_metadata that the decision thresholds set: "model_info
// image_threshold" and "model_info pixel_threshold". With GraphOutputs::kMapOnly the image
// score is the map's maximum (Model API), so the image threshold is the pixel threshold:
// an image is anomalous when some pixel is.
std::map<std::string, std::string> threshold_metadata(const NormStats& stats, GraphOutputs outputs);

// The file name stem of an export: PATTERN (both outputs) or PATTERN_model_api (map only).
std::string export_stem(const std::string& pattern, GraphOutputs outputs);

// The export's view of `model` (no copies), with the ROI and model_info metadata.
ExportSource export_source(const PatchModel& model, const std::optional<RoiLocator>& roi, const NormStats& stats,
                           GraphOutputs outputs);

// Writes the exported model files for `model` into `model_dir` (OUTPUT/PATTERN), named
// export_stem(PATTERN, outputs) + .onnx, .xml, .bin.
void export_model(const PatchModel& model, const std::optional<RoiLocator>& roi, const NormStats& stats,
                  const std::filesystem::path& model_dir, const std::string& pattern, ExportFormats formats,
                  bool fp16, GraphOutputs outputs = GraphOutputs::kMapAndScore);

}  // namespace patchcore

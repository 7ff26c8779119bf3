#pragma once
// The decision thresholds of a model folder: norm_stats.txt (image_threshold=,
// pixel_threshold= after the client's original keys) and the `threshold:` section of
// config.yaml (values, how they were chosen).
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <optional>
#include <string>

namespace patchcore {

struct ThresholdRecord {
  double image = 0;
  std::optional<double> pixel;
  std::string method;   // "holdout", "max_training_score", "eval f1", "eval fpr:0.01"
  YAML::Node details;   // method-specific values (held-out statistics, evaluated data set, ...)
};

// The `threshold:` section of config.yaml.
YAML::Node threshold_yaml(const ThresholdRecord& record);

// Replaces the thresholds of an existing model folder: rewrites norm_stats.txt (other
// keys unchanged; without record.pixel the pixel threshold stays), config.yaml's
// `threshold:` section and the thresholds in the exported PATTERN.onnx / PATTERN.xml
// (model_info; graph and weights untouched), each atomically. Throws
// UserError naming the file when either cannot be read or written.
void store_threshold(const std::filesystem::path& model_dir, const ThresholdRecord& record);

}  // namespace patchcore

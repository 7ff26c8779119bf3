#pragma once
// checkpoint.safetensors: the memory bank, the backbone's weights (so a model
// folder predicts on its own, offline) and everything needed to retrain.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "backbone/backbone.h"
#include "pipeline/model_config.h"
#include "pipeline/patch_model.h"
#include "patchcore/roi.h"

namespace patchcore {

struct TrainingImage {
  std::string path;    // as given on the command line
  std::string sha256;  // of the file's bytes
};

// The model a checkpoint was made from by adding images (`train --from`).
struct Lineage {
  std::string model;              // the parent model folder, as given
  std::string checkpoint_sha256;  // of its checkpoint.safetensors
  int64_t images = 0;             // images in its memory bank; training_images lists them first
};

struct Checkpoint {
  // 2: may hold an ROI (pipeline/checkpoint_roi.h), which a version-1 reader would ignore and
  // then score whole images; version 1 (no ROI) is still read.
  static constexpr int kFormatVersion = 2;
  static constexpr int kOldestReadableVersion = 1;
  ModelConfig config;
  torch::Tensor memory_bank;  // [M, C] float32
  torch::Tensor support;      // [M, min(num_neighbors, M)] int64 (head/scorer.h: support_table); undefined if num_neighbors == 1
  WeightMap backbone_weights;
  std::string weights_source;  // path, URL or random:SEED
  std::string weights_sha256;
  std::vector<TrainingImage> training_images;
  std::optional<RoiLocator> roi;  // ROI mode (data/roi.h, pipeline/checkpoint_roi.h); unset = whole image
  std::optional<Lineage> parent;  // set by `train --from`
};

void save_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint);
// Throws UserError naming the file when it is missing, truncated, from an unknown
// format version, or lacks a tensor.
Checkpoint load_checkpoint(const std::filesystem::path& path);

// The model a checkpoint describes, as prediction and export run it.
PatchModel patch_model_of(const Checkpoint& checkpoint);

}  // namespace patchcore

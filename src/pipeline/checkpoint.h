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

// A partial model: the memory bank of one slice of the training images (`train --shard I/N`),
// for `patchcore merge`. It cannot predict: it lacks the other slices' rows and the norm stats.
struct ShardRecord {
  int index = 0, count = 1;        // slice `index` (0-based) of `count`
  int64_t total_images = 0;        // training images of all slices together (held-out ones excluded)
  int64_t total_patches = 0;       // and their patches: the bank size is the ratio of these
  double holdout_fraction = 0;     // the split all shards and the merge make of the sorted image list
};

struct Checkpoint {
  // 2: may hold an ROI (pipeline/checkpoint_roi.h), which a version-1 reader would ignore and
  // then score whole images; version 1 (no ROI) is still read.
  // 3: searches by shortlist (search/shortlist_index.h), which a version-2 reader would ignore
  // and then search exactly, unlike the model's exported graphs. Models that search exactly
  // are still written as version 2.
  static constexpr int kFormatVersion = 3;
  static constexpr int kOldestReadableVersion = 1;
  ModelConfig config;
  torch::Tensor memory_bank;  // [M, C] float32
  torch::Tensor support;      // [M, min(num_neighbors, M)] int64 (head/scorer.h: support_table); undefined if num_neighbors == 1
  search::ShortlistProjection shortlist;  // defined when config.search.mode is kShortlist
  WeightMap backbone_weights;
  std::string weights_source;  // path, URL or random:SEED
  std::string weights_sha256;
  std::vector<TrainingImage> training_images;
  std::optional<RoiLocator> roi;  // ROI mode (data/roi.h, pipeline/checkpoint_roi.h); unset = whole image
  std::optional<Lineage> parent;  // set by `train --from`
  std::optional<ShardRecord> shard;  // set by `train --shard`: a partial model
};

void save_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint);
// Throws UserError naming the file when it is missing, truncated, from an unknown
// format version, or lacks a tensor.
Checkpoint load_checkpoint(const std::filesystem::path& path);

// Throws UserError when `checkpoint` (read from `where`) is a shard's partial model, which
// predicts nothing until `patchcore merge` has combined the shards.
void require_complete_model(const Checkpoint& checkpoint, const std::string& where);

// The model a checkpoint describes, as prediction and export run it.
PatchModel patch_model_of(const Checkpoint& checkpoint);

}  // namespace patchcore

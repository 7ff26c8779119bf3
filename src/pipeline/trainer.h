#pragma once
// `patchcore train`: images -> memory bank -> model folder OUTPUT/PATTERN.
#include <filesystem>
#include <optional>
#include <string>

#include "head/norm_stats.h"
#include "data/roi.h"
#include "pipeline/checkpoint.h"
#include "pipeline/search_agreement.h"
#include "pipeline/sharding.h"
#include "pipeline/threshold_record.h"
#include "pipeline/training_memory.h"

namespace patchcore {

struct TrainOptions {
  std::filesystem::path data_dir;
  std::filesystem::path output_dir;
  std::string pattern_name;
  ModelConfig model;               // layers empty -> the backbone's defaults
  int batch_size = 32;
  std::string weights;             // "" (cache/download), FILE|DIR, or random:SEED
  bool show_progress = true;
  // Write PATTERN.onnx and PATTERN.xml/.bin (float32) into the model folder.
  bool export_model = true;
  RoiOptions roi;                  // ROI mode (--roi, --roi-rect, ...); off by default
  // Good images held out of the bank to set the thresholds (pipeline/holdout.h); 0: none,
  // the threshold is then the highest training score.
  double holdout_fraction = 0.15;
  double threshold_sigmas = 3.0;   // threshold = max(highest training score, held-out mean + sigmas * std)
  // --from: add the images of data_dir to this model folder instead of training from scratch.
  // Its settings (backbone, layers, image size, ratio, neighbours, seed, search) and weights are
  // used and `model` / `weights` ignored; the greedy continues from its bank (it all stays),
  // to the bank size the ratio gives for all images together.
  std::filesystem::path parent_model;
  // Memory cap of the features and projection (--max-memory); unset: default_memory_cap().
  // Past it, features go to a temporary file in output_dir, then the projection to bfloat16
  // (pipeline/training_memory.h).
  std::optional<int64_t> max_memory_bytes;
  // --shard I/N: train on slice I of the sorted training images and write the partial model
  // OUTPUT/PATTERN.shard-I-of-N (pipeline/sharding.h) instead of a model folder.
  std::optional<ShardSpec> shard;
  // `patchcore merge`: the shard folders to combine into OUTPUT/PATTERN. Their settings,
  // weights and holdout fraction are used (`model`, `weights`, `holdout_fraction` ignored);
  // data_dir must hold the images they trained on.
  std::vector<std::filesystem::path> merge_parts;
};

struct TrainReport {
  std::filesystem::path model_dir;    // with --shard: the partial model's folder
  int64_t num_images = 0;             // new images in the bank (with --from: added ones; --shard: the slice's)
  int64_t num_patches = 0;
  int64_t parent_images = 0, parent_patches = 0;  // --from: what the parent's bank was made of
  int64_t bank_rows = 0;
  int64_t feature_dim = 0;
  int64_t distinct_image_sizes = 0;
  NormStats norm_stats;               // image_threshold / pixel_threshold set from `threshold`
  ThresholdRecord threshold;
  int64_t num_held_out = 0;
  TrainingMemoryPlan memory_plan;
  // The largest distance of a new training patch to its nearest bank row (the k-center
  // objective in feature space), as the scoring index measures it.
  double coverage_radius = 0;
  std::string search_index;           // search::Index::describe() of the scoring index
  std::optional<SearchAgreement> search_agreement;  // approximate searches: agreement with exact search
  double load_weights_seconds = 0, extract_seconds = 0, coreset_seconds = 0, support_seconds = 0, score_seconds = 0,
         export_seconds = 0, write_seconds = 0, total_seconds = 0;
};

// Throws UserError for bad input; on any failure nothing is left in output_dir.
// Process-wide side effect (glibc): fixes malloc's mmap threshold at 4 MiB, so that the batches'
// temporaries do not fragment the heap (trainer.cpp, docs/scaling.md).
TrainReport train(const TrainOptions& options);

}  // namespace patchcore

#include "pipeline/trainer.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <set>

#include "backbone/weight_source.h"
#include "data/dataset.h"
#include "head/coreset.h"
#include "head/k_center_greedy.h"
#include "head/scorer.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/progress.h"
#include "io/sha256.h"
#include "pipeline/build_info.h"
#include "pipeline/holdout.h"
#include "pipeline/image_batch.h"
#include "pipeline/model_export.h"
#include "pipeline/model_folder.h"
#include "pipeline/patch_model.h"
#include "pipeline/roi_training.h"
#include "search/exact_index.h"
#include "search/factory.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void log(const std::string& message) { std::cerr << "[patchcore] " << message << "\n"; }

void validate(const TrainOptions& o) {
  if (o.pattern_name.empty() || o.pattern_name.find('/') != std::string::npos || o.pattern_name == "." ||
      o.pattern_name == "..")
    throw UserError("--pattern-name '" + o.pattern_name + "' must be a plain folder name (no '/')");
  if (!(o.model.coreset_ratio > 0 && o.model.coreset_ratio <= 1))
    throw UserError("--coreset-ratio must be in (0, 1], got " + std::to_string(o.model.coreset_ratio));
  if (o.batch_size < 1) throw UserError("--batch-size must be at least 1");
  if (!(o.holdout_fraction >= 0 && o.holdout_fraction < 0.5))
    throw UserError("--holdout-fraction must be in [0, 0.5), got " + std::to_string(o.holdout_fraction));
  if (!(o.threshold_sigmas >= 0)) throw UserError("--threshold-sigmas must be at least 0");
  if (o.model.num_neighbors < 1) throw UserError("--num-neighbors must be at least 1");
  if (o.model.preprocessing.height < 32 || o.model.preprocessing.width < 32)
    throw UserError("--image-size must be at least 32 32");
  validate_roi_options(o.roi);
  if (o.roi.interactive) require_display();  // --roi without a display fails before any work
}

// Rows of `bank` for the images [first, first+count) viewed as an embedding [B,C,h,w].
torch::Tensor bank_rows_as_embedding(const torch::Tensor& bank, int64_t first, int64_t count, int64_t h, int64_t w) {
  return bank.narrow(0, first * h * w, count * h * w).view({count, h, w, bank.size(1)}).permute({0, 3, 1, 2});
}

void write_search_yaml(YAML::Emitter& y, const search::SearchOptions& o, const TrainReport& r) {
  y << YAML::Key << "search" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "requested" << YAML::Value << search::to_string(o.backend);
  y << YAML::Key << "index" << YAML::Value << r.search_index;
  if (search::resolve(o.backend) == search::Backend::kFaiss) {
    y << YAML::Key << "faiss_index" << YAML::Value << search::to_string(o.faiss_index);
    if (o.faiss_index == search::FaissIndexType::kHnsw) {
      y << YAML::Key << "hnsw_m" << YAML::Value << o.hnsw_m;
      y << YAML::Key << "hnsw_ef_construction" << YAML::Value << o.hnsw_ef_construction;
      y << YAML::Key << "hnsw_ef_search" << YAML::Value << o.hnsw_ef_search;
    } else if (o.faiss_index == search::FaissIndexType::kIvf) {
      y << YAML::Key << "ivf_nlist" << YAML::Value << search::ivf_nlist_for(o, static_cast<long>(r.bank_rows));
      y << YAML::Key << "ivf_nprobe" << YAML::Value << o.ivf_nprobe;
    }
  }
  if (r.recall_at_1) {
    y << YAML::Key << "recall_at_1" << YAML::Value << *r.recall_at_1;
    y << YAML::Key << "recall_measured_on" << YAML::Value
      << std::to_string(r.num_patches) + " training-image patches against exact search";
  }
  y << YAML::EndMap;
}

std::string write_config_yaml(const TrainOptions& o, const Checkpoint& c, const TrainReport& r) {
  YAML::Emitter y;
  y << YAML::BeginMap;
  y << YAML::Key << "pattern_name" << YAML::Value << o.pattern_name;
  y << YAML::Key << "data_dir" << YAML::Value << fs::absolute(o.data_dir).string();
  y << YAML::Key << "model" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "backbone" << YAML::Value << c.config.backbone;
  y << YAML::Key << "layers" << YAML::Value << YAML::Flow << c.config.layers;
  y << YAML::Key << "coreset_ratio" << YAML::Value << c.config.coreset_ratio;
  y << YAML::Key << "num_neighbors" << YAML::Value << c.config.num_neighbors;
  y << YAML::Key << "seed" << YAML::Value << c.config.seed;
  write_search_yaml(y, c.config.search, r);
  y << YAML::Key << "memory_bank_rows" << YAML::Value << r.bank_rows;
  y << YAML::Key << "feature_dim" << YAML::Value << r.feature_dim;
  y << YAML::EndMap;
  y << YAML::Key << "preprocessing" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "decode" << YAML::Value << "OpenCV, grayscale/BGRA converted to 3-channel";
  y << YAML::Key << "image_size" << YAML::Value << YAML::Flow
    << std::vector<int>{c.config.preprocessing.height, c.config.preprocessing.width};
  y << YAML::Key << "resize" << YAML::Value << "cv::resize INTER_LINEAR";
  y << YAML::Key << "color" << YAML::Value << "RGB";
  y << YAML::Key << "input_scaling" << YAML::Value << to_string(c.config.preprocessing.scaling);
  if (c.config.preprocessing.scaling == InputScaling::kImageNet) {
    y << YAML::Key << "mean" << YAML::Value << YAML::Flow << std::vector<double>{0.485, 0.456, 0.406};
    y << YAML::Key << "std" << YAML::Value << YAML::Flow << std::vector<double>{0.229, 0.224, 0.225};
  } else {
    y << YAML::Key << "formula" << YAML::Value << "x / 255 * 2 - 1";
  }
  y << YAML::EndMap;
  y << YAML::Key << "weights" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "source" << YAML::Value << c.weights_source;
  y << YAML::Key << "sha256" << YAML::Value << c.weights_sha256;
  y << YAML::EndMap;
  y << YAML::Key << "training" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "num_images" << YAML::Value << r.num_images;
  y << YAML::Key << "num_patches" << YAML::Value << r.num_patches;
  y << YAML::Key << "batch_size" << YAML::Value << o.batch_size;
  y << YAML::Key << "threads" << YAML::Value << at::get_num_threads();
  y << YAML::Key << "held_out_images" << YAML::Value << r.num_held_out;
  y << YAML::EndMap;
  y << YAML::Key << "threshold" << YAML::Value << threshold_yaml(r.threshold);
  y << YAML::Key << "timings_seconds" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "load_weights" << YAML::Value << r.load_weights_seconds;
  y << YAML::Key << "feature_extraction" << YAML::Value << r.extract_seconds;
  y << YAML::Key << "coreset" << YAML::Value << r.coreset_seconds;
  y << YAML::Key << "support_table" << YAML::Value << r.support_seconds;
  y << YAML::Key << "scoring_training_images" << YAML::Value << r.score_seconds;
  y << YAML::Key << "export" << YAML::Value << r.export_seconds;
  y << YAML::EndMap;
  write_roi_yaml(y, c.roi);
  y << YAML::Key << "versions" << YAML::Value << YAML::BeginMap;
  for (const auto& [name, version] : build_versions()) y << YAML::Key << name << YAML::Value << version;
  y << YAML::EndMap;
  y << YAML::EndMap;
  return std::string(y.c_str()) + "\n";
}

}  // namespace

TrainReport train(const TrainOptions& options) {
  const auto start = Clock::now();
  validate(options);
  TrainReport report;
  Checkpoint checkpoint;
  checkpoint.config = options.model;
  ModelConfig& config = checkpoint.config;
  const BackboneInfo& info = backbone_info(config.backbone);
  if (config.layers.empty()) config.layers = info.default_layers;
  config.preprocessing.scaling = info.scaling;

  RoiPlan roi = plan_roi(options.roi, find_training_images(options.data_dir), config.preprocessing, log);
  const HoldoutSplit split = split_holdout(roi.images.size(), options.holdout_fraction);
  const HeldOutImages held_out = take_held_out(roi, split);
  report.num_held_out = static_cast<int64_t>(held_out.images.size());
  if (held_out.images.empty() && options.holdout_fraction > 0)
    log("note: too few images to hold out " + std::to_string(kMinHoldoutImages) + " of them at "
        "--holdout-fraction " + YAML::Dump(YAML::Node(options.holdout_fraction)) + "; the threshold is the highest "
        "training score (run `patchcore eval` on test images to choose a better one)");
  const auto& images = roi.images;  // ROI mode: the images whose ROI was found, less the held-out ones
  checkpoint.roi = roi.locator;
  report.num_images = static_cast<int64_t>(images.size());
  log("found " + std::to_string(images.size() + held_out.images.size()) + " training images in " +
      options.data_dir.string() + (held_out.images.empty() ? "" : ", " + std::to_string(held_out.images.size()) +
                                   " of them held out of the memory bank to set the thresholds"));

  auto phase = Clock::now();
  ResolvedWeights weights = resolve_weights(config.backbone, options.weights);
  std::shared_ptr<const Backbone> backbone = create_backbone(config.backbone, config.layers, weights.weights);
  checkpoint.weights_source = weights.source;
  checkpoint.weights_sha256 = weights.sha256;
  checkpoint.backbone_weights = backbone->weights();
  report.load_weights_seconds = seconds_since(phase);
  log("backbone " + config.backbone + " (" + weights.source + "), layers " + config.layers.front() +
      (config.layers.size() > 1 ? " .. " + config.layers.back() : ""));

  c10::InferenceMode guard;
  const auto probe_embedding =
      embed_batch(*backbone, torch::zeros({1, 3, config.preprocessing.height, config.preprocessing.width}));
  const int64_t channels = probe_embedding.size(1), h = probe_embedding.size(2), w = probe_embedding.size(3);
  const int64_t patches_per_image = h * w;
  report.num_patches = report.num_images * patches_per_image;
  report.feature_dim = channels;
  if (static_cast<double>(report.num_patches) * config.coreset_ratio < 1.0) {
    const auto needed = static_cast<int64_t>(std::ceil(1.0 / (config.coreset_ratio * patches_per_image)));
    throw UserError("too few images for --coreset-ratio " + std::to_string(config.coreset_ratio) + ": " +
                    std::to_string(report.num_images) + " images give " + std::to_string(report.num_patches) +
                    " patches, so the coreset would be empty. Add images (at least " + std::to_string(needed) +
                    ") or raise --coreset-ratio to at least " +
                    std::to_string(1.0 / static_cast<double>(report.num_patches)));
  }
  const int64_t bank_size = coreset_size(report.num_patches, config.coreset_ratio);
  const bool subsample = bank_size < report.num_patches;

  // The full bank is allocated once and filled batch by batch (no concatenation
  // copies); its random projection for the coreset is filled alongside.
  auto bank = torch::empty({report.num_patches, channels});
  std::optional<SparseRandomProjection> projection;
  torch::Tensor projected;
  if (subsample) {
    const int64_t dims = johnson_lindenstrauss_min_dim(report.num_patches, 0.9);
    projection.emplace(channels, dims, config.seed);
    projected = torch::empty({report.num_patches, dims});
  }

  phase = Clock::now();
  std::set<std::pair<int, int>> sizes;
  {
    ProgressBar bar("extracting features", report.num_images, options.show_progress);
    for (int64_t first = 0; first < report.num_images; first += options.batch_size) {
      const int64_t count = std::min<int64_t>(options.batch_size, report.num_images - first);
      std::vector<fs::path> paths(images.begin() + first, images.begin() + first + count);
      ImageBatch batch = load_image_batch(paths, config.preprocessing, roi.crops_for(first, count));
      for (size_t i = 0; i < paths.size(); ++i) {
        sizes.insert({batch.original_sizes[i].width, batch.original_sizes[i].height});
        checkpoint.training_images.push_back({paths[i].string(), sha256_file(paths[i])});
      }
      auto embedding = embed_batch(*backbone, batch.input);
      auto rows = embedding.permute({0, 2, 3, 1}).reshape({count * patches_per_image, channels});
      bank.narrow(0, first * patches_per_image, rows.size(0)).copy_(rows);
      if (subsample)
        projected.narrow(0, first * patches_per_image, rows.size(0)).copy_(projection->transform(rows));
      bar.update(first + count);
    }
    bar.finish();
  }
  report.extract_seconds = seconds_since(phase);
  report.distinct_image_sizes = static_cast<int64_t>(sizes.size());
  if (sizes.size() > 1)
    log("note: the training images come in " + std::to_string(sizes.size()) +
        " different sizes; all are resized to --image-size, which distorts their aspect ratio differently");

  phase = Clock::now();
  if (subsample) {
    ProgressBar bar("selecting coreset", bank_size, options.show_progress);
    const auto selected = k_center_greedy(projected, bank_size, config.seed, bar.callback());
    bar.finish();
    projected = torch::Tensor();
    checkpoint.memory_bank =
        bank.index_select(0, torch::tensor(std::vector<int64_t>(selected.begin(), selected.end()), torch::kLong));
  } else {
    checkpoint.memory_bank = bank;
  }
  report.bank_rows = checkpoint.memory_bank.size(0);
  report.coreset_seconds = seconds_since(phase);

  // The support table of num_neighbors re-weighting, by exact search whatever backend
  // scores patches; the exact index also measures an approximate index's recall.
  phase = Clock::now();
  const search::ExactIndex exact_index(checkpoint.memory_bank);
  if (config.num_neighbors > 1) checkpoint.support = support_table(exact_index, checkpoint.memory_bank, config.num_neighbors);
  report.support_seconds = seconds_since(phase);

  // Norm statistics: score every training image against the final bank, reusing the
  // stored embeddings instead of running the backbone again.
  phase = Clock::now();
  PatchModel model(config, backbone, checkpoint.memory_bank, checkpoint.support);
  report.search_index = model.index().describe();
  log("nearest-neighbour search: " + report.search_index);
  const bool measure_recall = !model.index().exact();
  int64_t agreeing = 0;
  std::vector<torch::Tensor> scores, maps;
  {
    ProgressBar bar("scoring training set", report.num_images, options.show_progress);
    for (int64_t first = 0; first < report.num_images; first += options.batch_size) {
      const int64_t count = std::min<int64_t>(options.batch_size, report.num_images - first);
      auto result = model.score_embedding(bank_rows_as_embedding(bank, first, count, h, w));
      if (measure_recall) {
        const auto truth = search::nearest(exact_index, bank.narrow(0, first * patches_per_image, count * patches_per_image));
        agreeing += result.nearest.reshape(-1).eq(truth.indices).sum().item<int64_t>();
      }
      scores.push_back(result.image_scores);
      maps.push_back(result.maps);
      bar.update(first + count);
    }
    bar.finish();
  }
  if (measure_recall) {
    report.recall_at_1 = static_cast<double>(agreeing) / static_cast<double>(report.num_patches);
    log("recall@1 of " + report.search_index + " against exact search on the " +
        std::to_string(report.num_patches) + " training patches: " + std::to_string(*report.recall_at_1));
  }
  bank = torch::Tensor();
  report.norm_stats = compute_norm_stats(torch::cat(scores), torch::cat(maps));
  if (held_out.images.empty()) {
    report.threshold = {report.norm_stats.max_score, report.norm_stats.max_pixel, "max_training_score", {}};
  } else {
    log("holding out " + std::to_string(held_out.images.size()) + " good images (not in the memory bank) for the thresholds");
    const HoldoutScores held_scores =
        score_held_out(model, held_out.images, held_out.crops, options.batch_size, options.show_progress);
    report.threshold =
        holdout_threshold(held_scores, report.norm_stats, options.holdout_fraction, options.threshold_sigmas);
  }
  report.norm_stats.image_threshold = report.threshold.image;
  report.norm_stats.pixel_threshold = report.threshold.pixel;
  report.score_seconds = seconds_since(phase);

  phase = Clock::now();
  report.model_dir = options.output_dir / options.pattern_name;
  StagedFolder folder(report.model_dir);
  save_checkpoint(folder.path() / ModelFolder::kCheckpoint, checkpoint);
  write_roi_report(roi, folder.path());
  write_file_atomically(folder.path() / ModelFolder::kNormStats, format_norm_stats(report.norm_stats));
  report.write_seconds = seconds_since(phase);
  if (options.export_model) {
    phase = Clock::now();
    log("exporting " + options.pattern_name + ".onnx and " + options.pattern_name + ".xml/.bin");
    export_model(checkpoint, report.norm_stats, folder.path(), options.pattern_name, ExportFormats::kAll,
                 /*fp16=*/false);
    report.export_seconds = seconds_since(phase);
  }
  report.total_seconds = seconds_since(start);
  write_file_atomically(folder.path() / ModelFolder::kConfig, write_config_yaml(options, checkpoint, report));
  folder.commit();
  return report;
}

}  // namespace patchcore

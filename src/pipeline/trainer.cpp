#include "pipeline/trainer.h"

#include <ATen/Parallel.h>
#include <malloc.h>
#include <c10/core/InferenceMode.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <cmath>
#include <iostream>
#include <set>

#include "backbone/weight_source.h"
#include "data/dataset.h"
#include "head/coreset.h"
#include "head/embedding.h"
#include "head/k_center_greedy.h"
#include "head/norm_stats.h"
#include "head/scorer.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/interrupt.h"
#include "io/progress.h"
#include "io/sha256.h"
#include "pipeline/build_info.h"
#include "pipeline/checkpoint.h"
#include "pipeline/holdout.h"
#include "pipeline/image_batch.h"
#include "pipeline/model_export.h"
#include "pipeline/model_folder.h"
#include "pipeline/patch_model.h"
#include "pipeline/patch_store.h"
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
  search::validate(o.model.search);  // before any backbone work, not when the index is built
  if (!o.parent_model.empty() && o.roi.enabled())
    throw UserError("--from adds images to a model with its own settings: leave out the ROI options");
  if (o.shard && !o.parent_model.empty())
    throw UserError("--shard cannot be combined with --from: add the images to the merged model afterwards");
  if (o.shard && o.roi.enabled())
    throw UserError("--shard does not support ROI mode yet: train the ROI model on one machine");
  if (o.roi.interactive) require_display();  // --roi without a display fails before any work
}

// --from: the model the new images are added to.
struct Parent {
  fs::path dir;
  Checkpoint checkpoint;
  NormStats stats;
  std::string checkpoint_sha256;
};

std::optional<Parent> load_parent(const TrainOptions& options) {
  if (options.parent_model.empty()) return std::nullopt;
  Parent p{options.parent_model, {}, {}, {}};
  if (!fs::is_directory(p.dir))
    throw UserError("--from " + p.dir.string() + ": no such model folder; pass OUTPUT/PATTERN of an earlier `patchcore train`");
  ModelFolderContents folder = load_model_folder(p.dir);
  // Hashed once: by the manifest check, else here (a folder written before SHA256SUMS existed).
  p.checkpoint_sha256 = folder.checkpoint_sha256 ? *folder.checkpoint_sha256 : sha256_file(p.dir / ModelFolder::kCheckpoint);
  p.checkpoint = std::move(folder.checkpoint);
  p.stats = folder.stats;
  if (p.checkpoint.roi)
    throw UserError("--from " + p.dir.string() + ": adding images to a model trained in ROI mode is not supported yet; "
                    "train a new model on all the images");
  return p;
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
  if (o.mode == search::SearchMode::kShortlist) {
    y << YAML::Key << "mode" << YAML::Value << search::to_string(o.mode);
    y << YAML::Key << "shortlist_dims" << YAML::Value << o.shortlist_dims;
    y << YAML::Key << "shortlist_size" << YAML::Value << o.shortlist_size;
  }
  if (const auto& a = r.search_agreement) {
    y << YAML::Key << "recall_at_1" << YAML::Value << a->recall_at_1();
    y << YAML::Key << "recall_measured_on" << YAML::Value << a->measured_on + ", against exact search";
    y << YAML::Key << "max_patch_score_error" << YAML::Value << a->max_patch_error;
    y << YAML::Key << "max_image_score_error" << YAML::Value << a->max_image_error;
    y << YAML::Key << "meets_bars" << YAML::Value << a->meets_bars();
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
  y << YAML::Key << "coverage_radius" << YAML::Value << r.coverage_radius;
  y << YAML::Key << "memory_plan" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "cap_bytes" << YAML::Value << r.memory_plan.cap_bytes;
  y << YAML::Key << "features" << YAML::Value << (r.memory_plan.features_on_disk ? "disk" : "ram");
  y << YAML::Key << "feature_bytes" << YAML::Value << r.memory_plan.feature_bytes;
  y << YAML::Key << "projection" << YAML::Value << (r.memory_plan.projection_bfloat16 ? "bfloat16" : "float32");
  y << YAML::Key << "projection_bytes" << YAML::Value << r.memory_plan.projection_bytes;
  y << YAML::Key << "estimated_peak_bytes" << YAML::Value << r.memory_plan.peak_bytes;
  y << YAML::EndMap;
  y << YAML::EndMap;
  if (c.parent) {  // train --from: what this model was made from
    y << YAML::Key << "parent" << YAML::Value << YAML::BeginMap;
    y << YAML::Key << "model" << YAML::Value << fs::absolute(c.parent->model).string();
    y << YAML::Key << "checkpoint_sha256" << YAML::Value << c.parent->checkpoint_sha256;
    y << YAML::Key << "images" << YAML::Value << c.parent->images;
    y << YAML::Key << "added_images" << YAML::Value << r.num_images;
    y << YAML::Key << "norm_stats" << YAML::Value
      << "pooled: the parent's recorded statistics with the added images' (scored against the new bank)";
    y << YAML::EndMap;
  }
  if (c.shard) {  // a partial model: no scores, no threshold
    y << YAML::Key << "shard" << YAML::Value << YAML::BeginMap;
    y << YAML::Key << "index" << YAML::Value << c.shard->index;
    y << YAML::Key << "count" << YAML::Value << c.shard->count;
    y << YAML::Key << "all_training_images" << YAML::Value << c.shard->total_images;
    y << YAML::Key << "all_training_patches" << YAML::Value << c.shard->total_patches;
    y << YAML::Key << "merge_with" << YAML::Value
      << "patchcore merge PARTS... --data-dir DIR --output OUT --pattern-name NAME";
    y << YAML::EndMap;
  } else {
    y << YAML::Key << "threshold" << YAML::Value << threshold_yaml(r.threshold);
  }
  if (!o.merge_parts.empty()) {
    y << YAML::Key << "merged_from_shards" << YAML::Value << YAML::BeginSeq;
    for (const auto& part : o.merge_parts) y << fs::absolute(part).string();
    y << YAML::EndSeq;
  }
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

// `train --from`: the new model starts as the parent: its image list and lineage; returns its bank.
torch::Tensor adopt_parent(const Parent& parent, Checkpoint& checkpoint, TrainReport& report) {
  checkpoint.training_images = parent.checkpoint.training_images;
  checkpoint.parent = Lineage{parent.dir.string(), parent.checkpoint_sha256,
                              static_cast<int64_t>(parent.checkpoint.training_images.size())};
  report.parent_images = checkpoint.parent->images;
  const torch::Tensor bank = parent.checkpoint.memory_bank.to(torch::kFloat).contiguous();
  log("adding images to " + parent.dir.string() + " (" + std::to_string(report.parent_images) + " images, " +
      std::to_string(bank.size(0)) + " bank rows)");
  return bank;
}

// Phase 1: the images to train on (ROI located and cropped) and those held out for the thresholds.
struct TrainingImages {
  RoiPlan roi;  // roi.images: the images whose ROI was found, less the held-out ones
  HeldOutImages held_out;
};

TrainingImages find_images(const TrainOptions& options, const Preprocessing& preprocessing, TrainReport& report) {
  TrainingImages t{plan_roi(options.roi, find_training_images(options.data_dir), preprocessing, log), {}};
  t.held_out = take_held_out(t.roi, split_holdout(t.roi.images.size(), options.holdout_fraction));
  report.num_held_out = static_cast<int64_t>(t.held_out.images.size());
  report.num_images = static_cast<int64_t>(t.roi.images.size());
  if (t.held_out.images.empty() && options.holdout_fraction > 0)
    log("note: too few images to hold out " + std::to_string(kMinHoldoutImages) + " of them at "
        "--holdout-fraction " + YAML::Dump(YAML::Node(options.holdout_fraction)) + "; the threshold is the highest "
        "training score (run `patchcore eval` on test images to choose a better one)");
  log("found " + std::to_string(t.roi.images.size() + t.held_out.images.size()) + " training images in " +
      options.data_dir.string() + (t.held_out.images.empty() ? "" : ", " + std::to_string(t.held_out.images.size()) +
                                   " of them held out of the memory bank to set the thresholds"));
  return t;
}

// Phase 2: the backbone, its weights recorded in the checkpoint.
// `inherited`: the parent's or the shards' checkpoint, whose weights are used whatever the
// cache holds now.
std::shared_ptr<const Backbone> load_backbone(const TrainOptions& options, const Checkpoint* inherited,
                                              Checkpoint& checkpoint, TrainReport& report) {
  const auto start = Clock::now();
  const ModelConfig& config = checkpoint.config;
  ResolvedWeights weights;
  if (inherited)
    weights = {inherited->backbone_weights, inherited->weights_source, inherited->weights_sha256};
  else
    weights = resolve_weights(config.backbone, options.weights);
  std::shared_ptr<const Backbone> backbone = create_backbone(config.backbone, config.layers, weights.weights);
  checkpoint.weights_source = weights.source;
  checkpoint.weights_sha256 = weights.sha256;
  checkpoint.backbone_weights = backbone->weights();
  report.load_weights_seconds = seconds_since(start);
  log("backbone " + config.backbone + " (" + weights.source + "), layers " + config.layers.front() +
      (config.layers.size() > 1 ? " .. " + config.layers.back() : ""));
  return backbone;
}

// The patch grid of one image, from a blank probe image through the backbone.
struct PatchGrid {
  int64_t channels, h, w;
  int64_t per_image() const { return h * w; }
};

PatchGrid probe_patch_grid(const Backbone& backbone, const Preprocessing& p) {
  const auto embedding = embed_batch(backbone, torch::zeros({1, 3, p.height, p.width}));
  return {embedding.size(1), embedding.size(2), embedding.size(3)};
}

void check_coreset_not_empty(int64_t images, double coreset_ratio, const PatchGrid& grid) {
  const int64_t patches = images * grid.per_image();
  if (static_cast<double>(patches) * coreset_ratio >= 1.0) return;
  const auto needed = static_cast<int64_t>(std::ceil(1.0 / (coreset_ratio * grid.per_image())));
  throw UserError("too few images for --coreset-ratio " + std::to_string(coreset_ratio) + ": " +
                  std::to_string(images) + " images give " + std::to_string(patches) +
                  " patches, so the coreset would be empty. Add images (at least " + std::to_string(needed) +
                  ") or raise --coreset-ratio to at least " + std::to_string(1.0 / static_cast<double>(patches)));
}

// glibc raises its mmap threshold to the largest block freed (up to 32 MiB), after which the
// batches' temporaries of a few MiB land in the heap, fragment it and keep it growing with
// every batch (measured: ~0.35 MB per image, 3.9 GB of heap by 8,500 wide_resnet50_2 images).
// A fixed threshold maps such blocks and returns them whole: the heap stays flat, at the same
// speed (bench/train_scale.sh).
void keep_large_blocks_out_of_the_heap() {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
#endif
}

// Returns the allocator's free memory to the system between phases.
void release_free_memory() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

// The plan that keeps the features and the projection within the memory cap. bank_rows: the
// final bank's; `scores`: the training images are scored against it (not by a shard).
TrainingMemoryPlan plan_memory(const Backbone& backbone, const PatchGrid& grid, int64_t projection_dims,
                               int64_t parent_rows, int64_t bank_rows, bool scores, const ModelConfig& config,
                               const TrainOptions& options, TrainReport& report) {
  TrainingShape shape;
  shape.patches = report.num_patches;
  shape.parent_rows = parent_rows;
  shape.channels = grid.channels;
  shape.projection_dims = projection_dims;
  shape.bank_rows = bank_rows;
  if (scores) {
    const int64_t support_bytes = bank_rows * std::min<int64_t>(config.num_neighbors, bank_rows) * 8;
    shape.scoring_bytes = search::index_memory_bytes(bank_rows, grid.channels, config.search) + support_bytes;
    if (!search::searches_exactly(config.search))  // the exact twin that measures it
      shape.scoring_bytes += search::index_memory_bytes(bank_rows, grid.channels, search::SearchOptions{});
  }
  shape.batch_rows = std::min<int64_t>(options.batch_size, std::max<int64_t>(report.num_images, 1)) * grid.per_image();
  for (const auto& [name, weight] : backbone.weights()) shape.backbone_bytes += weight.numel() * weight.element_size();
  report.memory_plan = plan_training_memory(shape, options.max_memory_bytes.value_or(default_memory_cap()));
  log(report.memory_plan.describe());
  return report.memory_plan;
}

// Phase 3: every training patch, one row each (image-major, then y, then x), and their random
// projection for the coreset selection when it subsamples.
struct TrainingPatches {
  PatchStore rows;          // [N, C]
  // [M + N, d]: the parent's bank rows (M, `train --from`), then the N patches; undefined
  // when every patch is kept. float32, or bfloat16 when the memory plan says so.
  torch::Tensor projected;
};

TrainingPatches extract_patches(const Backbone& backbone, const TrainingImages& images, const PatchGrid& grid,
                                int64_t projection_dims, const TrainingMemoryPlan& plan,
                                const torch::Tensor& parent_bank, const TrainOptions& options, Checkpoint& checkpoint,
                                TrainReport& report) {
  const auto start = Clock::now();
  const ModelConfig& config = checkpoint.config;
  // Allocated once and filled batch by batch (no concatenation copies).
  TrainingPatches patches{plan.features_on_disk ? PatchStore(report.num_patches, grid.channels, options.output_dir)
                                                : PatchStore(report.num_patches, grid.channels),
                          {}};
  std::optional<SparseRandomProjection> projection;
  const int64_t leading = parent_bank.defined() ? parent_bank.size(0) : 0;
  if (projection_dims) {
    projection.emplace(grid.channels, projection_dims, config.seed);
    patches.projected = torch::empty({leading + report.num_patches, projection_dims},
                                     plan.projection_bfloat16 ? torch::kBFloat16 : torch::kFloat);
    if (leading) patches.projected.narrow(0, 0, leading).copy_(projection->transform(parent_bank));
  }
  std::set<std::pair<int, int>> sizes;
  ProgressBar bar("extracting features", report.num_images, options.show_progress);
  for (int64_t first = 0; first < report.num_images; first += options.batch_size) {
    const int64_t count = std::min<int64_t>(options.batch_size, report.num_images - first);
    const std::vector<fs::path> paths(images.roi.images.begin() + first, images.roi.images.begin() + first + count);
    ImageBatch batch = load_image_batch(paths, config.preprocessing, images.roi.crops_for(first, count));
    for (size_t i = 0; i < paths.size(); ++i) {
      sizes.insert({batch.original_sizes[i].width, batch.original_sizes[i].height});
      checkpoint.training_images.push_back({paths[i].string(), sha256_file(paths[i])});
    }
    const auto rows = embedding_to_patches(embed_batch(backbone, batch.input));
    patches.rows.write(first * grid.per_image(), rows);
    if (projection)
      patches.projected.narrow(0, leading + first * grid.per_image(), rows.size(0)).copy_(projection->transform(rows));
    bar.update(first + count);
  }
  bar.finish();
  report.extract_seconds = seconds_since(start);
  report.distinct_image_sizes = static_cast<int64_t>(sizes.size());
  if (sizes.size() > 1)
    log("note: the training images come in " + std::to_string(sizes.size()) +
        " different sizes; all are resized to --image-size, which distorts their aspect ratio differently");
  return patches;
}

// Phase 4: the memory bank, a k-center-greedy coreset of the patches (or all of them). With a
// parent bank (`train --from`) the greedy continues from its rows, which stay in the bank.
torch::Tensor select_memory_bank(TrainingPatches& patches, const torch::Tensor& parent_bank, int64_t new_rows,
                                 const ModelConfig& config, bool show_progress, TrainReport& report) {
  const auto start = Clock::now();
  torch::Tensor selected_rows;
  if (!patches.projected.defined()) {
    selected_rows = patches.rows.read(0, patches.rows.rows());  // every patch (the plan kept them in RAM)
  } else {
    const int64_t leading = parent_bank.defined() ? parent_bank.size(0) : 0;
    std::vector<int64_t> initial(leading);
    std::iota(initial.begin(), initial.end(), 0);
    ProgressBar bar("selecting coreset", new_rows, show_progress);
    auto selected = k_center_greedy(patches.projected, new_rows, config.seed, bar.callback(), initial);
    bar.finish();
    patches.projected = torch::Tensor();
    for (auto& row : selected) row -= leading;  // rows of patches.rows
    selected_rows = patches.rows.gather(selected);
  }
  torch::Tensor bank = parent_bank.defined() ? torch::cat({parent_bank, selected_rows}) : selected_rows;
  report.bank_rows = bank.size(0);
  report.coreset_seconds = seconds_since(start);
  return bank;
}

// Phase 5: every training image scored against the final bank from its stored patches
// (no second backbone pass) for norm_stats.txt, batch by batch. `agreement`: also scored by the
// exact twin, for an approximate search's agreement with exact search.
NormStats score_training_images(const PatchModel& model, PatchStore& rows, const PatchGrid& grid,
                                const TrainOptions& options, TrainReport& report,
                                const PatchModel* exact = nullptr, SearchAgreement* agreement = nullptr) {
  NormStats stats;
  ProgressBar bar("scoring training set", report.num_images, options.show_progress);
  for (int64_t first = 0; first < report.num_images; first += options.batch_size) {
    const int64_t count = std::min<int64_t>(options.batch_size, report.num_images - first);
    const auto batch_rows = rows.read(first * grid.per_image(), count * grid.per_image());
    const auto patches = batch_rows.view({count, grid.per_image(), grid.channels});
    const auto result = model.score_patches(patches, grid.h, grid.w);
    if (agreement) agreement->add(result, exact->score_patches(patches, grid.h, grid.w));
    const NormStats batch = compute_norm_stats(result.image_scores, result.maps);
    stats = first == 0 ? batch : pooled_norm_stats(stats, batch);
    report.coverage_radius = std::max(report.coverage_radius, result.distances.max().item<double>());
    bar.update(first + count);
  }
  bar.finish();
  return stats;
}

// An approximate search's agreement with exact search: logged, and a warning below the bars.
void report_agreement(const SearchAgreement& a, TrainReport& report) {
  log(report.search_index + " against exact search on " + a.measured_on + ": recall@1 " +
      std::to_string(a.recall_at_1()) + ", largest error of a missed patch's score (relative to its image's highest) " +
      std::to_string(a.max_patch_error) + ", of image scores " + std::to_string(a.max_image_error));
  if (!a.meets_bars())
    log("warning: the approximate search misses exact search's results more than the bars allow (recall@1 >= " +
        std::to_string(SearchAgreement::kMinRecall) + ", image scores within " +
        std::to_string(SearchAgreement::kMaxImageError * 100) +
        "%); raise --shortlist-size or --shortlist-dims (or the FAISS search effort), or train with --search exact");
  report.search_agreement = a;
}

// Phase 6: the decision thresholds, from the held-out good images or the training scores.
void set_thresholds(const PatchModel& model, const HeldOutImages& held_out, const TrainOptions& options,
                    TrainReport& report, const PatchModel* exact = nullptr) {
  if (held_out.images.empty()) {
    report.threshold = {report.norm_stats.max_score, report.norm_stats.max_pixel, "max_training_score", {}};
  } else {
    log("holding out " + std::to_string(held_out.images.size()) + " good images (not in the memory bank) for the thresholds");
    SearchAgreement agreement;
    agreement.measured_on = std::to_string(held_out.images.size()) + " held-out good images";
    const HoldoutScores held_scores = score_held_out(model, held_out.images, held_out.crops, options.batch_size,
                                                     options.show_progress, exact, exact ? &agreement : nullptr);
    if (exact) report_agreement(agreement, report);
    report.threshold =
        holdout_threshold(held_scores, report.norm_stats, options.holdout_fraction, options.threshold_sigmas);
  }
  report.norm_stats.image_threshold = report.threshold.image;
  report.norm_stats.pixel_threshold = report.threshold.pixel;
}

// Phase 7: the model folder, staged and committed at once (nothing half-written on failure).
void write_model_folder(const TrainOptions& options, const Checkpoint& checkpoint, const PatchModel& model,
                        const RoiPlan& roi, const std::chrono::steady_clock::time_point start, TrainReport& report) {
  auto phase = Clock::now();
  report.model_dir = options.output_dir / options.pattern_name;
  StagedFolder folder(report.model_dir);
  save_checkpoint(folder.path() / ModelFolder::kCheckpoint, checkpoint);
  write_roi_report(roi, folder.path());
  write_file_atomically(folder.path() / ModelFolder::kNormStats, format_norm_stats(report.norm_stats));
  report.write_seconds = seconds_since(phase);
  if (options.export_model) {
    phase = Clock::now();
    log("exporting " + options.pattern_name + ".onnx and " + options.pattern_name + ".xml/.bin");
    export_model(model, checkpoint.roi, report.norm_stats, folder.path(), options.pattern_name, ExportFormats::kAll,
                 /*fp16=*/false);
    report.export_seconds = seconds_since(phase);
  }
  report.total_seconds = seconds_since(start);
  write_file_atomically(folder.path() / ModelFolder::kConfig, write_config_yaml(options, checkpoint, report));
  write_manifest(folder.path());
  throw_if_interrupted();  // a stop requested during the last phases: the old model stays
  folder.commit();
}

// `train --shard`: the partial model (its slice's coreset, no scores), staged and committed at once.
void write_shard_folder(const TrainOptions& options, const Checkpoint& checkpoint,
                        const std::chrono::steady_clock::time_point start, TrainReport& report) {
  const auto phase = Clock::now();
  report.model_dir = shard_folder(options.output_dir, options.pattern_name, *options.shard);
  StagedFolder folder(report.model_dir);
  save_checkpoint(folder.path() / ModelFolder::kCheckpoint, checkpoint);
  report.write_seconds = seconds_since(phase);
  report.total_seconds = seconds_since(start);
  write_file_atomically(folder.path() / ModelFolder::kConfig, write_config_yaml(options, checkpoint, report));
  write_manifest(folder.path());
  throw_if_interrupted();
  folder.commit();
}

// Shard `spec` keeps its slice of the training images (the held-out ones are already out:
// every shard and the merge split the full list the same way).
void keep_shard_slice(const ShardSpec& spec, TrainingImages& images, TrainReport& report) {
  const size_t all = images.roi.images.size();
  const ImageSlice slice = shard_slice(all, spec);
  if (slice.begin == slice.end)
    throw UserError("--shard " + std::to_string(spec.index) + "/" + std::to_string(spec.count) + ": only " +
                    std::to_string(all) + " training images, fewer than shards; use fewer shards");
  images.roi.images = std::vector<fs::path>(images.roi.images.begin() + static_cast<std::ptrdiff_t>(slice.begin),
                                            images.roi.images.begin() + static_cast<std::ptrdiff_t>(slice.end));
  report.num_images = static_cast<int64_t>(images.roi.images.size());
  log("shard " + std::to_string(spec.index) + "/" + std::to_string(spec.count) + ": training images " +
      std::to_string(slice.begin + 1) + ".." + std::to_string(slice.end) + " of " + std::to_string(all));
}

}  // namespace

TrainReport train(const TrainOptions& given) {
  const auto start = Clock::now();
  validate(given);
  keep_large_blocks_out_of_the_heap();
  const std::optional<Parent> parent = load_parent(given);
  std::optional<ShardParts> parts =
      given.merge_parts.empty() ? std::nullopt : std::optional<ShardParts>(load_shard_parts(given.merge_parts));
  TrainOptions options = given;
  if (parts) options.holdout_fraction = parts->record().holdout_fraction;  // the shards' split of the images
  const Checkpoint* inherited = parent ? &parent->checkpoint : parts ? &parts->checkpoints.front() : nullptr;
  TrainReport report;
  Checkpoint checkpoint;
  ModelConfig& config = checkpoint.config;
  config = inherited ? inherited->config : options.model;
  const BackboneInfo& info = backbone_info(config.backbone);
  if (config.layers.empty()) config.layers = info.default_layers;
  config.preprocessing.scaling = info.scaling;
  const torch::Tensor parent_bank = parent ? adopt_parent(*parent, checkpoint, report) : torch::Tensor();

  TrainingImages images = find_images(options, config.preprocessing, report);
  const int64_t all_images = report.num_images;  // of every shard together
  if (options.shard) keep_shard_slice(*options.shard, images, report);
  if (parts) check_images_match_shards(*parts, images.roi.images);
  checkpoint.roi = images.roi.locator;
  const std::shared_ptr<const Backbone> backbone = load_backbone(options, inherited, checkpoint, report);

  c10::InferenceMode guard;
  const PatchGrid grid = probe_patch_grid(*backbone, config.preprocessing);
  report.num_patches = report.num_images * grid.per_image();
  report.parent_patches = report.parent_images * grid.per_image();
  report.feature_dim = grid.channels;
  if (parent && parent_bank.size(1) != grid.channels)
    throw UserError("--from " + parent->dir.string() + ": its memory bank has " + std::to_string(parent_bank.size(1)) +
                    " channels, its backbone gives " + std::to_string(grid.channels) + "; the model is damaged");
  if (!parent) check_coreset_not_empty(all_images, config.coreset_ratio, grid);
  // The bank size the ratio gives for all images together (a shard's: all shards'); a parent's rows all stay.
  const int64_t all_patches = all_images * grid.per_image() + report.parent_patches;
  const int64_t bank_size = coreset_size(all_patches, config.coreset_ratio);
  const int64_t parent_rows = parent ? parent_bank.size(0) : 0;
  const int64_t new_rows = std::clamp<int64_t>(bank_size - parent_rows, 0, report.num_patches);
  // The random projection the coreset is selected on, when it subsamples (a merge selects from
  // the shards' banks instead: the features are only scored).
  const int64_t projection_dims =
      !parts && new_rows < report.num_patches ? johnson_lindenstrauss_min_dim(all_patches, 0.9) : 0;
  if (options.shard)
    checkpoint.shard = ShardRecord{options.shard->index, options.shard->count, all_images, all_patches,
                                   options.holdout_fraction};
  if (parts) {
    const auto phase = Clock::now();
    ProgressBar bar("merging shard banks", bank_size, options.show_progress);
    checkpoint.memory_bank = merge_shard_banks(*parts, bar.callback());
    bar.finish();
    report.bank_rows = checkpoint.memory_bank.size(0);
    report.coreset_seconds = seconds_since(phase);
    log("merged the " + std::to_string(parts->checkpoints.size()) + " shards' banks into " +
        std::to_string(report.bank_rows) + " rows; scoring every training image against it");
  }
  const int64_t final_bank_rows = parts ? report.bank_rows : parent_rows + new_rows;
  const TrainingMemoryPlan plan = plan_memory(*backbone, grid, projection_dims, parent_rows, final_bank_rows,
                                              !options.shard, config, options, report);
  if (plan.features_on_disk) fs::create_directories(options.output_dir);
  TrainingPatches patches = extract_patches(*backbone, images, grid, projection_dims, plan, parent_bank, options,
                                            checkpoint, report);
  release_free_memory();
  if (!parts)
    checkpoint.memory_bank = select_memory_bank(patches, parent_bank, new_rows, config, options.show_progress, report);
  release_free_memory();
  if (options.shard) {
    write_shard_folder(options, checkpoint, start, report);
    return report;
  }

  // The support table of num_neighbors re-weighting, by exact search whatever backend
  // scores patches; the shortlist's projection, from the final bank.
  auto phase = Clock::now();
  if (config.num_neighbors > 1)
    checkpoint.support =
        support_table(search::ExactIndex(checkpoint.memory_bank), checkpoint.memory_bank, config.num_neighbors);
  if (config.search.mode == search::SearchMode::kShortlist) {
    const int64_t dims = search::shortlist_dims_for(config.search, grid.channels);
    if (config.search.shortlist_dims > grid.channels)
      log("--shortlist-dims " + std::to_string(config.search.shortlist_dims) + " exceeds the " +
          std::to_string(grid.channels) + " feature channels: the shortlist uses " + std::to_string(dims));
    checkpoint.shortlist = search::fit_shortlist_projection(checkpoint.memory_bank, dims);
    config.search.shortlist_dims = static_cast<int>(dims);  // the checkpoint and config.yaml state the d in use
  }
  report.support_seconds = seconds_since(phase);

  phase = Clock::now();
  const PatchModel model(config, backbone, checkpoint.memory_bank, checkpoint.support, checkpoint.shortlist);
  report.search_index = model.index().describe();
  log("nearest-neighbour search: " + report.search_index);
  // An approximate search is measured against the same model searching exactly: on the
  // held-out images when there are some (set_thresholds), else on the training images.
  const std::optional<PatchModel> exact =
      model.index().exact() ? std::nullopt : std::optional<PatchModel>(exact_twin(model));
  SearchAgreement on_training;
  on_training.measured_on =
      std::to_string(report.num_images) + " training images (optimistic: their own patches may be bank rows)";
  const bool measure_on_training = exact && images.held_out.images.empty();
  report.norm_stats = score_training_images(model, patches.rows, grid, options, report, exact ? &*exact : nullptr,
                                            measure_on_training ? &on_training : nullptr);
  if (measure_on_training) report_agreement(on_training, report);
  patches = {};
  if (parent) {
    // The parent's images are not scored again (they may be gone): their statistics, against
    // the smaller bank they were trained with, are pooled with the new images' ones.
    report.norm_stats = pooled_norm_stats(parent->stats, report.norm_stats);
    log("training statistics: the " + std::to_string(report.parent_images) +
        " parent images' (as the parent recorded them) pooled with the new images'");
  }
  set_thresholds(model, images.held_out, options, report, exact ? &*exact : nullptr);
  report.score_seconds = seconds_since(phase);

  write_model_folder(options, checkpoint, model, images.roi, start, report);
  return report;
}

}  // namespace patchcore

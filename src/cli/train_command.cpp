#include <cstdio>
#include <iostream>

#include <ATen/Parallel.h>

#include "backbone/backbone.h"
#include "cli/commands.h"
#include "cli/roi_options.h"
#include "cli/threads.h"
#include "io/error.h"
#include "io/interrupt.h"
#include "io/text.h"
#include "pipeline/trainer.h"

namespace patchcore::cli {

Command add_train_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train a model from a folder of good images");
  auto options = std::make_shared<TrainOptions>();
  auto image_size = std::make_shared<std::vector<int>>(std::vector<int>{224, 224});
  auto faiss = std::make_shared<int>(-1);
  auto faiss_index = std::make_shared<std::string>("flat");
  auto threads = std::make_shared<int>(0);
  auto quiet = std::make_shared<bool>(false);

  std::vector<std::string> names;
  for (const auto& b : supported_backbones()) names.push_back(b.name);
  const std::string backbones = join(names);

  cmd->add_option("--data-dir", options->data_dir,
                  "Folder of good images (directly inside, or in good/ or train/good/)")
      ->required();
  cmd->add_option("--output", options->output_dir, "Output folder; the model goes to OUTPUT/PATTERN")->required();
  cmd->add_option("--pattern-name", options->pattern_name, "Name of the inspection pattern (model folder name)")
      ->required();
  options->model.coreset_ratio = 0.001;
  std::vector<CLI::Option*> model_settings;  // taken from the parent model with --from
  model_settings.push_back(
      cmd->add_option("--coreset-ratio", options->model.coreset_ratio, "Fraction of patches kept in the memory bank")
          ->capture_default_str());
  auto* use_faiss = cmd->add_flag("--use-faiss{1},--no-use-faiss{0}", *faiss,
                "Nearest-neighbour search with FAISS (--faiss-index) or the native exact SIMD kernel. "
                "Default: auto = the native kernel, measured faster than FAISS Flat at every bank size");
  auto& search = options->model.search;
  std::vector<CLI::Option*> faiss_options{
      cmd->add_option("--faiss-index", *faiss_index,
                      "FAISS index with --use-faiss: flat (exact), hnsw or ivf (approximate; recall@1 is measured "
                      "on the training images and reported)")
          ->capture_default_str(),
      cmd->add_option("--faiss-hnsw-m", search.hnsw_m, "HNSW graph degree")->capture_default_str(),
      cmd->add_option("--faiss-ef-construction", search.hnsw_ef_construction, "HNSW efConstruction")
          ->capture_default_str(),
      cmd->add_option("--faiss-ef-search", search.hnsw_ef_search, "HNSW efSearch")->capture_default_str(),
      cmd->add_option("--faiss-nlist", search.ivf_nlist, "IVF lists (0 = about 4 sqrt(bank rows))")
          ->capture_default_str(),
      cmd->add_option("--faiss-nprobe", search.ivf_nprobe, "IVF lists searched per query")->capture_default_str()};
  auto search_mode = std::make_shared<std::string>("exact");
  std::vector<CLI::Option*> shortlist_options{
      cmd->add_option("--shortlist-dims", search.shortlist_dims,
                      "With --search shortlist: dimensions of the PCA-reduced bank the shortlist is picked in (0 = "
                      "min(128, feature channels / 6): 64 for resnet18, 128 for wide_resnet50_2)")
          ->capture_default_str(),
      cmd->add_option("--shortlist-size", search.shortlist_size,
                      "With --search shortlist: bank rows per patch whose exact distance is computed")
          ->capture_default_str()};
  model_settings.push_back(
      cmd->add_option("--search", *search_mode,
                      "exact: every bank row; shortlist: the --shortlist-size nearest rows in a PCA-reduced space, "
                      "re-ranked exactly (faster in exported models for large banks; its agreement with exact search "
                      "is measured at training and reported; docs/export.md)")
          ->capture_default_str());
  model_settings.insert(model_settings.end(), shortlist_options.begin(), shortlist_options.end());
  options->model.backbone = "wide_resnet50_2";
  model_settings.push_back(
      cmd->add_option("--backbone", options->model.backbone, "Backbone: " + backbones)->capture_default_str());
  model_settings.push_back(
      cmd->add_option("--layers", options->model.layers,
                      "Backbone layers to use (default: layer2 layer3 for ResNets, conv_pw_5_relu conv_pw_11_relu "
                      "for mobilenet_v1_0.75)"));
  model_settings.push_back(
      cmd->add_option("--image-size", *image_size, "Model input size H W")->expected(2)->capture_default_str());
  cmd->add_option("--batch-size", options->batch_size, "Images per backbone pass")->capture_default_str();
  model_settings.push_back(
      cmd->add_option("--num-neighbors", options->model.num_neighbors, "Neighbours for the image-score re-weighting")
          ->capture_default_str());
  model_settings.push_back(
      cmd->add_option("--weights", options->weights,
                      "Backbone weights: FILE (safetensors) or DIR (TF.js), or random:SEED for a smoke test. "
                      "Default: the cache ($PATCHCORE_HOME or ~/.cache/patchcore), else download"));
  model_settings.push_back(
      cmd->add_option("--seed", options->model.seed, "Seed of the coreset selection")->capture_default_str());
  model_settings.push_back(use_faiss);
  model_settings.insert(model_settings.end(), faiss_options.begin(), faiss_options.end());
  cmd->add_option("--from", options->parent_model,
                  "Add the images of --data-dir to this model folder (OUTPUT/PATTERN of an earlier train): its "
                  "settings and weights are kept, the coreset continues from its memory bank, and the result is "
                  "written to OUTPUT/PATTERN (which may be the same folder)");
  cmd->add_option("--threads", *threads, "CPU threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--holdout-fraction", options->holdout_fraction,
                  "Fraction of the good images kept out of the memory bank and scored against it to set the "
                  "image and pixel thresholds (needs at least 5 such images; 0 = threshold at the highest "
                  "training score)")
      ->capture_default_str();
  cmd->add_option("--threshold-sigmas", options->threshold_sigmas,
                  "Threshold = max(highest training score, mean + SIGMAS * std of the held-out scores)")
      ->capture_default_str();
  auto max_memory = std::make_shared<std::string>();
  cmd->add_option("--max-memory", *max_memory,
                  "Memory cap of training, e.g. 8G: past it the patch features go to a temporary file in --output "
                  "and the coreset's projection to bfloat16; the log states the plan (default: 80% of the "
                  "machine's or the container's memory)");
  auto shard = std::make_shared<std::string>();
  cmd->add_option("--shard", *shard,
                  "I/N: train on slice I (0-based) of the sorted training images and write the partial model "
                  "OUTPUT/PATTERN.shard-I-of-N; combine the N shards with `patchcore merge` (docs/scaling.md)");
  cmd->add_flag("--quiet", *quiet, "No progress bars");
  const auto apply_roi_options = add_roi_options(cmd, options->roi);

  return {cmd, [=]() {
    stop_on_interrupt();  // Ctrl-C: a clean stop at the next progress report, nothing left behind
    set_thread_count(*threads);
    options->model.preprocessing.height = (*image_size)[0];
    options->model.preprocessing.width = (*image_size)[1];
    if (*faiss >= 0) options->model.search.backend = *faiss == 1 ? search::Backend::kFaiss : search::Backend::kNative;
    options->model.search.faiss_index = search::faiss_index_from_string(*faiss_index);
    for (const auto* option : faiss_options)
      if (option->count() > 0 && options->model.search.backend != search::Backend::kFaiss)
        throw UserError(option->get_name() + " configures FAISS: add --use-faiss");
    options->model.search.mode = search::search_mode_from_string(*search_mode);
    for (const auto* option : shortlist_options)
      if (option->count() > 0 && options->model.search.mode != search::SearchMode::kShortlist)
        throw UserError(option->get_name() + " configures the shortlist search: add --search shortlist");
    if (!options->parent_model.empty())
      for (const auto* option : model_settings)
        if (option->count() > 0)
          throw UserError(option->get_name() + " cannot be combined with --from: the model keeps the settings it "
                          "was trained with (train a new model to change them)");
    if (!max_memory->empty()) options->max_memory_bytes = parse_memory_size(*max_memory);
    if (!shard->empty()) options->shard = parse_shard_spec(*shard);
    options->show_progress = !*quiet;
    apply_roi_options();
    const TrainReport r = train(*options);
    if (options->shard) {
      std::printf("\nTrained shard %d/%d: %s\n", options->shard->index, options->shard->count,
                  r.model_dir.string().c_str());
      std::printf("  images            %lld (%lld patches)\n", static_cast<long long>(r.num_images),
                  static_cast<long long>(r.num_patches));
      std::printf("  partial bank      %lld rows\n", static_cast<long long>(r.bank_rows));
      std::printf("  next              patchcore merge %s ... (all %d shards) --data-dir %s --output %s "
                  "--pattern-name %s\n",
                  r.model_dir.string().c_str(), options->shard->count, options->data_dir.string().c_str(),
                  options->output_dir.string().c_str(), options->pattern_name.c_str());
      return 0;
    }
    print_training_summary(r, options->parent_model);
    return 0;
  }};
}

void print_training_summary(const TrainReport& r, const std::filesystem::path& parent_model) {
  std::printf("\nTrained %s\n", r.model_dir.string().c_str());
  std::printf("  images            %lld (%lld patches of %lld features)\n", static_cast<long long>(r.num_images),
              static_cast<long long>(r.num_patches), static_cast<long long>(r.feature_dim));
  if (r.parent_images)
    std::printf("  added to          %s (%lld images)\n", parent_model.string().c_str(),
                static_cast<long long>(r.parent_images));
  std::printf("  memory bank       %lld rows\n", static_cast<long long>(r.bank_rows));
  std::printf("  coverage radius   %.4f (largest distance of a training patch to the bank)\n", r.coverage_radius);
  std::printf("  search            %s\n", r.search_index.c_str());
  if (const auto& a = r.search_agreement)
    std::printf("  vs exact search   recall@1 %.4f, largest relative error: patch scores %.4f, image scores %.4f "
                "(on %s)%s\n",
                a->recall_at_1(), a->max_patch_error, a->max_image_error, a->measured_on.c_str(),
                a->meets_bars() ? "" : "  BELOW THE BARS: see the warning above");
  std::printf("  training scores   max %.4f  mean %.4f  std %.4f\n", r.norm_stats.max_score,
              r.norm_stats.mean_score, r.norm_stats.std_score);
  std::printf("  threshold         image %.4f  pixel %.4f  (%s%s)\n", r.threshold.image,
              r.threshold.pixel.value_or(r.norm_stats.max_pixel), r.threshold.method.c_str(),
              r.num_held_out ? (", " + std::to_string(r.num_held_out) + " held-out good images").c_str() : "");
  if (const YAML::Node held = r.threshold.details["image_scores"])
    std::printf("  held-out alarms   %lld of %lld held-out good images above the threshold, %lld above the highest "
                "training score (the rule without hold-out)\n",
                static_cast<long long>(held["above_threshold"].as<int64_t>()), static_cast<long long>(r.num_held_out),
                static_cast<long long>(held["above_highest_training_value"].as<int64_t>()));
  std::printf("  time              %.1fs total: weights %.1fs, features %.1fs, coreset %.1fs, scoring %.1fs, "
              "writing %.1fs, export %.1fs\n",
              r.total_seconds, r.load_weights_seconds, r.extract_seconds, r.coreset_seconds, r.score_seconds,
              r.write_seconds, r.export_seconds);
}

}  // namespace patchcore::cli

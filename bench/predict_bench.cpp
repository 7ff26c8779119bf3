// Native prediction latency through the public API (patchcore::Model), without the
// CLI's file I/O. Reference in the same process: the backbone + embedding alone,
// so `Predict / BackboneOnly` is the cost share of the PatchCore head (nearest
// neighbours, image score, blur) at each memory-bank size.
//
//   ./build/bench/predict_bench --benchmark_min_time=2
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <c10/core/InferenceMode.h>
#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <map>
#include <memory>

#include "backbone/backbone.h"
#include "backbone/random_weights.h"
#include "data/preprocess.h"
#include "patchcore/model.h"
#include "head/embedding.h"
#include "head/scorer.h"
#include "pipeline/checkpoint.h"
#include "pipeline/demo_dataset.h"
#include "pipeline/image_batch.h"
#include "pipeline/model_folder.h"
#include "pipeline/patch_model.h"
#include "pipeline/trainer.h"
#include "search/exact_index.h"
#include "search/pruned_index.h"

namespace {

namespace fs = std::filesystem;

const fs::path kWork = fs::temp_directory_path() / "patchcore-predict-bench";

const char* const kNets[] = {"resnet18", "wide_resnet50_2", "mobilenet_v1_0.75"};

// Generated images (784 patches each at 224x224): enough that a coreset ratio of at
// most 0.85 gives `rows` bank rows.
int64_t images_for(int64_t rows) { return std::max<int64_t>(40, (rows * 100 + 85 * 784 - 1) / (85 * 784)); }

fs::path data_dir(int64_t rows) { return kWork / ("data-" + std::to_string(images_for(rows))); }

std::string model_name(const std::string& backbone, int64_t rows) { return backbone + "-bank" + std::to_string(rows); }

// A model (random weights, 224x224) with a bank of `rows` rows, trained on the first use
// and kept under kWork (delete that folder to retrain: the 100k-row banks take minutes).
const patchcore::Model& model_with_bank(const std::string& backbone, int64_t rows) {
  static std::map<std::string, std::unique_ptr<patchcore::Model>> models;
  const std::string name = model_name(backbone, rows);
  auto& slot = models[name];
  if (!slot) {
    const fs::path data = data_dir(rows), folder = kWork / "models" / name;
    if (!fs::exists(data)) {
      patchcore::DemoDatasetOptions d;
      d.train_images = static_cast<int>(images_for(rows));
      patchcore::write_demo_dataset(data, d);
    }
    if (!fs::exists(folder / patchcore::ModelFolder::kCheckpoint)) {
      patchcore::TrainOptions o;
      o.data_dir = data;
      o.output_dir = kWork / "models";
      o.pattern_name = name;
      o.model.backbone = backbone;
      o.model.coreset_ratio = static_cast<double>(rows) / static_cast<double>(images_for(rows) * 784) + 1e-9;
      o.weights = "random:0";
      o.show_progress = false;
      o.export_model = false;
      o.holdout_fraction = 0;  // every image in the bank: the bank has `rows` rows
      patchcore::train(o);
    }
    slot = std::make_unique<patchcore::Model>(patchcore::Model::load(folder));
  }
  return *slot;
}

cv::Mat test_image() { return cv::imread((data_dir(1000) / "test/scratch/000.png").string()); }

// Model::predict of one image; args: backbone (index into kNets), bank rows.
void BM_Predict(benchmark::State& state) {
  at::set_num_threads(2);
  const auto& model = model_with_bank(kNets[state.range(0)], state.range(1));
  const cv::Mat image = test_image();
  for (auto _ : state) benchmark::DoNotOptimize(model.predict(image).score);
  state.counters["bank_rows"] = static_cast<double>(model.summary().memory_bank_rows);
}
BENCHMARK(BM_Predict)
    ->ArgsProduct({{0, 1}, {1000, 10000, 100000}})
    ->ArgNames({"net", "bank"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_BackboneOnly(benchmark::State& state) {
  at::set_num_threads(2);
  model_with_bank("resnet18", 1000);  // makes the data
  auto weights = patchcore::random_weights("resnet18", 0);
  auto backbone = patchcore::create_backbone("resnet18", {"layer2", "layer3"}, weights);
  patchcore::Preprocessing spec;
  auto input = patchcore::preprocess(test_image(), spec).unsqueeze(0);
  for (auto _ : state) benchmark::DoNotOptimize(patchcore::embed_batch(*backbone, input));
}
BENCHMARK(BM_BackboneOnly)->Unit(benchmark::kMillisecond)->UseRealTime();

// The backbone alone (random weights, 224x224) per backbone and batch size: batch 1 is
// prediction, batch 32 training (--batch-size default).
void BM_Backbone(benchmark::State& state) {
  at::set_num_threads(2);
  const std::string name = kNets[state.range(0)];
  const auto& info = patchcore::backbone_info(name);
  auto backbone = patchcore::create_backbone(name, info.default_layers, patchcore::random_weights(name, 0));
  auto gen = at::detail::createCPUGenerator(0);
  const auto input = at::normal(0.0, 1.0, {state.range(1), 3, 224, 224}, gen);
  for (auto _ : state) benchmark::DoNotOptimize(backbone->extract(input));
  state.SetLabel(name);
}
BENCHMARK(BM_Backbone)
    ->ArgsProduct({{0, 1, 2}, {1, 32}})
    ->ArgNames({"net", "batch"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// One stage of Model::predict at a time, on the bank of state.range(0) rows: where
// the time goes. Stage 0 pre-processing, 1 backbone, 2 embedding (pool, upsample,
// concat), 3 nearest bank rows, 4 image score, 5 anomaly map (upsample + blur).
void BM_Stage(benchmark::State& state) {
  at::set_num_threads(2);
  c10::InferenceMode guard;
  const int64_t rows = state.range(0);
  model_with_bank("resnet18", rows);
  const auto dir = kWork / "models" / model_name("resnet18", rows);
  auto checkpoint = patchcore::load_checkpoint(dir / patchcore::ModelFolder::kCheckpoint);
  auto backbone = std::shared_ptr<const patchcore::Backbone>(patchcore::create_backbone(
      checkpoint.config.backbone, checkpoint.config.layers, checkpoint.backbone_weights));
  patchcore::PatchModel model(checkpoint.config, backbone, checkpoint.memory_bank, checkpoint.support);
  const auto& spec = checkpoint.config.preprocessing;
  const std::vector<cv::Mat> images{test_image()};
  const auto input = patchcore::preprocess_batch(images, spec);
  const auto maps = backbone->extract(input);
  const auto embedding = patchcore::build_embedding(maps);
  const int64_t h = embedding.size(2), w = embedding.size(3);
  const auto patches = embedding.permute({0, 2, 3, 1}).reshape({1, h * w, embedding.size(1)});
  const auto nearest = patchcore::nearest_patch_scores(patches, model.index());
  const auto grid = nearest.distances.reshape({1, 1, h, w});
  const auto run = [&](int64_t stage) {
    switch (stage) {
      case 0: return patchcore::preprocess_batch(images, spec);
      case 1: return backbone->extract(input).back();
      case 2: return patchcore::build_embedding(maps);
      case 3: return patchcore::nearest_patch_scores(patches, model.index()).distances;
      case 4:
        return patchcore::image_scores(nearest, patches, model.memory_bank(), model.support(),
                                       model.config().num_neighbors);
      default: return patchcore::anomaly_maps(grid, spec.height, spec.width);
    }
  };
  for (auto _ : state) benchmark::DoNotOptimize(run(state.range(1)));
}
BENCHMARK(BM_Stage)
    ->ArgsProduct({{1000, 10000}, {0, 1, 2, 3, 4, 5}})
    ->ArgNames({"bank", "stage"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The nearest-row search alone, plain exact (index 0) vs pruned (index 1), on the 784
// patches of a good test image (image 0) or of the scratched one (image 1): the
// crossover bank size of the two, and how much of the bank the pruned search visits
// (counter `visited`, a fraction of patches x bank rows).
void BM_Search(benchmark::State& state) {
  at::set_num_threads(2);
  c10::InferenceMode guard;
  const std::string net = kNets[state.range(0)];
  const int64_t rows = state.range(1);
  model_with_bank(net, rows);
  auto checkpoint =
      patchcore::load_checkpoint(kWork / "models" / model_name(net, rows) / patchcore::ModelFolder::kCheckpoint);
  auto backbone = patchcore::create_backbone(checkpoint.config.backbone, checkpoint.config.layers,
                                             checkpoint.backbone_weights);
  const auto path = data_dir(1000) / (state.range(3) == 0 ? "test/good/000.png" : "test/scratch/000.png");
  const std::vector<cv::Mat> images{cv::imread(path.string())};
  const auto embedding =
      patchcore::build_embedding(backbone->extract(patchcore::preprocess_batch(images, checkpoint.config.preprocessing)));
  const auto patches = embedding.permute({0, 2, 3, 1}).reshape({-1, embedding.size(1)}).contiguous();
  const int64_t count = patches.size(0);
  std::vector<float> distances(count);
  std::vector<int64_t> indices(count);
  int64_t visits = count * rows;
  if (state.range(2) == 0) {
    const patchcore::search::ExactIndex index(checkpoint.memory_bank);
    for (auto _ : state) index.nearest(patches.data_ptr<float>(), count, distances.data(), indices.data());
  } else {
    const patchcore::search::PrunedIndex index(checkpoint.memory_bank);
    for (auto _ : state) index.nearest(patches.data_ptr<float>(), count, distances.data(), indices.data(), &visits);
  }
  state.counters["visited"] = static_cast<double>(visits) / static_cast<double>(count * rows);
}
BENCHMARK(BM_Search)
    ->ArgsProduct({{0, 1}, {1000, 10000, 100000}, {0, 1}, {0, 1}})
    ->ArgNames({"net", "bank", "index", "image"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Search)  // the crossover, resnet18 only (small models train in seconds)
    ->ArgsProduct({{0}, {250, 500, 2000, 4000}, {0, 1}, {0, 1}})
    ->ArgNames({"net", "bank", "index", "image"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Building the pruned search's clusters (k-means), once per model load.
void BM_BuildPrunedIndex(benchmark::State& state) {
  at::set_num_threads(2);
  const std::string net = kNets[state.range(0)];
  model_with_bank(net, state.range(1));
  const auto bank = patchcore::load_checkpoint(kWork / "models" / model_name(net, state.range(1)) /
                                               patchcore::ModelFolder::kCheckpoint)
                        .memory_bank;
  for (auto _ : state) benchmark::DoNotOptimize(patchcore::search::PrunedIndex(bank).clusters());
}
BENCHMARK(BM_BuildPrunedIndex)
    ->ArgsProduct({{0, 1}, {10000, 100000}})
    ->ArgNames({"net", "bank"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();

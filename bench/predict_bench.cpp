// Native prediction latency through the public API (patchcore::Model), without the
// CLI's file I/O. Reference in the same process: the backbone + embedding alone,
// so `Predict / BackboneOnly` is the cost share of the PatchCore head (nearest
// neighbours, image score, blur) at each memory-bank size.
//
//   ./build/bench/predict_bench --benchmark_min_time=2
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <c10/core/InferenceMode.h>
#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <map>
#include <memory>

#include "backbone/backbone.h"
#include "data/preprocess.h"
#include "patchcore/model.h"
#include "pipeline/demo_dataset.h"
#include "pipeline/patch_model.h"
#include "pipeline/trainer.h"

namespace {

namespace fs = std::filesystem;

const fs::path kWork = fs::temp_directory_path() / "patchcore-predict-bench";

// resnet18 (random weights) at 224x224 on 40 generated images = 31360 patches;
// the coreset ratio picks the bank size.
const patchcore::Model& model_with_bank(int64_t rows) {
  static std::map<int64_t, std::unique_ptr<patchcore::Model>> models;
  auto& slot = models[rows];
  if (!slot) {
    if (!fs::exists(kWork / "data")) {
      patchcore::DemoDatasetOptions d;
      d.train_images = 40;
      patchcore::write_demo_dataset(kWork / "data", d);
    }
    patchcore::TrainOptions o;
    o.data_dir = kWork / "data";
    o.output_dir = kWork / "models";
    o.pattern_name = "bank" + std::to_string(rows);
    o.model.backbone = "resnet18";
    o.model.coreset_ratio = static_cast<double>(rows) / 31360.0 + 1e-9;
    o.weights = "random:0";
    o.show_progress = false;
    o.export_model = false;
    patchcore::train(o);
    slot = std::make_unique<patchcore::Model>(patchcore::Model::load(kWork / "models" / o.pattern_name));
  }
  return *slot;
}

cv::Mat test_image() { return cv::imread((kWork / "data/test/scratch/000.png").string()); }

void BM_Predict(benchmark::State& state) {
  at::set_num_threads(2);
  const auto& model = model_with_bank(state.range(0));
  const cv::Mat image = test_image();
  for (auto _ : state) benchmark::DoNotOptimize(model.predict(image).score);
  state.counters["bank_rows"] = static_cast<double>(model.summary().memory_bank_rows);
}
BENCHMARK(BM_Predict)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_BackboneOnly(benchmark::State& state) {
  at::set_num_threads(2);
  model_with_bank(1000);  // makes the data
  auto weights = patchcore::random_weights("resnet18", 0);
  auto backbone = patchcore::create_backbone("resnet18", {"layer2", "layer3"}, weights);
  patchcore::Preprocessing spec;
  auto input = patchcore::preprocess(test_image(), spec).unsqueeze(0);
  for (auto _ : state) benchmark::DoNotOptimize(patchcore::embed_batch(*backbone, input));
}
BENCHMARK(BM_BackboneOnly)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();

#pragma once
// Small helpers for pipeline tests: a generated data set and a fast training setup.
#include <filesystem>

#include "export/export_test_support.h"
#include "pipeline/demo_dataset.h"
#include "pipeline/patch_model.h"
#include "pipeline/trainer.h"
#include "test_support.h"

namespace patchcore::testing {

// resnet18 with seeded random weights at 64x64: trains in about a second.
inline TrainOptions fast_train_options(const std::filesystem::path& data, const std::filesystem::path& out) {
  TrainOptions o;
  o.data_dir = data;
  o.output_dir = out;
  o.pattern_name = "wire";
  o.model.backbone = "resnet18";
  o.model.preprocessing.height = 64;
  o.model.preprocessing.width = 64;
  o.model.coreset_ratio = 0.25;
  o.batch_size = 4;
  o.weights = "random:3";
  o.show_progress = false;
  o.export_model = false;  // export has its own tests; the CLI test covers train + export
  return o;
}

inline DemoDatasetOptions small_demo_data() {
  DemoDatasetOptions d;
  d.train_images = 10;
  d.test_good = 3;
  d.test_per_defect = 2;
  d.size = 96;
  return d;
}

// 20 demo images in `dir`/data and fast options that hold 5 of them out for the thresholds.
inline TrainOptions holdout_train_options(const std::filesystem::path& dir) {
  DemoDatasetOptions d = small_demo_data();
  d.train_images = 20;
  write_demo_dataset(dir / "data", d);
  TrainOptions o = fast_train_options(dir / "data", dir / "out");
  o.holdout_fraction = 0.25;  // 5 of 20
  return o;
}

// An exported .onnx file run in ONNX Runtime on two 64x64 test images against `model`'s native
// prediction: map and score within 1e-4 relative. (Callers skip first when ONNX Runtime is absent.)
inline void expect_onnx_computes_like_native(const PatchModel& model, const std::filesystem::path& onnx,
                                             const std::filesystem::path& scratch) {
  const auto input = export_testing::test_input(2, 64, 3);
  const auto native = model.score(input);
  const auto ort = export_testing::run_onnxruntime(onnx, input, scratch);
  EXPECT_LT(relative_error(ort.outputs.at("pred_score").view({2}), native.image_scores), 1e-4);
  EXPECT_LT(relative_error(ort.outputs.at("anomaly_map"), native.maps), 1e-4);
}

}  // namespace patchcore::testing

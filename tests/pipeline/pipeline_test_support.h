#pragma once
// Small helpers for pipeline tests: a generated data set and a fast training setup.
#include <filesystem>

#include "pipeline/demo_dataset.h"
#include "pipeline/trainer.h"

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

}  // namespace patchcore::testing

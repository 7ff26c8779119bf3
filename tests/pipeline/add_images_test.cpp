// `train --from`: images added to a model continue its coreset from its memory bank.
#include <gtest/gtest.h>

#include "export/export_test_support.h"
#include "head/embedding.h"
#include "io/error.h"
#include "io/sha256.h"
#include "pipeline/checkpoint.h"
#include "pipeline/image_batch.h"
#include "pipeline/model_folder.h"
#include "pipeline/patch_model.h"
#include "pipeline/pipeline_test_support.h"
#include "search/exact_index.h"
#include "test_support.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;

// Two disjoint sets of good images (different generator seeds), and both together.
struct Images {
  fs::path a, b, both;
};

Images write_images(const fs::path& dir) {
  Images im{dir / "a", dir / "b", dir / "both"};
  DemoDatasetOptions d = testing::small_demo_data();
  d.train_images = 10;
  write_demo_dataset(im.a, d);
  d.seed = 7;
  write_demo_dataset(im.b, d);
  fs::create_directories(im.both);
  for (const auto& [from, prefix] : {std::pair{im.a, "a_"}, std::pair{im.b, "b_"}})
    for (const auto& e : fs::directory_iterator(from / "train/good"))
      fs::copy_file(e.path(), im.both / (prefix + e.path().filename().string()));
  return im;
}

TrainOptions options(const fs::path& data, const fs::path& out, const std::string& pattern) {
  TrainOptions o = testing::fast_train_options(data, out);
  o.pattern_name = pattern;
  o.holdout_fraction = 0;
  return o;
}

// Trains "a" on the images A, then "added" from it with the images B (`train --from`).
TrainReport train_a_then_add_b(const Images& im, const fs::path& out, bool export_model = false) {
  train(options(im.a / "train/good", out, "a"));
  TrainOptions add = options(im.b / "train/good", out, "added");
  add.parent_model = out / "a";
  add.export_model = export_model;
  return train(add);
}

// The largest distance from any patch of `images` to its nearest row of `bank`: the coreset's
// coverage radius over those patches.
double coverage_radius(const PatchModel& model, const fs::path& images, const torch::Tensor& bank) {
  std::vector<fs::path> paths;
  for (const auto& e : fs::directory_iterator(images)) paths.push_back(e.path());
  const auto batch = load_image_batch(paths, model.config().preprocessing, {});
  const auto patches = embedding_to_patches(model.embed(batch.input));
  return search::nearest(search::ExactIndex(bank), patches).distances.max().item<double>();
}

TEST(AddImages, ContinuesTheCoresetAndCoversLikeTrainingOnEverything) {
  testing::TempDir dir;
  const Images im = write_images(dir.path());
  const fs::path out = dir.path() / "out";
  const TrainReport added = train_a_then_add_b(im, out);
  train(options(im.both, out, "scratch"));

  const Checkpoint parent = load_checkpoint(out / "a" / ModelFolder::kCheckpoint);
  const Checkpoint grown = load_checkpoint(out / "added" / ModelFolder::kCheckpoint);
  const Checkpoint scratch = load_checkpoint(out / "scratch" / ModelFolder::kCheckpoint);
  // The parent's bank stays, first; the bank has the size the ratio gives for all images.
  const int64_t m = parent.memory_bank.size(0);
  EXPECT_TRUE(torch::equal(grown.memory_bank.narrow(0, 0, m), parent.memory_bank));
  EXPECT_EQ(grown.memory_bank.size(0), scratch.memory_bank.size(0));
  EXPECT_EQ(added.parent_images, 10);
  // Lineage: the parent, and every image (the parent's first) with its SHA-256.
  ASSERT_TRUE(grown.parent);
  EXPECT_EQ(grown.parent->images, 10);
  EXPECT_EQ(grown.parent->checkpoint_sha256, sha256_file(out / "a" / ModelFolder::kCheckpoint));
  ASSERT_EQ(grown.training_images.size(), 20u);
  EXPECT_EQ(grown.training_images[0].path, parent.training_images[0].path);

  // Coverage of all 20 images' patches: as good as a coreset trained on all of them (within
  // 10%), and better than the parent's bank alone.
  const PatchModel model = patch_model_of(grown);
  const double r_grown = coverage_radius(model, im.both, grown.memory_bank);
  const double r_scratch = coverage_radius(model, im.both, scratch.memory_bank);
  const double r_parent = coverage_radius(model, im.both, parent.memory_bank);
  std::printf("coverage radius over A+B: added %.4f, from scratch %.4f, parent alone %.4f\n", r_grown, r_scratch,
              r_parent);
  EXPECT_LE(r_grown, 1.10 * r_scratch);
  EXPECT_LT(r_grown, r_parent);

  // Deterministic: the same again.
  TrainOptions again = options(im.b / "train/good", out, "again");
  again.parent_model = out / "a";
  train(again);
  EXPECT_TRUE(torch::equal(load_checkpoint(out / "again" / ModelFolder::kCheckpoint).memory_bank, grown.memory_bank));
}

TEST(AddImages, ExportedModelComputesLikeNativePrediction) {
  testing::TempDir dir;
  const Images im = write_images(dir.path());
  const fs::path out = dir.path() / "out";
  train_a_then_add_b(im, out, /*export_model=*/true);
  if (!export_testing::onnxruntime_available()) GTEST_SKIP() << "ONNX Runtime is not installed";
  const PatchModel model = patch_model_of(load_checkpoint(out / "added" / ModelFolder::kCheckpoint));
  testing::expect_onnx_computes_like_native(model, out / "added/added.onnx", dir.path() / "ort");
}

TEST(AddImages, RefusesAMissingParent) {
  testing::TempDir dir;
  const Images im = write_images(dir.path());
  TrainOptions add = options(im.b / "train/good", dir.path() / "out", "added");
  add.parent_model = dir.path() / "no-such-model";
  const std::string message = testing::user_error_message([&] { train(add); });
  EXPECT_NE(message.find("no such model folder"), std::string::npos) << message;
}

}  // namespace
}  // namespace patchcore

// Training with --search shortlist: the projection is fitted on the final bank and stored, the
// agreement with exact search is measured on the held-out images, and the model folder's
// exported ONNX runs the shortlist in ONNX Runtime as native prediction does.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "export/export_test_support.h"
#include "io/safetensors.h"
#include "pipeline/checkpoint.h"
#include "pipeline/model_folder.h"
#include "pipeline/trainer.h"
#include "pipeline_test_support.h"
#include "test_support.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;

TrainOptions shortlist_options(const fs::path& dir) {
  TrainOptions o = testing::holdout_train_options(dir);
  o.model.search.mode = search::SearchMode::kShortlist;
  o.model.search.shortlist_dims = 16;
  o.model.search.shortlist_size = 4;
  return o;
}

int format_version(const fs::path& checkpoint) {
  const auto file = read_safetensors(checkpoint);
  return nlohmann::json::parse(file.metadata.at("patchcore")).at("format_version").get<int>();
}

TEST(ShortlistTraining, StoresTheProjectionAndMeasuresAgreementOnHeldOutImages) {
  testing::TempDir dir;
  TrainOptions o = shortlist_options(dir.path());
  o.export_model = true;
  const TrainReport report = train(o);
  const fs::path model_dir = dir.path() / "out/wire";

  // The agreement is measured on the 5 held-out images, against exact search.
  ASSERT_TRUE(report.search_agreement.has_value());
  const SearchAgreement& a = *report.search_agreement;
  EXPECT_NE(a.measured_on.find("5 held-out"), std::string::npos) << a.measured_on;
  EXPECT_EQ(a.images, 5);
  EXPECT_EQ(a.patches, 5 * report.num_patches / report.num_images);
  EXPECT_GT(a.recall_at_1(), 0.0);
  EXPECT_LE(a.recall_at_1(), 1.0);
  EXPECT_GE(a.max_patch_error, 0.0);
  const std::string yaml = testing::read_file(model_dir / ModelFolder::kConfig);
  for (const char* key : {"mode: shortlist", "shortlist_dims: 16", "shortlist_size: 4", "recall_at_1:",
                          "max_patch_score_error:", "max_image_score_error:", "meets_bars:"})
    EXPECT_NE(yaml.find(key), std::string::npos) << key << "\n" << yaml;

  // The checkpoint holds the projection of its own bank (fitting is deterministic), as format 3.
  const auto checkpoint_path = model_dir / ModelFolder::kCheckpoint;
  const Checkpoint c = load_checkpoint(checkpoint_path);
  EXPECT_EQ(format_version(checkpoint_path), 3);
  EXPECT_EQ(c.config.search.mode, search::SearchMode::kShortlist);
  EXPECT_EQ(c.config.search.shortlist_size, 4);
  ASSERT_TRUE(c.shortlist.defined());
  const auto refit = search::fit_shortlist_projection(c.memory_bank, 16);
  EXPECT_TRUE(c.shortlist.components.equal(refit.components));
  EXPECT_TRUE(c.shortlist.center.equal(refit.center));

  // Native prediction searches by shortlist; the exported ONNX computes the same in ONNX Runtime.
  const PatchModel model = patch_model_of(c);
  EXPECT_FALSE(model.index().exact());
  if (!export_testing::onnxruntime_available()) GTEST_SKIP() << "ONNX Runtime is not installed";
  testing::expect_onnx_computes_like_native(model, model_dir / "wire.onnx", dir.path() / "ort");
}

TEST(ShortlistTraining, ExactModelsStayFormat2AndABrokenProjectionIsRefused) {
  testing::TempDir dir;
  TrainOptions o = testing::holdout_train_options(dir.path());
  train(o);
  EXPECT_EQ(format_version(dir.path() / "out/wire" / ModelFolder::kCheckpoint), 2);

  // A shortlist checkpoint without its projection tensors: a clear error naming the file.
  o = shortlist_options(dir.path() / "s");
  train(o);
  const auto path = dir.path() / "s/out/wire" / ModelFolder::kCheckpoint;
  auto file = read_safetensors(path);
  file.tensors.erase("shortlist_components");
  const auto broken = dir.path() / "broken.safetensors";
  write_safetensors(broken, file);
  const std::string message = testing::user_error_message([&] { load_checkpoint(broken); });
  EXPECT_NE(message.find("broken.safetensors"), std::string::npos) << message;
  EXPECT_NE(message.find("shortlist projection"), std::string::npos) << message;
}

TEST(ShortlistTraining, WithoutHeldOutImagesAgreementIsMeasuredOnTheTrainingImages) {
  testing::TempDir dir;
  TrainOptions o = shortlist_options(dir.path());
  o.holdout_fraction = 0;
  const TrainReport report = train(o);
  ASSERT_TRUE(report.search_agreement.has_value());
  EXPECT_NE(report.search_agreement->measured_on.find("training images"), std::string::npos);
  EXPECT_EQ(report.search_agreement->images, report.num_images);
}

}  // namespace
}  // namespace patchcore

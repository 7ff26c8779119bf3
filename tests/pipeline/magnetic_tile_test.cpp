// Real data: train on 50 good magnetic tiles with the real MobileNet weights, then
// check that defective test tiles score above good ones (image AUROC).
#include <algorithm>
#include <cstdio>

#include "data/dataset.h"
#include "data/preprocess.h"
#include "patchcore/model.h"
#include "pipeline/trainer.h"
#include "test_support.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;
using testing::every_kth;

// Mann-Whitney form of the ROC AUC: probability that a random defective image
// outscores a random good one (ties count half).
double auroc(const std::vector<double>& good, const std::vector<double>& defective) {
  double wins = 0;
  for (double d : defective)
    for (double g : good) wins += d > g ? 1.0 : d == g ? 0.5 : 0.0;
  return wins / (static_cast<double>(good.size()) * static_cast<double>(defective.size()));
}

TEST(MagneticTile, DefectsScoreAboveGoodTilesWithMobileNet) {
  PATCHCORE_REQUIRE_SHARED("data/magnetic_tile");
  PATCHCORE_REQUIRE_SHARED("weights/mobilenet_v1_0.75_224_tfjs");
  const fs::path tiles = testing::shared_dir() / "data/magnetic_tile";
  testing::TempDir dir;

  // 50 training images: the first 50 of train/good, linked into a folder of their own.
  auto train_files = find_training_images(tiles / "train/good");
  train_files.resize(50);
  fs::create_directories(dir.path() / "train");
  for (const auto& f : train_files) fs::create_symlink(f, dir.path() / "train" / f.filename());

  TrainOptions options;
  options.data_dir = dir.path() / "train";
  options.output_dir = dir.path() / "out";
  options.pattern_name = "tile";
  options.model.backbone = "mobilenet_v1_0.75";
  options.model.coreset_ratio = 0.1;  // 39200 patches -> 3920 rows
  options.weights = (testing::shared_dir() / "weights/mobilenet_v1_0.75_224_tfjs").string();
  options.show_progress = false;
  options.export_model = false;
  train(options);
  const auto model = Model::load(dir.path() / "out/tile");

  auto scores = [&](const std::vector<fs::path>& files) {
    std::vector<double> out;
    for (const auto& f : files) out.push_back(model.predict(read_image_bgr(f)).score);
    return out;
  };
  const auto good = scores(every_kth(tiles / "test/good", 40));
  std::vector<fs::path> defective_files;
  for (const char* defect : {"blowhole", "break", "crack", "fray", "uneven"})
    for (const auto& f : every_kth(tiles / "test" / defect, 8)) defective_files.push_back(f);
  const auto defective = scores(defective_files);

  const double auc = auroc(good, defective);
  std::printf("magnetic_tile image AUROC (40 good, 40 defective, MobileNet v1 0.75, 50 training images): %.3f\n", auc);
  // Chance is 0.5. The same model on the whole test set (191 good, 392 defective)
  // measured 0.822; on 40+40 images the AUROC's standard error is about 0.045, so
  // 0.70 is ~2.5 standard errors below that, yet far above chance: a broken
  // backbone, embedding or scorer fails it, a correct one passes.
  EXPECT_GT(auc, 0.70);
}

}  // namespace
}  // namespace patchcore

// Training within a memory cap: the plan (pipeline/training_memory.h), the feature file
// (pipeline/patch_store.h), and what each plan does to the trained model.
#include <gtest/gtest.h>

#include <cmath>

#include "io/error.h"
#include "pipeline/checkpoint.h"
#include "pipeline/model_folder.h"
#include "pipeline/patch_store.h"
#include "pipeline/pipeline_test_support.h"
#include "pipeline/training_memory.h"
#include "test_support.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kMiB = int64_t{1} << 20, kGiB = int64_t{1} << 30;

TEST(ParseMemorySize, UnitsArePowersOf1024) {
  EXPECT_EQ(parse_memory_size("8G"), 8 * kGiB);
  EXPECT_EQ(parse_memory_size("8g"), 8 * kGiB);
  EXPECT_EQ(parse_memory_size("1.5G"), 3 * kGiB / 2);
  EXPECT_EQ(parse_memory_size("512MiB"), 512 * kMiB);
  EXPECT_EQ(parse_memory_size("512MB"), 512 * kMiB);
  EXPECT_EQ(parse_memory_size("2T"), 2048 * kGiB);
  EXPECT_EQ(parse_memory_size("300000000"), 300000000);
  for (const char* bad : {"", "G", "8X", "-1G", "0", "8 G", "1e30", "nan"})
    EXPECT_THROW(parse_memory_size(bad), UserError) << bad;
}

// 10,000 images of wide_resnet50_2 at 224x224, ratio 0.001 (the target).
TrainingShape ten_thousand_images() {
  TrainingShape s;
  s.patches = 10000 * 784;
  s.channels = 1536;
  s.projection_dims = 392;  // johnson_lindenstrauss_min_dim(7.84M, 0.9)
  s.batch_rows = 32 * 784;
  s.backbone_bytes = 100 * kMiB;
  return s;
}

TEST(TrainingMemoryPlan, TriesRamThenDiskThenBFloat16) {
  const TrainingShape s = ten_thousand_images();
  const TrainingMemoryPlan roomy = plan_training_memory(s, 100 * kGiB);
  EXPECT_FALSE(roomy.features_on_disk);
  EXPECT_FALSE(roomy.projection_bfloat16);
  EXPECT_EQ(roomy.feature_bytes, s.patches * 1536 * 4);      // 48.2 GB
  EXPECT_EQ(roomy.projection_bytes, s.patches * 392 * 4);    // 12.3 GB
  // Each way needs less than the one before: by the features minus one batch of them, then
  // by half the projection.
  const auto& peaks = roomy.option_peaks;
  EXPECT_EQ(peaks[0] - peaks[1], (s.patches - s.batch_rows) * 1536 * 4);
  EXPECT_EQ(peaks[1] - peaks[2], s.patches * 392 * 2);

  const TrainingMemoryPlan disk = plan_training_memory(s, peaks[0] - 1);
  EXPECT_TRUE(disk.features_on_disk);
  EXPECT_FALSE(disk.projection_bfloat16);
  const TrainingMemoryPlan compact = plan_training_memory(s, 8 * kGiB);
  EXPECT_TRUE(compact.features_on_disk);
  EXPECT_TRUE(compact.projection_bfloat16);
  EXPECT_EQ(compact.projection_bytes, s.patches * 392 * 2);  // 6.1 GB
  EXPECT_LE(compact.peak_bytes, 8 * kGiB);
  const std::string message = testing::user_error_message([&] { plan_training_memory(s, peaks[2] - 1); });
  EXPECT_NE(message.find("--max-memory"), std::string::npos) << message;
  EXPECT_NE(message.find("--from"), std::string::npos) << message;
}

TEST(TrainingMemoryPlan, WithoutASelectionTheFeaturesStayInRam) {
  TrainingShape s = ten_thousand_images();
  s.projection_dims = 0;  // ratio 1: every patch is a bank row
  const TrainingMemoryPlan plan = plan_training_memory(s, 100 * kGiB);
  EXPECT_FALSE(plan.features_on_disk);
  EXPECT_EQ(plan.option_peaks[1], 0);
  EXPECT_THROW(plan_training_memory(s, plan.peak_bytes - 1), UserError);
}

TEST(TrainingMemoryPlan, ScoringHoldsTheBankAndItsIndexes) {
  TrainingShape s = ten_thousand_images();
  s.projection_dims = 0;
  s.bank_rows = s.patches;  // --coreset-ratio 1: the bank is a copy of every feature
  const int64_t features = s.patches * 1536 * 4;
  EXPECT_GE(plan_training_memory(s, 1000 * kGiB).peak_bytes, 2 * features);
  // A search index on it (here as large as the bank again) counts in full.
  const int64_t without_index = plan_training_memory(s, 1000 * kGiB).peak_bytes;
  s.scoring_bytes = features;
  EXPECT_EQ(plan_training_memory(s, 1000 * kGiB).peak_bytes, without_index + features);
}

TEST(PatchStore, FileAndMemoryHoldTheSameRowsAndTheFileHasNoName) {
  testing::TempDir dir;
  const auto rows = torch::randn({1000, 37});
  PatchStore memory(1000, 37), disk(1000, 37, dir.path());
  EXPECT_TRUE(disk.on_disk());
  EXPECT_TRUE(fs::is_empty(dir.path()));  // unlinked at once: nothing to leave behind
  for (int64_t first = 0; first < 1000; first += 300) {
    const int64_t n = std::min<int64_t>(300, 1000 - first);
    memory.write(first, rows.narrow(0, first, n));
    disk.write(first, rows.narrow(0, first, n));
  }
  EXPECT_TRUE(torch::equal(disk.read(0, 1000), rows));
  EXPECT_TRUE(torch::equal(disk.read(417, 5), rows.narrow(0, 417, 5)));
  EXPECT_TRUE(torch::equal(memory.read(417, 5), rows.narrow(0, 417, 5)));
  const std::vector<int64_t> pick = {999, 3, 500, 3, 0};
  const auto expected = rows.index_select(0, torch::tensor(pick, torch::kLong));
  EXPECT_TRUE(torch::equal(disk.gather(pick), expected));
  EXPECT_TRUE(torch::equal(memory.gather(pick), expected));
  EXPECT_THROW(disk.read(990, 11), std::out_of_range);
  EXPECT_THROW(disk.write(0, torch::zeros({2, 36})), std::invalid_argument);
}

TEST(PatchStore, AMissingFolderIsAClearError) {
  testing::TempDir dir;
  const std::string message = testing::user_error_message([&] { PatchStore(10, 4, dir.path() / "missing"); });
  EXPECT_NE(message.find("temporary feature file"), std::string::npos) << message;
}

// One data set trained under three caps: the default (all in RAM), just below it (features on
// disk) and just below that (bfloat16 projection as well).
TEST(TrainWithinMemoryCap, DiskIsExactAndBFloat16CoversWithin5Percent) {
  testing::TempDir dir;
  DemoDatasetOptions d = testing::small_demo_data();
  d.train_images = 16;
  write_demo_dataset(dir.path() / "data", d);
  const fs::path out = dir.path() / "out";
  TrainOptions o = testing::fast_train_options(dir.path() / "data/train/good", out);
  o.model.coreset_ratio = 0.1;
  o.holdout_fraction = 0;

  o.pattern_name = "ram";
  const TrainReport ram = train(o);
  ASSERT_FALSE(ram.memory_plan.features_on_disk);
  const auto peaks = ram.memory_plan.option_peaks;

  o.pattern_name = "disk";
  o.max_memory_bytes = peaks[0] - 1;
  const TrainReport disk = train(o);
  ASSERT_TRUE(disk.memory_plan.features_on_disk);
  ASSERT_FALSE(disk.memory_plan.projection_bfloat16);

  o.pattern_name = "compact";
  o.max_memory_bytes = peaks[1] - 1;
  const TrainReport compact = train(o);
  ASSERT_TRUE(compact.memory_plan.projection_bfloat16);

  const auto bank = [&](const char* name) { return load_checkpoint(out / name / ModelFolder::kCheckpoint).memory_bank; };
  // Features from the file: the same rows selected, the same statistics, bit for bit.
  EXPECT_TRUE(torch::equal(bank("disk"), bank("ram")));
  EXPECT_EQ(testing::read_file(out / "disk" / ModelFolder::kNormStats),
            testing::read_file(out / "ram" / ModelFolder::kNormStats));
  EXPECT_EQ(disk.coverage_radius, ram.coverage_radius);
  // The bfloat16 projection may select other rows; the coverage of the training patches (the
  // k-center objective, in feature space) stays within 5%.
  std::printf("coverage radius: float32 projection %.5f, bfloat16 projection %.5f (%d of %lld rows differ)\n",
              ram.coverage_radius, compact.coverage_radius,
              static_cast<int>(torch::cdist(bank("compact"), bank("ram")).amin(1).gt(0).sum().item<int64_t>()),
              static_cast<long long>(ram.bank_rows));
  EXPECT_EQ(compact.bank_rows, ram.bank_rows);
  EXPECT_LE(std::abs(compact.coverage_radius - ram.coverage_radius), 0.05 * ram.coverage_radius);

  // Below the last way: a clear error, and no model folder, no feature file.
  o.pattern_name = "refused";
  o.max_memory_bytes = peaks[2] - 1;
  const std::string message = testing::user_error_message([&] { train(o); });
  EXPECT_NE(message.find("--max-memory"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(out / "refused"));
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(out)) ++entries;
  EXPECT_EQ(entries, 3);  // ram, disk, compact
}

}  // namespace
}  // namespace patchcore

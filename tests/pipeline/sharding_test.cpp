// Sharded training (pipeline/sharding.h): `train --shard I/N` partial banks and their merge.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "head/coreset.h"
#include "io/error.h"
#include "pipeline/checkpoint.h"
#include "patchcore/model.h"
#include "pipeline/model_folder.h"
#include "pipeline/pipeline_test_support.h"
#include "pipeline/sharding.h"
#include "test_support.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;
using testing::user_error_message;

TEST(ShardSpec, ParsesIndexOverCount) {
  const ShardSpec s = parse_shard_spec("1/3");
  EXPECT_EQ(s.index, 1);
  EXPECT_EQ(s.count, 3);
  EXPECT_EQ(parse_shard_spec("0/1").count, 1);
  for (const char* bad : {"3/3", "-1/3", "1/0", "a/b", "1", "1/3x", "/3", "1/", ""})
    EXPECT_NE(user_error_message([&] { parse_shard_spec(bad); }).find("I/N"), std::string::npos) << bad;
}

// The slices of N shards tile the list in order, their sizes differing by at most one.
TEST(ShardSpec, SlicesTileTheImageListEvenly) {
  for (size_t images = 0; images <= 20; ++images)
    for (int count = 1; count <= 7; ++count) {
      size_t next = 0, smallest = images, largest = 0;
      for (int i = 0; i < count; ++i) {
        const ImageSlice s = shard_slice(images, {i, count});
        EXPECT_EQ(s.begin, next);
        next = s.end;
        smallest = std::min(smallest, s.end - s.begin);
        largest = std::max(largest, s.end - s.begin);
      }
      EXPECT_EQ(next, images);
      EXPECT_LE(largest - smallest, 1u) << images << " images, " << count << " shards";
    }
}

class ShardedTraining : public ::testing::Test {
 protected:
  void SetUp() override {
    DemoDatasetOptions d = testing::small_demo_data();
    d.train_images = 12;
    write_demo_dataset(dir_.path() / "data", d);
  }
  TrainOptions options(const std::string& pattern) const {
    TrainOptions o = testing::fast_train_options(data(), out());
    o.pattern_name = pattern;
    o.holdout_fraction = 0;
    return o;
  }
  TrainReport train_shard(int index, int count, const std::string& pattern = "wire") const {
    TrainOptions o = options(pattern);
    o.shard = ShardSpec{index, count};
    return train(o);
  }
  TrainReport merge(const std::vector<fs::path>& parts, const std::string& pattern) const {
    TrainOptions o = options(pattern);
    o.merge_parts = parts;
    return train(o);
  }
  fs::path part(int index, int count = 3, const std::string& pattern = "wire") const {
    return shard_folder(out(), pattern, {index, count});
  }
  fs::path data() const { return dir_.path() / "data/train/good"; }
  fs::path out() const { return dir_.path() / "out"; }

 private:
  testing::TempDir dir_;
};

TEST_F(ShardedTraining, MergedBankComesFromTheShardsAndHasTheSingleMachineSize) {
  const TrainReport single = train(options("single"));
  std::vector<fs::path> parts;
  for (int i = 0; i < 3; ++i) {
    const TrainReport r = train_shard(i, 3);
    EXPECT_EQ(r.model_dir, part(i));
    EXPECT_EQ(r.num_images, 4);
    parts.push_back(part(i));
  }
  const TrainReport merged = merge({parts[1], parts[2], parts[0]}, "merged");  // any order
  EXPECT_EQ(merged.bank_rows, single.bank_rows);
  EXPECT_EQ(merged.bank_rows, coreset_size(12 * single.num_patches / single.num_images, 0.25));
  EXPECT_EQ(merged.num_images, single.num_images);

  const Checkpoint s = load_checkpoint(out() / "single" / ModelFolder::kCheckpoint);
  const Checkpoint m = load_checkpoint(out() / "merged" / ModelFolder::kCheckpoint);
  // Every merged row is a row of some shard's bank; the shards trained on their slices in order.
  std::vector<torch::Tensor> shard_banks;
  size_t image = 0;
  for (int i = 0; i < 3; ++i) {
    const Checkpoint c = load_checkpoint(part(i) / ModelFolder::kCheckpoint);
    ASSERT_TRUE(c.shard.has_value());
    EXPECT_EQ(c.shard->index, i);
    EXPECT_EQ(c.shard->total_images, 12);
    for (const auto& t : c.training_images) EXPECT_EQ(t.sha256, s.training_images.at(image++).sha256);
    shard_banks.push_back(c.memory_bank);
  }
  const torch::Tensor all = torch::cat(shard_banks);
  for (int64_t row = 0; row < m.memory_bank.size(0); ++row)
    EXPECT_TRUE((all - m.memory_bank[row]).abs().sum(1).eq(0).any().item<bool>()) << "row " << row;
  ASSERT_EQ(m.training_images.size(), s.training_images.size());
  for (size_t i = 0; i < m.training_images.size(); ++i)
    EXPECT_EQ(m.training_images[i].sha256, s.training_images[i].sha256);
  EXPECT_GT(merged.coverage_radius, 0);
  // Deterministic: merging again gives the same bank.
  merge(parts, "again");
  EXPECT_TRUE(torch::equal(load_checkpoint(out() / "again" / ModelFolder::kCheckpoint).memory_bank, m.memory_bank));
  // The merged model predicts; a shard refuses to, naming the fix.
  EXPECT_NO_THROW(Model::load(out() / "merged"));
  EXPECT_NE(user_error_message([&] { Model::load(part(0)); }).find("patchcore merge"), std::string::npos);
}

TEST_F(ShardedTraining, MergeRefusesIncompleteOrMismatchedShardsAndWritesNothing) {
  for (int i = 0; i < 3; ++i) train_shard(i, 3);
  auto refused = [&](const std::vector<fs::path>& parts) {
    const std::string message = user_error_message([&] { merge(parts, "merged"); });
    EXPECT_FALSE(fs::exists(out() / "merged")) << message;
    return message;
  };
  EXPECT_NE(refused({part(0), part(2)}).find("missing shard(s) 1"), std::string::npos);
  EXPECT_NE(refused({part(0), part(1), part(1)}).find("both shard 1"), std::string::npos);
  // A shard of another training (other seed) among them.
  TrainOptions other = options("other");
  other.shard = ShardSpec{2, 3};
  other.model.seed = 5;
  train(other);
  EXPECT_NE(refused({part(0), part(1), part(2, 3, "other")}).find("seed"), std::string::npos);
  // A complete model is not a shard.
  train(options("complete"));
  EXPECT_NE(refused({part(0), part(1), out() / "complete"}).find("complete model"), std::string::npos);
  // The data changed after the shards ran.
  const fs::path changed = find_training_images(data()).back();
  std::ofstream(changed, std::ios::app) << "x";
  EXPECT_NE(refused({part(0), part(1), part(2)}).find("data folder changed"), std::string::npos);
}

TEST_F(ShardedTraining, ShardRefusesBadCombinations) {
  EXPECT_NE(user_error_message([&] { train_shard(0, 20); }).find("fewer than shards"), std::string::npos);
  TrainOptions o = options("wire");
  o.shard = ShardSpec{0, 2};
  o.parent_model = out() / "parent";
  EXPECT_NE(user_error_message([&] { train(o); }).find("--from"), std::string::npos);
  EXPECT_FALSE(fs::exists(part(0, 20)));
}

}  // namespace
}  // namespace patchcore

// Sharded training end to end: `train --shard I/3` as three separate processes, then
// `patchcore merge`, against one training of the same images on one machine (issue 12:
// coverage radius within 10%, image AUROC on the magnetic tile subset within 0.01).
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>

#include "cli_support.h"
#include "pipeline/sharding.h"
#include "test_support.h"

namespace patchcore::testing {
namespace {

namespace fs = std::filesystem;

double coverage_radius(const fs::path& model) {
  return YAML::LoadFile((model / "config.yaml").string())["training"]["coverage_radius"].as<double>();
}

double image_auroc(const fs::path& eval_dir) {
  return nlohmann::json::parse(read_file(eval_dir / "metrics.json"))["image_auroc"].get<double>();
}

TEST(ShardCli, ThreeShardsMergedCoverAndRankLikeOneMachineOnMagneticTiles) {
  PATCHCORE_REQUIRE_SHARED("data/magnetic_tile");
  PATCHCORE_REQUIRE_SHARED("weights/mobilenet_v1_0.75_224_tfjs");
  const fs::path tiles = shared_dir() / "data/magnetic_tile";
  TempDir dir;
  // 150 training tiles (128 in the bank, 22 held out for the thresholds), as links; every test
  // tile (191 good, 392 defective): on fewer, one training seed against another already moves
  // the image AUROC by more than 0.01 (measured 0.846 vs 0.859 on all of them).
  const fs::path train = dir.path() / "train", test = dir.path() / "test";
  fs::create_directories(train);
  for (const auto& f : every_kth(tiles / "train/good", 150)) fs::create_symlink(f, train / f.filename());
  fs::create_directories(test);
  for (const auto& category : {"good", "blowhole", "break", "crack", "fray", "uneven"})
    fs::create_directory_symlink(tiles / "test" / category, test / category);  // no masks: image metrics
  const fs::path out = dir.path() / "models";
  const std::string settings = " --data-dir " + train.string() + " --output " + out.string() +
                               " --backbone mobilenet_v1_0.75 --coreset-ratio 0.01 --quiet --weights " +
                               (shared_dir() / "weights/mobilenet_v1_0.75_224_tfjs").string();

  auto r = run("train" + settings + " --pattern-name single");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Three processes at once, as a job runner starts them.
  std::string shards;
  for (int i = 0; i < 3; ++i)
    shards += std::string(PATCHCORE_CLI) + " train" + settings + " --pattern-name tile --threads 1 --shard " +
              std::to_string(i) + "/3 > " + (dir.path() / ("shard" + std::to_string(i) + ".log")).string() +
              " 2>&1 & ";
  r = run_shell("{ " + shards + "wait; } && cat " + (dir.path() / "shard*.log").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (int i = 0; i < 3; ++i) {
    const fs::path part = out / ("tile.shard-" + std::to_string(i) + "-of-3");
    ASSERT_TRUE(fs::exists(part / "checkpoint.safetensors")) << r.output;
    EXPECT_FALSE(fs::exists(part / "norm_stats.txt"));  // a partial model: no scores
  }
  // A shard predicts nothing: it says how to merge.
  r = run("predict --model " + (out / "tile.shard-0-of-3").string() + " --input " + (test / "good").string() +
          " --output " + (dir.path() / "pred").string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "patchcore merge")) << r.output;
  EXPECT_FALSE(fs::exists(dir.path() / "pred"));

  r = run("merge " + (out / "tile.shard-2-of-3").string() + " " + (out / "tile.shard-0-of-3").string() + " " +
          (out / "tile.shard-1-of-3").string() + " --data-dir " + train.string() + " --output " + out.string() +
          " --pattern-name merged --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* file : {"checkpoint.safetensors", "norm_stats.txt", "config.yaml", "merged.onnx", "merged.xml"})
    EXPECT_TRUE(fs::exists(out / "merged" / file)) << file;

  for (const char* model : {"single", "merged"}) {
    r = run("eval --model " + (out / model).string() + " --data-dir " + test.string() + " --output " +
            (dir.path() / "eval" / model).string() + " --quiet");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  const double radius_single = coverage_radius(out / "single"), radius_merged = coverage_radius(out / "merged");
  const double auroc_single = image_auroc(dir.path() / "eval/single");
  const double auroc_merged = image_auroc(dir.path() / "eval/merged");
  std::printf("coverage radius: one machine %.4f, 3 shards merged %.4f (%+.1f%%); image AUROC %.4f vs %.4f\n",
              radius_single, radius_merged, 100 * (radius_merged / radius_single - 1), auroc_single, auroc_merged);
  EXPECT_LE(std::abs(radius_merged - radius_single), 0.10 * radius_single);
  EXPECT_LE(std::abs(auroc_merged - auroc_single), 0.01);
  EXPECT_GT(auroc_single, 0.6);  // a working model, not chance
  // The same bank size, the same images scored for the statistics.
  const auto single = YAML::LoadFile((out / "single/config.yaml").string());
  const auto merged = YAML::LoadFile((out / "merged/config.yaml").string());
  EXPECT_EQ(merged["model"]["memory_bank_rows"].as<int64_t>(), single["model"]["memory_bank_rows"].as<int64_t>());
  EXPECT_EQ(merged["training"]["num_images"].as<int64_t>(), single["training"]["num_images"].as<int64_t>());
  EXPECT_EQ(merged["training"]["held_out_images"].as<int64_t>(), single["training"]["held_out_images"].as<int64_t>());
  EXPECT_EQ(merged["merged_from_shards"].size(), 3u);
}

// examples/cluster/slurm-shards.sh, run as Slurm would run it (array tasks 0..2, then the merge),
// with the built patchcore instead of the Docker image.
TEST(ShardCli, SlurmExampleTrainsShardsAndMerges) {
  TempDir dir;
  write_cli_demo_data(dir.path() / "demo");
  const std::string script = std::string(PATCHCORE_SOURCE_DIR) + "/examples/cluster/slurm-shards.sh";
  const std::string env = "DATA=" + (dir.path() / "demo/train/good").string() + " MODELS=" +
                          (dir.path() / "models").string() + " PATTERN=wire PATCHCORE_BIN=" + PATCHCORE_CLI +
                          " TRAIN_OPTIONS='--backbone resnet18 --weights random:3 --image-size 64 64 "
                          "--coreset-ratio 0.25' SLURM_CPUS_PER_TASK=1 ";
  for (int i = 0; i < 3; ++i) {
    const auto r = run_shell(env + "SLURM_ARRAY_TASK_ID=" + std::to_string(i) + " SLURM_ARRAY_TASK_COUNT=3 bash " + script);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  const auto r = run_shell(env + "bash " + script + " merge 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir.path() / "models/wire/norm_stats.txt")) << r.output;
  EXPECT_TRUE(fs::exists(dir.path() / "models/wire/wire.onnx")) << r.output;
  EXPECT_EQ(YAML::LoadFile((dir.path() / "models/wire/config.yaml").string())["merged_from_shards"].size(), 3u);
  // Outside an array job it says how to submit.
  const auto outside = run_shell(env + "bash " + script);
  EXPECT_NE(outside.exit_code, 0);
  EXPECT_TRUE(contains(outside.output, "sbatch --array")) << outside.output;
}

// examples/cluster/kubernetes-*.yaml: the shards' command takes its index from the Indexed Job,
// and the merge names exactly the folders those shards write.
TEST(ShardCli, KubernetesExampleMergesTheFoldersItsShardsWrite) {
  const std::string dir = std::string(PATCHCORE_SOURCE_DIR) + "/examples/cluster/";
  const YAML::Node shards = YAML::LoadFile(dir + "kubernetes-shards.yaml")["spec"];
  EXPECT_EQ(shards["completionMode"].as<std::string>(), "Indexed");
  const int count = shards["completions"].as<int>();
  const auto args = shards["template"]["spec"]["containers"][0]["args"].as<std::vector<std::string>>();
  auto value_of = [](const std::vector<std::string>& a, const std::string& option) {
    const auto it = std::find(a.begin(), a.end(), option);
    return it != a.end() && it + 1 != a.end() ? *(it + 1) : std::string();
  };
  EXPECT_EQ(args.front(), "train");
  EXPECT_EQ(value_of(args, "--shard"), "$(JOB_COMPLETION_INDEX)/" + std::to_string(count));
  const auto merge =
      YAML::LoadFile(dir + "kubernetes-merge.yaml")["spec"]["template"]["spec"]["containers"][0]["args"]
          .as<std::vector<std::string>>();
  EXPECT_EQ(merge.front(), "merge");
  std::vector<std::string> expected;
  for (int i = 0; i < count; ++i)
    expected.push_back(shard_folder(value_of(args, "--output"), value_of(args, "--pattern-name"), {i, count}).string());
  EXPECT_EQ(std::vector<std::string>(merge.begin() + 1, merge.begin() + 1 + count), expected);
  EXPECT_EQ(value_of(merge, "--data-dir"), value_of(args, "--data-dir"));
  EXPECT_EQ(value_of(merge, "--pattern-name"), value_of(args, "--pattern-name"));
}

}  // namespace
}  // namespace patchcore::testing

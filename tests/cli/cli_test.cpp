// The `patchcore` executable as a user runs it: exit codes, messages, files written.
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cstdio>
#include <fstream>
#include <map>

#include "pipeline/demo_dataset.h"
#include "cli_support.h"
#include "test_support.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;
using testing::contains;
using testing::run;
using testing::TempDir;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_cli_demo_data(dir_.path() / "data"); }
  std::string train_args(const std::string& backbone = "resnet18", const std::string& weights = "random:1") const {
    return "train --data-dir " + (dir_.path() / "data").string() + " --output " + (dir_.path() / "out").string() +
           " --pattern-name wire --image-size 64 64 --coreset-ratio 0.5 --quiet --backbone " + backbone +
           " --weights " + weights;
  }
  TempDir dir_;
};

TEST_F(CliTest, TrainThenPredictWritesResultsOverlaysAndMaps) {
  auto trained = run(train_args());
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_TRUE(contains(trained.output, "memory bank")) << trained.output;
  const fs::path model = dir_.path() / "out/wire";
  for (const char* file : {"wire.onnx", "wire.xml", "wire.bin", "checkpoint.safetensors", "config.yaml",
                           "norm_stats.txt"})
    EXPECT_TRUE(fs::exists(model / file)) << file;

  // export --fp16 rewrites the exported files at about half the size.
  const auto f32_size = fs::file_size(model / "wire.onnx");
  auto exported = run("export --model " + model.string() + " --fp16");
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  const double ratio = static_cast<double>(fs::file_size(model / "wire.onnx")) / f32_size;
  EXPECT_GT(ratio, 0.45);
  EXPECT_LT(ratio, 0.55);

  const fs::path pred = dir_.path() / "pred";
  auto predicted = run("predict --model " + (dir_.path() / "out/wire").string() + " --input " +
                       (dir_.path() / "data/test").string() + " --output " + pred.string() + " --save-maps");
  ASSERT_EQ(predicted.exit_code, 0) << predicted.output;

  std::ifstream in(pred / "results.json");
  const auto results = nlohmann::json::parse(in);
  ASSERT_EQ(results.size(), 5u);  // 2 good + 3 defect types x 1
  for (const auto& r : results) {
    EXPECT_TRUE(r.at("image").is_string());
    EXPECT_TRUE(r.at("score").is_number());
    EXPECT_TRUE(r.at("anomalous").is_boolean());
  }
  EXPECT_TRUE(fs::exists(pred / "overlays/good__000.png"));
  const cv::Mat map = cv::imread((pred / "maps/scratch__000.tiff").string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(map.empty());
  EXPECT_EQ(map.type(), CV_32FC1);
  EXPECT_EQ(map.size(), cv::Size(64, 64));  // at --image-size
}

TEST_F(CliTest, ThresholdDecidesAnomalous) {
  ASSERT_EQ(run(train_args()).exit_code, 0);
  const auto model = (dir_.path() / "out/wire").string();
  const auto input = (dir_.path() / "data/test").string();
  ASSERT_EQ(run("predict --model " + model + " --input " + input + " --output " + (dir_.path() / "p0").string() +
                " --threshold 0").exit_code, 0);
  ASSERT_EQ(run("predict --model " + model + " --input " + input + " --output " + (dir_.path() / "p1").string() +
                " --threshold 1e9").exit_code, 0);
  std::ifstream all(dir_.path() / "p0/results.json"), none(dir_.path() / "p1/results.json");
  for (const auto& r : nlohmann::json::parse(all)) EXPECT_TRUE(r["anomalous"].get<bool>());
  for (const auto& r : nlohmann::json::parse(none)) EXPECT_FALSE(r["anomalous"].get<bool>());
}

TEST_F(CliTest, HelpListsTheTrainFlagsWithTheirDefaults) {
  auto help = run("train --help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--data-dir", "--output", "--pattern-name", "--coreset-ratio", "--use-faiss",
                           "--no-use-faiss", "--backbone", "--layers", "--image-size", "--batch-size",
                           "--num-neighbors", "--weights", "--seed", "--threads"})
    EXPECT_TRUE(contains(help.output, flag)) << flag;
  EXPECT_TRUE(contains(help.output, "0.001"));
  EXPECT_TRUE(contains(help.output, "wide_resnet50_2"));
  EXPECT_TRUE(contains(help.output, "FAISS"));
}

TEST_F(CliTest, MissingDataFolderIsAClearErrorAndWritesNothing) {
  auto r = run("train --data-dir " + (dir_.path() / "nope").string() + " --output " + (dir_.path() / "out").string() +
               " --pattern-name wire --weights random:0");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(contains(r.output, (dir_.path() / "nope").string())) << r.output;
  EXPECT_FALSE(fs::exists(dir_.path() / "out/wire"));
}

TEST_F(CliTest, EmptyDataFolderIsAClearError) {
  fs::create_directories(dir_.path() / "empty");
  auto r = run("train --data-dir " + (dir_.path() / "empty").string() + " --output " +
               (dir_.path() / "out").string() + " --pattern-name wire --weights random:0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, "error:")) << r.output;
}

TEST_F(CliTest, MissingRequiredFlagAndUnknownBackbone) {
  EXPECT_NE(run("train --output x --pattern-name y").exit_code, 0);
  auto r = run(train_args("vgg16"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, "resnet18")) << r.output;  // lists the valid choices
}

TEST_F(CliTest, WrongWeightsFileIsAClearError) {
  std::ofstream(dir_.path() / "w.safetensors") << "garbage";
  auto r = run(train_args("resnet18", (dir_.path() / "w.safetensors").string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, "w.safetensors")) << r.output;
  EXPECT_FALSE(fs::exists(dir_.path() / "out/wire"));
}

TEST_F(CliTest, FaissSettingsWithoutUseFaissAreRefused) {
  for (const char* option : {"--faiss-index hnsw", "--faiss-nprobe 4", "--no-use-faiss --faiss-ef-search 10"}) {
    auto r = run(train_args() + " " + option);
    EXPECT_EQ(r.exit_code, 1) << option;
    EXPECT_TRUE(contains(r.output, "add --use-faiss")) << r.output;
    EXPECT_FALSE(fs::exists(dir_.path() / "out/wire"));
  }
  EXPECT_EQ(run(train_args() + " --use-faiss --faiss-index pq").exit_code, 1);
}

// image -> score of a results.json written by `patchcore predict`.
std::map<std::string, double> scores_of(const fs::path& results_json) {
  std::ifstream in(results_json);
  std::map<std::string, double> out;
  for (const auto& r : nlohmann::json::parse(in)) out[r.at("image").get<std::string>()] = r.at("score").get<double>();
  return out;
}

TEST_F(CliTest, UseFaissFlatScoresLikeTheNativeKernelAndHnswReportsItsRecall) {
  const auto input = (dir_.path() / "data/test").string();
  std::map<std::string, std::map<std::string, double>> scores;
  for (const std::string flags : {"--no-use-faiss", "--use-faiss", "--use-faiss --faiss-index hnsw"}) {
    auto trained = run(train_args() + " " + flags);
    ASSERT_EQ(trained.exit_code, 0) << trained.output;
    const auto out = dir_.path() / ("model" + std::to_string(scores.size()));
    fs::create_directories(out);
    fs::rename(dir_.path() / "out/wire", out / "wire");
    const std::string yaml = testing::read_file(out / "wire/config.yaml");
    const bool hnsw = contains(flags, "hnsw");
    EXPECT_TRUE(contains(yaml, hnsw ? "faiss hnsw" : flags == "--use-faiss" ? "faiss flat" : "exact native")) << yaml;
    EXPECT_EQ(contains(yaml, "recall_at_1:"), hnsw) << yaml;
    EXPECT_EQ(contains(trained.output, "recall@1"), hnsw) << trained.output;
    const auto pred = out / "pred";
    ASSERT_EQ(run("predict --model " + (out / "wire").string() + " --input " + input + " --output " + pred.string())
                  .exit_code, 0);
    scores[flags] = scores_of(pred / "results.json");
  }
  const auto& native = scores["--no-use-faiss"];
  ASSERT_EQ(native.size(), 5u);
  // Both searches are exact, but FAISS rounds |x|^2 - 2x.y + |y|^2 its own way: where two bank rows are
  // within rounding of each other (random-weight features on 64x64 images have such ties), the worst
  // patch may pick the other row and with it other support rows, moving the re-weighting by < 1%.
  for (const auto& [image, score] : scores["--use-faiss"]) EXPECT_NEAR(score, native.at(image), 1e-2 * score) << image;
}

TEST_F(CliTest, ShortlistSearchTrainsReportsItsAgreementAndPredicts) {
  // Refused before any work: shortlist settings without the mode, the mode with FAISS, unknown modes.
  for (const char* flags : {"--shortlist-dims 16", "--shortlist-size 4", "--search shortlist --use-faiss",
                            "--search approximate", "--search shortlist --shortlist-size 0"}) {
    auto r = run(train_args() + " " + flags);
    EXPECT_EQ(r.exit_code, 1) << flags << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, "--search") || contains(r.output, "--shortlist-size")) << r.output;
    EXPECT_FALSE(fs::exists(dir_.path() / "out/wire")) << flags;
  }
  auto trained = run(train_args() + " --search shortlist --shortlist-size 4");
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_TRUE(contains(trained.output, "vs exact search   recall@1")) << trained.output;
  const std::string yaml = testing::read_file(dir_.path() / "out/wire/config.yaml");
  EXPECT_TRUE(contains(yaml, "mode: shortlist")) << yaml;
  EXPECT_TRUE(contains(yaml, "shortlist_dims: 64")) << yaml;  // automatic for resnet18's 384 channels
  EXPECT_TRUE(contains(yaml, "shortlist_size: 4")) << yaml;
  EXPECT_TRUE(contains(yaml, "recall_at_1:")) << yaml;
  const auto pred = dir_.path() / "pred";
  auto predicted = run("predict --model " + (dir_.path() / "out/wire").string() + " --input " +
                       (dir_.path() / "data/test").string() + " --output " + pred.string());
  ASSERT_EQ(predicted.exit_code, 0) << predicted.output;
  EXPECT_EQ(scores_of(pred / "results.json").size(), 5u);
  // A model's search is one of its settings: --from keeps it.
  auto added = run("train --data-dir " + (dir_.path() / "data").string() + " --output " +
                   (dir_.path() / "out").string() + " --pattern-name wire --quiet --from " +
                   (dir_.path() / "out/wire").string() + " --search exact");
  EXPECT_EQ(added.exit_code, 1);
  EXPECT_TRUE(contains(added.output, "--search cannot be combined with --from")) << added.output;
}

TEST_F(CliTest, PredictOnMissingModelFails) {
  auto r = run("predict --model " + (dir_.path() / "nomodel").string() + " --input " +
               (dir_.path() / "data/test").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, "nomodel")) << r.output;
}

}  // namespace
}  // namespace patchcore

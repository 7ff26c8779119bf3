// Training end to end: the model folder, its numbers checked against closed forms
// and against the separate prediction path, atomicity and bad input.
#include "pipeline/model_folder.h"
#include "pipeline/trainer.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "data/dataset.h"
#include "data/preprocess.h"
#include "head/norm_stats.h"
#include "io/error.h"
#include "io/safetensors.h"
#include "patchcore/model.h"
#include "pipeline/checkpoint.h"
#include "pipeline_test_support.h"
#include "test_support.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;
using testing::fast_train_options;
using testing::small_demo_data;
using testing::TempDir;
using testing::user_error_message;

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override { write_demo_dataset(dir_.path() / "data", small_demo_data()); }
  fs::path data() const { return dir_.path() / "data"; }
  fs::path out() const { return dir_.path() / "out"; }
  TempDir dir_;
};

TEST_F(TrainerTest, WritesTheModelFolder) {
  const auto report = train(fast_train_options(data(), out()));
  const fs::path model = out() / "wire";
  EXPECT_EQ(report.model_dir, model);
  for (const char* file : {"checkpoint.safetensors", "config.yaml", "norm_stats.txt"})
    EXPECT_TRUE(fs::exists(model / file)) << file;
  // Nothing else is left beside the model (no staging folder).
  EXPECT_EQ(std::distance(fs::directory_iterator(out()), fs::directory_iterator()), 1);

  const auto checkpoint = load_checkpoint(model / "checkpoint.safetensors");
  // resnet18 layer2+layer3 at 64x64: 128+256 channels on an 8x8 grid; 10 images.
  EXPECT_EQ(report.num_patches, 10 * 8 * 8);
  EXPECT_EQ(checkpoint.memory_bank.size(0), 640 / 4);  // floor(640 * 0.25)
  EXPECT_EQ(checkpoint.memory_bank.size(1), 384);
  EXPECT_EQ(checkpoint.training_images.size(), 10u);
  EXPECT_EQ(checkpoint.training_images[0].sha256.size(), 64u);
  EXPECT_EQ(checkpoint.config.layers, (std::vector<std::string>{"layer2", "layer3"}));
  EXPECT_EQ(checkpoint.weights_source, "random:3");
  // Truncated backbone: nothing of layer4 is stored.
  for (const auto& [name, tensor] : checkpoint.backbone_weights) EXPECT_EQ(name.rfind("layer4", 0), std::string::npos);
  EXPECT_EQ(read_norm_stats(model / "norm_stats.txt").num_samples, 10);
}

TEST_F(TrainerTest, CheckpointStoresTheSupportTableAndSearchSettings) {
  auto options = fast_train_options(data(), out());
  options.model.search.backend = search::Backend::kFaiss;
  options.model.search.faiss_index = search::FaissIndexType::kIvf;
  options.model.search.ivf_nprobe = 3;
  const auto report = train(options);
  ASSERT_TRUE(report.search_agreement.has_value());
  EXPECT_GT(report.search_agreement->recall_at_1(), 0.5);
  EXPECT_LE(report.search_agreement->recall_at_1(), 1.0);
  const auto checkpoint = load_checkpoint(out() / "wire/checkpoint.safetensors");
  EXPECT_EQ(checkpoint.config.search.backend, search::Backend::kFaiss);
  EXPECT_EQ(checkpoint.config.search.faiss_index, search::FaissIndexType::kIvf);
  EXPECT_EQ(checkpoint.config.search.ivf_nprobe, 3);
  // Row i of the support table: the num_neighbors bank rows nearest to row i, itself first.
  const auto& bank = checkpoint.memory_bank;
  ASSERT_EQ(checkpoint.support.sizes(), (std::vector<int64_t>{bank.size(0), checkpoint.config.num_neighbors}));
  EXPECT_TRUE(checkpoint.support.select(1, 0).equal(torch::arange(bank.size(0))));
  const auto d2 = (bank.unsqueeze(1) - bank.unsqueeze(0)).pow(2).sum(-1).to(torch::kDouble);
  const auto kth = std::get<0>(d2.topk(checkpoint.config.num_neighbors, 1, false)).select(1, -1);
  const auto chosen = d2.gather(1, checkpoint.support).max(1);
  EXPECT_TRUE((std::get<0>(chosen) <= kth * (1 + 1e-5) + 1e-6).all().item<bool>());
}

TEST_F(TrainerTest, ModelWithoutAStoredSupportTableScoresTheSame) {
  // Checkpoints written before the table existed: the model computes it on load.
  train(fast_train_options(data(), out()));
  const auto model_dir = out() / "wire";
  const auto image = read_image_bgr(find_input_images(data() / "test").front());
  const double with_table = Model::load(model_dir).predict(image).score;
  auto checkpoint = load_checkpoint(model_dir / "checkpoint.safetensors");
  checkpoint.support = torch::Tensor();
  save_checkpoint(model_dir / "checkpoint.safetensors", checkpoint);
  std::filesystem::remove(model_dir / ModelFolder::kManifest);  // such folders had no SHA256SUMS either
  EXPECT_FLOAT_EQ(Model::load(model_dir).predict(image).score, with_table);
}

// Version 2 may carry an ROI; version-1 files (no ROI) still load, newer ones are refused
// with the versions this build reads.
TEST_F(TrainerTest, CheckpointFormatVersions) {
  train(fast_train_options(data(), out()));
  const auto path = out() / "wire" / "checkpoint.safetensors";
  std::filesystem::remove(out() / "wire" / ModelFolder::kManifest);  // older folders had no SHA256SUMS
  auto file = read_safetensors(path);
  auto meta = nlohmann::json::parse(file.metadata.at("patchcore"));
  EXPECT_EQ(meta.at("format_version").get<int>(), 2);
  const auto with_version = [&](int version) {
    meta["format_version"] = version;
    file.metadata["patchcore"] = meta.dump();
    write_safetensors(path, file);
  };
  with_version(1);
  EXPECT_EQ(load_checkpoint(path).memory_bank.size(0), Model::load(out() / "wire").summary().memory_bank_rows);
  with_version(3);  // what a shortlist model is written as (shortlist_training_test)
  EXPECT_EQ(load_checkpoint(path).memory_bank.size(0), Model::load(out() / "wire").summary().memory_bank_rows);
  with_version(4);
  const auto message = user_error_message([&] { load_checkpoint(path); });
  EXPECT_NE(message.find("format version 4"), std::string::npos) << message;
  EXPECT_NE(message.find("reads 1 to 3"), std::string::npos) << message;
}

// With the full bank every training patch is its own nearest neighbour: distance
// 0, so every training image scores 0. anomalib's distance formula
// sqrt(|x|^2 - 2x.y + |y|^2) in float32 turns that 0 into sqrt(rounding error of
// |x|^2), so the bound is sqrt(k * eps_f32 * max|x|^2) instead of exactly 0.
TEST_F(TrainerTest, FullBankScoresTrainingImagesZero) {
  auto options = fast_train_options(data(), out());
  options.model.coreset_ratio = 1.0;
  const auto report = train(options);
  EXPECT_EQ(report.bank_rows, report.num_patches);
  const auto bank = load_checkpoint(out() / "wire/checkpoint.safetensors").memory_bank;
  const double max_sq_norm = bank.pow(2).sum(1).max().item<double>();
  const double rounding_bound = std::sqrt(64 * 1.19e-7 * max_sq_norm);
  EXPECT_LT(report.norm_stats.max_score, rounding_bound);
  EXPECT_LT(report.norm_stats.max_pixel, rounding_bound);
  const auto model = Model::load(out() / "wire");
  const auto p = model.predict(read_image_bgr(find_training_images(data()).front()));
  EXPECT_LT(p.score, rounding_bound);
  // ... while a test image, whose patches are not in the bank, scores far above that.
  const auto q = model.predict(read_image_bgr(find_input_images(data() / "test").front()));
  EXPECT_GT(q.score, 5 * rounding_bound);
}

// norm_stats.txt is computed from stored embeddings; recompute it through the
// independent prediction path (decode, backbone again, batch of 1) and compare.
// Tolerance 2e-3: the float32 cancellation of the distance formula (see above)
// amplifies the last-bit differences of a different convolution batch size.
TEST_F(TrainerTest, NormStatsMatchScoresOfThePredictionPath) {
  train(fast_train_options(data(), out()));
  const auto model = Model::load(out() / "wire");
  std::vector<double> scores;
  double max_pixel = 0, pixel_sum = 0;
  int64_t pixels = 0;
  for (const auto& path : find_training_images(data())) {
    const auto p = model.predict(read_image_bgr(path));
    scores.push_back(p.score);
    double mx = 0;
    cv::minMaxLoc(p.model_map, nullptr, &mx);
    max_pixel = std::max(max_pixel, mx);
    pixel_sum += cv::sum(p.model_map)[0];
    pixels += p.model_map.total();
  }
  double mean = 0, var = 0;
  for (double s : scores) mean += s / scores.size();
  for (double s : scores) var += (s - mean) * (s - mean) / scores.size();
  const auto stats = read_norm_stats(out() / "wire/norm_stats.txt");
  EXPECT_NEAR(stats.max_score, *std::max_element(scores.begin(), scores.end()), 2e-3 * stats.max_score);
  EXPECT_NEAR(stats.mean_score, mean, 2e-3 * mean);
  EXPECT_NEAR(stats.std_score, std::sqrt(var), 2e-2 * std::sqrt(var) + 1e-6);
  EXPECT_NEAR(stats.max_pixel, max_pixel, 2e-3 * max_pixel);
  EXPECT_NEAR(stats.mean_pixel, pixel_sum / pixels, 2e-3 * stats.mean_pixel);
  EXPECT_DOUBLE_EQ(model.threshold(), stats.max_score);
}

TEST_F(TrainerTest, SameSeedSameModelDifferentSeedDifferentCoreset) {
  auto a = fast_train_options(data(), out() / "a");
  auto b = fast_train_options(data(), out() / "b");
  auto c = fast_train_options(data(), out() / "c");
  c.model.seed = 99;
  train(a);
  train(b);
  train(c);
  auto bank = [](const fs::path& dir) { return load_checkpoint(dir / "wire/checkpoint.safetensors").memory_bank; };
  EXPECT_TRUE(torch::equal(bank(out() / "a"), bank(out() / "b")));
  EXPECT_FALSE(torch::equal(bank(out() / "a"), bank(out() / "c")));
}

TEST_F(TrainerTest, PredictionsAreThreadSafeAndBatchIndependent) {
  train(fast_train_options(data(), out()));
  const auto model = Model::load(out() / "wire");
  const auto files = find_input_images(data() / "test");
  std::vector<cv::Mat> images;
  for (const auto& f : files) images.push_back(read_image_bgr(f));
  const auto batched = model.predict(images);
  std::vector<float> threaded(images.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < images.size(); ++i)
    threads.emplace_back([&, i] { threaded[i] = model.predict(images[i]).score; });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < images.size(); ++i) {
    EXPECT_NEAR(threaded[i], batched[i].score, 2e-3 * batched[i].score) << files[i];
    EXPECT_EQ(batched[i].anomaly_map.size(), images[i].size());
    EXPECT_EQ(batched[i].model_map.size(), cv::Size(64, 64));
  }
}

// A sanity check of the whole chain with a random backbone on small images; the
// real accuracy check (pretrained MobileNet, real tiles) is magnetic_tile_test.
TEST_F(TrainerTest, DefectsScoreAboveGoodPartsOnAverage) {
  auto options = fast_train_options(data(), out());
  options.model.preprocessing.height = options.model.preprocessing.width = 96;  // data's own size
  train(options);
  const auto model = Model::load(out() / "wire");
  double good = 0, defect = 0;
  int n_good = 0, n_defect = 0;
  for (const auto& f : find_input_images(data() / "test")) {
    const double s = model.predict(read_image_bgr(f)).score;
    if (f.parent_path().filename() == "good") good += s, ++n_good;
    else defect += s, ++n_defect;
  }
  EXPECT_GT(defect / n_defect, good / n_good);
}

TEST_F(TrainerTest, UnreadableImageFailsAndLeavesNothing) {
  std::ofstream(data() / "train/good/zzz_broken.png") << "not a png";
  const auto message = user_error_message([&] { train(fast_train_options(data(), out())); });
  EXPECT_NE(message.find("zzz_broken.png"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(out() / "wire"));
  if (fs::exists(out())) EXPECT_TRUE(fs::is_empty(out()));
}

TEST_F(TrainerTest, FailedRetrainKeepsThePreviousModel) {
  train(fast_train_options(data(), out()));
  const auto before = fs::last_write_time(out() / "wire/checkpoint.safetensors");
  std::ofstream(data() / "train/good/zzz_broken.png") << "";
  EXPECT_THROW(train(fast_train_options(data(), out())), UserError);
  EXPECT_EQ(fs::last_write_time(out() / "wire/checkpoint.safetensors"), before);
}

TEST_F(TrainerTest, TooFewImagesForTheRatio) {
  auto options = fast_train_options(data(), out());
  options.model.coreset_ratio = 0.0001;  // 640 patches * 0.0001 < 1
  const auto message = user_error_message([&] { train(options); });
  EXPECT_NE(message.find("too few images"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(out() / "wire"));
}

TEST_F(TrainerTest, BadSettingsAreUserErrors) {
  auto unknown_backbone = fast_train_options(data(), out());
  unknown_backbone.model.backbone = "vgg16";
  EXPECT_THROW(train(unknown_backbone), UserError);
  auto unknown_layer = fast_train_options(data(), out());
  unknown_layer.model.layers = {"layer2", "layer7"};
  EXPECT_THROW(train(unknown_layer), UserError);
  auto missing = fast_train_options(dir_.path() / "nope", out());
  EXPECT_THROW(train(missing), UserError);
  auto bad_name = fast_train_options(data(), out());
  bad_name.pattern_name = "a/b";
  EXPECT_THROW(train(bad_name), UserError);
  EXPECT_FALSE(fs::exists(out() / "wire"));
}

TEST_F(TrainerTest, TruncatedCheckpointIsAClearError) {
  train(fast_train_options(data(), out()));
  const auto file = out() / "wire/checkpoint.safetensors";
  fs::resize_file(file, fs::file_size(file) / 2);
  const auto message = user_error_message([&] { Model::load(out() / "wire"); });
  EXPECT_NE(message.find("checkpoint.safetensors"), std::string::npos) << message;
}

TEST_F(TrainerTest, GrayscaleAndRgbaImagesAreConverted) {
  cv::Mat gray = cv::imread((data() / "train/good/000.png").string(), cv::IMREAD_GRAYSCALE);
  cv::imwrite((data() / "train/good/gray.png").string(), gray);
  cv::Mat bgra;
  cv::cvtColor(cv::imread((data() / "train/good/001.png").string()), bgra, cv::COLOR_BGR2BGRA);
  cv::imwrite((data() / "train/good/rgba.png").string(), bgra);
  const auto report = train(fast_train_options(data(), out()));
  EXPECT_EQ(report.num_images, 12);
}

}  // namespace
}  // namespace patchcore

// ROI mode end to end in the library: training locates the part in every image (known
// paste positions are the truth), writes the roi/ report, and Model::predict crops the
// located ROI, so shifting the part does not change its score; a whole-image model's
// score does change. Also: non-square --image-size (160 x 448) through train, predict,
// export and ONNX Runtime, cropping with the locator read back from the ONNX metadata.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <opencv2/imgcodecs.hpp>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "../../examples/export_client/client_common.h"  // the example app's pre-processing, compiled here
#include "data/preprocess.h"
#include "export/export_test_support.h"
#include "patchcore/model.h"
#include "patchcore/roi.h"
#include "pipeline/checkpoint.h"
#include "pipeline/pipeline_test_support.h"
#include "roi_scene.h"
#include "test_support.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;
using roi_testing::make_part;
using roi_testing::scene;

const cv::Size kImage(320, 240);
const cv::Point kReference(112, 88);
const cv::Size kPart(96, 64);

class RoiPipeline : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    part_ = new cv::Mat(make_part(kPart));
    truths_ = new std::vector<cv::Point>(
        roi_testing::write_dataset(dir_->path() / "data", 8, kImage, *part_, kReference, 5));
    TrainOptions roi = testing::fast_train_options(dir_->path() / "data", dir_->path() / "out");
    roi.pattern_name = "roi";
    roi.model.preprocessing.height = 64;  // the ROI's 96 x 64 aspect ratio
    roi.model.preprocessing.width = 96;
    roi.roi.rect = cv::Rect(kReference, kPart);
    train(roi);
    TrainOptions whole = testing::fast_train_options(dir_->path() / "data", dir_->path() / "out");
    whole.pattern_name = "whole";
    whole.model.preprocessing.height = 96;
    whole.model.preprocessing.width = 128;
    train(whole);
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete part_;
    delete truths_;
  }
  static fs::path model_dir(const char* name) { return dir_->path() / "out" / name; }

  static testing::TempDir* dir_;
  static cv::Mat* part_;
  static std::vector<cv::Point>* truths_;
};

testing::TempDir* RoiPipeline::dir_ = nullptr;
cv::Mat* RoiPipeline::part_ = nullptr;
std::vector<cv::Point>* RoiPipeline::truths_ = nullptr;

TEST_F(RoiPipeline, TrainingWritesTheRoiReportWithTheTruePositions) {
  const fs::path roi = model_dir("roi") / "roi";
  const auto json = nlohmann::json::parse(testing::read_file(roi / "roi.json"));
  EXPECT_EQ(json.at("rect").get<std::vector<int>>(), (std::vector<int>{112, 88, 96, 64}));
  EXPECT_EQ(json.at("template_size").get<std::vector<int>>(), (std::vector<int>{96, 64}));
  EXPECT_DOUBLE_EQ(json.at("threshold").get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(json.at("search_margin").get<double>(), 0.15);
  EXPECT_TRUE(json.at("method").get<std::string>().find("TM_CCOEFF_NORMED") != std::string::npos);
  EXPECT_EQ(cv::imread((roi / "template.png").string()).size(), kPart);
  EXPECT_FALSE(cv::imread((roi / "crops.jpg").string()).empty());

  std::ifstream csv(roi / "matches.csv");
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "image,x,y,score,used");
  size_t rows = 0;
  while (std::getline(csv, line)) {
    std::stringstream ss(line);
    std::string image, x, y, score, used;
    std::getline(ss, image, ',');
    std::getline(ss, x, ',');
    std::getline(ss, y, ',');
    std::getline(ss, score, ',');
    std::getline(ss, used, ',');
    ASSERT_LT(rows, truths_->size());
    EXPECT_LE(std::abs(std::stoi(x) - (*truths_)[rows].x), 1) << line;
    EXPECT_LE(std::abs(std::stoi(y) - (*truths_)[rows].y), 1) << line;
    EXPECT_GT(std::stod(score), 0.5) << line;
    EXPECT_EQ(used, "1");
    ++rows;
  }
  EXPECT_EQ(rows, truths_->size());

  const auto config = YAML::LoadFile((model_dir("roi") / "config.yaml").string());
  EXPECT_EQ(config["roi"]["rect"].as<std::vector<int>>(), (std::vector<int>{112, 88, 96, 64}));
  EXPECT_EQ(YAML::LoadFile((model_dir("whole") / "config.yaml").string())["roi"].as<std::string>(), "none");
  const Checkpoint checkpoint = load_checkpoint(model_dir("roi") / "checkpoint.safetensors");
  ASSERT_TRUE(checkpoint.roi.has_value());
  EXPECT_EQ(checkpoint.roi->settings().rect, cv::Rect(kReference, kPart));
  EXPECT_EQ(cv::norm(checkpoint.roi->template_image(), cv::imread((roi / "template.png").string()), cv::NORM_INF), 0);
  EXPECT_FALSE(load_checkpoint(model_dir("whole") / "checkpoint.safetensors").roi.has_value());
  EXPECT_FALSE(fs::exists(model_dir("whole") / "roi"));
}

TEST_F(RoiPipeline, ShiftedPartsScoreLikeTheUnshiftedOneWithRoiAndWorseWithout) {
  const Model with_roi = Model::load(model_dir("roi"));
  const Model whole = Model::load(model_dir("whole"));
  ASSERT_NE(with_roi.roi(), nullptr);
  EXPECT_EQ(whole.roi(), nullptr);
  // Training image 0's background with the part unshifted, then moved.
  const cv::Mat unshifted = scene(kImage, *part_, kReference, 0, 0.0);
  const std::vector<cv::Point> shifts = {{30, 20}, {-30, -22}, {25, -18}, {-20, 15}};
  const Prediction base_roi = with_roi.predict(unshifted);
  const Prediction base_whole = whole.predict(unshifted);
  double worst_roi_change = 0, least_whole_change = 1e9;
  for (const cv::Point& d : shifts) {
    const cv::Mat shifted = scene(kImage, *part_, kReference + d, 0, 0.0);
    const Prediction r = with_roi.predict(shifted);
    const Prediction w = whole.predict(shifted);
    ASSERT_TRUE(r.roi_found);
    EXPECT_LE(std::abs(r.roi.x - (kReference + d).x), 1);
    EXPECT_LE(std::abs(r.roi.y - (kReference + d).y), 1);
    const double roi_change = std::abs(r.score - base_roi.score) / base_roi.score;
    const double whole_change = (w.score - base_whole.score) / base_whole.score;
    std::cout << "[ roi ] shift " << d << ": ROI score " << r.score << " (unshifted " << base_roi.score
              << "), whole-image score " << w.score << " (unshifted " << base_whole.score << ")\n";
    EXPECT_LT(roi_change, 0.02) << "shift " << d;
    EXPECT_GT(whole_change, 0.03) << "shift " << d;  // the whole-image model sees the background change
    worst_roi_change = std::max(worst_roi_change, roi_change);
    least_whole_change = std::min(least_whole_change, whole_change);
  }
  EXPECT_GT(least_whole_change, 5 * worst_roi_change);
}

TEST_F(RoiPipeline, ImagesWithoutThePartAreNotScored) {
  const Model model = Model::load(model_dir("roi"));
  const cv::Mat empty = roi_testing::background(kImage, 77);
  const cv::Mat good = scene(kImage, *part_, kReference + cv::Point(-9, 7), 78);
  const auto predictions = model.predict(std::vector<cv::Mat>{empty, good});
  EXPECT_FALSE(predictions[0].roi_found);
  EXPECT_LT(predictions[0].roi_score, 0.5);
  EXPECT_TRUE(std::isnan(predictions[0].score));
  EXPECT_EQ(cv::countNonZero(predictions[0].anomaly_map), 0);
  EXPECT_TRUE(predictions[1].roi_found);
  EXPECT_FLOAT_EQ(predictions[1].score, model.predict(good).score);  // batching does not change it
  // The anomaly map covers the image; only the ROI is scored.
  const Prediction& p = predictions[1];
  EXPECT_EQ(p.anomaly_map.size(), kImage);
  EXPECT_EQ(p.model_map.size(), cv::Size(96, 64));
  cv::Mat outside = p.anomaly_map.clone();
  outside(p.roi).setTo(0);
  EXPECT_EQ(cv::countNonZero(outside), 0);
  EXPECT_GT(cv::countNonZero(p.anomaly_map(p.roi)), 0);
}

TEST(RoiTraining, TooFewMatchingImagesIsAUserErrorAndWritesNothing) {
  testing::TempDir dir;
  const cv::Mat part = make_part(kPart);
  roi_testing::write_dataset(dir.path() / "data", 3, kImage, part, kReference, 9);
  for (int i = 3; i < 8; ++i)  // five images without the part
    cv::imwrite((dir.path() / "data" / ("bg" + std::to_string(i) + ".png")).string(),
                roi_testing::background(kImage, 200 + i));
  TrainOptions o = testing::fast_train_options(dir.path() / "data", dir.path() / "out");
  o.roi.rect = cv::Rect(kReference, kPart);
  const auto message = testing::user_error_message([&] { train(o); });
  EXPECT_NE(message.find("too few training images match the ROI: 3 of 8"), std::string::npos) << message;
  EXPECT_TRUE(!fs::exists(dir.path() / "out") || fs::is_empty(dir.path() / "out"));
}

TEST(RoiTraining, SkipsImagesBelowTheThresholdWithAWarningAndTakesTheRoiFromRoiImage) {
  testing::TempDir dir;
  const cv::Mat part = make_part(kPart);
  const auto truths = roi_testing::write_dataset(dir.path() / "data", 5, kImage, part, kReference, 17);
  cv::imwrite((dir.path() / "data/zz_empty.png").string(), roi_testing::background(kImage, 500));
  // The ROI is given on a separate reference image, where the part sits elsewhere.
  const cv::Point elsewhere(100, 80);
  cv::imwrite((dir.path() / "reference.png").string(), scene(kImage, part, elsewhere, 501));
  TrainOptions o = testing::fast_train_options(dir.path() / "data", dir.path() / "out");
  o.roi.rect = cv::Rect(elsewhere, kPart);
  o.roi.image = dir.path() / "reference.png";
  o.roi.context = 8;
  ::testing::internal::CaptureStderr();
  const TrainReport report = train(o);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(report.num_images, 5);
  EXPECT_NE(log.find("skipping " + (dir.path() / "data/zz_empty.png").string() + ": ROI match score"),
            std::string::npos)
      << log;
  const std::string csv = testing::read_file(dir.path() / "out/wire/roi/matches.csv");
  EXPECT_NE(csv.find("zz_empty.png,"), std::string::npos) << csv;
  EXPECT_EQ(csv.substr(csv.size() - 3), ",0\n") << csv;  // zz_empty.png sorts last: used = 0
  for (size_t i = 0; i < truths.size(); ++i) {
    char row[64];
    std::snprintf(row, sizeof row, "%03zu.png,%d,%d,", i, truths[i].x, truths[i].y);
    EXPECT_NE(csv.find(row), std::string::npos) << row << "\n" << csv;
  }
  const auto json = nlohmann::json::parse(testing::read_file(dir.path() / "out/wire/roi/roi.json"));
  EXPECT_EQ(json.at("reference_image").get<std::string>(), (dir.path() / "reference.png").string());
  EXPECT_EQ(json.at("template_rect").get<std::vector<int>>(),
            (std::vector<int>{elsewhere.x - 8, elsewhere.y - 8, kPart.width + 16, kPart.height + 16}));
}

TEST(RoiTraining, WithoutRoiTheAspectRatioAdviceComparesTheTrainingImages) {
  testing::TempDir dir;
  roi_testing::write_dataset(dir.path() / "data", 2, kImage, make_part(kPart), kReference, 1);
  TrainOptions o = testing::fast_train_options(dir.path() / "data", dir.path() / "out");
  o.model.preprocessing.height = 32;  // 320 x 240 images (4:3) squashed into 32 x 96 (3:1)
  o.model.preprocessing.width = 96;
  ::testing::internal::CaptureStderr();
  train(o);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("320 x 240 pixels"), std::string::npos) << log;
  EXPECT_NE(log.find("Consider --image-size"), std::string::npos) << log;
}

// Non-square model input end to end: a long strip at 160 x 448, exported, run in ONNX
// Runtime on the crop an app makes with the locator from the ONNX metadata.
TEST(RoiNonSquare, TrainPredictExportAndOnnxRuntimeAt160x448) {
  testing::TempDir dir;
  const cv::Size image(480, 240), strip(280, 100);
  const cv::Point reference(100, 70);
  const cv::Mat part = make_part(strip, 21);
  roi_testing::write_dataset(dir.path() / "data", 6, image, part, reference, 13);
  TrainOptions o = testing::fast_train_options(dir.path() / "data", dir.path() / "out");
  o.pattern_name = "strip";
  o.model.preprocessing.height = 160;
  o.model.preprocessing.width = 448;
  o.roi.rect = cv::Rect(reference, strip);
  o.export_model = true;
  train(o);
  const fs::path model_dir = dir.path() / "out/strip";

  // A defective strip at a new position on a new background.
  cv::Mat defective = part.clone();
  cv::line(defective, {40, 30}, {200, 70}, cv::Scalar(255, 255, 255), 3);
  const cv::Point truth = reference + cv::Point(-31, 19);
  const cv::Mat test_image = scene(image, defective, truth, 300);
  const Model model = Model::load(model_dir);
  const Prediction native = model.predict(test_image);
  ASSERT_TRUE(native.roi_found);
  EXPECT_EQ(native.model_map.size(), cv::Size(448, 160));

  // What an ONNX Runtime app does: read the ROI from the model's metadata, locate, crop,
  // pre-process exactly as training did, run.
  onnx::ModelProto proto;
  {
    std::ifstream f(model_dir / "strip.onnx", std::ios::binary);
    ASSERT_TRUE(proto.ParseFromIstream(&f));
  }
  std::map<std::string, std::string> metadata;
  for (const auto& p : proto.metadata_props()) metadata[p.key()] = p.value();
  ASSERT_TRUE(RoiLocator::has_roi_metadata(metadata));
  const RoiLocator app_roi = RoiLocator::from_metadata(metadata);
  const RoiMatch m = app_roi.locate(test_image);
  ASSERT_TRUE(m.found);
  EXPECT_LE(std::abs(m.rect.x - truth.x), 1);
  EXPECT_LE(std::abs(m.rect.y - truth.y), 1);
  EXPECT_EQ(m.rect, native.roi);
  const std::string ir = testing::read_file(model_dir / "strip.xml");
  EXPECT_NE(ir.find("<roi_rect value=\"100,70,280,100\""), std::string::npos);
  EXPECT_NE(ir.find("<roi_template_png value=\""), std::string::npos);
  EXPECT_EQ(metadata.at("patchcore.image_size"), "160,448");

  // The example client's preparation (examples/export_client/client_common.h) with that
  // locator gives exactly the project's own pre-processing of the crop.
  const client::PreparedInput prepared = client::prepare_input(test_image, 160, 448, "imagenet", &app_roi);
  ASSERT_TRUE(prepared.roi_found);
  EXPECT_EQ(prepared.roi, native.roi);
  Preprocessing spec;
  spec.height = 160;
  spec.width = 448;
  const auto input =
      torch::from_blob(const_cast<float*>(prepared.chw.data()), {1, 3, 160, 448}, torch::kFloat).clone();
  EXPECT_EQ(testing::relative_error(input, preprocess(app_roi.crop(test_image, m), spec).unsqueeze(0)), 0.0);
  // Not found: nothing to feed.
  EXPECT_FALSE(client::prepare_input(roi_testing::background(image, 301), 160, 448, "imagenet", &app_roi).roi_found);

  PATCHCORE_REQUIRE_ONNXRUNTIME();
  const auto ort = export_testing::run_onnxruntime(model_dir / "strip.onnx", input, dir.path() / "ort");
  const auto& map = ort.outputs.at("anomaly_map");
  ASSERT_EQ(map.sizes(), torch::IntArrayRef({1, 1, 160, 448}));
  const auto native_map = torch::from_blob(const_cast<float*>(native.model_map.ptr<float>()), {1, 1, 160, 448});
  const double map_err = testing::relative_error(map, native_map);
  const double score_err =
      std::abs(ort.outputs.at("pred_score").item<float>() - native.score) / std::abs(native.score);
  std::cout << "[ roi ] 160x448 ONNX Runtime vs native: anomaly_map rel err " << map_err << ", pred_score rel err "
            << score_err << " (score " << native.score << ")\n";
  // The crop is mostly a good part, whose patches lie close to the bank: there the float32
  // |x|^2 - 2x.y + |y|^2 distances cancel, and two correct implementations differ by up
  // to ~1e-4 relative (docs/export.md); the defect's score is exact to ~1e-6.
  EXPECT_LT(map_err, 2.5e-4);
  EXPECT_LT(score_err, 1e-4);
}

}  // namespace
}  // namespace patchcore

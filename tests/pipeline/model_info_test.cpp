// The exported files carry OpenVINO Model API's `model_info` (thresholds, normalisation,
// pre-processing) with the values of the model folder: IR rt_info/model_info/<key> and
// ONNX metadata_props "model_info <key>".
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <pugixml.hpp>

#include <fstream>
#include <map>

#include "export/export_test_support.h"
#include "head/norm_stats.h"
#include "pipeline/checkpoint.h"
#include "pipeline/model_export.h"
#include "pipeline/model_folder.h"
#include "pipeline/pipeline_test_support.h"
#include "test_support.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;

std::map<std::string, std::string> ir_model_info(const fs::path& xml_path) {
  pugi::xml_document xml;
  EXPECT_TRUE(xml.load_file(xml_path.c_str())) << xml_path;
  std::map<std::string, std::string> info;
  for (auto n : xml.child("net").child("rt_info").child("model_info").children()) info[n.name()] = n.attribute("value").value();
  return info;
}

// A model with held-out thresholds, exported: `dir`/out/wire.
fs::path train_exported_model(const fs::path& dir) {
  TrainOptions o = testing::holdout_train_options(dir);
  o.export_model = true;
  train(o);
  return dir / "out/wire";
}

TEST(ModelInfo, IrAndOnnxCarryThresholdsAndPreprocessing) {
  testing::TempDir dir;
  const fs::path model = train_exported_model(dir.path());
  const NormStats stats = read_norm_stats(model / "norm_stats.txt");
  ASSERT_TRUE(stats.image_threshold && stats.pixel_threshold);

  auto ir = ir_model_info(model / "wire.xml");

  onnx::ModelProto proto;
  std::ifstream f(model / "wire.onnx", std::ios::binary);
  ASSERT_TRUE(proto.ParseFromIstream(&f));
  std::map<std::string, std::string> onnx;
  for (const auto& p : proto.metadata_props())
    if (p.key().rfind("model_info ", 0) == 0) onnx[p.key().substr(11)] = p.value();

  EXPECT_EQ(ir, onnx);  // the same keys and values in both formats
  EXPECT_EQ(ir["model_type"], "AnomalyDetection");
  EXPECT_EQ(ir["task"], "segmentation");
  EXPECT_EQ(ir["labels"], "Normal Anomaly");
  EXPECT_EQ(ir["reverse_input_channels"], "True");
  EXPECT_EQ(ir["image_shape"], "64 64");
  EXPECT_DOUBLE_EQ(std::stod(ir["image_threshold"]), *stats.image_threshold);
  EXPECT_DOUBLE_EQ(std::stod(ir["pixel_threshold"]), *stats.pixel_threshold);
  EXPECT_DOUBLE_EQ(std::stod(ir["normalization_scale"]), std::max(stats.max_score, stats.max_pixel));
  // resnet18: ImageNet normalisation on 0..255 values.
  EXPECT_EQ(ir["mean_values"], "123.675 116.28 103.53");
  EXPECT_EQ(ir["scale_values"], "58.395 57.12 57.375");
}

// Model API's AnomalyModel takes exactly one output (model->output()) and scores an image by
// the map's maximum: `export --model-api` writes PATTERN_model_api.* with the map alone and the
// pixel threshold as image threshold.
TEST(ModelInfo, ModelApiVariantHasOneOutputAndScoresByTheMapMaximum) {
  testing::TempDir dir;
  const fs::path model = train_exported_model(dir.path());
  const NormStats stats = read_norm_stats(model / "norm_stats.txt");
  const Checkpoint checkpoint = load_checkpoint(model / ModelFolder::kCheckpoint);
  export_model(patch_model_of(checkpoint), checkpoint.roi, stats, model, "wire", ExportFormats::kAll, false,
               GraphOutputs::kMapOnly);

  pugi::xml_document xml;
  ASSERT_TRUE(xml.load_file((model / "wire_model_api.xml").c_str()));
  int results = 0;
  for (auto layer : xml.child("net").child("layers").children("layer"))
    if (std::string(layer.attribute("type").value()) == "Result") ++results;
  EXPECT_EQ(results, 1);
  auto info = ir_model_info(model / "wire_model_api.xml");
  EXPECT_DOUBLE_EQ(std::stod(info["image_threshold"]), *stats.pixel_threshold);
  EXPECT_DOUBLE_EQ(std::stod(info["pixel_threshold"]), *stats.pixel_threshold);
  auto app_info = ir_model_info(model / "wire.xml");
  info.erase("image_threshold");
  app_info.erase("image_threshold");
  EXPECT_EQ(info, app_info);  // everything else as in the app export

  onnx::ModelProto proto;
  std::ifstream f(model / "wire_model_api.onnx", std::ios::binary);
  ASSERT_TRUE(proto.ParseFromIstream(&f));
  ASSERT_EQ(proto.graph().output_size(), 1);
  EXPECT_EQ(proto.graph().output(0).name(), "anomaly_map");

  if (!export_testing::onnxruntime_available()) GTEST_SKIP() << "ONNX Runtime not installed: the outputs were not run";
  const auto input = export_testing::random_input(2, 64, 7);
  const auto app = export_testing::run_onnxruntime(model / "wire.onnx", input, dir.path() / "ort_app");
  const auto api = export_testing::run_onnxruntime(model / "wire_model_api.onnx", input, dir.path() / "ort_api");
  ASSERT_EQ(api.output_names, std::vector<std::string>{"anomaly_map"});
  EXPECT_TRUE(torch::equal(api.outputs.at("anomaly_map"), app.outputs.at("anomaly_map")));
}

}  // namespace
}  // namespace patchcore

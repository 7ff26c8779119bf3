// The exported files carry OpenVINO Model API's `model_info` (thresholds, normalisation,
// pre-processing) with the values of the model folder: IR rt_info/model_info/<key> and
// ONNX metadata_props "model_info <key>".
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <pugixml.hpp>

#include <fstream>
#include <map>

#include "head/norm_stats.h"
#include "pipeline/pipeline_test_support.h"
#include "test_support.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;

TEST(ModelInfo, IrAndOnnxCarryThresholdsAndPreprocessing) {
  testing::TempDir dir;
  TrainOptions o = testing::holdout_train_options(dir.path());
  o.export_model = true;
  train(o);
  const fs::path model = dir.path() / "out/wire";
  const NormStats stats = read_norm_stats(model / "norm_stats.txt");
  ASSERT_TRUE(stats.image_threshold && stats.pixel_threshold);

  pugi::xml_document xml;
  ASSERT_TRUE(xml.load_file((model / "wire.xml").c_str()));
  std::map<std::string, std::string> ir;
  for (auto n : xml.child("net").child("rt_info").child("model_info").children()) ir[n.name()] = n.attribute("value").value();

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

}  // namespace
}  // namespace patchcore

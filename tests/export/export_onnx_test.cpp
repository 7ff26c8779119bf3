// The ONNX export run in ONNX Runtime (onnxruntime-node) against the native pipeline,
// and checked by ONNX's own checker (Debian python3-onnx).
#include <gtest/gtest.h>

#include <onnx/onnx_pb.h>

#include <fstream>

#include "export/graph.h"
#include "export/onnx_writer.h"
#include "export_test_support.h"
#include "test_support.h"

namespace patchcore {
namespace {

using testing::relative_error;
using testing::TempDir;

using export_testing::RuntimeCase;

class OnnxExport : public ::testing::TestWithParam<RuntimeCase> {};

TEST_P(OnnxExport, RunsInOnnxRuntimeLikeNative) {
  PATCHCORE_REQUIRE_ONNXRUNTIME();
  const RuntimeCase c = GetParam();
  const auto model = export_testing::make_model(c, 9);
  TempDir dir;
  const auto path = dir.path() / "model.onnx";
  write_onnx(build_export_graph(model.source), path, {c.fp16});
  std::cout << "[ onnx ] " << c.backbone << (c.fp16 ? " f16" : " f32") << ": "
            << std::filesystem::file_size(path) << " bytes\n";
  if (export_testing::onnx_checker_available())
    EXPECT_EQ(export_testing::run_onnx_checker(path), "");
  const double tolerance = c.fp16 ? 1e-2 : 1e-4;
  for (int64_t batch : {1, 3}) {
    const auto input = export_testing::test_input(batch, c.size, 200 + batch);
    const auto expected = export_testing::native_predict(model, input);
    const auto ort = export_testing::run_onnxruntime(path, input, dir.path() / ("run" + std::to_string(batch)));
    ASSERT_EQ(ort.input_names, std::vector<std::string>{"input"});
    ASSERT_EQ(ort.output_names, (std::vector<std::string>{"anomaly_map", "pred_score"}));
    const auto& map = ort.outputs.at("anomaly_map");
    const auto& score = ort.outputs.at("pred_score");
    ASSERT_EQ(map.sizes(), expected.anomaly_map.sizes());
    ASSERT_EQ(score.sizes(), torch::IntArrayRef({batch, 1}));
    const double map_err = relative_error(map, expected.anomaly_map);
    const double score_err = relative_error(score.view({batch}), expected.pred_score);
    std::cout << "[ onnx ] " << c.backbone << (c.fp16 ? " f16" : " f32") << " batch " << batch
              << ": anomaly_map rel err " << map_err << ", pred_score rel err " << score_err << "\n";
    EXPECT_LT(map_err, tolerance);
    EXPECT_LT(score_err, tolerance);
  }
}

INSTANTIATE_TEST_SUITE_P(Backbones, OnnxExport, export_testing::runtime_cases(), export_testing::runtime_case_name);

onnx::ModelProto read_model(const std::filesystem::path& path) {
  onnx::ModelProto m;
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(m.ParseFromIstream(&f));
  return m;
}

TEST(OnnxExport, DeclaresTheContract) {
  const auto model = export_testing::make_model("resnet18", {"layer2", "layer3"}, 64, 9);
  TempDir dir;
  write_onnx(build_export_graph(model.source), dir.path() / "m.onnx");
  write_onnx(build_export_graph(model.source), dir.path() / "h.onnx", {true});
  const auto m = read_model(dir.path() / "m.onnx");
  EXPECT_EQ(m.opset_import(0).version(), kOnnxOpset);
  EXPECT_EQ(m.ir_version(), kOnnxIrVersion);
  ASSERT_EQ(m.graph().input_size(), 1);
  EXPECT_EQ(m.graph().input(0).name(), "input");
  EXPECT_EQ(m.graph().input(0).type().tensor_type().shape().dim(0).dim_param(), "batch");
  ASSERT_EQ(m.graph().output_size(), 2);
  EXPECT_EQ(m.graph().output(0).name(), "anomaly_map");
  EXPECT_EQ(m.graph().output(1).name(), "pred_score");
  bool has_backbone_meta = false;
  for (const auto& p : m.metadata_props()) has_backbone_meta |= p.key() == "patchcore.backbone";
  EXPECT_TRUE(has_backbone_meta);
  // fp16: every float initializer is float16 and the file is about half the size.
  const auto h = read_model(dir.path() / "h.onnx");
  for (const auto& t : h.graph().initializer())
    EXPECT_NE(t.data_type(), onnx::TensorProto::FLOAT) << t.name();
  const double ratio = static_cast<double>(std::filesystem::file_size(dir.path() / "h.onnx")) /
                       static_cast<double>(std::filesystem::file_size(dir.path() / "m.onnx"));
  std::cout << "[ onnx ] f16/f32 file size ratio " << ratio << "\n";
  EXPECT_LT(ratio, 0.55);
  EXPECT_GT(ratio, 0.45);
}

TEST(OnnxExport, LargeModelsUseExternalData) {
  const auto model = export_testing::make_model("resnet18", {"layer2"}, 64, 9);
  const auto graph = build_export_graph(model.source);
  TempDir dir;
  OnnxWriteOptions options;
  options.external_data_threshold = 1 << 20;  // force the > 2 GB path on a small model
  write_onnx(graph, dir.path() / "big.onnx", options);
  ASSERT_TRUE(std::filesystem::exists(dir.path() / "big.onnx.data"));
  EXPECT_LT(std::filesystem::file_size(dir.path() / "big.onnx"), 200000u);
  const auto m = read_model(dir.path() / "big.onnx");
  int external = 0;
  for (const auto& t : m.graph().initializer())
    external += t.data_location() == onnx::TensorProto::EXTERNAL;
  EXPECT_GT(external, 10);
  if (export_testing::onnx_checker_available())
    EXPECT_EQ(export_testing::run_onnx_checker(dir.path() / "big.onnx"), "");
  if (!export_testing::onnxruntime_available()) return;
  const auto input = export_testing::random_input(2, 64, 1);
  const auto expected = export_testing::native_predict(model, input);
  const auto ort = export_testing::run_onnxruntime(dir.path() / "big.onnx", input, dir.path() / "run");
  EXPECT_LT(relative_error(ort.outputs.at("anomaly_map"), expected.anomaly_map), 1e-4);
  EXPECT_LT(relative_error(ort.outputs.at("pred_score").view({2}), expected.pred_score), 1e-4);
}

TEST(OnnxExport, WritesAtomically) {
  const auto model = export_testing::make_model("resnet18", {"layer2"}, 64, 9);
  TempDir dir;
  write_onnx(build_export_graph(model.source), dir.path() / "m.onnx");
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename(), "m.onnx") << "left behind: " << e.path();
  EXPECT_ANY_THROW(write_onnx(build_export_graph(model.source), dir.path() / "missing" / "m.onnx"));
}

}  // namespace
}  // namespace patchcore

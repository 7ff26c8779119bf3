// The export graph description, evaluated in LibTorch, against the native pipeline
// (backbone -> build_embedding -> nearest_patch_scores -> image_scores -> anomaly_maps).
#include <gtest/gtest.h>

#include "export/graph.h"
#include "export_test_support.h"
#include "graph_evaluator.h"
#include "io/error.h"
#include "test_support.h"

namespace patchcore {
namespace {

using export_testing::evaluate_export_graph;
using testing::relative_error;

struct Case {
  const char* backbone;
  std::vector<std::string> layers;
  int64_t size;
  int64_t neighbors;
  int64_t shortlist_dims = 0;  // > 0: shortlist search (8 rows)
};

// What gtest (and ctest's test list) prints for a parameter, instead of its bytes.
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.backbone << " " << c.size << "px k=" << c.neighbors;
  if (c.shortlist_dims) *os << " shortlist " << c.shortlist_dims;
}

class ExportGraphParity : public ::testing::TestWithParam<Case> {};

TEST_P(ExportGraphParity, MatchesNativePipeline) {
  const Case c = GetParam();
  const auto model = export_testing::make_model(c.backbone, c.layers, c.size, c.neighbors, 300, c.shortlist_dims);
  const ExportGraph graph = build_export_graph(model.source);
  for (int64_t batch : {1, 3}) {
    const auto input = export_testing::test_input(batch, c.size, 100 + batch);
    const auto expected = export_testing::native_predict(model, input);
    const auto got = evaluate_export_graph(graph, input);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].sizes(), expected.anomaly_map.sizes());
    EXPECT_EQ(got[1].sizes(), torch::IntArrayRef({batch, 1}));
    const double map_err = relative_error(got[0], expected.anomaly_map);
    const double score_err = relative_error(got[1].view({batch}), expected.pred_score);
    std::cout << "[ graph ] " << c.backbone << " batch " << batch << ": anomaly_map rel err "
              << map_err << ", pred_score rel err " << score_err << "\n";
    EXPECT_LT(map_err, 1e-4);
    EXPECT_LT(score_err, 1e-4);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Backbones, ExportGraphParity,
    ::testing::Values(Case{"resnet18", {"layer2", "layer3"}, 64, 9},
                      Case{"resnet18", {"layer1", "layer2", "layer3"}, 72, 1},
                      Case{"mobilenet_v1_0.75", {"conv_pw_5_relu", "conv_pw_11_relu"}, 96, 9},
                      Case{"mobilenet_v1_0.75", {"conv_pw_5_relu", "conv_pw_11_relu"}, 100, 3},
                      Case{"resnet18", {"layer2", "layer3"}, 64, 9, 16},
                      Case{"resnet18", {"layer2", "layer3"}, 64, 1, 384},
                      Case{"mobilenet_v1_0.75", {"conv_pw_5_relu", "conv_pw_11_relu"}, 96, 9, 32}),
    [](const auto& info) {
      std::string name = std::string(info.param.backbone) + "_" + std::to_string(info.param.size) +
                         "_k" + std::to_string(info.param.neighbors) +
                         (info.param.shortlist_dims ? "_shortlist" + std::to_string(info.param.shortlist_dims) : "");
      for (char& ch : name)
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return name;
    });

TEST(ExportGraph, Fp16ConstantsStayClose) {
  const auto model = export_testing::make_model("resnet18", {"layer2", "layer3"}, 64, 9);
  const ExportGraph graph = build_export_graph(model.source);
  const auto input = export_testing::random_input(2, 64, 7);
  const auto f32 = evaluate_export_graph(graph, input);
  const auto f16 = evaluate_export_graph(graph, input, {/*fp16_constants=*/true});
  const double map_err = relative_error(f16[0], f32[0]);
  const double score_err = relative_error(f16[1], f32[1]);
  std::cout << "[ graph ] fp16 constants: anomaly_map rel err " << map_err << ", pred_score rel err "
            << score_err << "\n";
  EXPECT_LT(map_err, 1e-2);
  EXPECT_LT(score_err, 1e-2);
}

TEST(ExportGraph, RejectsBadSources) {
  auto model = export_testing::make_model("resnet18", {"layer2"}, 64, 9);
  auto bad = model.source;
  bad.memory_bank = torch::zeros({10, 3});
  EXPECT_THROW(build_export_graph(bad), UserError);
  bad = model.source;
  bad.preprocessing.height = 16;
  EXPECT_THROW(build_export_graph(bad), UserError);
  bad = model.source;
  bad.support = torch::Tensor();  // num_neighbors 9 needs the checkpoint's support table
  EXPECT_THROW(build_export_graph(bad), UserError);
  bad.support = model.source.support.narrow(0, 0, 5);
  EXPECT_THROW(build_export_graph(bad), UserError);
}

TEST(ExportGraph, DescribesTheContract) {
  const auto model = export_testing::make_model("resnet18", {"layer2", "layer3"}, 64, 9);
  const ExportGraph g = build_export_graph(model.source);
  EXPECT_EQ(g.values[g.input].name, "input");
  EXPECT_EQ(g.values[g.input].shape, (std::vector<int64_t>{-1, 3, 64, 64}));
  ASSERT_EQ(g.outputs.size(), 2u);
  EXPECT_EQ(g.values[g.outputs[0]].name, "anomaly_map");
  EXPECT_EQ(g.values[g.outputs[0]].shape, (std::vector<int64_t>{-1, 1, 64, 64}));
  EXPECT_EQ(g.values[g.outputs[1]].name, "pred_score");
  EXPECT_EQ(g.values[g.outputs[1]].shape, (std::vector<int64_t>{-1, 1}));
  // Truncated after the deepest requested layer: nothing of layer4.
  for (const auto& n : g.nodes) EXPECT_EQ(n.name.find("layer4"), std::string::npos) << n.name;
  EXPECT_EQ(g.metadata.at("patchcore.backbone"), "resnet18");
  EXPECT_EQ(g.metadata.at("patchcore.search"), "exact");
}

// ExportGraph::flops against a closed form: the exact search of P patches of C channels against M
// rows costs a MatMul (2 P M C) and four elementwise passes over [P, M] (x2, Sub, Add, Relu); the rest
// of the graph does not depend on M. The shortlist graph's search does not grow like that.
TEST(ExportGraph, CountsFlopsAsTheClosedForm) {
  const auto small = export_testing::make_model("resnet18", {"layer2", "layer3"}, 64, 9, 50);
  const auto large = export_testing::make_model("resnet18", {"layer2", "layer3"}, 64, 9, 120);
  ASSERT_EQ(small.source.memory_bank.size(0), 50);
  ASSERT_EQ(large.source.memory_bank.size(0), 120);
  const double P = 8 * 8, C = 384, M_small = 50, M_large = 120;
  const double difference = build_export_graph(large.source).flops() - build_export_graph(small.source).flops();
  EXPECT_EQ(difference, P * (M_large - M_small) * (2 * C + 4));
  auto shortlist = large.source;
  shortlist.shortlist = search::fit_shortlist_projection(shortlist.memory_bank, 16);
  shortlist.shortlist_size = 4;
  const ExportGraph g = build_export_graph(shortlist);
  EXPECT_EQ(g.metadata.at("patchcore.search"), "shortlist 4 rows, 16 dims");
  // Exact search: 2 P M C + 4 P M. Shortlist (d = 16 plus the appended 1, K = 4): reduction
  // 2 P C (d+1) + P (d+1), ranking key 2 P (d+1) M, re-rank 2 P K C + 4 P K; and the image score
  // computes the worst patch's distances to its k = 9 support rows: 2 C (its norm) + 2 k C + 4 k.
  const double d1 = 17, K = 4, k = 9;
  const double search_exact = 2 * P * M_large * C + 4 * P * M_large;
  const double search_shortlist = 2 * P * C * d1 + P * d1 + 2 * P * d1 * M_large + 2 * P * K * C + 4 * P * K +
                                  2 * C + 2 * k * C + 4 * k;
  EXPECT_EQ(build_export_graph(large.source).flops() - g.flops(), search_exact - search_shortlist);
}

}  // namespace
}  // namespace patchcore

// Writes the two ONNX models bench/shortlist_ort.sh times in ONNX Runtime, and prints the
// GFLOP of each graph (ExportGraph::flops, batch 1):
//   exact.onnx      exact search over a bank of ROWS rows (today's graph)
//   shortlist.onnx  the same bank, --search shortlist (DIMS dims, 0 = automatic; SIZE rows re-ranked)
//
//   shortlist_graph_bench BACKBONE ROWS OUT_DIR [DIMS=0] [SIZE=8]
//
// Random weights and a random bank: the latency of these graphs does not depend on the values
// (dense MatMul, TopK over every row); accuracy is measured on real data elsewhere
// (tests/eval/shortlist_accuracy_test.cpp). The support table is random too (a real one for
// 100k rows needs an exact 100k x 100k search; its values do not change the graph's cost).
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "backbone/backbone.h"
#include "backbone/random_weights.h"
#include "export/graph.h"
#include "export/onnx_writer.h"
#include "head/embedding.h"
#include "search/search_options.h"
#include "search/shortlist_index.h"

namespace fs = std::filesystem;
using namespace patchcore;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s BACKBONE ROWS OUT_DIR [DIMS=0] [SIZE=8]\n", argv[0]);
    return 2;
  }
  const std::string backbone_name = argv[1];
  const int64_t rows = std::stoll(argv[2]);
  const fs::path out = argv[3];
  const int64_t dims = argc > 4 ? std::stoll(argv[4]) : 0, size = argc > 5 ? std::stoll(argv[5]) : 8;
  c10::InferenceMode guard;
  fs::create_directories(out);
  const std::vector<std::string> layers = {"layer2", "layer3"};
  const auto backbone = create_backbone(backbone_name, layers, random_weights(backbone_name, 0));
  const int64_t channels = build_embedding(backbone->extract(at::zeros({1, 3, 224, 224}))).size(1);
  auto gen = at::detail::createCPUGenerator(1);
  const auto bank = at::randn({rows, channels}, gen, torch::kFloat).abs_().contiguous();
  const int64_t k = 9;

  auto source_for = [&](const torch::Tensor& b) {
    ExportSource s;
    s.backbone = backbone.get();
    s.memory_bank = b;
    s.num_neighbors = k;
    s.support = at::randint(b.size(0), {b.size(0), k}, gen, torch::kLong);
    s.preprocessing = {224, 224, backbone->info().scaling};
    return s;
  };
  auto write = [&](const ExportSource& s, const char* name) {
    const ExportGraph g = build_export_graph(s);
    write_onnx(g, out / name, {});
    std::printf("%s %.3f\n", name, g.flops() / 1e9);
  };
  ExportSource exact = source_for(bank);
  write(exact, "exact.onnx");
  ExportSource shortlist = exact;
  search::SearchOptions options;
  options.shortlist_dims = static_cast<int>(dims);
  shortlist.shortlist = search::fit_shortlist_projection(bank, search::shortlist_dims_for(options, channels));
  std::printf("dims %lld\n", static_cast<long long>(shortlist.shortlist.dims()));
  shortlist.shortlist_size = size;
  write(shortlist, "shortlist.onnx");
  return 0;
}

#pragma once
// Shared by the export tests: small seeded models, the native pipeline's outputs, and
// running an .onnx file in ONNX Runtime (tests/runtime/run_onnx.js, onnxruntime-node).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "backbone/backbone.h"
#include "backbone/random_weights.h"
#include "export/graph.h"
#include "head/embedding.h"
#include "head/scorer.h"
#include "search/exact_index.h"
#include "search/shortlist_index.h"

namespace patchcore::export_testing {

struct Model {
  ExportSource source;
  std::unique_ptr<Backbone> backbone;
};

inline torch::Tensor random_input(int64_t batch, int64_t size, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return at::randn({batch, 3, size, size}, gen, torch::kFloat);
}

// A test image: like the training images (random_input) but with a different mean and
// spread, i.e. "anomalous" relative to the memory bank. Random-weight backbones map
// same-distribution images to nearly identical patch features, which makes anomalib's
// |x|^2 - 2x.y + |y|^2 distances ill-conditioned in float32 (cancellation, in the native
// pipeline as in any runtime); inputs that differ from the bank keep the comparison
// about the export, not about that cancellation.
inline torch::Tensor test_input(int64_t batch, int64_t size, uint64_t seed) {
  return random_input(batch, size, seed) * 1.5 + 0.25;
}

// A seeded random-weight backbone and a memory bank drawn from the patch features of
// a few random "training" images (so bank distances look like real ones). shortlist_dims > 0:
// the model searches by shortlist (shortlist_size rows in shortlist_dims PCA dimensions).
inline Model make_model(const std::string& backbone, std::vector<std::string> layers, int64_t size,
                        int64_t num_neighbors, int64_t bank_rows = 300, int64_t shortlist_dims = 0,
                        int64_t shortlist_size = 8) {
  Model m;
  const auto weights = random_weights(backbone, 3);
  m.backbone = create_backbone(backbone, layers, weights);
  const auto train = random_input(2, size, 11);
  const auto patches = embedding_to_patches(build_embedding(m.backbone->extract(train)));
  auto gen = at::detail::createCPUGenerator(5);
  const auto perm = at::randperm(patches.size(0), gen, torch::kLong);
  const int64_t rows = std::min<int64_t>(bank_rows, patches.size(0));
  m.source.backbone = m.backbone.get();
  m.source.memory_bank = patches.index_select(0, perm.narrow(0, 0, rows)).contiguous();
  m.source.preprocessing = {static_cast<int>(size), static_cast<int>(size), m.backbone->info().scaling};
  m.source.num_neighbors = num_neighbors;
  const int64_t k = std::min<int64_t>(num_neighbors, rows);
  if (k > 1) m.source.support = support_table(search::ExactIndex(m.source.memory_bank), m.source.memory_bank, k);
  if (shortlist_dims > 0) {
    m.source.shortlist = search::fit_shortlist_projection(m.source.memory_bank, shortlist_dims);
    m.source.shortlist_size = shortlist_size;
  }
  return m;
}

struct NativeOutput {
  torch::Tensor anomaly_map;  // [B,1,H,W]
  torch::Tensor pred_score;   // [B]
};

inline NativeOutput native_predict(const Model& m, const torch::Tensor& input) {
  const auto embedding = build_embedding(m.backbone->extract(input));
  const int64_t batch = embedding.size(0), h = embedding.size(2), w = embedding.size(3);
  const auto patches = embedding_to_patches(embedding).view({batch, h * w, -1});
  const search::ExactIndex index(m.source.memory_bank);
  const auto scores =
      m.source.shortlist.defined()
          ? nearest_patch_scores(patches, search::ShortlistIndex(m.source.memory_bank, m.source.shortlist,
                                                                 m.source.shortlist_size))
          : nearest_patch_scores(patches, index);
  const auto support = support_table(index, m.source.memory_bank, m.source.num_neighbors);
  NativeOutput out;
  out.pred_score = image_scores(scores, patches, m.source.memory_bank, support, m.source.num_neighbors);
  out.anomaly_map =
      anomaly_maps(scores.distances.view({batch, 1, h, w}), m.source.preprocessing.height,
                    m.source.preprocessing.width);
  return out;
}

// ---- ONNX Runtime through node -------------------------------------------------------

// tests/runtime beside this header ($PATCHCORE_RUNTIME_DIR overrides).
inline std::filesystem::path runtime_dir() {
  if (const char* env = std::getenv("PATCHCORE_RUNTIME_DIR")) return env;
  return std::filesystem::path(__FILE__).parent_path().parent_path() / "runtime";
}

inline bool onnxruntime_available() {
  return std::filesystem::exists(runtime_dir() / "node_modules" / "onnxruntime-node");
}

#define PATCHCORE_REQUIRE_ONNXRUNTIME()                                                          \
  do {                                                                                           \
    if (!::patchcore::export_testing::onnxruntime_available())                                   \
      GTEST_SKIP() << "skipped: ONNX Runtime is not installed ("                                 \
                   << (::patchcore::export_testing::runtime_dir() / "node_modules").string()     \
                   << " is absent); run scripts/install-onnxruntime.sh";                         \
  } while (0)

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct OrtResult {
  std::vector<std::string> input_names, output_names;
  std::map<std::string, torch::Tensor> outputs;
  double median_ms = 0;
};

// Runs `model` on `input` (f32 NCHW, fed as "input") in ONNX Runtime (CPU).
inline OrtResult run_onnxruntime(const std::filesystem::path& model, const torch::Tensor& input,
                                 const std::filesystem::path& work, int repeat = 0, int threads = 0) {
  std::filesystem::create_directories(work);
  const auto x = input.to(torch::kFloat).contiguous();
  {
    std::ofstream f(work / "input.bin", std::ios::binary);
    f.write(static_cast<const char*>(x.data_ptr()), x.numel() * 4);
  }
  nlohmann::json spec;
  spec["model"] = model.string();
  spec["inputs"] = {{{"name", "input"}, {"file", (work / "input.bin").string()}, {"type", "float32"},
                     {"dims", x.sizes().vec()}}};
  spec["output_dir"] = (work / "out").string();
  spec["repeat"] = repeat;
  spec["threads"] = threads;
  {
    std::ofstream f(work / "spec.json");
    f << spec.dump();
  }
  const std::string cmd = "node " + shell_quote((runtime_dir() / "run_onnx.js").string()) + " " +
                          shell_quote((work / "spec.json").string()) + " 2>" +
                          shell_quote((work / "stderr.txt").string());
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    std::ifstream err(work / "stderr.txt");
    std::stringstream ss;
    ss << err.rdbuf();
    throw std::runtime_error("ONNX Runtime failed on " + model.string() + ":\n" + ss.str());
  }
  std::ifstream f(work / "out" / "outputs.json");
  const auto report = nlohmann::json::parse(f);
  OrtResult r;
  r.input_names = report["input_names"].get<std::vector<std::string>>();
  r.output_names = report["output_names"].get<std::vector<std::string>>();
  for (const auto& o : report["outputs"]) {
    const auto dims = o["dims"].get<std::vector<int64_t>>();
    const std::string type = o["type"];
    auto t = torch::empty(dims, type == "int64" ? torch::kLong : torch::kFloat);
    std::ifstream data(o["file"].get<std::string>(), std::ios::binary);
    data.read(static_cast<char*>(t.data_ptr()), t.numel() * t.element_size());
    r.outputs[o["name"]] = t;
  }
  if (report.contains("latency_ms")) r.median_ms = report["latency_ms"]["median"];
  return r;
}

// /usr/bin/python3's onnx checker (Debian python3-onnx); "" when it accepts the model.
inline bool onnx_checker_available() {
  return std::system("/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1") == 0;
}

inline std::string run_onnx_checker(const std::filesystem::path& model) {
  const auto log = model.string() + ".checker.txt";
  const std::string cmd =
      "/usr/bin/python3 -c 'import sys, onnx; onnx.checker.check_model(sys.argv[1], full_check=True)' " +
      shell_quote(model.string()) + " >" + shell_quote(log) + " 2>&1";
  if (std::system(cmd.c_str()) == 0) return "";
  std::ifstream f(log);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str().empty() ? "checker failed" : ss.str();
}

// The runtime cases both exporters are checked on: both backbone families, f32 and f16.
struct RuntimeCase {
  const char* backbone;
  std::vector<std::string> layers;
  int64_t size;
  bool fp16;
  int64_t shortlist_dims = 0;  // > 0: the model searches by shortlist
};

// What gtest (and ctest's test list) prints for a parameter, instead of its bytes.
inline void PrintTo(const RuntimeCase& c, std::ostream* os) {
  *os << c.backbone << " " << c.size << "px " << (c.fp16 ? "f16" : "f32");
  if (c.shortlist_dims) *os << " shortlist " << c.shortlist_dims;
}

inline Model make_model(const RuntimeCase& c, int64_t num_neighbors) {
  return make_model(c.backbone, c.layers, c.size, num_neighbors, 300, c.shortlist_dims);
}

inline auto runtime_cases() {
  return ::testing::Values(RuntimeCase{"resnet18", {"layer2", "layer3"}, 64, false},
                           RuntimeCase{"resnet18", {"layer2", "layer3"}, 64, true},
                           RuntimeCase{"mobilenet_v1_0.75", {"conv_pw_5_relu", "conv_pw_11_relu"}, 96, false},
                           RuntimeCase{"mobilenet_v1_0.75", {"conv_pw_5_relu", "conv_pw_11_relu"}, 96, true},
                           RuntimeCase{"resnet18", {"layer2", "layer3"}, 64, false, 32},
                           RuntimeCase{"mobilenet_v1_0.75", {"conv_pw_5_relu", "conv_pw_11_relu"}, 96, true, 32});
}

inline std::string runtime_case_name(const ::testing::TestParamInfo<RuntimeCase>& info) {
  std::string name = std::string(info.param.backbone) + (info.param.fp16 ? "_f16" : "_f32") +
                     (info.param.shortlist_dims ? "_shortlist" : "");
  for (char& ch : name)
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

}  // namespace patchcore::export_testing

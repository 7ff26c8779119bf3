// Coreset selection on real features: the pruned k-center greedy against the full-scan greedy
// patchcore shipped before (tests/reference/full_scan_greedy.h), in one run on the same
// projection, with a check that both select the same rows. Mirrors `patchcore train` up to
// the coreset: backbone embedding of every image, sparse random projection (JL dim, eps 0.9).
//
//   build/bench/coreset_real_bench --data-dir ../shared/data/magnetic_tile/train/good --images 209 \
//       --backbone mobilenet_v1_0.75 --weights ../shared/weights/mobilenet_v1_0.75_224_tfjs --ratio 0.1
//   ... --reference-steps 2000        # time the full scan on the first 2000 steps only
//   ... --save-npy /tmp/projected.npy  # the projection, for bench/coreset_torch_mv.py
//
// bench/coreset_table.sh runs the cases of docs/benchmarks.md.
#include <ATen/Parallel.h>
#include <torch/types.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "backbone/backbone.h"
#include "backbone/weight_source.h"
#include "data/dataset.h"
#include "head/coreset.h"
#include "head/k_center_greedy.h"
#include "head/seeded_random.h"
#include "pipeline/image_batch.h"
#include "pipeline/patch_model.h"
#include "reference/full_scan_greedy.h"
#include "search/simd.h"

namespace {

using namespace patchcore;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Options {
  std::string data_dir, backbone = "mobilenet_v1_0.75", weights, save_npy, load_npy;
  std::vector<std::string> layers;
  int64_t images = 0, size = 224, reference_steps = -1, batch = 32, steps = -1;
  double ratio = 0.1;
  uint64_t seed = 0;
  int threads = 2;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--data-dir") o.data_dir = value();
    else if (a == "--backbone") o.backbone = value();
    else if (a == "--weights") o.weights = value();
    else if (a == "--layers") { o.layers.push_back(value()); o.layers.push_back(value()); }
    else if (a == "--images") o.images = std::stoll(value());
    else if (a == "--image-size") o.size = std::stoll(value());
    else if (a == "--ratio") o.ratio = std::stod(value());
    else if (a == "--seed") o.seed = std::stoull(value());
    else if (a == "--threads") o.threads = std::stoi(value());
    else if (a == "--reference-steps") o.reference_steps = std::stoll(value());
    else if (a == "--save-npy") o.save_npy = value();
    else if (a == "--npy") o.load_npy = value();
    else if (a == "--steps") o.steps = std::stoll(value());
    else throw std::invalid_argument("unknown option " + a);
  }
  if (o.load_npy.empty() && (o.data_dir.empty() || o.weights.empty()))
    throw std::invalid_argument("--data-dir and --weights (or --npy) are required");
  return o;
}

// The projected training features, as `patchcore train` computes them before the greedy.
torch::Tensor projected_features(const Options& o) {
  auto paths = find_training_images(o.data_dir);
  if (o.images > 0 && o.images < static_cast<int64_t>(paths.size())) paths.resize(o.images);
  const BackboneInfo& info = backbone_info(o.backbone);
  const auto layers = o.layers.empty() ? info.default_layers : o.layers;
  const auto backbone = create_backbone(o.backbone, layers, resolve_weights(o.backbone, o.weights).weights);
  Preprocessing spec;
  spec.height = spec.width = o.size;
  spec.scaling = info.scaling;
  c10::InferenceMode guard;
  // Projected batch by batch, as the trainer does: the full features are never held.
  std::optional<SparseRandomProjection> projection;
  torch::Tensor projected;
  int64_t channels = 0;
  for (size_t first = 0; first < paths.size(); first += o.batch) {
    const std::vector<std::filesystem::path> batch(paths.begin() + first,
                                                   paths.begin() + std::min(paths.size(), first + o.batch));
    const auto embedding = embed_batch(*backbone, load_image_batch(batch, spec).input);
    const int64_t per_image = embedding.size(2) * embedding.size(3);
    channels = embedding.size(1);
    if (!projection) {
      const int64_t rows = per_image * static_cast<int64_t>(paths.size());
      projection.emplace(channels, johnson_lindenstrauss_min_dim(rows), o.seed);
      projected = torch::empty({rows, projection->components().size(0)});
    }
    const auto rows = embedding.permute({0, 2, 3, 1}).reshape({-1, channels});
    projected.narrow(0, static_cast<int64_t>(first) * per_image, rows.size(0)).copy_(projection->transform(rows));
    std::fprintf(stderr, "\rfeatures %zu/%zu", first + batch.size(), paths.size());
  }
  std::fprintf(stderr, "\n");
  std::printf("images %zu, patches %lld x %lld channels, projected to %lld dims\n", paths.size(),
              (long long)projected.size(0), (long long)channels, (long long)projected.size(1));
  return projected;
}

// numpy .npy v1.0, float32 C order (for the PyTorch reference script, and to rerun the
// greedy without extracting the features again).
torch::Tensor load_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8];
  uint16_t len = 0;
  if (!in.read(magic, 8) || !in.read(reinterpret_cast<char*>(&len), 2)) throw std::runtime_error("cannot read " + path);
  std::string header(len, ' ');
  in.read(header.data(), len);
  const auto open = header.find("'shape': (");
  if (header.find("'<f4'") == std::string::npos || header.find("False") == std::string::npos || open == std::string::npos)
    throw std::runtime_error(path + ": expected a float32 C-order .npy file");
  const char* p = header.c_str() + open + 10;
  char* end = nullptr;
  const int64_t rows = std::strtoll(p, &end, 10), cols = std::strtoll(end + 1, nullptr, 10);
  auto x = torch::empty({rows, cols});
  if (!in.read(reinterpret_cast<char*>(x.data_ptr<float>()), x.numel() * sizeof(float)))
    throw std::runtime_error(path + ": shorter than its header says");
  return x;
}


void save_npy(const std::string& path, const torch::Tensor& x) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(x.size(0)) + ", " +
                       std::to_string(x.size(1)) + "), }";
  header.append(63 - (10 + header.size()) % 64, ' ').push_back('\n');
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.write(reinterpret_cast<const char*>(&len), 2);
  out << header;
  out.write(reinterpret_cast<const char*>(x.data_ptr<float>()), x.numel() * sizeof(float));
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  at::set_num_threads(o.threads);
  const auto x = o.load_npy.empty() ? projected_features(o) : load_npy(o.load_npy);
  if (!o.save_npy.empty()) save_npy(o.save_npy, x);
  const int64_t size = o.steps > 0 ? o.steps : coreset_size(x.size(0), o.ratio);
  std::printf("greedy: %lld of %lld rows (ratio %g), %d threads, SIMD %s\n", (long long)size, (long long)x.size(0),
              o.ratio, o.threads, search::to_string(search::active_simd()).c_str());

  auto t = Clock::now();
  const auto pruned = k_center_greedy(x, size, o.seed);
  const double pruned_s = seconds_since(t);
  const auto stats = last_greedy_stats();

  const int64_t ref_steps = o.reference_steps < 0 ? size : std::min(o.reference_steps, size);
  std::mt19937_64 rng(o.seed);
  const auto start = static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(x.size(0))));
  t = Clock::now();
  const auto full = reference::full_scan_greedy(x, ref_steps, start);
  const double full_s = seconds_since(t);
  const bool same = std::equal(full.begin(), full.end(), pruned.begin());

  const double pruned_ms = pruned_s * 1e3 / double(size), full_ms = full_s * 1e3 / double(ref_steps);
  std::printf("pruned greedy    : %8.1f s  %7.3f ms/step  row visits %.4f of a full scan\n", pruned_s, pruned_ms,
              double(stats.row_visits) / (double(stats.steps) * double(stats.rows)));
  std::printf("  pruned phases: centre distances %.1f s, row updates %.1f s, regrouping %.1f s, selection %.1f s\n",
              stats.centres_seconds, stats.update_seconds, stats.regroup_seconds, stats.select_seconds);
  std::printf("full-scan greedy : %8.1f s  %7.3f ms/step  (timed on %lld steps)\n", full_s, full_ms,
              (long long)ref_steps);
  std::printf("speed-up (full scan time / pruned time, whole selection): %.2fx%s\n",
              full_ms / pruned_ms, ref_steps < size ? " (a full-scan step costs the same at every step)" : "");
  std::printf("same selection on the %lld compared steps: %s\n", (long long)ref_steps, same ? "yes" : "NO");
  return same ? 0 : 2;
} catch (const std::exception& e) {
  std::fprintf(stderr, "coreset_real_bench: %s\n", e.what());
  return 1;
}

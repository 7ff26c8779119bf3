// Coreset benchmarks: k-center greedy throughput against a naive reference in the same
// process (so the figure is a ratio), and the peak memory of projection + greedy on a
// full-size 784k x 1536 bank.
//
//   build-head/bench/coreset_bench                                  # throughput (100k rows)
//   build-head/bench/coreset_bench --benchmark_filter=Memory784k    # memory plan (~5.9 GB)
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <torch/types.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include "head/coreset.h"
#include "head/k_center_greedy.h"

namespace {

using patchcore::johnson_lindenstrauss_min_dim;
using patchcore::k_center_greedy;
using patchcore::SparseRandomProjection;

constexpr int64_t kRows = 100000;
constexpr int64_t kFeatures = 1536;
constexpr int64_t kSteps = 100;      // greedy steps per benchmark iteration
constexpr int64_t kNaiveSteps = 10;  // the naive references are much slower

// Synthetic 100k x 1536 bank projected to its JL dimension (284), built once.
const torch::Tensor& projected_100k() {
  static const torch::Tensor projected = [] {
    at::manual_seed(0);
    const auto bank = at::randn({kRows, kFeatures});
    SparseRandomProjection projection(kFeatures, johnson_lindenstrauss_min_dim(kRows), 0);
    return projection.transform(bank);
  }();
  return projected;
}

std::map<std::string, double> g_seconds_per_step;
std::map<std::string, double> g_projection_seconds_per_row;

void record(benchmark::State& state, const std::string& name, double seconds, int64_t steps) {
  g_seconds_per_step[name] = seconds / double(steps);
  state.counters["steps/s"] = benchmark::Counter(double(steps), benchmark::Counter::kIsRate);
  state.counters["rows"] = double(projected_100k().size(0));
  state.counters["dim"] = double(projected_100k().size(1));
}

// Ours: one fused pass per step (dot with the new centre, min in place, argmax).
void BM_KCenterGreedy(benchmark::State& state) {
  const auto& x = projected_100k();
  double seconds = 0;
  int64_t steps = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    auto sel = k_center_greedy(x, kSteps, 1);
    benchmark::DoNotOptimize(sel.data());
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    steps += kSteps;
  }
  record(state, "ours", seconds, steps);
}

// anomalib's KCenterGreedy transcribed to ATen: F.pairwise_distance (x - c + 1e-6).norm()
// and torch.minimum, allocating new tensors every step.
void BM_NaivePairwiseDistance(benchmark::State& state) {
  const auto& x = projected_100k();
  double seconds = 0;
  int64_t steps = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    torch::Tensor min_d;
    int64_t idx = 0;
    for (int64_t i = 0; i < kNaiveSteps; ++i) {
      const auto d = at::pairwise_distance(x, x[idx].unsqueeze(0));
      min_d = min_d.defined() ? at::minimum(min_d, d) : d;
      idx = min_d.argmax().item<int64_t>();
      min_d[idx] = 0;
    }
    benchmark::DoNotOptimize(idx);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    steps += kNaiveSteps;
  }
  record(state, "naive_pairwise", seconds, steps);
}

// Same, with at::cdist for the distances.
void BM_NaiveCdist(benchmark::State& state) {
  const auto& x = projected_100k();
  double seconds = 0;
  int64_t steps = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    auto min_d = at::full({x.size(0)}, std::numeric_limits<float>::infinity());
    int64_t idx = 0;
    for (int64_t i = 0; i < kNaiveSteps; ++i) {
      const auto d = at::cdist(x, x[idx].unsqueeze(0)).squeeze(1);
      min_d = at::minimum(min_d, d);
      idx = min_d.argmax().item<int64_t>();
      min_d[idx] = 0;
    }
    benchmark::DoNotOptimize(idx);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    steps += kNaiveSteps;
  }
  record(state, "naive_cdist", seconds, steps);
}

// A careful torch-ops version: preallocated buffers, one BLAS matrix-vector product per step
// (at::mv_out), in-place distance update and min, argmax.
void BM_TorchOpsMv(benchmark::State& state) {
  const auto& x = projected_100k();
  double seconds = 0;
  int64_t steps = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto norms = x.pow(2).sum(1);
    auto min_d = at::full({x.size(0)}, std::numeric_limits<float>::infinity());
    auto dots = at::empty({x.size(0)});
    int64_t idx = 0;
    for (int64_t i = 0; i < kSteps; ++i) {
      at::mv_out(dots, x, x[idx]);
      dots.mul_(-2).add_(norms).add_(norms[idx]).clamp_min_(0);
      at::minimum_out(min_d, min_d, dots);
      idx = min_d.argmax().item<int64_t>();
      min_d[idx] = -1;
    }
    benchmark::DoNotOptimize(idx);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    steps += kSteps;
  }
  record(state, "torch_ops_mv", seconds, steps);
}

BENCHMARK(BM_KCenterGreedy)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_TorchOpsMv)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_NaivePairwiseDistance)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_NaiveCdist)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// Projection of one 8192-row batch: our sparse CPU transform vs the dense x @ R^T
// (anomalib's form) through LibTorch's BLAS.
void BM_Projection(benchmark::State& state) {
  const bool sparse = state.range(0) == 1;
  at::manual_seed(1);
  const auto batch = at::randn({8192, kFeatures});
  SparseRandomProjection projection(kFeatures, johnson_lindenstrauss_min_dim(784000), 0);
  const auto dense_t = projection.components().t();
  double seconds = 0;
  int64_t rows = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    auto y = sparse ? projection.transform(batch) : at::mm(batch, dense_t);
    benchmark::DoNotOptimize(y.data_ptr());
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rows += batch.size(0);
  }
  g_projection_seconds_per_row[sparse ? "sparse transform" : "dense mm"] = seconds / double(rows);
  state.counters["rows/s"] = benchmark::Counter(double(rows), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Projection)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// --- memory plan on a full-size bank --------------------------------------------------

// kB value of a /proc/self/status line ("VmHWM:", "VmRSS:").
double status_gb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(std::string(key).size())) / 1048576.0;
  return -1;
}

// Resets the peak-RSS mark (Linux >= 4.0); false when not permitted.
bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return bool(out);
}

void BM_Memory784k(benchmark::State& state) {
  constexpr int64_t kBankRows = 784000;
  const int64_t greedy_steps = state.range(0);
  for (auto _ : state) {
    const double base_gb = status_gb("VmRSS:");
    const bool reset = reset_peak_rss();
    // The caller's preallocated bank (filled as the extractor would, batch by batch).
    auto bank = at::empty({kBankRows, kFeatures});
    for (int64_t s = 0; s < kBankRows; s += 65536)
      bank.narrow(0, s, std::min<int64_t>(65536, kBankRows - s)).normal_();
    const double after_bank_gb = status_gb("VmHWM:");
    // Projection in batches into one preallocated [N, jl] tensor.
    const int64_t jl = johnson_lindenstrauss_min_dim(kBankRows);
    const auto t0 = std::chrono::steady_clock::now();
    SparseRandomProjection projection(kFeatures, jl, 0);
    auto projected = at::empty({kBankRows, jl});
    for (int64_t s = 0; s < kBankRows; s += 16384) {
      const int64_t len = std::min<int64_t>(16384, kBankRows - s);
      projected.narrow(0, s, len).copy_(projection.transform(bank.narrow(0, s, len)));
    }
    const auto t1 = std::chrono::steady_clock::now();
    auto selected = k_center_greedy(projected, greedy_steps, 0);
    const auto t2 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(selected.data());
    const double peak_gb = status_gb("VmHWM:");
    const double bank_gb = double(bank.numel()) * 4 / (1 << 30);
    const double proj_gb = double(projected.numel()) * 4 / (1 << 30);
    const double step_s = std::chrono::duration<double>(t2 - t1).count() / double(greedy_steps);
    const int64_t full_steps = patchcore::coreset_size(kBankRows, 0.1);
    state.counters["jl_dim"] = double(jl);
    state.counters["bank_GiB"] = bank_gb;
    state.counters["projected_GiB"] = proj_gb;
    state.counters["rss_before_GiB"] = base_gb;
    state.counters["peak_after_bank_GiB"] = after_bank_gb;
    state.counters["peak_RSS_GiB"] = peak_gb;
    state.counters["peak_reset_ok"] = reset ? 1 : 0;
    state.counters["projection_s"] = std::chrono::duration<double>(t1 - t0).count();
    state.counters["greedy_step_ms"] = step_s * 1e3;
    state.counters["greedy_0.1_extrapolated_min"] = step_s * double(full_steps) / 60.0;
    std::fprintf(stderr,
        "\n784k x 1536: bank %.2f GiB + projected [%lld x %lld] %.2f GiB; RSS before %.2f GiB;\n"
        "peak RSS %.2f GiB (extra over process baseline + bank + projected: %.3f GiB; peak reset %s)\n"
        "projection %.1f s, greedy %.1f ms/step -> %lld steps at ratio 0.1 extrapolated to %.0f min\n",
        bank_gb, (long long)kBankRows, (long long)jl, proj_gb, base_gb, peak_gb,
        peak_gb - base_gb - bank_gb - proj_gb, reset ? "ok" : "unavailable",
        std::chrono::duration<double>(t1 - t0).count(), step_s * 1e3, (long long)full_steps,
        step_s * double(full_steps) / 60.0);
  }
}
BENCHMARK(BM_Memory784k)->Arg(50)->Iterations(1)->Unit(benchmark::kSecond);

}  // namespace

// The summaries go to stderr: stdout is Google Benchmark's report alone (--benchmark_format=json
// for bench/ab.sh).
int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  std::fprintf(stderr, "ATen intra-op threads: %d\n", at::get_num_threads());
  const auto ours = g_seconds_per_step.find("ours");
  if (ours != g_seconds_per_step.end())
    for (const auto& [name, s] : g_seconds_per_step)
      if (name != "ours")
        std::fprintf(stderr, "speed-up of k_center_greedy over %s: %.2fx (%.3f vs %.3f ms/step)\n",
                    name.c_str(), s / ours->second, ours->second * 1e3, s * 1e3);
  if (g_projection_seconds_per_row.size() == 2)
    std::fprintf(stderr, "projection speed-up of the sparse transform over dense mm: %.2fx\n",
                g_projection_seconds_per_row["dense mm"] / g_projection_seconds_per_row["sparse transform"]);
  benchmark::Shutdown();
  return 0;
}

// Nearest-neighbour search over a memory bank, every backend on the same data, 2 threads:
//   Native      search::ExactIndex (tiles of sgemm + SIMD running min), the default
//   Shortlist   search::ShortlistIndex (--search shortlist): PCA-reduced shortlist + exact re-rank
//   LibTorch    the code path before src/search existed: chunked at::mm distance matrix + min
//   FaissFlat / FaissHnsw / FaissIvf   search::FaissIndex at the default parameters
//   Sgemm       oneDNN's sgemm of the same shape alone ([P,C] x [C,M] into a preallocated
//               output, its own threading): the machine's float32 GEMM throughput, the
//               yardstick of the exact kernel
//   OpenBlasSgemm  the same product through at::mm (Debian's OpenBLAS): on CPUs OpenBLAS
//               0.3.21 does not know it runs SSE3 kernels (OPENBLAS_VERBOSE=2 says "Prescott")
// P = 784 queries (one 224x224 image's patches), C = 384 (resnet18) and 1536
// (wide_resnet50_2), M = 1k, 10k, 100k bank rows (SEARCH_BANKS=1000,10000 to shorten).
// TrainScoring/{LibTorch,Native}: one batch of 32 training images (25088 patches) against
// a 784-row bank (1000 images at ratio 0.001), the norm_stats scoring step of training.
//
//   ./build/bench/search_bench --benchmark_min_time=1
//   bash bench/search_table.sh   # runs it and prints the tables of docs/benchmarks.md
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>
#include <tuple>

#include "search/exact_index.h"
#include "search/faiss_index.h"
#include "search/pruned_index.h"
#include "search/shortlist_index.h"

namespace {

using namespace patchcore::search;

constexpr int64_t kQueries = 784;

struct Case {
  torch::Tensor bank, queries;
};

const Case& data(int64_t channels, int64_t rows, int64_t queries = kQueries) {
  static std::map<std::tuple<int64_t, int64_t, int64_t>, Case> cache;
  auto& c = cache[{channels, rows, queries}];
  if (!c.bank.defined()) {
    torch::manual_seed(0);
    // Non-negative like post-ReLU features.
    c.bank = torch::rand({rows, channels});
    c.queries = torch::rand({queries, channels});
  }
  return c;
}

void set_threads() {
  at::set_num_threads(2);
  omp_set_num_threads(2);
}

void report(benchmark::State& state, int64_t p, int64_t m, int64_t c) {
  state.counters["GFLOPs"] = benchmark::Counter(2.0 * p * m * c * static_cast<double>(state.iterations()) / 1e9,
                                                benchmark::Counter::kIsRate);
}

// The previous scorer: (|x|^2 - 2 x y^T + |y|^2) in row chunks of <= 256 MB, then min.
void libtorch_nearest(const torch::Tensor& x, const torch::Tensor& y, torch::Tensor& values, torch::Tensor& indices) {
  const auto y_norm = y.pow(2).sum(1).unsqueeze(0);
  const int64_t chunk = std::max<int64_t>(1, (int64_t{256} << 20) / (y.size(0) * 4));
  for (int64_t s = 0; s < x.size(0); s += chunk) {
    const int64_t len = std::min(chunk, x.size(0) - s);
    const auto xs = x.narrow(0, s, len);
    auto d = at::mm(xs, y.t());
    d.mul_(-2).add_(xs.pow(2).sum(1, true)).add_(y_norm);
    d.clamp_min_(0).sqrt_();
    auto v = values.narrow(0, s, len);
    auto i = indices.narrow(0, s, len);
    at::min_out(v, i, d, 1);
  }
}

void BM_Sgemm(benchmark::State& state) {
  set_threads();
  const auto& d = data(state.range(0), state.range(1));
  const int64_t m = state.range(1), c = state.range(0);
  auto out = torch::zeros({kQueries, m});  // touched once, outside the loop
  for (auto _ : state)
    dnnl_sgemm('N', 'T', kQueries, m, c, 1.0f, d.queries.data_ptr<float>(), c, d.bank.data_ptr<float>(), c, 0.0f,
               out.data_ptr<float>(), m);
  report(state, kQueries, m, c);
}

// oneDNN's matmul primitive on one in-cache tile (784 queries x 1024 bank rows, bank packed
// once), float32 (0) vs bf16 inputs with float32 sums (1; AMX or AVX512_BF16 where the CPU has
// them): the most a bf16 shortlist could gain over the f32 GEMM (docs/architecture.md).
void BM_MatmulTile(benchmark::State& state) {
  set_threads();
  using dnnl::memory;
  const int64_t c = state.range(0), m = 1024;
  const auto type = state.range(1) == 0 ? memory::data_type::f32 : memory::data_type::bf16;
  const auto& d = data(c, 10000);
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const memory::desc a_desc({kQueries, c}, type, memory::format_tag::ab);
  const memory::desc dst_desc({kQueries, m}, memory::data_type::f32, memory::format_tag::ab);
  const dnnl::matmul::primitive_desc pd(
      dnnl::matmul::desc(a_desc, memory::desc({c, m}, type, memory::format_tag::any), dst_desc), engine);
  memory a_f32({{kQueries, c}, memory::data_type::f32, memory::format_tag::ab}, engine, d.queries.data_ptr<float>());
  memory b_f32({{c, m}, memory::data_type::f32, memory::format_tag::ba}, engine, d.bank.data_ptr<float>());
  memory a(a_desc, engine), b(pd.weights_desc(), engine), dst(dst_desc, engine);
  dnnl::reorder(a_f32, a).execute(stream, a_f32, a);
  dnnl::reorder(b_f32, b).execute(stream, b_f32, b);
  const dnnl::matmul matmul(pd);
  for (auto _ : state) {
    matmul.execute(stream, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, dst}});
    stream.wait();
  }
  state.SetLabel(pd.impl_info_str());
  report(state, kQueries, m, c);
}

void BM_OpenBlasSgemm(benchmark::State& state) {
  set_threads();
  const auto& d = data(state.range(0), state.range(1));
  auto out = torch::zeros({kQueries, state.range(1)});
  const auto yt = d.bank.t();
  for (auto _ : state) at::mm_out(out, d.queries, yt);
  report(state, kQueries, state.range(1), state.range(0));
}

// A native index over the random Gaussian rows: ExactIndex (BM_Native), and PrunedIndex
// (BM_Pruned, what the native backend uses from 1000 rows): these rows have no cluster
// structure, so little can be skipped, its worst case next to ExactIndex. Patch features are
// far more clustered (predict_bench BM_Search).
template <typename NativeIndex>
void BM_NativeIndex(benchmark::State& state) {
  set_threads();
  const auto& d = data(state.range(0), state.range(1));
  const NativeIndex index(d.bank);
  for (auto _ : state) benchmark::DoNotOptimize(nearest(index, d.queries));
  report(state, kQueries, state.range(1), state.range(0));
}

// The native shortlist search (--search shortlist at its defaults: min(128, C/6) dims, 8 rows re-ranked)
// on the same rows. Its recall on these unstructured rows is low and beside the point here (the
// accuracy is measured on real features: tests/eval/shortlist_accuracy_test); this is its cost.
void BM_Shortlist(benchmark::State& state) {
  set_threads();
  const auto& d = data(state.range(0), state.range(1));
  const SearchOptions defaults;
  const ShortlistIndex index(d.bank, fit_shortlist_projection(d.bank, shortlist_dims_for(defaults, d.bank.size(1))),
                             defaults.shortlist_size);
  for (auto _ : state) benchmark::DoNotOptimize(nearest(index, d.queries));
  report(state, kQueries, state.range(1), state.range(0));
}

void BM_LibTorch(benchmark::State& state) {
  set_threads();
  const auto& d = data(state.range(0), state.range(1));
  auto values = torch::empty({kQueries});
  auto indices = torch::empty({kQueries}, torch::kLong);
  for (auto _ : state) libtorch_nearest(d.queries, d.bank, values, indices);
  report(state, kQueries, state.range(1), state.range(0));
}

template <FaissIndexType Type>
void BM_Faiss(benchmark::State& state) {
  set_threads();
  const auto& d = data(state.range(0), state.range(1));
  SearchOptions options;
  options.backend = Backend::kFaiss;
  options.faiss_index = Type;
  const FaissIndex index(d.bank, options);  // build time not counted
  for (auto _ : state) benchmark::DoNotOptimize(nearest(index, d.queries));
  report(state, kQueries, state.range(1), state.range(0));
  state.SetLabel(index.describe());
}

void BM_TrainScoringLibTorch(benchmark::State& state) {
  set_threads();
  const auto& d = data(1536, 784, 32 * 784);
  auto values = torch::empty({32 * 784});
  auto indices = torch::empty({32 * 784}, torch::kLong);
  for (auto _ : state) libtorch_nearest(d.queries, d.bank, values, indices);
  report(state, 32 * 784, 784, 1536);
}

void BM_TrainScoringNative(benchmark::State& state) {
  set_threads();
  const auto& d = data(1536, 784, 32 * 784);
  const ExactIndex index(d.bank);
  for (auto _ : state) benchmark::DoNotOptimize(nearest(index, d.queries));
  report(state, 32 * 784, 784, 1536);
}

void shapes(benchmark::internal::Benchmark* b) {
  std::vector<int64_t> banks{1000, 10000, 100000};
  if (const char* env = std::getenv("SEARCH_BANKS")) {
    banks.clear();
    std::stringstream list(env);
    for (std::string item; std::getline(list, item, ',');) banks.push_back(std::stoll(item));
  }
  for (int64_t c : {384, 1536})
    for (int64_t m : banks) b->Args({c, m});
  b->ArgNames({"C", "M"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_Sgemm)->Apply(shapes);
BENCHMARK(BM_OpenBlasSgemm)->Apply(shapes);
BENCHMARK(BM_MatmulTile)->ArgsProduct({{384, 1536}, {0, 1}})->ArgNames({"C", "bf16"})->UseRealTime();
BENCHMARK_TEMPLATE(BM_NativeIndex, ExactIndex)->Name("BM_Native")->Apply(shapes);
BENCHMARK_TEMPLATE(BM_NativeIndex, PrunedIndex)->Name("BM_Pruned")->Apply(shapes);
BENCHMARK(BM_Shortlist)->Apply(shapes);
BENCHMARK(BM_LibTorch)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_Faiss, FaissIndexType::kFlat)->Name("BM_FaissFlat")->Apply(shapes);
BENCHMARK_TEMPLATE(BM_Faiss, FaissIndexType::kHnsw)->Name("BM_FaissHnsw")->Apply(shapes);
BENCHMARK_TEMPLATE(BM_Faiss, FaissIndexType::kIvf)->Name("BM_FaissIvf")->Apply(shapes);
BENCHMARK(BM_TrainScoringLibTorch)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TrainScoringNative)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();

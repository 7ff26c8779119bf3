#pragma once
// One tile of dot products, the GEMM every native search is built on.
#include <cstdint>

namespace patchcore::search {

// dots[r * cols + j] = x_r . y_j for `rows` rows x and `cols` rows y of `dim` floats
// (row-major [rows, cols]) by oneDNN's sgemm, the GEMM LibTorch itself loads: it picks its
// kernels from the CPU's ISA flags (AVX-512, AVX2, ...), unlike Debian's OpenBLAS 0.3.21,
// which does not know recent Xeons and falls back to SSE3 kernels there (6x slower;
// docs/benchmarks.md). Called inside a parallel loop, it runs on the calling thread.
void tile_dots(const float* x, int64_t rows, const float* y, int64_t cols, int64_t dim, float* dots);

}  // namespace patchcore::search

#pragma once
// Run-time choice of the vector instruction set for the hand-written search kernels.
// The product is compiled for baseline x86-64; the AVX2 / AVX-512 kernels live in
// separately compiled files and are only called when the CPU reports the feature.
#include <iosfwd>
#include <optional>
#include <string>

namespace patchcore::search {

enum class SimdLevel { kScalar, kAvx2, kAvx512 };

std::string to_string(SimdLevel level);
std::ostream& operator<<(std::ostream& out, SimdLevel level);  // the to_string name
// "scalar" | "avx2" | "avx512"; throws UserError naming the accepted values.
SimdLevel simd_level_from_string(const std::string& name);

// Best level this CPU runs (AVX2 needs FMA too; AVX-512 means AVX512F).
SimdLevel detected_simd();
// The level the kernels use: detected_simd(), lowered by the environment variable
// PATCHCORE_SIMD=scalar|avx2|avx512 or by force_simd() (tests and benchmarks).
SimdLevel active_simd();
// Forces a level (nullopt = back to automatic). Throws UserError when the CPU lacks it.
void force_simd(std::optional<SimdLevel> level);

}  // namespace patchcore::search

#pragma once
// Our own mappings from std::mt19937_64's 64-bit output, so that seeded results do not
// depend on the standard library's (implementation-defined) distributions.
#include <cstdint>
#include <random>

namespace patchcore {

// Uniform double in [0, 1) from the top 53 bits.
inline double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Uniform integer in [0, n) by multiply-shift (bias < n / 2^64, negligible).
inline uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(rng()) * n) >> 64);
}

}  // namespace patchcore

#include "search/simd.h"

#include <atomic>
#include <cstdlib>
#include <ostream>

#include "io/error.h"

namespace patchcore::search {
namespace {

// -1 = automatic, else the forced SimdLevel.
std::atomic<int> forced{-1};

SimdLevel from_environment(SimdLevel detected) {
  const char* value = std::getenv("PATCHCORE_SIMD");
  if (value == nullptr || *value == '\0') return detected;
  const SimdLevel wanted = simd_level_from_string(value);
  if (static_cast<int>(wanted) > static_cast<int>(detected))
    throw UserError("PATCHCORE_SIMD=" + std::string(value) + " but this CPU only supports " +
                    to_string(detected));
  return wanted;
}

}  // namespace

std::string to_string(SimdLevel level) {
  switch (level) {
    case SimdLevel::kAvx512: return "avx512";
    case SimdLevel::kAvx2: return "avx2";
    case SimdLevel::kScalar: break;
  }
  return "scalar";
}

std::ostream& operator<<(std::ostream& out, SimdLevel level) { return out << to_string(level); }

SimdLevel simd_level_from_string(const std::string& name) {
  if (name == "scalar") return SimdLevel::kScalar;
  if (name == "avx2") return SimdLevel::kAvx2;
  if (name == "avx512") return SimdLevel::kAvx512;
  throw UserError("unknown SIMD level '" + name + "': use scalar, avx2 or avx512");
}

SimdLevel detected_simd() {
  static const SimdLevel level = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return SimdLevel::kAvx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SimdLevel::kAvx2;
    return SimdLevel::kScalar;
  }();
  return level;
}

SimdLevel active_simd() {
  const int f = forced.load();
  if (f >= 0) return static_cast<SimdLevel>(f);
  static const SimdLevel level = from_environment(detected_simd());
  return level;
}

void force_simd(std::optional<SimdLevel> level) {
  if (level && static_cast<int>(*level) > static_cast<int>(detected_simd()))
    throw UserError("cannot force " + to_string(*level) + ": this CPU only supports " +
                    to_string(detected_simd()));
  forced.store(level ? static_cast<int>(*level) : -1);
}

}  // namespace patchcore::search

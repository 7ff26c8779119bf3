// One libFuzzer target per loader: compiled once per entry of fuzz_loaders.h with
// PATCHCORE_FUZZ_TARGET naming it (CMakeLists.txt).
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "fuzz_loaders.h"
#include "io/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto& load = patchcore::fuzz::loaders().at(PATCHCORE_FUZZ_TARGET);
  try {
    load(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const patchcore::UserError&) {
    // bad input, clear error: as designed
  } catch (const std::exception& e) {
    std::fprintf(stderr, "a loader let a non-UserError exception escape: %s\n", e.what());
    std::abort();
  }
  return 0;
}

#include "head/kernels/greedy.h"

namespace patchcore::coreset_kernels {

const Kernels& kernels(search::SimdLevel level) {
  static const Kernels scalar_level{&scalar::norms, &scalar::distance, &scalar::update};
  static const Kernels avx2_level{&avx2::norms, &avx2::distance, &avx2::update};
  static const Kernels avx512_level{&avx512::norms, &avx512::distance, &avx512::update};
  switch (level) {
    case search::SimdLevel::kAvx512: return avx512_level;
    case search::SimdLevel::kAvx2: return avx2_level;
    case search::SimdLevel::kScalar: break;
  }
  return scalar_level;
}

}  // namespace patchcore::coreset_kernels

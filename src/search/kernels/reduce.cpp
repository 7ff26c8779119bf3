#include "search/kernels/reduce.h"

namespace patchcore::search::kernels {

NearestFn nearest_kernel(SimdLevel level) {
  switch (level) {
    case SimdLevel::kAvx512: return &avx512::nearest;
    case SimdLevel::kAvx2: return &avx2::nearest;
    case SimdLevel::kScalar: break;
  }
  return &scalar::nearest;
}

KnnFn knn_kernel(SimdLevel level) {
  switch (level) {
    case SimdLevel::kAvx512: return &avx512::knn;
    case SimdLevel::kAvx2: return &avx2::knn;
    case SimdLevel::kScalar: break;
  }
  return &scalar::knn;
}

}  // namespace patchcore::search::kernels

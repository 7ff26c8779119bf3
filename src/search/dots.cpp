#include "search/dots.h"

#include <oneapi/dnnl/dnnl.h>

#include <stdexcept>
#include <string>

namespace patchcore::search {

void tile_dots(const float* x, int64_t rows, const float* y, int64_t cols, int64_t dim, float* dots) {
  const dnnl_status_t status = dnnl_sgemm('N', 'T', rows, cols, dim, 1.0f, x, dim, y, dim, 0.0f, dots, cols);
  if (status != dnnl_success) throw std::runtime_error("dnnl_sgemm failed with status " + std::to_string(status));
}

}  // namespace patchcore::search

#include "pipeline/build_info.h"

#include <opencv2/core/version.hpp>
#include <torch/version.h>

namespace patchcore {

std::string patchcore_version() { return "0.1.0"; }

std::vector<std::pair<std::string, std::string>> build_versions() {
  return {{"patchcore", patchcore_version()}, {"libtorch", TORCH_VERSION}, {"opencv", CV_VERSION}};
}

}  // namespace patchcore

#pragma once
// Versions of this program and the libraries it was built with (config.yaml, --version).
#include <string>
#include <utility>
#include <vector>

namespace patchcore {

std::string patchcore_version();
std::vector<std::pair<std::string, std::string>> build_versions();

}  // namespace patchcore

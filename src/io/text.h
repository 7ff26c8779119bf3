#pragma once
// Small text helpers shared by the layers.
#include <string>
#include <vector>

namespace patchcore {

// "a, b, c" (or with another separator); "" for no items.
inline std::string join(const std::vector<std::string>& items, const std::string& separator = ", ") {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? separator : "") + items[i];
  return out;
}

}  // namespace patchcore

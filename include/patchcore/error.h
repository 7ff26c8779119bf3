#pragma once
// One exception type for everything the user can fix (bad input, missing files,
// wrong weights). The CLI prints what() and exits non-zero; messages must name the
// file involved and say what to do about it. Anything else thrown is a bug.
#include <stdexcept>
#include <string>

namespace patchcore {

class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace patchcore

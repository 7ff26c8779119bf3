#pragma once
// Reading a whole file into memory, with an error that names it.
#include <filesystem>
#include <string>

namespace patchcore {

// The bytes of `path`; UserError naming the file and `what` it was meant to be (e.g. "the
// TF.js model.json") when it cannot be opened or read.
std::string read_file_bytes(const std::filesystem::path& path, const std::string& what);

}  // namespace patchcore

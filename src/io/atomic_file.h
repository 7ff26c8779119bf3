#pragma once
// Write-then-rename helpers so a crash never leaves a half-written file.
#include <filesystem>
#include <string>

namespace patchcore {

// Writes `contents` to `path` via a temporary file in the same folder + rename.
void write_file_atomically(const std::filesystem::path& path, const std::string& contents);

}  // namespace patchcore

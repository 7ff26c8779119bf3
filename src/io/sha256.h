#pragma once
#include <filesystem>
#include <string>

namespace patchcore {

// Lower-case hex SHA-256 (OpenSSL EVP) of a file's bytes / of a byte string.
std::string sha256_file(const std::filesystem::path& path);
std::string sha256_bytes(const std::string& bytes);

}  // namespace patchcore

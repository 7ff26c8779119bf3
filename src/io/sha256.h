#pragma once
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

namespace patchcore {

// Incremental SHA-256 (OpenSSL EVP), for hashing several files as one stream.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  void update(const void* data, size_t size);
  // Feeds a whole file; throws UserError naming it when it cannot be read.
  void add_file(const std::filesystem::path& path);
  // Lower-case hex digest; call once, at the end.
  std::string hex();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

// Lower-case hex SHA-256 of a file's bytes.
std::string sha256_file(const std::filesystem::path& path);

}  // namespace patchcore

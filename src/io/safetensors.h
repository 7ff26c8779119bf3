#pragma once
// Reader/writer for the safetensors format (8-byte little-endian header length,
// JSON header, raw little-endian tensor data). Used for backbone weights
// (torchvision/timm names), reference cases and our own checkpoints.
#include <torch/types.h>

#include <filesystem>
#include <map>
#include <string>

namespace patchcore {

struct SafetensorsFile {
  std::map<std::string, torch::Tensor> tensors;   // contiguous CPU tensors
  std::map<std::string, std::string> metadata;    // the "__metadata__" entries
};

// Throws UserError naming the file when it is missing, truncated or malformed.
// Supported dtypes: F16, BF16, F32, F64, I64, I32, I16, I8, U8, BOOL.
SafetensorsFile read_safetensors(const std::filesystem::path& path);

// Writes atomically (temporary file in the same folder, then rename).
void write_safetensors(const std::filesystem::path& path, const SafetensorsFile& file);

}  // namespace patchcore

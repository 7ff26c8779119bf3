#include "io/safetensors.h"

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "io/error.h"

namespace patchcore {
namespace {

struct DtypeInfo {
  const char* name;
  torch::ScalarType type;
};

constexpr DtypeInfo kDtypes[] = {
    {"F16", torch::kHalf},  {"BF16", torch::kBFloat16}, {"F32", torch::kFloat},
    {"F64", torch::kDouble}, {"I64", torch::kLong},      {"I32", torch::kInt},
    {"I16", torch::kShort}, {"I8", torch::kChar},       {"U8", torch::kByte},
    {"BOOL", torch::kBool},
};

torch::ScalarType dtype_from_name(const std::string& name, const std::string& file) {
  for (const auto& d : kDtypes)
    if (name == d.name) return d.type;
  throw UserError(file + ": unsupported safetensors dtype '" + name + "'");
}

const char* dtype_name(torch::ScalarType type) {
  for (const auto& d : kDtypes)
    if (type == d.type) return d.name;
  throw std::invalid_argument("safetensors: cannot store dtype " + std::string(c10::toString(type)));
}

}  // namespace

SafetensorsFile read_safetensors(const std::filesystem::path& path) {
  const std::string file = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(file + ": cannot open (does the file exist and is it readable?)");
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  uint64_t header_size = 0;
  if (file_size < 8 || !in.read(reinterpret_cast<char*>(&header_size), 8) ||
      header_size > file_size - 8)
    throw UserError(file + ": not a safetensors file (header truncated); re-create or re-download it");

  std::string header_text(header_size, '\0');
  in.read(header_text.data(), static_cast<std::streamsize>(header_size));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text);
  } catch (const std::exception& e) {
    throw UserError(file + ": corrupt safetensors header (" + e.what() + ")");
  }
  const uint64_t data_start = 8 + header_size;
  const uint64_t data_size = file_size - data_start;

  if (!header.is_object())
    throw UserError(file + ": corrupt safetensors header (not a JSON object); re-create or re-download it");
  SafetensorsFile result;
  try {
    for (const auto& [name, entry] : header.items()) {
      if (name == "__metadata__") {
        for (const auto& [key, value] : entry.items())
          result.metadata[key] = value.is_string() ? value.get<std::string>() : value.dump();
        continue;
      }
      const auto type = dtype_from_name(entry.at("dtype").get<std::string>(), file);
      const std::vector<int64_t> shape = entry.at("shape").get<std::vector<int64_t>>();
      const auto offsets = entry.at("data_offsets").get<std::vector<uint64_t>>();
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size)
        throw UserError(file + ": tensor '" + name + "' lies outside the file (truncated download?)");
      // The size the header claims is checked against the bytes the file holds before
      // anything is allocated: a small file cannot make us allocate a huge tensor.
      uint64_t bytes = static_cast<uint64_t>(c10::elementSize(type));
      for (const int64_t d : shape) {
        if (d < 0) throw UserError(file + ": tensor '" + name + "' has a negative dimension");
        if (d != 0 && bytes > (offsets[1] - offsets[0]) / static_cast<uint64_t>(d))
          throw UserError(file + ": tensor '" + name + "' has a size that does not match its shape");
        bytes *= static_cast<uint64_t>(d);
      }
      if (bytes != offsets[1] - offsets[0])
        throw UserError(file + ": tensor '" + name + "' has a size that does not match its shape");
      auto tensor = torch::empty(shape, torch::TensorOptions().dtype(type));
      in.seekg(static_cast<std::streamoff>(data_start + offsets[0]));
      if (bytes && !in.read(static_cast<char*>(tensor.data_ptr()), static_cast<std::streamsize>(bytes)))
        throw UserError(file + ": could not read tensor '" + name + "' (truncated file?)");
      result.tensors.emplace(name, std::move(tensor));
    }
  } catch (const nlohmann::json::exception& e) {
    throw UserError(file + ": corrupt safetensors header (" + e.what() + "); re-create or re-download it");
  }
  return result;
}

void write_safetensors(const std::filesystem::path& path, const SafetensorsFile& file) {
  nlohmann::json header = nlohmann::json::object();
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  std::vector<torch::Tensor> ordered;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : file.tensors) {
    auto t = tensor.contiguous().cpu();
    const uint64_t bytes = static_cast<uint64_t>(t.nbytes());
    header[name] = {{"dtype", dtype_name(t.scalar_type())},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    ordered.push_back(t);
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');  // keep data 8-byte aligned
  std::string blob;
  blob.reserve(8 + header_text.size() + offset);
  const uint64_t header_size = header_text.size();
  blob.append(reinterpret_cast<const char*>(&header_size), 8);
  blob += header_text;
  for (const auto& t : ordered) blob.append(static_cast<const char*>(t.data_ptr()), t.nbytes());
  write_file_atomically(path, blob);
}

}  // namespace patchcore

#pragma once
// The loaders of outside data that are fuzzed (tests/fuzz, scripts/fuzz.sh), each fed one
// input as a file (the loaders read paths, as the product does). Shared by the libFuzzer
// targets and by the regression test that replays tests/fuzz/corpus/ in the normal suite.
// A UserError is a loader working as designed (bad input -> clear error); any other
// exception, a crash or a sanitizer report is a finding.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "backbone/tfjs_loader.h"
#include "data/preprocess.h"
#include "head/norm_stats.h"
#include "io/safetensors.h"

namespace patchcore::fuzz {

inline std::filesystem::path scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::error_code ec;
    const std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec) ? "/dev/shm" : "/tmp";
    auto d = base / ("patchcore-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline std::filesystem::path write_input(const std::string& name, const std::string& bytes) {
  const auto path = scratch_dir() / name;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

// TF.js input: model.json, optionally followed by "\n--shard--\n" and the bytes of the shard
// "group1-shard1of1" beside it.
inline void load_tfjs(const std::string& input) {
  const std::string separator = "\n--shard--\n";
  const auto cut = input.find(separator);
  const auto model_json = write_input("model.json", input.substr(0, cut));
  write_input("group1-shard1of1", cut == std::string::npos ? std::string() : input.substr(cut + separator.size()));
  load_tfjs_layers_model(model_json);
  tfjs_sha256(model_json);
}

// Fuzz target name (tests/fuzz/corpus/<name>/) -> loader.
inline const std::map<std::string, std::function<void(const std::string&)>>& loaders() {
  static const std::map<std::string, std::function<void(const std::string&)>> table = {
      {"safetensors", [](const std::string& in) { read_safetensors(write_input("input.safetensors", in)); }},
      {"norm_stats", [](const std::string& in) { read_norm_stats(write_input("norm_stats.txt", in)); }},
      {"tfjs", load_tfjs},
      {"image", [](const std::string& in) { read_image_bgr(write_input("input.img", in)); }},
  };
  return table;
}

}  // namespace patchcore::fuzz

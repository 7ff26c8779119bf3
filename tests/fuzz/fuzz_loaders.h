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
#include "patchcore/model.h"
#include "pipeline/threshold_record.h"

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

// Model folder input: checkpoint.safetensors, then "\n--norm_stats--\n" and norm_stats.txt.
// Model::load reads both and builds the model (backbone, search index, support table); a
// model that loads then predicts one small image, so a checkpoint whose tensors pass the
// loader but disagree with each other is caught too.
inline void load_model(const std::string& input) {
  const std::string separator = "\n--norm_stats--\n";
  const auto cut = input.find(separator);
  const auto dir = scratch_dir() / "model";
  std::filesystem::create_directories(dir);
  write_input("model/checkpoint.safetensors", input.substr(0, cut));
  write_input("model/norm_stats.txt", cut == std::string::npos ? std::string() : input.substr(cut + separator.size()));
  const Model model = Model::load(dir);
  model.predict(cv::Mat(40, 40, CV_8UC3, cv::Scalar(90, 120, 150)));
}

// config.yaml input: `eval --write-threshold` reads the model folder's config.yaml and rewrites
// it (with norm_stats.txt, a fixed valid one here).
inline void store_threshold_into(const std::string& input) {
  const auto dir = scratch_dir() / "threshold";
  std::filesystem::create_directories(dir);
  write_input("threshold/config.yaml", input);
  write_input("threshold/norm_stats.txt",
              "max_score=2\nmean_score=1\nstd_score=0.5\nmax_pixel=3\nmean_pixel=1\nnum_samples=10\n");
  store_threshold(dir, ThresholdRecord{1.5, 2.5, "f1", {}});
}

// Fuzz target name (tests/fuzz/corpus/<name>/) -> loader.
inline const std::map<std::string, std::function<void(const std::string&)>>& loaders() {
  static const std::map<std::string, std::function<void(const std::string&)>> table = {
      {"safetensors", [](const std::string& in) { read_safetensors(write_input("input.safetensors", in)); }},
      {"norm_stats", [](const std::string& in) { read_norm_stats(write_input("norm_stats.txt", in)); }},
      {"tfjs", load_tfjs},
      {"image", [](const std::string& in) { read_image_bgr(write_input("input.img", in)); }},
      {"model", load_model},
      {"config_yaml", store_threshold_into},
  };
  return table;
}

}  // namespace patchcore::fuzz

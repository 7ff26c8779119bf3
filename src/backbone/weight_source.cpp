// --weights resolution: an explicit file or folder, seeded random weights, or the official
// weights from the cache (weight_cache.h).
#include "backbone/random_weights.h"
#include "backbone/weight_source.h"

#include <cstdint>
#include <optional>
#include <system_error>

#include "backbone/tfjs_loader.h"
#include "backbone/weight_cache.h"
#include "io/error.h"
#include "io/safetensors.h"
#include "io/sha256.h"

namespace patchcore {

namespace fs = std::filesystem;

namespace {

std::optional<uint64_t> parse_seed(const std::string& text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace

WeightMap load_weight_file(const std::string& backbone, const std::filesystem::path& path) {
  const BackboneInfo& info = backbone_info(backbone);  // throws for unknown names
  if (info.weight_format == WeightFormat::kTfjs) return load_tfjs_layers_model(path);
  if (std::filesystem::is_directory(path))
    throw UserError(path.string() + ": is a folder; " + info.name +
                    " weights must be a .safetensors file (torchvision/timm tensor names)");
  return read_safetensors(path).tensors;
}

ResolvedWeights resolve_weights(const std::string& backbone, const std::string& option) {
  ResolvedWeights out;
  std::error_code ec;
  const std::string kRandom = "random:";

  // An explicit file or folder.
  if (!option.empty() && (option.rfind(kRandom, 0) != 0 || fs::exists(option, ec))) {
    const fs::path path(option);
    if (!fs::exists(path, ec)) {
      if (option == "random")
        throw UserError("--weights random needs a seed: use --weights random:SEED, e.g. random:0");
      throw UserError("weights file not found: " + path.string() +
                      " (pass an existing file or folder, or --weights random:SEED for a smoke "
                      "test, or leave --weights out to use the official pretrained weights)");
    }
    out.weights = load_weight_file(backbone, path);
    out.source = path.string();
    out.sha256 = backbone_info(backbone).weight_format == WeightFormat::kTfjs ? tfjs_sha256(tfjs_model_json(path))
                                                                           : sha256_file(path);
    return out;
  }

  // Seeded random weights, explicit only.
  if (!option.empty()) {
    const std::string seed_text = option.substr(kRandom.size());
    const auto seed = parse_seed(seed_text);
    if (!seed)
      throw UserError("invalid --weights '" + option +
                      "': SEED must be a non-negative whole number below 2^64, e.g. random:0");
    out.weights = random_weights(backbone, *seed);
    out.source = kRandom + std::to_string(*seed);
    out.sha256 = out.source;
    return out;
  }

  // The cache, else a download from the official location.
  const CachedWeights cached = cached_official_weights(backbone);
  out.weights = load_weight_file(backbone, cached.path);
  out.source = cached.path.string();
  out.sha256 = cached.sha256;
  return out;
}

}  // namespace patchcore

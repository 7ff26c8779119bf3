#include "head/norm_stats.h"

#include <cerrno>
#include <cmath>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "io/error.h"

namespace patchcore {
namespace {

constexpr const char* kDoubleKeys[] = {"max_score", "mean_score", "std_score", "max_pixel",
                                       "mean_pixel"};
constexpr const char* kImageThreshold = "image_threshold";
constexpr const char* kPixelThreshold = "pixel_threshold";

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

NormStats compute_norm_stats(const torch::Tensor& image_scores, const torch::Tensor& maps) {
  if (image_scores.numel() == 0 || maps.numel() == 0)
    throw std::invalid_argument("compute_norm_stats: no image scores or maps given");
  const auto scores = image_scores.to(at::kDouble).reshape(-1);
  const auto pixels = maps.to(at::kDouble);
  NormStats s;
  s.max_score = scores.max().item<double>();
  s.mean_score = scores.mean().item<double>();
  s.std_score = std::sqrt((scores - s.mean_score).pow(2).mean().item<double>());  // ddof = 0
  s.max_pixel = pixels.max().item<double>();
  s.mean_pixel = pixels.mean().item<double>();
  s.num_samples = scores.numel();
  return s;
}

NormStats pooled_norm_stats(const NormStats& a, const NormStats& b) {
  NormStats s;
  s.num_samples = a.num_samples + b.num_samples;
  if (s.num_samples == 0) throw std::invalid_argument("pooled_norm_stats: no samples");
  const double wa = double(a.num_samples) / double(s.num_samples), wb = double(b.num_samples) / double(s.num_samples);
  s.max_score = std::max(a.max_score, b.max_score);
  s.max_pixel = std::max(a.max_pixel, b.max_pixel);
  s.mean_score = wa * a.mean_score + wb * b.mean_score;
  s.mean_pixel = wa * a.mean_pixel + wb * b.mean_pixel;
  // E[x^2] of the union minus its squared mean (population variance, ddof = 0).
  const double second = wa * (a.std_score * a.std_score + a.mean_score * a.mean_score) +
                        wb * (b.std_score * b.std_score + b.mean_score * b.mean_score);
  s.std_score = std::sqrt(std::max(0.0, second - s.mean_score * s.mean_score));
  return s;
}

std::string format_norm_stats(const NormStats& stats) {
  const double values[] = {stats.max_score, stats.mean_score, stats.std_score, stats.max_pixel,
                           stats.mean_pixel};
  std::string out;
  char line[128];
  for (size_t i = 0; i < std::size(values); ++i) {
    std::snprintf(line, sizeof line, "%s=%.9g\n", kDoubleKeys[i], values[i]);
    out += line;
  }
  std::snprintf(line, sizeof line, "num_samples=%lld\n", static_cast<long long>(stats.num_samples));
  out += line;
  for (const auto& [key, value] : {std::pair{kImageThreshold, stats.image_threshold},
                                   std::pair{kPixelThreshold, stats.pixel_threshold}}) {
    if (!value) continue;
    std::snprintf(line, sizeof line, "%s=%.9g\n", key, *value);
    out += line;
  }
  return out;
}

NormStats read_norm_stats(const std::filesystem::path& path) {
  const std::string file = path.string();
  std::ifstream in(path);
  if (!in)
    throw UserError(file + ": cannot read the normalisation statistics (does the file exist? "
                           "it is written by training next to the model)");
  std::map<std::string, std::string> entries;
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos)
      throw UserError(file + ": malformed line '" + line + "' (expected key=value)");
    entries[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  if (in.bad()) throw UserError(file + ": read error");

  auto value_of = [&](const char* key) -> const std::string& {
    const auto it = entries.find(key);
    if (it == entries.end())
      throw UserError(file + ": missing '" + key +
                      "' (not a complete norm_stats file; re-create it by training)");
    return it->second;
  };
  auto bad_value = [&](const char* key, const std::string& v) {
    return UserError(file + ": invalid value '" + v + "' for '" + key + "'");
  };
  auto parse_double = [&](const char* key, const std::string& v) {
    char* end = nullptr;
    errno = 0;
    const double d = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || errno == ERANGE) throw bad_value(key, v);
    return d;
  };
  NormStats s;
  double* targets[] = {&s.max_score, &s.mean_score, &s.std_score, &s.max_pixel, &s.mean_pixel};
  for (size_t i = 0; i < std::size(kDoubleKeys); ++i) {
    *targets[i] = parse_double(kDoubleKeys[i], value_of(kDoubleKeys[i]));
  }
  for (auto [key, target] : {std::pair{kImageThreshold, &s.image_threshold},
                             std::pair{kPixelThreshold, &s.pixel_threshold}}) {
    const auto it = entries.find(key);
    if (it != entries.end()) *target = parse_double(key, it->second);
  }
  const std::string& n = value_of("num_samples");
  char* end = nullptr;
  errno = 0;
  const long long count = std::strtoll(n.c_str(), &end, 10);
  if (n.empty() || *end != '\0' || errno == ERANGE || count < 0) throw bad_value("num_samples", n);
  s.num_samples = count;
  return s;
}

}  // namespace patchcore

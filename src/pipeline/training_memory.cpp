#include "pipeline/training_memory.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

#include "io/error.h"

namespace patchcore {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;
// LibTorch, oneDNN, OpenCV and the allocator's own reserve: the RSS of training a tiny model.
constexpr int64_t kProcessBytes = 400 * kMiB;
// Backbone activations and the embedding's copies while one batch is embedded, as a multiple
// of the batch's patch features (wide_resnet50_2 at 224x224, batch 32: measured ~0.6 GB
// beyond the rest, bench/train_scale.sh).
constexpr int64_t kBatchWorkingFactor = 5;

struct Estimate {
  int64_t feature_ram, projection, peak;
};

Estimate estimate(const TrainingShape& s, bool on_disk, bool bfloat16) {
  const int64_t batch_features = s.batch_rows * s.channels * 4;
  const int64_t base = kProcessBytes + s.backbone_bytes;
  const int64_t working = kBatchWorkingFactor * batch_features;
  // On disk, one batch of rows is read back at a time into a reused buffer.
  const int64_t feature_ram = on_disk ? batch_features : s.patches * s.channels * 4;
  const int64_t rows = s.patches + s.parent_rows;
  const int64_t projection = s.projection_dims ? rows * s.projection_dims * (bfloat16 ? 2 : 4) : 0;
  const int64_t greedy = s.projection_dims ? rows * kGreedyBytesPerRow : 0;
  // `train --from`: the parent's bank is held from the start (and is part of the final bank).
  const int64_t parent_bank = s.parent_rows * s.channels * 4;
  const int64_t bank = s.bank_rows * s.channels * 4;
  // The allocator keeps much of a batch's working memory after the batch (heap fragments),
  // so it is counted in every phase.
  const int64_t extracting = base + working + feature_ram + parent_bank + projection;
  const int64_t selecting = base + working + feature_ram + parent_bank + projection + greedy;
  const int64_t scoring = base + working + feature_ram + parent_bank + bank + s.scoring_bytes;
  return {feature_ram, projection, std::max({extracting, selecting, scoring})};
}

}  // namespace

TrainingMemoryPlan plan_training_memory(const TrainingShape& shape, int64_t cap_bytes) {
  struct Option {
    bool on_disk, bfloat16;
  };
  const Option options[] = {{false, false}, {true, false}, {true, true}};
  std::array<int64_t, 3> peaks{};
  for (size_t i = 0; i < peaks.size(); ++i)  // without a selection the bank is every patch: all in RAM
    if (!options[i].on_disk || shape.projection_dims) peaks[i] = estimate(shape, options[i].on_disk, options[i].bfloat16).peak;
  for (size_t i = 0; i < peaks.size(); ++i) {
    const Option& o = options[i];
    if (!peaks[i] || peaks[i] > cap_bytes) continue;
    const Estimate e = estimate(shape, o.on_disk, o.bfloat16);
    TrainingMemoryPlan plan;
    plan.option_peaks = peaks;
    plan.features_on_disk = o.on_disk;
    plan.projection_bfloat16 = o.bfloat16;
    plan.feature_bytes = shape.patches * shape.channels * 4;
    plan.projection_bytes = e.projection;
    plan.peak_bytes = e.peak;
    plan.cap_bytes = cap_bytes;
    return plan;
  }
  const bool selects = shape.projection_dims > 0;
  const Estimate least = estimate(shape, selects, selects);
  throw UserError("training " + std::to_string(shape.patches) + " patches needs about " + format_bytes(least.peak) +
                  " of memory" + (selects ? " even with the features on disk and a bfloat16 projection" : std::string()) + ", more than --max-memory " +
                  format_bytes(cap_bytes) + ". Raise --max-memory, use fewer images or a smaller --batch-size, or train on part of "
                  "the images and add the rest with `train --from` (docs/scaling.md)");
}

std::string TrainingMemoryPlan::describe() const {
  std::string s = "memory plan (cap " + format_bytes(cap_bytes) + "): features " + format_bytes(feature_bytes) +
                  (features_on_disk ? " in a temporary file on disk" : " in RAM");
  if (projection_bytes)
    s += ", projection " + format_bytes(projection_bytes) + (projection_bfloat16 ? " in RAM as bfloat16" : " in RAM");
  return s + ", estimated peak " + format_bytes(peak_bytes);
}

int64_t parse_memory_size(const std::string& text) {
  const auto bad = [&] {
    return UserError("--max-memory '" + text + "': expected a size such as 8G, 512M or 1.5G (K/M/G/T = 1024^n bytes)");
  };
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    throw bad();
  }
  std::string unit = text.substr(used);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && unit.back() == 'B') unit.pop_back();
  if (unit.size() > 1 && unit.back() == 'I') unit.pop_back();
  const std::string units = "KMGT";
  double scale = 1;
  if (unit.size() == 1 && units.find(unit[0]) != std::string::npos)
    scale = std::ldexp(1.0, 10 * (1 + static_cast<int>(units.find(unit[0]))));
  else if (!unit.empty() && unit != "B")
    throw bad();
  const double bytes = value * scale;
  if (!(bytes >= 1) || bytes > 9e18) throw bad();
  return static_cast<int64_t>(bytes);
}

std::string format_bytes(int64_t bytes) {
  char buffer[32];
  if (bytes >= (int64_t{1} << 30))
    std::snprintf(buffer, sizeof buffer, "%.2f GiB", double(bytes) / double(int64_t{1} << 30));
  else
    std::snprintf(buffer, sizeof buffer, bytes >= 10 * kMiB ? "%.0f MiB" : "%.1f MiB", double(bytes) / double(kMiB));
  return buffer;
}

int64_t default_memory_cap() {
  int64_t limit = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<int64_t>(sysconf(_SC_PAGE_SIZE));
  // cgroup v2 (Docker, Kubernetes), then v1; "max" or an absurd number means no limit.
  for (const char* file : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream in(file);
    long long value = 0;
    if (in >> value && value > 0) limit = std::min<int64_t>(limit, value);
  }
  return limit / 5 * 4;
}

}  // namespace patchcore

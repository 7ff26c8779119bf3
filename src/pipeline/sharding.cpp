#include "pipeline/sharding.h"

#include <algorithm>
#include <charconv>

#include "head/coreset.h"
#include "head/k_center_greedy.h"
#include "io/error.h"
#include "io/sha256.h"
#include "pipeline/model_folder.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;

bool parse_int(const std::string& text, int& value) {
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc() && ptr == end;
}

// The settings that make shards parts of one model; "" when they agree, else what differs.
std::string settings_difference(const Checkpoint& a, const Checkpoint& b) {
  const ModelConfig &x = a.config, &y = b.config;
  if (x.backbone != y.backbone) return "backbone " + x.backbone + " vs " + y.backbone;
  if (x.layers != y.layers) return "layers";
  if (x.preprocessing.height != y.preprocessing.height || x.preprocessing.width != y.preprocessing.width)
    return "image size";
  if (x.coreset_ratio != y.coreset_ratio) return "coreset ratio";
  if (x.num_neighbors != y.num_neighbors) return "number of neighbours";
  if (x.seed != y.seed) return "seed";
  if (x.search.backend != y.search.backend || x.search.faiss_index != y.search.faiss_index) return "search settings";
  if (a.weights_sha256 != b.weights_sha256) return "backbone weights";
  const ShardRecord &r = *a.shard, &s = *b.shard;
  if (r.count != s.count) return "shard count " + std::to_string(r.count) + " vs " + std::to_string(s.count);
  if (r.total_images != s.total_images || r.total_patches != s.total_patches)
    return "training images (" + std::to_string(r.total_images) + " vs " + std::to_string(s.total_images) + ")";
  if (r.holdout_fraction != s.holdout_fraction) return "holdout fraction";
  return "";
}

}  // namespace

ShardSpec parse_shard_spec(const std::string& text) {
  const auto slash = text.find('/');
  ShardSpec spec;
  if (slash == std::string::npos || !parse_int(text.substr(0, slash), spec.index) ||
      !parse_int(text.substr(slash + 1), spec.count) || spec.count < 1 || spec.index < 0 || spec.index >= spec.count)
    throw UserError("--shard '" + text + "' must be I/N with 0 <= I < N, e.g. 0/3, 1/3 and 2/3 for three shards");
  return spec;
}

ImageSlice shard_slice(size_t images, const ShardSpec& spec) {
  const auto bound = [&](int i) { return images * static_cast<size_t>(i) / static_cast<size_t>(spec.count); };
  return {bound(spec.index), bound(spec.index + 1)};
}

fs::path shard_folder(const fs::path& output_dir, const std::string& pattern, const ShardSpec& spec) {
  return output_dir / (pattern + ".shard-" + std::to_string(spec.index) + "-of-" + std::to_string(spec.count));
}

ShardParts load_shard_parts(const std::vector<fs::path>& dirs) {
  if (dirs.empty()) throw UserError("merge: name the shard folders (OUTPUT/PATTERN.shard-I-of-N of `train --shard`)");
  std::vector<std::pair<fs::path, Checkpoint>> loaded;
  for (const auto& dir : dirs) {
    if (!fs::is_directory(dir))
      throw UserError("merge: " + dir.string() + " is not a folder; pass the OUTPUT/PATTERN.shard-I-of-N folders of "
                      "`train --shard`");
    verify_manifest(dir, {ModelFolder::kCheckpoint});
    Checkpoint c = load_checkpoint(dir / ModelFolder::kCheckpoint);
    if (!c.shard)
      throw UserError("merge: " + dir.string() + " is a complete model, not a shard of `train --shard I/N`");
    loaded.emplace_back(dir, std::move(c));
  }
  std::sort(loaded.begin(), loaded.end(),
            [](const auto& a, const auto& b) { return a.second.shard->index < b.second.shard->index; });
  for (size_t i = 0; i < loaded.size(); ++i) {
    const auto& [dir, c] = loaded[i];
    const std::string difference = settings_difference(loaded.front().second, c);
    if (!difference.empty())
      throw UserError("merge: " + dir.string() + " and " + loaded.front().first.string() + " are not shards of one "
                      "training (" + difference + " differ); run every shard with the same command line and data");
    if (i > 0 && loaded[i - 1].second.shard->index == c.shard->index)
      throw UserError("merge: " + loaded[i - 1].first.string() + " and " + dir.string() + " are both shard " +
                      std::to_string(c.shard->index) + "; name each shard once");
  }
  const int count = loaded.front().second.shard->count;
  if (static_cast<int>(loaded.size()) != count) {
    std::string missing;
    for (int i = 0, j = 0; i < count; ++i) {
      if (j < static_cast<int>(loaded.size()) && loaded[j].second.shard->index == i) { ++j; continue; }
      missing += (missing.empty() ? "" : ", ") + std::to_string(i);
    }
    throw UserError("merge: got " + std::to_string(loaded.size()) + " of " + std::to_string(count) +
                    " shards; missing shard(s) " + missing + " (run `train --shard I/" + std::to_string(count) +
                    "` for them and pass all their folders)");
  }
  ShardParts parts;
  for (auto& [dir, c] : loaded) {
    if (!parts.checkpoints.empty()) c.backbone_weights.clear();  // the same weights (checked): keep one copy
    parts.dirs.push_back(dir);
    parts.checkpoints.push_back(std::move(c));
  }
  return parts;
}

void check_images_match_shards(const ShardParts& parts, const std::vector<fs::path>& training_images) {
  const ShardRecord& record = parts.record();
  if (static_cast<int64_t>(training_images.size()) != record.total_images)
    throw UserError("merge: --data-dir has " + std::to_string(training_images.size()) +
                    " training images (held-out ones excluded), the shards trained on " +
                    std::to_string(record.total_images) + "; pass the --data-dir the shards read, unchanged");
  size_t next = 0;
  for (size_t s = 0; s < parts.checkpoints.size(); ++s) {
    const auto& shard_images = parts.checkpoints[s].training_images;
    const ImageSlice slice = shard_slice(training_images.size(), {static_cast<int>(s), record.count});
    if (slice.begin != next || slice.end - slice.begin != shard_images.size())
      throw UserError("merge: " + parts.dirs[s].string() + " holds " + std::to_string(shard_images.size()) +
                      " images, its slice of --data-dir has " + std::to_string(slice.end - slice.begin));
    for (size_t i = 0; i < shard_images.size(); ++i, ++next)
      if (sha256_file(training_images[next]) != shard_images[i].sha256)
        throw UserError("merge: " + training_images[next].string() + " is not the image shard " + std::to_string(s) +
                        " trained on at that place (" + shard_images[i].path + "): the data folder changed since the "
                        "shards ran; rerun the shards on the current data");
  }
}

torch::Tensor merge_shard_banks(ShardParts& parts, const ProgressCallback& progress) {
  torch::Tensor all;
  {
    std::vector<torch::Tensor> banks;
    for (auto& c : parts.checkpoints) {
      banks.push_back(c.memory_bank.to(torch::kFloat));
      c.memory_bank = torch::Tensor();
    }
    all = torch::cat(banks).contiguous();
  }  // the shards' own banks are freed here: the union holds their rows
  const ShardRecord& record = parts.record();
  const ModelConfig& config = parts.checkpoints.front().config;
  const int64_t size = coreset_size(record.total_patches, config.coreset_ratio);
  if (all.size(0) <= size) return all;
  const SparseRandomProjection projection(all.size(1), johnson_lindenstrauss_min_dim(record.total_patches, 0.9),
                                          config.seed);
  const auto selected = k_center_greedy(projection.transform(all), size, config.seed, progress);
  return all.index_select(0, torch::tensor(selected, torch::kLong)).contiguous();
}

}  // namespace patchcore

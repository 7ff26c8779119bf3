#pragma once
// Sharded training: `train --shard I/N` selects a partial memory bank from slice I of the
// sorted training images; `merge` runs the greedy again over the union of the N partial
// banks (composable coresets: Malkomes et al., NeurIPS 2015; Ceccarello et al., VLDB 2019)
// and then scores every training image against the merged bank, as a single-machine
// training does. docs/scaling.md.
#include <torch/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "io/progress.h"
#include "pipeline/checkpoint.h"

namespace patchcore {

struct ShardSpec {
  int index = 0;  // 0-based, as Kubernetes' JOB_COMPLETION_INDEX and `sbatch --array=0-(N-1)` give it
  int count = 1;
};

// "I/N" with 0 <= I < N; throws UserError naming the text otherwise.
ShardSpec parse_shard_spec(const std::string& text);

// The images [begin, end) of `images` that shard `spec` trains on: contiguous, sizes differing
// by at most one.
struct ImageSlice {
  size_t begin = 0, end = 0;
};
ImageSlice shard_slice(size_t images, const ShardSpec& spec);

// Where shard `spec` of pattern `pattern` is written: OUTPUT/PATTERN.shard-I-of-N.
std::filesystem::path shard_folder(const std::filesystem::path& output_dir, const std::string& pattern,
                                   const ShardSpec& spec);

// The partial models of one sharded training, in shard order.
struct ShardParts {
  std::vector<std::filesystem::path> dirs;
  std::vector<Checkpoint> checkpoints;
  const ShardRecord& record() const { return *checkpoints.front().shard; }
};

// Loads the shard folders (each checked against its manifest) and checks that they are
// shards 0..N-1 of one training: same N, settings, weights and image totals, each exactly once.
// Throws UserError naming the folder and the fix otherwise.
ShardParts load_shard_parts(const std::vector<std::filesystem::path>& dirs);

// Checks that `training_images` (the merge's sorted training list, held-out images removed)
// are the images the shards trained on, in order, by SHA-256. Throws UserError naming the
// first image that differs.
void check_images_match_shards(const ShardParts& parts, const std::vector<std::filesystem::path>& training_images);

// The merged memory bank: greedy k-center over the union of the shards' banks, on the same
// random projection (dimension and seed) a single-machine training of all images would use,
// to the size the ratio gives for all the shards' patches. All rows when the union is smaller.
// Takes the banks out of `parts` (they are freed once merged: the merge then scores every image).
torch::Tensor merge_shard_banks(ShardParts& parts, const ProgressCallback& progress = {});

}  // namespace patchcore

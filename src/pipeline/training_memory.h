#pragma once
// How training fits its patch features and their random projection into a memory cap
// (`train --max-memory`). Training holds, per patch row, the features (C float32) for the
// bank rows and the scoring of the training images, and the projection (d numbers) plus
// the greedy's bookkeeping for the coreset selection; while it scores, also the bank and the
// search indexes built on it (a bank as large as the features at --coreset-ratio 1). The
// plan keeps everything in RAM when it fits; otherwise it moves the features to a file (they
// are read twice, in order, and the selected rows once), and then stores the projection in
// bfloat16.
#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace patchcore {

struct TrainingShape {
  int64_t patches = 0;           // new training patches (rows of features)
  int64_t parent_rows = 0;       // `train --from`: the parent bank, projected ahead of them
  int64_t channels = 0;          // C
  int64_t projection_dims = 0;   // d; 0 when every patch is kept (no selection)
  int64_t batch_rows = 0;        // patch rows of one batch of images
  int64_t backbone_bytes = 0;    // weights
  int64_t bank_rows = 0;         // the final memory bank (float32, channels wide; with --from: the parent's too)
  // While the training images are scored, beyond the bank: its search indexes (the model's, and
  // an approximate search's exact twin) and the support table (search::index_memory_bytes).
  int64_t scoring_bytes = 0;
};

struct TrainingMemoryPlan {
  bool features_on_disk = false;
  bool projection_bfloat16 = false;
  int64_t feature_bytes = 0;     // in RAM or on disk
  int64_t projection_bytes = 0;  // in RAM, in the chosen type
  int64_t peak_bytes = 0;        // estimated peak of the process (see training_memory.cpp)
  int64_t cap_bytes = 0;
  // The estimated peak of each way, in the order tried: all in RAM, features on disk,
  // + bfloat16 projection (0 where a way does not apply).
  std::array<int64_t, 3> option_peaks{};
  std::string describe() const;  // one line for the log: rows, bytes in RAM, bytes on disk
};

// Bytes the greedy keeps per row beyond the projection: norm, min distance, owner (4 B each),
// its entry in a cluster list (4 B, lists at most twice their size: 8 B) and 8 pivot
// coordinates (double).
inline constexpr int64_t kGreedyBytesPerRow = 3 * 4 + 8 + 8 * 8;

// The first of (all in RAM, features on disk, + bfloat16 projection) whose estimated peak is
// within cap_bytes; throws UserError naming the smallest cap that would work otherwise.
TrainingMemoryPlan plan_training_memory(const TrainingShape& shape, int64_t cap_bytes);

// "8G", "512M", "1.5G", "300000000" (bytes; K/M/G/T are powers of 1024, an optional trailing
// "B" or "iB" is accepted). Throws UserError on anything else.
int64_t parse_memory_size(const std::string& text);
std::string format_bytes(int64_t bytes);  // "5.73 GiB", "812 MiB"

// The default cap: 80% of the memory this process may use (the smaller of the machine's
// MemTotal and a cgroup limit, as under Docker or Kubernetes).
int64_t default_memory_cap();

}  // namespace patchcore

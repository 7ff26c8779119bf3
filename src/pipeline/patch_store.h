#pragma once
// The training patches' features, [rows, channels] float32, written once batch by batch and
// then read back: in RAM, or in a temporary file when the memory plan says so
// (pipeline/training_memory.h). The file is unlinked as soon as it is created, so it takes
// disk space only while the store lives and nothing is left behind, even after kill -9.
#include <torch/types.h>

#include <filesystem>
#include <vector>

namespace patchcore {

class PatchStore {
 public:
  PatchStore() = default;  // no rows
  // In RAM.
  PatchStore(int64_t rows, int64_t channels);
  // In an unnamed file in `dir` (which must exist); `rows` * `channels` * 4 bytes of disk.
  PatchStore(int64_t rows, int64_t channels, const std::filesystem::path& dir);
  ~PatchStore();
  PatchStore(PatchStore&&) noexcept;
  PatchStore& operator=(PatchStore&&) noexcept;

  int64_t rows() const { return rows_; }
  int64_t channels() const { return channels_; }
  bool on_disk() const { return fd_ >= 0; }

  // Stores `block` [n, channels] as rows first .. first + n - 1.
  void write(int64_t first, const torch::Tensor& block);
  // Rows first .. first + count - 1 [count, channels]; on disk the tensor is a reused buffer,
  // valid until the next read().
  torch::Tensor read(int64_t first, int64_t count);
  // The listed rows [rows.size(), channels], in that order.
  torch::Tensor gather(const std::vector<int64_t>& rows);

 private:
  void check_range(int64_t first, int64_t count) const;

  int64_t rows_ = 0, channels_ = 0;
  torch::Tensor memory_;  // in RAM: all rows
  int fd_ = -1;           // on disk: the unlinked file
  std::filesystem::path where_;  // for error messages
  torch::Tensor buffer_;  // on disk: read()'s reused buffer
};

}  // namespace patchcore

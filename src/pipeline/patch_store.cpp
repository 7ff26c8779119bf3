#include "pipeline/patch_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>

#include "io/error.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;

std::string why(int error) {
  return error == ENOSPC || error == EFBIG || error == EDQUOT ? std::string("disk full?") : std::strerror(error);
}

}  // namespace

PatchStore::PatchStore(int64_t rows, int64_t channels)
    : rows_(rows), channels_(channels), memory_(torch::empty({rows, channels})) {}

PatchStore::PatchStore(int64_t rows, int64_t channels, const fs::path& dir) : rows_(rows), channels_(channels) {
  where_ = dir / (".patch-features-" + std::to_string(::getpid()));
  fd_ = ::open(where_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd_ < 0)
    throw UserError("cannot create the temporary feature file " + where_.string() + ": " + std::strerror(errno));
  ::unlink(where_.c_str());  // from here on only the descriptor names it
  where_ = "the temporary feature file in " + dir.string();
  // Reserve the space up front: a full disk is reported now, not after an hour of features.
  const int64_t bytes = rows * channels * static_cast<int64_t>(sizeof(float));
  if (bytes > 0) {
    const int error = ::posix_fallocate(fd_, 0, bytes);
    if (error != 0 && error != EOPNOTSUPP && error != EINVAL) {
      ::close(fd_);
      fd_ = -1;
      throw UserError("cannot reserve " + std::to_string(bytes >> 20) + " MiB for " + where_.string() + " (" +
                      why(error) + "): free disk space there or raise --max-memory");
    }
  }
}

PatchStore::~PatchStore() {
  if (fd_ >= 0) ::close(fd_);
}

PatchStore::PatchStore(PatchStore&& other) noexcept { *this = std::move(other); }

PatchStore& PatchStore::operator=(PatchStore&& other) noexcept {
  if (this == &other) return *this;
  if (fd_ >= 0) ::close(fd_);
  rows_ = other.rows_;
  channels_ = other.channels_;
  memory_ = std::move(other.memory_);
  fd_ = std::exchange(other.fd_, -1);
  where_ = std::move(other.where_);
  buffer_ = std::move(other.buffer_);
  return *this;
}

void PatchStore::check_range(int64_t first, int64_t count) const {
  if (first < 0 || count < 0 || first + count > rows_)
    throw std::out_of_range("PatchStore: rows " + std::to_string(first) + " + " + std::to_string(count) +
                            " outside [0, " + std::to_string(rows_) + ")");
}

void PatchStore::write(int64_t first, const torch::Tensor& block) {
  if (block.dim() != 2 || block.size(1) != channels_ || block.scalar_type() != torch::kFloat)
    throw std::invalid_argument("PatchStore::write: expected float32 [n, " + std::to_string(channels_) + "]");
  check_range(first, block.size(0));
  if (!on_disk()) {
    memory_.narrow(0, first, block.size(0)).copy_(block);
    return;
  }
  const auto rows = block.contiguous();
  const char* data = static_cast<const char*>(rows.data_ptr());
  size_t left = static_cast<size_t>(rows.numel()) * sizeof(float);
  off_t offset = static_cast<off_t>(first * channels_ * static_cast<int64_t>(sizeof(float)));
  while (left > 0) {
    const ssize_t n = ::pwrite(fd_, data, left, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw UserError("failed writing " + where_.string() + " (" + why(n < 0 ? errno : ENOSPC) + ")");
    data += n, offset += n, left -= static_cast<size_t>(n);
  }
}

torch::Tensor PatchStore::read(int64_t first, int64_t count) {
  check_range(first, count);
  if (!on_disk()) return memory_.narrow(0, first, count);
  if (!buffer_.defined() || buffer_.size(0) < count) buffer_ = torch::empty({count, channels_});
  char* data = static_cast<char*>(buffer_.data_ptr());
  size_t left = static_cast<size_t>(count * channels_) * sizeof(float);
  off_t offset = static_cast<off_t>(first * channels_ * static_cast<int64_t>(sizeof(float)));
  while (left > 0) {
    const ssize_t n = ::pread(fd_, data, left, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw UserError("failed reading " + where_.string() + (n < 0 ? ": " + std::string(std::strerror(errno)) : ""));
    data += n, offset += n, left -= static_cast<size_t>(n);
  }
  return buffer_.narrow(0, 0, count);
}

torch::Tensor PatchStore::gather(const std::vector<int64_t>& rows) {
  for (const int64_t r : rows) check_range(r, 1);
  if (!on_disk()) return memory_.index_select(0, torch::tensor(rows, torch::kLong));
  // One row at a time, in file order (the selection order is random).
  std::vector<size_t> order(rows.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rows[a] < rows[b]; });
  auto out = torch::empty({static_cast<int64_t>(rows.size()), channels_});
  for (const size_t i : order) out[static_cast<int64_t>(i)].copy_(read(rows[i], 1)[0]);
  return out;
}

}  // namespace patchcore

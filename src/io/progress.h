#pragma once
// A terminal progress bar for long work (feature extraction, coreset, downloads).
// Draws on stderr in place when stderr is a terminal; otherwise prints a plain
// line every 10% so CI logs stay readable.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace patchcore {

// Callback form used by the algorithm layers so they stay free of terminal I/O:
// called with (done, total).
using ProgressCallback = std::function<void(int64_t, int64_t)>;

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, bool enabled = true);
  ~ProgressBar();
  void update(int64_t done);
  // Call when the work is complete; a bar destroyed unfinished (by an exception)
  // ends its line without claiming 100%.
  void finish();
  ProgressCallback callback();
  double elapsed_seconds() const;

 private:
  std::string label_;
  int64_t total_;
  bool enabled_;
  bool is_tty_;
  bool finished_ = false;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace patchcore

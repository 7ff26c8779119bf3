#include "io/progress.h"

#include "io/interrupt.h"

#include <cstdio>
#include <unistd.h>

namespace patchcore {

ProgressBar::ProgressBar(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)),
      total_(total > 0 ? total : 1),
      enabled_(enabled),
      is_tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()) {}

// Abandoned (an exception unwound past it): end the line, but never claim 100%.
ProgressBar::~ProgressBar() {
  if (enabled_ && !finished_ && is_tty_ && last_draw_ != std::chrono::steady_clock::time_point{})
    std::fprintf(stderr, " (stopped)\n");
}

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressBar::update(int64_t done) {
  throw_if_interrupted();  // long work reports progress: the place to stop cleanly
  if (!enabled_ || finished_) return;
  const double fraction = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
  const double elapsed = elapsed_seconds();
  const double eta = fraction > 0 ? elapsed * (1.0 - fraction) / fraction : 0.0;
  if (is_tty_) {
    const auto now = std::chrono::steady_clock::now();
    if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    std::string bar(filled, '#');
    bar.append(kWidth - filled, '.');
    std::fprintf(stderr, "\r%-22s [%s] %3d%% %lld/%lld  %.1fs elapsed, ~%.1fs left ", label_.c_str(),
                 bar.c_str(), static_cast<int>(fraction * 100), static_cast<long long>(done),
                 static_cast<long long>(total_), elapsed, eta);
  } else {
    const int decile = static_cast<int>(fraction * 10);
    if (decile == last_decile_) return;
    last_decile_ = decile;
    std::fprintf(stderr, "%s: %3d%% (%lld/%lld, %.1fs)\n", label_.c_str(), decile * 10,
                 static_cast<long long>(done), static_cast<long long>(total_), elapsed);
  }
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (!enabled_ || finished_) return;
  update(total_);
  finished_ = true;
  if (is_tty_) std::fprintf(stderr, "\n");
}

ProgressCallback ProgressBar::callback() {
  return [this](int64_t done, int64_t) { update(done); };
}

}  // namespace patchcore

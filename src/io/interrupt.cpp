#include "io/interrupt.h"

#include <csignal>

namespace patchcore {
namespace {

volatile std::sig_atomic_t g_signal = 0;

void on_signal(int signal) {
  g_signal = signal;
  std::signal(signal, SIG_DFL);  // a second one: the default action
}

}  // namespace

void stop_on_interrupt() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

void throw_if_interrupted() {
  if (g_signal != 0) throw Interrupted();
}

}  // namespace patchcore

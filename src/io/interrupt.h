#pragma once
// Ctrl-C (SIGINT) and SIGTERM as a clean stop: the handler only sets a flag; long loops check
// it where they report progress (ProgressBar::update) and throw Interrupted, so destructors
// remove what the run had staged (StagedFolder, temporary files) and nothing half-written stays.
// A second signal while stopping ends the process at once (the default action).
#include "io/error.h"

namespace patchcore {

class Interrupted : public UserError {
 public:
  Interrupted() : UserError("interrupted: stopped before finishing; nothing was written") {}
};

// Installs the handler for SIGINT and SIGTERM (`patchcore train` does; commands that never
// check keep the default action, so Ctrl-C still ends them at once).
void stop_on_interrupt();

// Throws Interrupted once a signal has arrived; cheap enough for every progress report.
void throw_if_interrupted();

}  // namespace patchcore

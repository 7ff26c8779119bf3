#pragma once
// Sub-commands of the `patchcore` executable. Each registers its options on the
// CLI11 app and returns the action to run once parsing succeeded.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <functional>

#include "pipeline/trainer.h"

namespace patchcore::cli {

struct Command {
  CLI::App* app;            // the sub-command, to see whether it was chosen
  std::function<int()> run;  // runs it with the parsed options; returns the exit code
};

Command add_train_command(CLI::App& app);
Command add_predict_command(CLI::App& app);
Command add_export_command(CLI::App& app);
Command add_demo_data_command(CLI::App& app);
Command add_fetch_weights_command(CLI::App& app);
Command add_eval_command(CLI::App& app);
Command add_merge_command(CLI::App& app);

// The summary `train` and `merge` print of a trained model.
void print_training_summary(const TrainReport& report, const std::filesystem::path& parent_model = {});

}  // namespace patchcore::cli

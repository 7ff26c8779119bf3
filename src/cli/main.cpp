// patchcore: train, predict and export PatchCore anomaly-detection models.
#include <csignal>
#include <iostream>
#include <vector>

#include "cli/commands.h"
#include "io/error.h"
#include "io/interrupt.h"
#include "pipeline/build_info.h"

int main(int argc, char** argv) {
  // Past a file-size limit (ulimit -f) a write then fails with EFBIG, which the writers report
  // as an error naming the file, instead of the signal killing the process mid-write.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"patchcore " + patchcore::patchcore_version() +
               " - PatchCore visual anomaly detection: train on good parts, predict anomalies"};
  app.require_subcommand(1);
  app.set_version_flag("--version", [] {
    std::string text;
    for (const auto& [name, version] : patchcore::build_versions()) text += name + " " + version + "\n";
    return text;
  });
  const std::vector<patchcore::cli::Command> commands = {
      patchcore::cli::add_train_command(app),
      patchcore::cli::add_predict_command(app),
      patchcore::cli::add_merge_command(app),
      patchcore::cli::add_eval_command(app),
      patchcore::cli::add_export_command(app),
      patchcore::cli::add_fetch_weights_command(app),
      patchcore::cli::add_demo_data_command(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (const auto& command : commands)
      if (command.app->parsed()) return command.run();
  } catch (const patchcore::Interrupted& e) {
    std::cerr << e.what() << "\n";
    return 130;  // 128 + SIGINT, as shells report an interrupted command
  } catch (const patchcore::UserError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << "\n"
              << "(this is a bug in patchcore; please report it with the command you ran)\n";
    return 3;
  }
  return 0;
}

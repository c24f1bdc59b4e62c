// The `frost` command: argument parsing by CLI11, one file per subcommand (cli/commands.h).
//
//   frost --version    frost --help    frost demo    frost ops    frost info F    frost clip V... --out F
//   frost encode text|video|image ... --out F    frost plan ...
// Errors and exit codes: cli/common.h.
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "engine/backend.h"
#include "engine/error.h"
#ifdef FROST_HAVE_CUDA
#include "engine/cuda/cuda_info.h"
#endif

namespace {

std::string version_text() {
  std::string backends;
  for (const std::string& b : frost::available_backends()) backends += (backends.empty() ? "" : ", ") + b;
  std::string text = std::string("frost ") + FROST_VERSION + "\nbackends: " + backends + "\nCUDA: ";
#ifdef FROST_HAVE_CUDA
  text += "built (runtime " + frost::cuda_runtime_version() + "; " + frost::cuda_describe_devices() + ")";
#else
  text += "not built";
#endif
  return text;
}

// The subcommand named on the command line, for messages about a parse error (CLI11 has not yet said).
std::string command_named(CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (argv[i][0] != '-') {
      for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
        if (sub->get_name() == argv[i]) return argv[i];
      return "";
    }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  // A reader that goes away (`frost ops | head -1`) ends output quietly instead of killing frost by signal.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"frost: a compiled static-graph tensor engine and the Frozen in Time video-text dual encoder"};
  app.footer(
      "Exit codes: 0 success; 1 a user error (bad argument value, bad or unreadable file, output refused); "
      "2 usage (unknown command or option, missing argument); 3 internal error (a bug: please report it).");
  try {
    app.set_version_flag("--version", version_text());
    app.require_subcommand(1);
    frost::cli::add_demo_command(app);
    frost::cli::add_ops_command(app);
    frost::cli::add_info_command(app);
    frost::cli::add_clip_command(app);
    frost::cli::add_encode_command(app);
    frost::cli::add_plan_command(app);
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (...) {
    std::string command = frost::cli::session().command;
    if (command.empty()) command = command_named(app, argc, argv);
    return frost::cli::report_exception(command);
  }
  return frost::cli::kExitOk;
}

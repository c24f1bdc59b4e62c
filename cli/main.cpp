// The `frost` command: argument parsing by CLI11, one file per subcommand (cli/commands.h).
//
//   frost --version    frost --help    frost demo [--steps N]    frost ops    frost info F    frost clip V
//   --out F
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"frost: a compiled static-graph tensor engine and the Frozen in Time video-text dual encoder"};
  app.set_version_flag("--version", version_text());
  app.require_subcommand(1);
  frost::cli::add_demo_command(app);
  frost::cli::add_ops_command(app);
  frost::cli::add_info_command(app);
  frost::cli::add_clip_command(app);
  frost::cli::add_encode_command(app);
  frost::cli::add_plan_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const frost::Error& e) {
    std::cerr << "frost: " << frost::error_category_name(e.category()) << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}

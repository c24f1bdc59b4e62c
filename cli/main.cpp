// The `frost` command: argument parsing by CLI11, one file per subcommand (cli/commands.h).
//
//   frost --version    frost --help    frost demo    frost ops    frost info F    frost clip V... --out F
//   frost encode text|video|image ... --out F    frost plan ...
// Errors and exit codes: cli/common.h.
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "loader/files.h"
#include "loader/video.h"
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

// Signals: an interrupted command removes its temporary output files, then dies of the signal as usual; an
// input file truncated under its memory mapping (SIGBUS) is one line and exit 1, not a crash.
extern "C" void on_terminate(int sig) {
  frost::loader::remove_temporary_files();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}
extern "C" void on_bus_error(int) {
  frost::loader::remove_temporary_files();
  static const char head[] = "frost ";
  static const char message[] =
      ": an input file shrank while frost was reading it (another program changed it?) — run again once "
      "the file is complete\n";
  (void)!::write(STDERR_FILENO, head, sizeof head - 1);
  const char* command = frost::cli::command_for_signals();
  (void)!::write(STDERR_FILENO, command, std::strlen(command));
  (void)!::write(STDERR_FILENO, message, sizeof message - 1);
  ::_exit(frost::cli::kExitUserError);
}

void install_signal_handlers() {
  // A reader that goes away (`frost ops | head -1`) ends output quietly instead of killing frost by signal.
  std::signal(SIGPIPE, SIG_IGN);
  // Past a file-size limit (ulimit -f) a write fails with EFBIG and is reported, instead of SIGXFSZ.
  std::signal(SIGXFSZ, SIG_IGN);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) std::signal(sig, on_terminate);
  std::signal(SIGBUS, on_bus_error);
}

// What the user typed that is not a command or an option CLI11 knows, for a message naming it; "" if none.
std::string unknown_word(CLI::App& app, int argc, char** argv) {
  if (argc < 2) return "";
  const std::string first = argv[1];
  for (const char* known : {"--help", "-h", "--version"})
    if (first == known) return "";
  if (first[0] == '-') return "unknown option " + first;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
    if (sub->get_name() == first) return "";
  return "unknown command '" + first + "'";
}

// Output to a closed or full standard output is an error too (a reader that went away is not).
int check_stdout(const std::string& command) {
  const bool failed_before = !std::cout.good() || std::ferror(stdout);
  errno = 0;
  std::cout.flush();
  const bool flushed = std::cout.good() && std::fflush(stdout) == 0;
  const int err = errno;  // this flush's error only: an earlier one's errno is long gone
  if (!failed_before && flushed) return frost::cli::kExitOk;
  if (err == EPIPE) return frost::cli::kExitOk;
  // A reader that went away before the end also shows as an earlier failure: tell it by the pipe's state.
  struct stat st {};
  if (err == 0 && ::fstat(STDOUT_FILENO, &st) == 0 && S_ISFIFO(st.st_mode)) {
    pollfd p{STDOUT_FILENO, 0, 0};
    if (::poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP))) return frost::cli::kExitOk;
  }
  std::cerr << "frost" << (command.empty() ? "" : " " + command) << ": cannot write to standard output"
            << (err != 0 ? std::string(" (") + std::strerror(err) + ")" : std::string())
            << " — check where the output goes" << std::endl;
  return frost::cli::kExitUserError;
}

// --help: an example per command, and each option's default — unless its description says what the default
// is (a 0 or empty value that means "the config's", "the checkpoint's", "all the cores"), and never the "[]"
// of an empty list.
void finish_help(CLI::App& app) {
  const std::vector<std::pair<const char*, const char*>> examples = {
      {"demo", "frost demo --out frost-demo   (then open frost-demo/index.html)"},
      {"ops", "frost ops | grep attention"},
      {"info", "frost info model_best.pth.tar"},
      {"convert", "frost convert model_best.pth.tar fit.safetensors"},
      {"clip", "frost clip video.mp4 frames/ --out clips.safetensors"},
      {"encode", "frost encode text --weights fit.safetensors \"a dog on a beach\" --normalize --out t.npy"},
      {"plan", "frost plan --config base --part video --batch 8"},
      {"score",
       "frost score --weights fit.safetensors --video beach.mp4 \"a dog on a beach\" \"a cooking show\""},
      {"index", "frost index --weights fit.safetensors --out videos.index my-videos/"},
      {"search", "frost search --index videos.index --weights fit.safetensors \"a dog on a beach\" -k 5"},
      {"eval", "frost eval --weights fit.safetensors --data test.csv --ties pessimistic"},
      {"train",
       "frost train --config tiny --vocab syn/vocab.txt --data syn/train.jsonl --val syn/val.jsonl "
       "--flip-swap "
       "left:right --batch 64 --steps 3000 --lr 1e-3 --schedule cosine --out run"},
      {"synthetic", "frost synthetic --out syn"}};
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    for (const auto& [name, example] : examples)
      if (sub->get_name() == name)
        sub->footer(sub->get_footer() + (sub->get_footer().empty() ? "" : "\n\n") + "Example: " + example);
    for (CLI::Option* o : sub->get_options())
      if (o->get_default_str() == "[]" || o->get_description().find("default") != std::string::npos)
        o->default_str("");
  }
}

int main(int argc, char** argv) {
  install_signal_handlers();
  frost::loader::quiet_ffmpeg_log();  // frost names damaged files itself (FROST_FFMPEG_LOG shows FFmpeg's
                                      // log)
  frost::cli::session().program = argc > 0 && argv[0] != nullptr ? argv[0] : "frost";
  CLI::App app{"frost: a compiled static-graph tensor engine and the Frozen in Time video-text dual encoder"};
  app.footer(
      "Exit codes: 0 success; 1 a user error (bad argument value, bad or unreadable file, output refused); "
      "2 usage (unknown command or option, missing argument); 3 internal error (a bug: please report it).");
  try {
    app.set_version_flag("--version", version_text());
    app.require_subcommand(1);
    // Every option's default in --help ("[16]"), inherited by the subcommands added below.
    app.option_defaults()->always_capture_default();
    frost::cli::add_demo_command(app);
    frost::cli::add_ops_command(app);
    frost::cli::add_info_command(app);
    frost::cli::add_convert_command(app);
    frost::cli::add_clip_command(app);
    frost::cli::add_encode_command(app);
    frost::cli::add_plan_command(app);
    frost::cli::add_score_command(app);
    frost::cli::add_index_command(app);
    frost::cli::add_search_command(app);
    frost::cli::add_eval_command(app);
    frost::cli::add_train_command(app);
    frost::cli::add_synthetic_command(app);
    finish_help(app);
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    const int code = app.exit(e);  // --help, --version
    return code != 0 ? code : check_stdout("");
  } catch (const CLI::ParseError& e) {
    std::string command = frost::cli::session().command;
    if (command.empty()) command = command_named(app, argc, argv);
    if (const std::string word = unknown_word(app, argc, argv); command.empty() && !word.empty()) {
      std::cerr << "frost: " << frost::cli::display(word) << " — run 'frost --help' for the commands"
                << std::endl;
      return frost::cli::kExitUsage;
    }
    return frost::cli::report_exception(command);
  } catch (...) {
    std::string command = frost::cli::session().command;
    if (command.empty()) command = command_named(app, argc, argv);
    return frost::cli::report_exception(command);
  }
  return check_stdout(frost::cli::session().command);
}

// What every `frost` subcommand shares: the error policy (exit codes, one-line messages), --threads and
// --strict, warnings, and strict parsing of the values CLI11 would wrap (seeds).
//
//   exit 0  success
//   exit 1  a user error: a bad argument value, a bad or unreadable file, an output refused
//   exit 2  usage: an unknown command or option, a missing required argument
//   exit 3  an internal error: a bug in frost (the message asks for a report)
//
// Every message is one line on stderr, `frost <command>: <what> — <what to do>`, with control characters
// and invalid UTF-8 escaped (a file name can never print a fake line).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace frost::cli {

enum ExitCode : int { kExitOk = 0, kExitUserError = 1, kExitUsage = 2, kExitInternal = 3 };

// The one command this process runs.
struct Session {
  std::string command;  // the subcommand's name, for messages
  std::string program;  // argv[0], for commands a message suggests (build/frost search ...)
  int64_t threads = 0;  // --threads; 0 when not given
  bool strict = false;  // --strict: every warning is an error
  int64_t warnings = 0;
};
Session& session();
// The command's name in fixed storage, for a signal handler's message (async-signal-safe to read).
const char* command_for_signals();

// Adds --threads and --strict to `cmd` and runs `run` as its callback after the shared set-up (the thread
// count applied to the one OpenMP pool frost and oneDNN share).
void set_command(CLI::App* cmd, std::function<void()> run);

// The cores this process may run on (its CPU affinity mask), and the most threads --threads or
// OMP_NUM_THREADS may ask for: 4 × that, at least 256.
int cores_available();
int max_threads();

// "frost <command>: warning: <message>" on stderr; under --strict, an InvalidArgument error instead. Safe
// to call from several threads (a loader's warning sink).
void warn(const std::string& message);
// "frost <command>: note: <message>" on stderr: what a user should know that is not a problem (never an
// error, even under --strict).
void note(const std::string& message);

// Throws InvalidArgument naming --backend when this build has no backend of that name.
void check_backend(const std::string& name);

// The non-empty lines of a stream option (--captions, --queries, --list): a regular file, a FIFO (a pipe,
// <(cmd)) or "-" for standard input — a folder or device is refused as `option` names it. CR before LF is
// dropped. Each line with its 1-based number; UTF-8 is the caller's to check (policies differ).
struct StreamLine {
  std::string text;
  size_t number;
};
std::vector<StreamLine> read_stream_lines(const std::string& path, const char* what,
                                          const std::string& option);

// A path, caption or name as printed to the terminal (loader::escape_for_terminal).
std::string display(const std::string& text);
// A word as a POSIX shell reads it back (a command line a message suggests): as it is when it holds only
// [A-Za-z0-9_./:@%+=,-], else in single quotes ('it'\''s'); escaped for the terminal as display() does.
std::string shell_word(const std::string& text);

// An unsigned 64-bit option parsed strictly: digits only ("-1" is refused, never wrapped to 2^64 - 1).
void add_u64_option(CLI::App* cmd, const std::string& name, uint64_t& out, const std::string& description);

// Maps an exception in flight (call inside a catch block) to its exit code, printing its one line.
int report_exception(const std::string& command);

}  // namespace frost::cli

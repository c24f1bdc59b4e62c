#include "cli/common.h"

#include <omp.h>
#include <sched.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <new>
#include <thread>

#include "engine/backend.h"
#include "engine/error.h"
#include "engine/threads.h"
#include "loader/files.h"

namespace frost::cli {

Session& session() {
  static Session s;
  return s;
}

namespace {
char signal_command[64] = "";
}  // namespace

const char* command_for_signals() {
  return signal_command;
}

int cores_available() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1, int(std::thread::hardware_concurrency()));
}

int max_threads() {
  return std::max(256, 4 * std::max(cores_available(), int(std::thread::hardware_concurrency())));
}

namespace {

// OMP_NUM_THREADS as OpenMP reads it: a positive count, or a comma-separated list whose first entry counts
// for the outer level. Anything else, or a count past max_threads(), is refused before OpenMP can try to
// start that many threads (100000 used to run the machine out of stacks and crash).
int threads_from_environment() {
  const char* env = std::getenv("OMP_NUM_THREADS");
  if (env == nullptr || *env == '\0') return 0;
  std::string first(env);
  first = first.substr(0, first.find(','));
  first.erase(0, first.find_first_not_of(" \t"));
  first.erase(first.find_last_not_of(" \t") + 1);
  long long n = 0;
  const auto [end, ec] = std::from_chars(first.data(), first.data() + first.size(), n);
  FROST_CHECK(ec == std::errc() && end == first.data() + first.size() && n >= 1 && n <= max_threads(),
              InvalidArgument,
              "OMP_NUM_THREADS=" << display(env) << " is not a thread count frost can use (1.."
                                 << max_threads() << ") — unset it, or pass --threads N, which overrides it");
  return int(n);
}

void apply_threads() {
  const Session& s = session();
  int n = int(s.threads);
  if (n == 0) n = threads_from_environment();
  if (n == 0) n = cores_available();
  omp_set_num_threads(n);  // before any parallel region: the pool starts with this many threads
  // OMP_THREAD_LIMIT or OMP_MAX_ACTIVE_LEVELS=0 can hold the team below that: graphs are then compiled for
  // the threads there are (engine/threads.h), correct but slower than asked.
  if (const int usable = available_threads(); usable < n)
    warn("OpenMP gives " + std::to_string(usable) + " of the " + std::to_string(n) +
         " threads asked for (OMP_THREAD_LIMIT or OMP_MAX_ACTIVE_LEVELS)");
}

}  // namespace

void set_command(CLI::App* cmd, std::function<void()> run) {
  Session& s = session();
  cmd->add_option("--threads", s.threads,
                  "threads to compute with (default: OMP_NUM_THREADS if set, else the cores this process may "
                  "use); overrides OMP_NUM_THREADS")
      ->check(CLI::Range(int64_t(1), int64_t(max_threads())));
  cmd->add_flag("--strict", s.strict, "treat every warning as an error (exit 1)");
  const std::string name = cmd->get_name();
  cmd->callback([cmd, name, run = std::move(run)] {
    session().command = name;
    std::snprintf(signal_command, sizeof signal_command, "%s", name.c_str());
    // An option given an empty value (--vocab "") is a mistake, never "use the default"; an integer is
    // written in decimal (CLI11 would read 010 as 8 and 0x20 as 32).
    for (const CLI::Option* o : cmd->get_options()) {
      if (o->get_lnames().empty() || o->count() == 0) continue;
      const std::string name = "--" + o->get_lnames().front();
      const std::string type = o->get_type_name();  // "INT", or "INT in [1 - 4096]" with a range
      const bool integer = type.rfind("INT", 0) == 0 || type.rfind("UINT", 0) == 0;
      for (const std::string& v : o->results()) {
        FROST_CHECK(!v.empty(), InvalidArgument, name << " is empty — give it a value");
        const size_t sign = v[0] == '-' || v[0] == '+' ? 1 : 0;
        const bool decimal = v.size() > sign &&
                             v.find_first_not_of("0123456789", sign) == std::string::npos &&
                             (v[sign] != '0' || v.size() == sign + 1);
        FROST_CHECK(!integer || decimal, InvalidArgument,
                    name << " takes a decimal integer, got '" << v << "'");
      }
    }
    apply_threads();
    run();
  });
}

void warn(const std::string& message) {
  // Loaders warn from worker threads too (index, train): one line at a time, counted once each.
  static std::mutex mu;
  const std::lock_guard<std::mutex> lock(mu);
  Session& s = session();
  ++s.warnings;
  // (A warning about a warning — "skipping X: <a warning already refused>" — is not marked twice.)
  static const std::string kStrict = " (an error under --strict)";
  if (s.strict)
    throw_error(ErrorCategory::InvalidArgument,
                message.find(kStrict) == std::string::npos ? message + kStrict : message);
  std::cerr << "frost " << s.command << ": warning: " << display(message) << "\n";
}

void check_backend(const std::string& name) {
  const std::vector<std::string>& backends = available_backends();
  FROST_CHECK(std::find(backends.begin(), backends.end(), name) != backends.end(), InvalidArgument,
              "--backend " << name << " is not in this build (frost --version lists the backends)");
}

std::vector<StreamLine> read_stream_lines(const std::string& path, const char* what,
                                          const std::string& option) {
  if (path != "-") {
    const loader::FileKind kind = loader::file_kind(path);
    FROST_CHECK(kind == loader::FileKind::Regular || kind == loader::FileKind::Fifo, BadFile,
                option << " " << path << " is " << loader::describe_path(path) << " — give a file of " << what
                       << ", one a line, a pipe, or - for standard input");
  }
  const std::string text = loader::read_text_stream(path, what, size_t(1) << 30);
  std::vector<StreamLine> lines;
  size_t number = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back({std::move(line), number});
  }
  return lines;
}

void note(const std::string& message) {
  std::cerr << "frost " << session().command << ": note: " << display(message) << "\n";
}

std::string shell_word(const std::string& text) {
  bool plain = !text.empty();
  for (unsigned char c : text) plain = plain && (std::isalnum(c) || std::strchr("_./:@%+=,-", c) != nullptr);
  if (plain) return display(text);
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return display(quoted + "'");
}

std::string display(const std::string& text) {
  return loader::escape_for_terminal(text);
}

void add_u64_option(CLI::App* cmd, const std::string& name, uint64_t& out, const std::string& description) {
  cmd->add_option_function<std::string>(
         name,
         [name, &out](const std::string& text) {
           uint64_t v = 0;
           const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
           if (text.empty() || ec != std::errc() || end != text.data() + text.size())
             throw CLI::ValidationError(
                 name, "must be an integer in 0.." + std::to_string(UINT64_MAX) + ", got '" + text + "'");
           out = v;
         },
         description)
      ->type_name("UINT");
}

namespace {

// What to do, by the kind of failure, where a message does not say it itself.
std::string hint(ErrorCategory category, const std::string& command) {
  switch (category) {
    case ErrorCategory::InvalidArgument:
      return command.empty() ? "see frost --help" : "see frost " + command + " --help";
    case ErrorCategory::BadFile:
      return "check that the file is the one meant and is complete";
    case ErrorCategory::Unsupported:
      return "frost --version says what this build supports";
    case ErrorCategory::Io:
      return "check the disk space and the permissions";
    case ErrorCategory::Numerical:
      return "resume from the last good checkpoint with a smaller learning rate";
    case ErrorCategory::Internal:
      break;
  }
  return "this is a bug in frost: please report it with the command that caused it";
}

void print(const std::string& command, const std::string& what, const std::string& todo) {
  std::string line = display(what);
  if (line.find(" — ") == std::string::npos) line += " — " + todo;
  std::cerr << "frost" << (command.empty() ? "" : " " + display(command)) << ": " << line << std::endl;
}

}  // namespace

int report_exception(const std::string& command) {
  try {
    throw;
  } catch (const CLI::ParseError& e) {
    // A value an option refused is a user error; anything else CLI11 raises is usage.
    const bool bad_value = dynamic_cast<const CLI::ValidationError*>(&e) != nullptr ||
                           dynamic_cast<const CLI::ConversionError*>(&e) != nullptr;
    print(command, e.what(),
          command.empty() ? "run 'frost --help' for the commands"
                          : "run 'frost " + command + " --help' for its options");
    return bad_value ? kExitUserError : kExitUsage;
  } catch (const Error& e) {
    if (e.category() == ErrorCategory::Internal) {
      print(command, std::string("internal error: ") + e.what(), hint(e.category(), command));
      return kExitInternal;
    }
    print(command, e.what(), hint(e.category(), command));
    return kExitUserError;
  } catch (const std::bad_alloc&) {
    print(command, "ran out of memory", "use a smaller --batch, fewer inputs or a smaller model");
    return kExitUserError;
  } catch (const std::filesystem::filesystem_error& e) {
    print(command, e.what(), "check the path and its permissions");
    return kExitUserError;
  } catch (const std::exception& e) {
    print(command, std::string("internal error: ") + e.what(), hint(ErrorCategory::Internal, command));
    return kExitInternal;
  } catch (...) {
    print(command, "internal error: an unknown exception", hint(ErrorCategory::Internal, command));
    return kExitInternal;
  }
}

}  // namespace frost::cli

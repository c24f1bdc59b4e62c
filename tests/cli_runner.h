// Runs the built `frost` binary for the CLI tests: arguments, extra environment, a working folder and
// standard input; with a time limit, so a hang fails a test instead of the suite.
//
//   Result r = run_frost({"info", "w.safetensors"}, {}, dir, "", 60);   // r.exit_code, r.out, r.err
#pragma once

#include <map>
#include <string>
#include <vector>

namespace frost::test {

// The committed fixtures the CLI tests copy into their folders.
inline const std::string kParity = FROST_PARITY_DIR;       // tests/parity
inline const std::string kFixtures = FROST_TEST_FIXTURES;  // tests/fixtures

struct Result {
  int exit_code = -1;  // -1: killed by a signal (see `signal`), -2: timed out (killed)
  int signal = 0;
  std::string out, err;
};

// OMP_NUM_THREADS is removed from the inherited environment (rows set it when they test it); `env` adds to
// it. Standard input is `stdin_file`, or /dev/null when empty.
Result run_frost(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                 const std::string& dir, const std::string& stdin_file, int timeout_s);

std::string slurp(const std::string& path);
// A file's type, mode and bytes (FIFOs and devices: type and mode only, never opened; links: the target).
std::string snapshot(const std::string& path);

}  // namespace frost::test

// Command-line plumbing both daemons share: duration options, and parse errors as exit code 2.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "ispfailover/core/clock.h"
#include "ispfailover/core/format.h"

namespace ispf {

// Exit codes of both daemons (also in their man pages).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;  // the kernel refused something at start
inline constexpr int kExitUsage = 2;    // bad option, bad config file, missing capability

// An option that takes "150ms", "2s", "1.5s" or "1m" (a unit is required) into `target`.
CLI::Option* add_duration_option(CLI::App& app, const std::string& name, Duration& target,
                                 const std::string& help);

struct ParseOutcome {
  bool run = false;
  int exit_code = kExitOk;
  std::string error;  // one line, for a parse error
};

// Parses argv (and the --config file, if any). --help and --version print and return run=false
// with exit 0; an error returns run=false, exit code 2 and a one-line message naming the option.
ParseOutcome parse_command_line(CLI::App& app, const std::vector<std::string>& args);

}  // namespace ispf

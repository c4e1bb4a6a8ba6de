// ispprobed's command line and config file (CLI11), shared by start-up and SIGHUP reload.
#pragma once

#include <string>
#include <vector>

#include "ispfailover/core/config.h"
#include "ispfailover/io/cli_support.h"
#include "ispfailover/io/env.h"

namespace ispf {

struct ProbedCommandLine {
  ParseOutcome outcome;
  ProbedOptions options;
  std::vector<std::string> keys;  // from --key-file; the first signs
};

// Parses and validates (pure checks and the kernel's: interfaces exist, LAN has a broadcast
// address). Errors come back as one line naming the option, with exit code 2.
ProbedCommandLine parse_probed_command_line(const std::vector<std::string>& args, Env& env);

// Where the datagrams go: --broadcast addresses, plus the --lan interface's broadcast address.
std::vector<std::uint32_t> status_destinations(const ProbedOptions& options, Env& env);

}  // namespace ispf

// failoverd's command line, config file and `status` subcommand (CLI11).
#pragma once

#include <string>
#include <vector>

#include "ispfailover/core/config.h"
#include "ispfailover/io/cli_support.h"
#include "ispfailover/io/env.h"

namespace ispf {

struct FailoverCommandLine {
  ParseOutcome outcome;
  FailoverOptions options;
  FailoverSettings settings;
  bool status_command = false;  // `failoverd status`: print the status file and exit
  bool status_json = false;
};

FailoverCommandLine parse_failover_command_line(const std::vector<std::string>& args);

// `failoverd status`: prints the status file as a table (or as JSON); returns the exit code.
int run_status_command(Env& env, const std::string& status_file, bool json);

}  // namespace ispf

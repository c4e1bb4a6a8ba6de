// The one path both daemons run: environment, capabilities, signals, watchdog, one io_context.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ispfailover/io/cli_support.h"
#include "ispfailover/io/env.h"

namespace ispf {

// A daemon's shell as run_daemon drives it. Everything it touches goes through the Env.
class DaemonShell {
 public:
  virtual ~DaemonShell() = default;
  // Reads the command line and config file. run=false: exit with exit_code (the error, if any,
  // is printed by run_daemon as "PROGRAM: error: ..."); a subcommand may do its work here.
  virtual ParseOutcome configure(const std::vector<std::string>& args) = 0;
  virtual std::string log_level() const = 0;
  // Opens what it needs and starts; an error names what the kernel refused (exit 1).
  virtual std::optional<std::string> start() = 0;
  // SIGHUP: parses anew and applies all of it, or nothing and says why.
  virtual std::optional<std::string> reload(const std::vector<std::string>& args) = 0;
  // A refused reload: shown in STATUS= until a reload succeeds.
  virtual void refuse_reload(const std::string& why) = 0;
  // SIGTERM/SIGINT: lets go of everything, so that the loop runs out.
  virtual void stop() = 0;
};

// Builds the real environment on one io_context, configures the shell, checks `capability`
// (CAP_NET_RAW, CAP_NET_ADMIN), starts it, drops every other capability, answers SIGHUP,
// SIGTERM and SIGINT and keeps the systemd watchdog fed until the loop runs out.
// Returns the process's exit code (kExitOk, kExitRuntime, kExitUsage).
int run_daemon(const std::string& program, int capability, const std::vector<std::string>& args,
               const std::function<std::unique_ptr<DaemonShell>(Env&)>& make_shell);

}  // namespace ispf

// ispprobed: parse options, build the probe daemon, run one io_context until SIGTERM.
#include <linux/capability.h>
#include <spdlog/spdlog.h>

#include <asio.hpp>
#include <iostream>

#include "ispfailover/io/daemon_loop.h"
#include "ispfailover/io/logging.h"
#include "ispfailover/io/privileges.h"
#include "options.h"
#include "probe_daemon.h"

int main(int argc, char** argv) {
  using namespace ispf;
  const std::vector<std::string> args(argv, argv + argc);
  auto command_line = parse_probed_command_line(args);
  if (!command_line.outcome.run) {
    if (!command_line.outcome.error.empty()) {
      std::cerr << "ispprobed: error: " << command_line.outcome.error << "\n";
    }
    return command_line.outcome.exit_code;
  }
  init_logging("ispprobed", command_line.options.log_level);
  if (!has_effective_capability(CAP_NET_RAW)) {
    spdlog::critical(
        "missing capability CAP_NET_RAW: run as root, or with "
        "AmbientCapabilities=CAP_NET_RAW (the unit file does this)");
    return kExitUsage;
  }
  asio::io_context io;
  SystemdNotifier notifier;
  ProbeDaemon daemon(io, notifier);
  if (auto error = daemon.start(command_line.options, command_line.keys)) {
    spdlog::critical("{}", *error);
    return kExitRuntime;
  }
  // Everything privileged is open; from here on only the raw socket's capability is kept.
  if (auto ec = keep_only_capability(CAP_NET_RAW)) {
    spdlog::warn("could not drop capabilities: {}", ec.message());
  }
  DaemonLoop loop(
      io, notifier,
      [&]() -> std::optional<std::string> {
        auto reloaded = parse_probed_command_line(args);
        if (!reloaded.outcome.run) return reloaded.outcome.error;
        if (auto error = daemon.reconfigure(reloaded.options, reloaded.keys)) return error;
        set_log_level(reloaded.options.log_level);
        return std::nullopt;
      },
      [&](const std::string& refused) { daemon.set_config_problem(refused); },
      [&] { daemon.stop(); });
  loop.start();
  notifier.ready();
  io.run();
  return kExitOk;
}

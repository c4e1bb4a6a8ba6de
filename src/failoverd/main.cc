// failoverd: parse options, take the default route over, run one io_context until SIGTERM.
#include <linux/capability.h>
#include <spdlog/spdlog.h>

#include <asio.hpp>
#include <iostream>

#include "failover_daemon.h"
#include "ispfailover/io/daemon_loop.h"
#include "ispfailover/io/logging.h"
#include "ispfailover/io/privileges.h"
#include "options.h"

int main(int argc, char** argv) {
  using namespace ispf;
  const std::vector<std::string> args(argv, argv + argc);
  auto command_line = parse_failover_command_line(args);
  if (!command_line.outcome.run) {
    if (!command_line.outcome.error.empty()) {
      std::cerr << "failoverd: error: " << command_line.outcome.error << "\n";
    }
    return command_line.outcome.exit_code;
  }
  if (command_line.status_command) {
    return run_status_command(command_line.options.status_file, command_line.status_json);
  }
  init_logging("failoverd", command_line.options.log_level);
  if (!has_effective_capability(CAP_NET_ADMIN)) {
    spdlog::critical(
        "missing capability CAP_NET_ADMIN: run as root, or with "
        "AmbientCapabilities=CAP_NET_ADMIN (the unit file does this)");
    return kExitUsage;
  }
  auto writer = NetlinkRouteWriter::open(
      {command_line.settings.table, command_line.settings.metric, kRouteProtocol});
  if (!writer) {
    spdlog::critical("cannot open a netlink socket: {}", writer.error().message());
    return kExitRuntime;
  }
  asio::io_context io;
  SystemdNotifier notifier;
  FailoverDaemon daemon(io, notifier, std::move(*writer));
  if (auto error = daemon.start(command_line.options, command_line.settings)) {
    spdlog::critical("{}", *error);
    return kExitRuntime;
  }
  if (auto ec = keep_only_capability(CAP_NET_ADMIN)) {
    spdlog::warn("could not drop capabilities: {}", ec.message());
  }
  DaemonLoop loop(
      io, notifier,
      [&]() -> std::optional<std::string> {
        auto reloaded = parse_failover_command_line(args);
        if (!reloaded.outcome.run) return reloaded.outcome.error;
        if (auto error = daemon.reconfigure(reloaded.options, reloaded.settings)) return error;
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

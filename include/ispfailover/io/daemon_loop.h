// What every daemon's loop does besides its work: SIGTERM/SIGINT stop, SIGHUP reload, watchdog.
#pragma once

#include <asio.hpp>
#include <functional>
#include <optional>
#include <string>

#include "ispfailover/io/env.h"

namespace ispf {

class DaemonLoop {
 public:
  // On SIGHUP `reload` re-reads the command line and config file and applies them, returning
  // why it refused; a refusal keeps the running configuration, is logged and goes to
  // `on_refused` (the daemon shows it in STATUS=). On SIGTERM/SIGINT `on_stop` runs.
  using Reload = std::function<std::optional<std::string>()>;
  DaemonLoop(asio::io_context& io, ServiceNotifier& notifier, Reload reload,
             std::function<void(const std::string&)> on_refused, std::function<void()> on_stop);
  // Installs the signal handlers and, when the unit asks for it, the watchdog keep-alive.
  void start();

 private:
  void wait_for_signal();
  void schedule_watchdog();

  asio::io_context& io_;
  ServiceNotifier& notifier_;
  Reload reload_;
  std::function<void(const std::string&)> on_refused_;
  std::function<void()> on_stop_;
  asio::signal_set signals_;
  asio::steady_timer watchdog_timer_;
  Duration watchdog_period_{};
};

}  // namespace ispf

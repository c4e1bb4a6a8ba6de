// What every daemon's loop does besides its work: SIGTERM/SIGINT stop, SIGHUP reload, watchdog.
#pragma once

#include <asio.hpp>
#include <functional>

#include "ispfailover/io/service_notifier.h"

namespace ispf {

class DaemonLoop {
 public:
  DaemonLoop(asio::io_context& io, ServiceNotifier& notifier, std::function<void()> on_reload,
             std::function<void(int signal)> on_stop);
  // Installs the signal handlers and, when the unit asks for it, the watchdog keep-alive.
  void start();

 private:
  void wait_for_signal();
  void schedule_watchdog();

  asio::io_context& io_;
  ServiceNotifier& notifier_;
  std::function<void()> on_reload_;
  std::function<void(int)> on_stop_;
  asio::signal_set signals_;
  asio::steady_timer watchdog_timer_;
  Duration watchdog_period_{};
};

}  // namespace ispf

// Signals and the systemd watchdog on the daemon's single io_context.
#include "ispfailover/io/daemon_loop.h"

#include <csignal>

namespace ispf {

DaemonLoop::DaemonLoop(asio::io_context& io, ServiceNotifier& notifier,
                       std::function<void()> on_reload, std::function<void(int)> on_stop)
    : io_(io),
      notifier_(notifier),
      on_reload_(std::move(on_reload)),
      on_stop_(std::move(on_stop)),
      signals_(io, SIGTERM, SIGINT, SIGHUP),
      watchdog_timer_(io) {}

void DaemonLoop::start() {
  wait_for_signal();
  if (auto period = notifier_.watchdog_period()) {
    watchdog_period_ = *period;
    schedule_watchdog();
  }
}

void DaemonLoop::wait_for_signal() {
  signals_.async_wait([this](std::error_code ec, int signal) {
    if (ec) return;
    if (signal == SIGHUP) {
      on_reload_();
      wait_for_signal();
      return;
    }
    notifier_.stopping();
    on_stop_(signal);
    signals_.cancel();
    watchdog_timer_.cancel();
  });
}

void DaemonLoop::schedule_watchdog() {
  // Kept alive by the loop itself: if the loop hangs, the keep-alives stop and systemd acts.
  notifier_.watchdog();
  watchdog_timer_.expires_after(watchdog_period_);
  watchdog_timer_.async_wait([this](std::error_code ec) {
    if (!ec) schedule_watchdog();
  });
}

}  // namespace ispf

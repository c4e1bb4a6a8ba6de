// Signals and the systemd watchdog on the daemon's single io_context.
#include "ispfailover/io/daemon_loop.h"

#include <spdlog/spdlog.h>

#include <csignal>

namespace ispf {

DaemonLoop::DaemonLoop(asio::io_context& io, ServiceNotifier& notifier, Reload reload,
                       std::function<void(const std::string&)> on_refused,
                       std::function<void()> on_stop)
    : io_(io),
      notifier_(notifier),
      reload_(std::move(reload)),
      on_refused_(std::move(on_refused)),
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
      notifier_.reloading();
      if (auto refused = reload_()) {
        spdlog::error("reload refused, keeping the running configuration: {}", *refused);
        on_refused_(*refused);
      }
      notifier_.reloaded();
      wait_for_signal();
      return;
    }
    spdlog::info("stopping on signal {}", signal);
    notifier_.stopping();
    on_stop_();
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

// sd_notify(3) adapter: silent no-ops when not started by systemd (no NOTIFY_SOCKET).
#include "service_notifier.h"

#include <systemd/sd-daemon.h>

#include <string>

namespace ispf {

void SystemdNotifier::ready() { sd_notify(0, "READY=1"); }

void SystemdNotifier::status(std::string_view line) {
  if (line == last_status_) return;
  last_status_ = std::string(line);
  sd_notify(0, ("STATUS=" + last_status_).c_str());
}

void SystemdNotifier::reloading() { sd_notify(0, "RELOADING=1"); }
void SystemdNotifier::reloaded() { sd_notify(0, "READY=1"); }
void SystemdNotifier::stopping() { sd_notify(0, "STOPPING=1"); }
void SystemdNotifier::watchdog() { sd_notify(0, "WATCHDOG=1"); }

std::optional<Duration> SystemdNotifier::watchdog_period() const {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::duration_cast<Duration>(microseconds(usec / 2));
}

}  // namespace ispf

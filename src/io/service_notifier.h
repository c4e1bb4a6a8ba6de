// Talking to the service manager through sd_notify(3).
#pragma once

#include <string>

#include "ispfailover/io/env.h"

namespace ispf {

// Silent no-ops when not started by systemd (no NOTIFY_SOCKET).
class SystemdNotifier final : public ServiceNotifier {
 public:
  void ready() override;
  void status(std::string_view line) override;
  void reloading() override;
  void reloaded() override;
  void stopping() override;
  void watchdog() override;
  std::optional<Duration> watchdog_period() const override;

 private:
  std::string last_status_;
};

}  // namespace ispf

// Talking to the service manager (sd_notify): READY=1, STATUS=, WATCHDOG=1, RELOADING, STOPPING.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ispfailover/core/clock.h"

namespace ispf {

class ServiceNotifier {
 public:
  virtual ~ServiceNotifier() = default;
  virtual void ready() = 0;
  virtual void status(std::string_view line) = 0;
  virtual void reloading() = 0;
  virtual void reloaded() = 0;
  virtual void stopping() = 0;
  virtual void watchdog() = 0;
  // How often WATCHDOG=1 must come when the unit asked for it (already halved for safety).
  virtual std::optional<Duration> watchdog_period() const = 0;
};

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

// Remembers what it was told, for tests.
class RecordingNotifier final : public ServiceNotifier {
 public:
  void ready() override { events.push_back("READY=1"); }
  void status(std::string_view line) override { events.push_back("STATUS=" + std::string(line)); }
  void reloading() override { events.push_back("RELOADING=1"); }
  void reloaded() override { events.push_back("READY=1"); }
  void stopping() override { events.push_back("STOPPING=1"); }
  void watchdog() override { events.push_back("WATCHDOG=1"); }
  std::optional<Duration> watchdog_period() const override { return std::nullopt; }
  std::vector<std::string> events;
};

}  // namespace ispf

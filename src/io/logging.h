// Logging for a daemon: the journal under systemd (with each event's fields), stderr otherwise.
#pragma once

#include <string>
#include <string_view>

#include "ispfailover/core/log_event.h"

namespace ispf {

// True when stderr is connected to the journal (systemd sets JOURNAL_STREAM to its dev:inode).
bool stderr_is_journal();

// Sets up spdlog's default logger for `program` ("info" level) and says where events go.
class EventLog {
 public:
  explicit EventLog(std::string program);
  void log(const LogEvent& event);
  // "trace" ... "off"; "warning" means spdlog's "warn".
  void set_level(std::string_view level);

 private:
  std::string program_;
  bool journal_ = false;
};

}  // namespace ispf

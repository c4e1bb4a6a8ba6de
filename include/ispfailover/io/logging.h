// spdlog set up for a daemon: the journal under systemd, stderr otherwise; one line per event.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

namespace ispf {

// True when stderr is connected to the journal (systemd sets JOURNAL_STREAM to its dev:inode).
bool stderr_is_journal();
void init_logging(std::string_view program, std::string_view level);
void set_log_level(std::string_view level);

}  // namespace ispf

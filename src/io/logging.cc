// spdlog for the daemons: structured journal records when systemd runs us, readable stderr
// lines otherwise.
#include "logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/systemd_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ispfailover/core/message_ids.h"

namespace ispf {
namespace {

spdlog::level::level_enum spdlog_level(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarning:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
    case LogLevel::kCritical:
      return spdlog::level::critical;
  }
  return spdlog::level::info;
}

int syslog_priority(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return LOG_DEBUG;
    case LogLevel::kInfo:
      return LOG_INFO;
    case LogLevel::kWarning:
      return LOG_WARNING;
    case LogLevel::kError:
      return LOG_ERR;
    case LogLevel::kCritical:
      return LOG_CRIT;
  }
  return LOG_INFO;
}

// journald drops a record with an invalid field name; such a field is left out instead.
bool valid_journal_field(const std::string& name) {
  if (name.empty() || name.size() > 64 || name[0] == '_' || (name[0] >= '0' && name[0] <= '9')) {
    return false;
  }
  for (char c : name) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (!stream) return false;
  unsigned long long device = 0, inode = 0;
  if (std::sscanf(stream, "%llu:%llu", &device, &inode) != 2) return false;
  struct stat st {};
  if (fstat(STDERR_FILENO, &st) != 0) return false;
  return st.st_dev == device && st.st_ino == inode;
}

EventLog::EventLog(std::string program) : program_(std::move(program)) {
  journal_ = stderr_is_journal();
  std::shared_ptr<spdlog::logger> logger;
  if (journal_) {
    // The journal records time, unit and priority itself; the message stays one plain line.
    auto sink = std::make_shared<spdlog::sinks::systemd_sink_st>(program_);
    logger = std::make_shared<spdlog::logger>(program_, sink);
  } else {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_st>();
    logger = std::make_shared<spdlog::logger>(program_, sink);
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %n %^%l%$: %v");
  }
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  set_level("info");
}

void EventLog::set_level(std::string_view level) {
  spdlog::set_level(spdlog::level::from_str(std::string(level == "warning" ? "warn" : level)));
}

void EventLog::log(const LogEvent& event) {
  auto level = spdlog_level(event.level);
  if (!spdlog::default_logger()->should_log(level)) return;
  if (!journal_) {
    spdlog::default_logger()->log(level, "{}", event.text);
    return;
  }
  std::vector<std::string> lines;
  lines.reserve(event.fields.size() + 3);
  lines.push_back("MESSAGE=" + event.text);
  lines.push_back("PRIORITY=" + std::to_string(syslog_priority(event.level)));
  lines.push_back("SYSLOG_IDENTIFIER=" + program_);
  // journalctl -x shows the catalog's text for these; MESSAGE_ID=... lists every such event.
  if (auto id = message_id_of(event)) lines.push_back("MESSAGE_ID=" + std::string(*id));
  for (const auto& [name, value] : event.fields) {
    if (valid_journal_field(name)) lines.push_back(name + "=" + value);
  }
  std::vector<iovec> iov;
  iov.reserve(lines.size());
  for (auto& line : lines) iov.push_back(iovec{line.data(), line.size()});
  sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
}

}  // namespace ispf

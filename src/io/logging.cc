// spdlog for the daemons: journal records when systemd runs us, readable stderr lines otherwise.
#include "ispfailover/io/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/systemd_sink.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>

namespace ispf {

bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (!stream) return false;
  unsigned long long device = 0, inode = 0;
  if (std::sscanf(stream, "%llu:%llu", &device, &inode) != 2) return false;
  struct stat st {};
  if (fstat(STDERR_FILENO, &st) != 0) return false;
  return st.st_dev == device && st.st_ino == inode;
}

void set_log_level(std::string_view level) {
  spdlog::set_level(spdlog::level::from_str(std::string(level == "warning" ? "warn" : level)));
}

void init_logging(std::string_view program, std::string_view level) {
  std::shared_ptr<spdlog::logger> logger;
  if (stderr_is_journal()) {
    // The journal records time, unit and priority itself; the message stays one plain line.
    auto sink = std::make_shared<spdlog::sinks::systemd_sink_st>(std::string(program));
    logger = std::make_shared<spdlog::logger>(std::string(program), sink);
  } else {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_st>();
    logger = std::make_shared<spdlog::logger>(std::string(program), sink);
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %n %^%l%$: %v");
  }
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  set_log_level(level);
}

}  // namespace ispf

// One place that turns addresses, durations, percentages and times into text for people.
#include "ispfailover/core/format.h"

#include <arpa/inet.h>

#include <chrono>
#include <cstdio>

namespace ispf {

std::optional<std::uint32_t> parse_ipv4(std::string_view text) {
  if (text.size() > 15) return std::nullopt;
  // inet_pton stops at a NUL; only digits and dots may reach it (found by config_fuzz).
  for (char c : text) {
    if ((c < '0' || c > '9') && c != '.') return std::nullopt;
  }
  std::string copy(text);
  in_addr address{};
  if (inet_pton(AF_INET, copy.c_str(), &address) != 1) return std::nullopt;
  return ntohl(address.s_addr);
}

std::string format_ipv4(std::uint32_t address) {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 0xff) + "." +
         std::to_string((address >> 8) & 0xff) + "." + std::to_string(address & 0xff);
}

std::string format_duration(Duration d) {
  auto ms = to_ms(d);
  if (ms != 0 && ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string human_duration(Duration d) {
  auto ms = to_ms(d);
  char buf[32];
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%lldms", ms);
  } else if (ms < 60'000) {
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
  } else if (ms < 3'600'000) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", ms / 60'000, (ms / 1000) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", ms / 3'600'000, (ms / 60'000) % 60);
  }
  return buf;
}

std::string format_percent(std::uint32_t permille) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u%%", permille / 10, permille % 10);
  return buf;
}

std::string format_rtt(std::uint32_t microseconds_value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", microseconds_value / 1000.0);
  return buf;
}

std::string format_utc_time(std::uint64_t unix_ms) {
  std::uint64_t seconds_of_day = (unix_ms / 1000) % 86400;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02u:%02u:%02uZ", static_cast<unsigned>(seconds_of_day / 3600),
                static_cast<unsigned>(seconds_of_day / 60 % 60),
                static_cast<unsigned>(seconds_of_day % 60));
  return buf;
}

std::string format_utc_datetime(std::uint64_t unix_ms) {
  using namespace std::chrono;
  sys_days day{days{static_cast<long>(unix_ms / 86'400'000)}};
  year_month_day date{day};
  char buf[24];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return buf + format_utc_time(unix_ms);
}

std::string format_hex32(std::uint32_t value) {
  char text[11];
  std::snprintf(text, sizeof text, "0x%08x", value);
  return text;
}

}  // namespace ispf

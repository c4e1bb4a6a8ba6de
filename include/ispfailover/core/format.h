// One place that turns addresses, durations, percentages and times into text for people.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ispfailover/core/clock.h"

namespace ispf {

// Dotted-quad IPv4 to host byte order; nullopt unless exactly four decimal octets.
std::optional<std::uint32_t> parse_ipv4(std::string_view text);
// Host byte order to dotted quad.
std::string format_ipv4(std::uint32_t address);
// "0x0f000000": a mark or mask as nft and ip rule print it.
std::string format_hex32(std::uint32_t value);

// A duration as an option value that parses back: "150ms", "2s", "1m".
std::string format_duration(Duration d);
// A duration for people, short: "850ms", "12.3s", "4m05s", "2h13m".
std::string human_duration(Duration d);
// Tenths of a percent as "4.5%".
std::string format_percent(std::uint32_t permille);
// Microseconds as milliseconds with one decimal: "11.2 ms".
std::string format_rtt(std::uint32_t microseconds);
// Unix milliseconds as a UTC time of day, "12:34:56Z" (the engines know no time zone).
std::string format_utc_time(std::uint64_t unix_ms);
// "2026-12-02 13:40:01Z": the date too, for records that outlive a day.
std::string format_utc_datetime(std::uint64_t unix_ms);

}  // namespace ispf

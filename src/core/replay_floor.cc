// Replay floors: the newest report accepted per ISP, kept on disk across failoverd restarts.
#include "ispfailover/core/replay_floor.h"

#include <algorithm>
#include <charconv>
#include <vector>

#include "ispfailover/core/status_message.h"

namespace ispf {
namespace {

constexpr std::string_view kHeader = "ispf-replay-floors 1";

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    auto at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

}  // namespace

std::string encode_replay_floors(const ReplayFloors& floors) {
  std::string out(kHeader);
  out += "\n";
  for (const auto& [name, floor] : floors) {
    out += name + " " + std::to_string(floor.epoch) + " " + std::to_string(floor.seq) + "\n";
  }
  return out;
}

std::optional<ReplayFloors> decode_replay_floors(std::string_view text) {
  auto lines = split(text, '\n');
  if (lines.empty() || lines.front() != kHeader) return std::nullopt;
  ReplayFloors floors;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    auto fields = split(lines[i], ' ');
    if (fields.size() != 3 || !is_valid_isp_name(fields[0])) continue;
    auto epoch = parse_u64(fields[1]);
    auto seq = parse_u64(fields[2]);
    if (!epoch || !seq) continue;
    floors[std::string(fields[0])] = ReplayFloor{*epoch, *seq};
  }
  return floors;
}

std::uint64_t next_epoch(std::string_view stored, std::uint64_t wall_ms) {
  while (!stored.empty() && (stored.back() == '\n' || stored.back() == ' '))
    stored.remove_suffix(1);
  std::uint64_t previous = parse_u64(stored).value_or(0);
  std::uint64_t after = previous == UINT64_MAX ? previous : previous + 1;
  return std::max(after, std::max<std::uint64_t>(wall_ms / 1000, 1));
}

}  // namespace ispf

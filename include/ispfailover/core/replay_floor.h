// Replay floors: the newest report accepted per ISP, kept on disk across failoverd restarts.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace ispf {

// With a key, a report is new only if its (epoch, seq) is above the floor of its ISP.
struct ReplayFloor {
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;

  auto operator<=>(const ReplayFloor&) const = default;
};

using ReplayFloors = std::map<std::string, ReplayFloor>;

// The state file: "ispf-replay-floors 1" then one "NAME EPOCH SEQ" line per ISP.
std::string encode_replay_floors(const ReplayFloors& floors);
// Lines that do not parse are skipped (a torn or edited file must not stop failoverd); nullopt
// when the first line is not the header.
std::optional<ReplayFloors> decode_replay_floors(std::string_view text);

// ispprobed's epoch for this start: one more than the stored one, and never less than the wall
// clock in seconds, so that a lost state file with a right clock still moves forward.
std::uint64_t next_epoch(std::string_view stored, std::uint64_t wall_ms);

}  // namespace ispf

// Time as a value: the pure core takes TimePoints; only the shell reads a real clock.
#pragma once

#include <chrono>
#include <cstdint>

namespace ispf {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = Clock::duration;
using std::chrono::microseconds;
using std::chrono::milliseconds;

inline long long to_ms(Duration d) { return std::chrono::duration_cast<milliseconds>(d).count(); }

// "Now" as every engine input carries it: the steady clock decides (timers, holds, staleness);
// the wall clock (Unix ms, may step) only labels things for people and the wire's time_ms.
struct Now {
  TimePoint steady{};
  std::uint64_t wall_ms = 0;
};

}  // namespace ispf

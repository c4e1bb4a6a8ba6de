// Time as a value: the pure core takes TimePoints; only the shell reads a real clock.
#pragma once

#include <chrono>

namespace ispf {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = Clock::duration;
using std::chrono::microseconds;
using std::chrono::milliseconds;

inline long long to_ms(Duration d) { return std::chrono::duration_cast<milliseconds>(d).count(); }

}  // namespace ispf

// Per-key rate limiting for log lines about bad input, bounded in memory against floods.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "ispfailover/core/clock.h"

namespace ispf {

class PerKeyRateLimiter {
 public:
  PerKeyRateLimiter(Duration period, std::size_t max_keys) : period_(period), max_keys_(max_keys) {}

  // True at most once per `period` for each key. When more than max_keys keys are live, keys
  // past their period are forgotten; if that is not enough, the event is suppressed, so a flood
  // from many forged sources costs bounded memory and logs nothing more.
  bool allow(std::uint64_t key, TimePoint now);
  std::size_t tracked() const { return last_.size(); }

 private:
  Duration period_;
  std::size_t max_keys_;
  std::unordered_map<std::uint64_t, TimePoint> last_;
};

}  // namespace ispf

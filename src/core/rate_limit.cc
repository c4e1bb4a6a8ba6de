// Per-key rate limiting for log lines about bad input.
#include "ispfailover/core/rate_limit.h"

#include <iterator>

namespace ispf {

bool PerKeyRateLimiter::allow(std::uint64_t key, TimePoint now) {
  if (auto it = last_.find(key); it != last_.end()) {
    if (now - it->second < period_) return false;
    it->second = now;
    return true;
  }
  if (last_.size() >= max_keys_) {
    for (auto it = last_.begin(); it != last_.end();) {
      it = (now - it->second >= period_) ? last_.erase(it) : std::next(it);
    }
    if (last_.size() >= max_keys_) return false;
  }
  last_.emplace(key, now);
  return true;
}

}  // namespace ispf

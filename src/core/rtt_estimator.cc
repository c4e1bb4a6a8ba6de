// RFC 6298's smoothing (alpha 1/8, beta 1/4) for probe timeouts; time is a parameter.
#include "ispfailover/core/rtt_estimator.h"

#include <algorithm>

namespace ispf {

void RttEstimator::sample(Duration rtt) {
  if (rtt < Duration::zero()) return;
  if (!srtt_) {
    srtt_ = rtt;
    rttvar_ = rtt / 2;
    return;
  }
  Duration error = *srtt_ > rtt ? *srtt_ - rtt : rtt - *srtt_;
  rttvar_ = (3 * rttvar_ + error) / 4;
  srtt_ = (7 * *srtt_ + rtt) / 8;
}

Duration RttEstimator::timeout() const {
  if (!srtt_) return ceiling_;
  return std::clamp(*srtt_ + 4 * rttvar_, floor_, std::max(floor_, ceiling_));
}

}  // namespace ispf

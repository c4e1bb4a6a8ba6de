// A probe target's round-trip time, smoothed as TCP's retransmission timer does (RFC 6298).
#pragma once

#include <optional>

#include "ispfailover/core/clock.h"

namespace ispf {

// The timeout after which an unanswered probe is a miss: smoothed RTT plus four times its mean
// deviation, kept within [floor, ceiling]. A late reply is still a sample: a line whose RTT
// jumps (congestion) times out a few probes, and the estimate follows within a few replies.
class RttEstimator {
 public:
  RttEstimator(Duration floor, Duration ceiling) : floor_(floor), ceiling_(ceiling) {}

  void sample(Duration rtt);
  // Until the first reply nothing is known: the ceiling.
  Duration timeout() const;
  std::optional<Duration> smoothed() const { return srtt_; }
  Duration deviation() const { return rttvar_; }
  void set_bounds(Duration floor, Duration ceiling) {
    floor_ = floor;
    ceiling_ = ceiling;
  }

 private:
  Duration floor_;
  Duration ceiling_;
  std::optional<Duration> srtt_;
  Duration rttvar_{};
};

}  // namespace ispf

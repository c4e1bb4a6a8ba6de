// One well-formed status report for the tests that need "a valid datagram" (unit and kernel).
#pragma once

#include "ispfailover/core/status_message.h"

namespace ispf::test {

inline Status SampleStatus() {
  Status status;
  status.name = "isp1";
  status.instance = 0x9f86d081884c7d65ULL;
  status.seq = 42;
  status.time_ms = 1795000000000ULL;
  status.state = LinkState::kUp;
  status.reason = "probe-ok";
  status.heartbeat_ms = 300;
  status.targets_up = 2;
  status.targets = 2;
  status.rtt_last_us = 11800;
  status.rtt_avg_us = 11500;
  status.loss_permille = 45;
  status.window_ms = 30000;
  return status;
}

}  // namespace ispf::test

// RoundReport's summaries: how many answered, and the most telling failure.
#include <algorithm>

#include "ispfailover/core/probe_types.h"
#include "ispfailover/core/reachability.h"

namespace ispf {

std::uint32_t RoundReport::answered() const {
  return static_cast<std::uint32_t>(
      std::count_if(probes.begin(), probes.end(), [](const auto& p) { return p.rtt.has_value(); }));
}

std::string RoundReport::failure_reason() const {
  bool unreachable = false;
  for (const auto& probe : probes) {
    if (probe.error == ProbeError::kNoRoute) return kReasonNoRoute;
    if (probe.error == ProbeError::kUnreachable) unreachable = true;
  }
  return unreachable ? kReasonUnreachable : kReasonProbeLoss;
}

}  // namespace ispf

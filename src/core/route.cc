// Routes as values: which default route is ours.
#include "ispfailover/core/route.h"

namespace ispf {

bool is_own(const DefaultRoute& route, const RouteSlot& slot) {
  return route.table == slot.table && route.protocol == slot.protocol &&
         route.metric == slot.metric;
}

bool Ipv4Prefix::contains(std::uint32_t other) const {
  if (length <= 0) return true;
  std::uint32_t mask = length >= 32 ? 0xffffffffu : ~(0xffffffffu >> length);
  return (address & mask) == (other & mask);
}

}  // namespace ispf

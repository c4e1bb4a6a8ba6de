// Routes as values: which default route is ours.
#include "ispfailover/core/route.h"

namespace ispf {

bool is_own(const DefaultRoute& route, const RouteSlot& slot) {
  return route.table == slot.table && route.protocol == slot.protocol &&
         route.metric == slot.metric;
}

}  // namespace ispf

// Routes as values: which default route is ours.
#include "ispfailover/core/route.h"

namespace ispf {

bool is_own(const DefaultRoute& route, const RouteSlot& slot) {
  return route.table == slot.table && route.protocol == slot.protocol &&
         route.metric == slot.metric;
}

RouteEdit RouteEdit::replace_own(const RouteSlot& slot, std::uint32_t gateway) {
  RouteEdit edit;
  edit.kind = Kind::kReplaceOwn;
  edit.slot = slot;
  edit.gateway = gateway;
  return edit;
}

RouteEdit RouteEdit::remove_own(const RouteSlot& slot, Family family) {
  RouteEdit edit;
  edit.kind = Kind::kRemoveOwn;
  edit.slot = slot;
  edit.family = family;
  return edit;
}

RouteEdit RouteEdit::delete_foreign(const RouteSlot& slot, const DefaultRoute& route) {
  RouteEdit edit;
  edit.kind = Kind::kDeleteForeign;
  edit.slot = slot;
  edit.route = route;
  return edit;
}

RouteEdit RouteEdit::replace_own6(const RouteSlot& slot, const Route6Via& via) {
  RouteEdit edit;
  edit.kind = Kind::kReplaceOwn;
  edit.slot = slot;
  edit.family = Family::kIpv6;
  edit.via6 = via;
  return edit;
}

RouteEdit RouteEdit::delete_foreign6(const RouteSlot& slot, const DefaultRoute6& route) {
  RouteEdit edit;
  edit.kind = Kind::kDeleteForeign;
  edit.slot = slot;
  edit.family = Family::kIpv6;
  edit.route6 = route;
  return edit;
}

bool is_own(const DefaultRoute6& route, const RouteSlot& slot) {
  return route.table == slot.table && route.protocol == slot.protocol &&
         route.metric == slot.metric;
}

Ipv6Prefix Ipv6InterfaceAddress::prefix() const { return Ipv6Prefix::of(address, prefix_length); }

bool Ipv4Prefix::contains(std::uint32_t other) const {
  if (length <= 0) return true;
  std::uint32_t mask = length >= 32 ? 0xffffffffu : ~(0xffffffffu >> length);
  return (address & mask) == (other & mask);
}

}  // namespace ispf

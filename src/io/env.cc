// The seam's one non-virtual helper: a RouteEdit value carried out on any RouteTable.
#include "ispfailover/io/env.h"

namespace ispf {

std::error_code RouteTable::apply(const RouteEdit& edit) {
  // IPv6 routes have no table methods yet (issue 13 adds them); say so rather than guess.
  if (edit.family != Family::kIpv4) {
    return std::make_error_code(std::errc::address_family_not_supported);
  }
  switch (edit.kind) {
    case RouteEdit::Kind::kReplaceOwn:
      return replace_default(edit.slot, edit.gateway);
    case RouteEdit::Kind::kRemoveOwn:
      return remove_default(edit.slot);
    case RouteEdit::Kind::kDeleteForeign:
      return delete_route(edit.route);
  }
  return std::make_error_code(std::errc::invalid_argument);
}

}  // namespace ispf

// The seam's one non-virtual helper: a RouteEdit value carried out on any RouteTable.
#include "ispfailover/io/env.h"

namespace ispf {

std::error_code RouteTable::apply(const RouteEdit& edit) {
  if (edit.family == Family::kIpv6) {
    switch (edit.kind) {
      case RouteEdit::Kind::kReplaceOwn:
        return replace_default6(edit.slot, edit.via6);
      case RouteEdit::Kind::kRemoveOwn:
        return remove_default6(edit.slot);
      case RouteEdit::Kind::kDeleteForeign:
        return delete_route6(edit.route6);
    }
    return std::make_error_code(std::errc::invalid_argument);
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

// Capabilities through libcap-ng: check the one a daemon needs, drop every other.
#include "privileges.h"

#include <cap-ng.h>
#include <linux/capability.h>

namespace ispf {

bool has_capability(int capability) {
  capng_get_caps_process();
  return capng_have_capability(CAPNG_EFFECTIVE, static_cast<unsigned>(capability)) != 0;
}

std::error_code keep_only_capability(int capability) {
  capng_get_caps_process();
  if (capng_have_capability(CAPNG_EFFECTIVE, static_cast<unsigned>(capability)) == 0) return {};
  // The bounding set can only be narrowed with CAP_SETPCAP (root outside systemd has it; a
  // unit's ambient-capability user does not, and its unit already bounds it).
  bool can_bound = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP) != 0;
  capng_select_t select = can_bound ? CAPNG_SELECT_BOTH : CAPNG_SELECT_CAPS;
  capng_clear(select);
  if (capng_update(CAPNG_ADD, static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED),
                   static_cast<unsigned>(capability)) != 0 ||
      (can_bound &&
       capng_update(CAPNG_ADD, CAPNG_BOUNDING_SET, static_cast<unsigned>(capability)) != 0) ||
      capng_apply(select) != 0) {
    return std::make_error_code(std::errc::operation_not_permitted);
  }
  return {};
}

}  // namespace ispf

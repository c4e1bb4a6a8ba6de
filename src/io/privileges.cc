// Capabilities through libcap-ng: check the one a daemon needs, drop every other.
#include "ispfailover/io/privileges.h"

#include <cap-ng.h>

namespace ispf {

bool has_effective_capability(int capability) {
  capng_get_caps_process();
  return capng_have_capability(CAPNG_EFFECTIVE, static_cast<unsigned>(capability)) != 0;
}

std::error_code keep_only_capability(int capability) {
  capng_get_caps_process();
  if (capng_have_capability(CAPNG_EFFECTIVE, static_cast<unsigned>(capability)) == 0) return {};
  capng_clear(CAPNG_SELECT_BOTH);
  if (capng_update(CAPNG_ADD, static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED),
                   static_cast<unsigned>(capability)) != 0 ||
      capng_apply(CAPNG_SELECT_BOTH) != 0) {
    return std::make_error_code(std::errc::operation_not_permitted);
  }
  return {};
}

}  // namespace ispf

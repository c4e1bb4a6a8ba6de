// Journal MESSAGE_IDs of the events an admin looks up; systemd/ispfailover.catalog explains them.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "ispfailover/core/log_event.h"

namespace ispf {

struct MessageId {
  std::string_view name;  // a short slug for docs and tests, e.g. "switch"
  std::string_view id;    // 32 lowercase hex digits, as journalctl's MESSAGE_ID= matches
};

// Every id we log, once each. The catalog has an entry for each, and a test holds them together:
// an id, once published, never changes meaning (admins keep it in their queries and alerts).
std::span<const MessageId> all_message_ids();

// The id of `event`, if it is one of the catalogued kinds; most events have none.
std::optional<std::string_view> message_id_of(const LogEvent& event);

}  // namespace ispf

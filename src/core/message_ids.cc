// Which events get a journal MESSAGE_ID: switches, ISP and line state changes, all-down, repairs.
#include "ispfailover/core/message_ids.h"

#include <algorithm>
#include <array>
#include <string>

namespace ispf {
namespace {

constexpr std::array kIds = {
    MessageId{"switch", "107d22a6d0b042e1aaa3e37914186cf0"},
    MessageId{"isp-up", "67954c053a9244a6ab0be8b17fbb18f2"},
    MessageId{"isp-degraded", "a617facc438e439fbedf5911d6a3e472"},
    MessageId{"isp-down", "ff70decdc0944589a6dd48273fb8b268"},
    MessageId{"isp-stale", "1f4972d7724a40b3926903060343cf9b"},
    MessageId{"all-down", "d34fcf93d48f477db7a5ef34a99aed6a"},
    MessageId{"route-restored", "26be28006dae41b5a696b90de8bb43e1"},
    MessageId{"line-up", "d93a190a514a44aab7c14525e994ee5a"},
    MessageId{"line-down", "5a201ad9410148a4bafb106ebb74ee57"},
};

std::optional<std::string_view> id_named(std::string_view name) {
  auto it =
      std::find_if(kIds.begin(), kIds.end(), [&](const MessageId& m) { return m.name == name; });
  if (it == kIds.end()) return std::nullopt;
  return it->id;
}

std::string_view field(const LogEvent& event, std::string_view name) {
  for (const auto& [key, value] : event.fields) {
    if (key == name) return value;
  }
  return {};
}

}  // namespace

std::span<const MessageId> all_message_ids() { return kIds; }

std::optional<std::string_view> message_id_of(const LogEvent& event) {
  switch (event.kind) {
    case EventKind::kSwitch:
      return id_named("switch");
    case EventKind::kIspHealth:
      // failoverd's view of an ISP: up, degraded, down or stale (silent).
      return id_named("isp-" + std::string(field(event, "ISPF_STATE")));
    case EventKind::kAllDown:
      return id_named("all-down");
    case EventKind::kRouteRestored:
      return id_named("route-restored");
    case EventKind::kLineState:
      // ispprobed's verdict on its own line (up or down); only edges are warnings.
      if (event.level != LogLevel::kWarning) return std::nullopt;
      return id_named("line-" + std::string(field(event, "ISPF_STATE")));
    default:
      return std::nullopt;
  }
}

}  // namespace ispf

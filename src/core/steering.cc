// Sticky connections and resets as values: marks, tables, rules and our nftables script.
#include "ispfailover/core/steering.h"

#include <bit>

#include "ispfailover/core/format.h"

namespace ispf {
std::uint32_t mark_capacity(std::uint32_t mask) {
  if (mask == 0) return 0;
  std::uint32_t field = mask >> std::countr_zero(mask);
  // Only a contiguous run of bits is a field; anything else holds nothing we can count on.
  if ((field & (field + 1)) != 0) return 0;
  return field;
}

std::uint32_t mark_of(std::size_t position, std::uint32_t mask) {
  return static_cast<std::uint32_t>(position + 1) << std::countr_zero(mask);
}

SteeringState steering_state(const SteeringSettings& settings, const std::vector<IspConfig>& isps,
                             std::uint8_t route_protocol) {
  SteeringState state;
  state.sticky = settings.sticky;
  state.mark_mask = settings.mark_mask;
  state.route_protocol = route_protocol;
  for (std::size_t i = 0; i < isps.size(); ++i) {
    state.isps.push_back(SteeredIsp{isps[i].name, isps[i].gateway, mark_of(i, settings.mark_mask),
                                    settings.table_base + static_cast<std::uint32_t>(i) + 1,
                                    settings.rule_priority + static_cast<std::uint32_t>(i), false});
  }
  return state;
}

std::string nft_script(const SteeringState& state) {
  std::string keep = format_hex32(~state.mark_mask);
  std::string mask = format_hex32(state.mark_mask);
  std::string script = nft_delete_script();
  script += "table inet " + std::string(kNftTable) +
            " {\n"
            "  comment \"failoverd: sticky connections and resets; failoverd(8)\"\n"
            "  chain steer {\n"
            "    type route hook output priority mangle; policy accept;\n";
  if (state.sticky) {
    for (const auto& isp : state.isps) {
      script += "    ct mark and " + mask + " == " + format_hex32(isp.mark) +
                " meta mark set meta mark and " + keep + " or " + format_hex32(isp.mark) +
                " comment \"" + isp.name + ": sticky\"\n";
    }
  }
  for (const auto& isp : state.isps) {
    std::string gateway = format_ipv4(isp.gateway);
    script += "    ct state new ip daddr != " + gateway + " rt ip nexthop " + gateway +
              " ct mark set ct mark and " + keep + " or " + format_hex32(isp.mark) + " comment \"" +
              isp.name + ": new\"\n";
  }
  script += "  }\n}\n";
  return script;
}

std::string nft_delete_script() {
  // "add" first: deleting a table that is not there would fail the whole transaction.
  return "add table inet " + std::string(kNftTable) + "\ndelete table inet " +
         std::string(kNftTable) + "\n";
}

}  // namespace ispf

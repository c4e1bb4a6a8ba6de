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
    SteeredIsp isp;
    isp.name = isps[i].name;
    isp.gateway = isps[i].gateway;
    isp.mark = mark_of(i, settings.mark_mask);
    isp.table = settings.table_base + static_cast<std::uint32_t>(i) + 1;
    isp.rule_priority = settings.rule_priority + static_cast<std::uint32_t>(i);
    isp.gateway6 = isps[i].gateway6;
    if (isp.gateway6) isp.gateway6_device = isps[i].gateway6_device;
    state.isps.push_back(std::move(isp));
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
  for (const auto& isp : state.isps) {
    if (!isp.gateway6) continue;
    // A link-local gateway is the nexthop as it stands (the kernel's nexthop carries no zone):
    // only one ISP router answers to it on our LAN.
    std::string gateway = format_ipv6(*isp.gateway6);
    script += "    ct state new ip6 daddr != " + gateway + " rt ip6 nexthop " + gateway +
              " ct mark set ct mark and " + keep + " or " + format_hex32(isp.mark) + " comment \"" +
              isp.name + ": new IPv6\"\n";
  }
  script += "  }\n}\n";
  return script;
}

FamilySteering steer_family(const std::vector<IspView>& views, bool reset, ResetMemory& memory) {
  auto usable = [](IspHealth h) { return h == IspHealth::kUp || h == IspHealth::kDegraded; };
  FamilySteering out;
  bool any_usable = false;
  for (const auto& view : views) {
    bool up = usable(view.health);
    if (up) memory.seen_usable.insert(view.config.name);
    // Not heard from since we started: after a restart its table keeps its route (its sticky
    // connections go on), as our main route is kept, until the ISP says otherwise.
    bool unheard = view.health == IspHealth::kStale && !memory.seen_usable.count(view.config.name);
    out.routed.push_back(up || unheard);
    any_usable = any_usable || up;
  }
  if (!reset) return out;
  for (std::size_t i = 0; i < views.size(); ++i) {
    const std::string& name = views[i].config.name;
    if (usable(views[i].health)) {
      memory.reset_done.erase(name);
      continue;
    }
    // Only while another ISP carries traffic: when every ISP looks dead at once (our own link
    // flapped, say), the connections may well survive it, and a reconnect could go nowhere.
    if (!any_usable || memory.reset_done.count(name)) continue;
    // An ISP not heard from since we started may just be slower to speak than the others: after
    // a restart its sticky connections are alive. Only a report of down, or a silence after we
    // saw it up, says its connections are dead.
    if (views[i].health == IspHealth::kStale && !memory.seen_usable.count(name)) continue;
    memory.reset_done.insert(name);
    out.resets.push_back(i);
  }
  return out;
}

ConnectionReset reset_of(const IspView& view, const SteeredIsp& isp, std::uint32_t mask,
                         Family family) {
  return ConnectionReset{isp.name, isp.mark, mask,
                         std::string(to_string(view.health)) + " (" + view.reason + ")", family};
}

std::string nft_delete_script() {
  // "add" first: deleting a table that is not there would fail the whole transaction.
  return "add table inet " + std::string(kNftTable) + "\ndelete table inet " +
         std::string(kNftTable) + "\n";
}

}  // namespace ispf

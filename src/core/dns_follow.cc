// Which resolvers the client should use, and when: the active ISP's, applied once per change.
#include "ispfailover/core/dns_follow.h"

#include <algorithm>

#include "ispfailover/core/format.h"

namespace ispf {

std::string_view to_string(DnsManager manager) {
  switch (manager) {
    case DnsManager::kNone:
      return "none";
    case DnsManager::kFile:
      return "file";
    case DnsManager::kResolved:
      return "resolved";
  }
  return "none";
}

std::string render_resolv_conf(std::string_view isp, const std::vector<std::uint32_t>& servers) {
  std::string out =
      "# Written by failoverd: the resolvers announced by " + std::string(isp) +
      ", the ISP that carries the traffic now.\n"
      "# Rewritten when the active ISP or its resolvers change; edits here are lost.\n";
  for (std::size_t i = 0; i < servers.size() && i < kMaxResolvConfServers; ++i) {
    out += "nameserver " + format_ipv4(servers[i]) + "\n";
  }
  // A resolver that died with its ISP's uplink costs 1 s per try instead of glibc's 5 s.
  out += "options timeout:1 attempts:2\n";
  return out;
}

DnsFollower::Step DnsFollower::step(const std::optional<std::string>& active, std::uint32_t gateway,
                                    const std::vector<std::uint32_t>& announced) {
  Step out;
  if (!active) return out;  // no route: whatever is in force stays
  if (announced.empty()) {
    // An older ispprobed, or one without --dns: the file stays as it is, said once.
    if (noted_none_for_ != *active) {
      noted_none_for_ = *active;
      out.note = *active +
                 " announces no resolvers (ispprobed --dns): the client's resolver "
                 "configuration stays as it is";
    }
    return out;
  }
  noted_none_for_.reset();
  std::vector<std::uint32_t> servers(
      announced.begin(), announced.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                 announced.size(), kMaxResolvConfServers)));
  if (applied_ && applied_->isp == *active && applied_->servers == servers &&
      applied_->gateway == gateway) {
    return out;
  }
  DnsUpdate update{*active, gateway, servers, render_resolv_conf(*active, servers)};
  applied_ = update;
  out.update = std::move(update);
  return out;
}

}  // namespace ispf

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

std::string render_resolv_conf(std::string_view isp, const std::vector<IpAddress>& servers,
                               std::string_view isp6) {
  std::string by = std::string(isp);
  if (!isp6.empty() && isp6 != isp) by += " (IPv6: " + std::string(isp6) + ")";
  std::string out =
      "# Written by failoverd: the resolvers announced by " + by +
      ", the ISP that carries the traffic now.\n"
      "# Rewritten when the active ISP or its resolvers change; edits here are lost.\n";
  for (std::size_t i = 0; i < servers.size() && i < kMaxResolvConfServers; ++i) {
    out += "nameserver " + format_ip(servers[i]) + "\n";
  }
  // A resolver that died with its ISP's uplink costs 1 s per try instead of glibc's 5 s.
  out += "options timeout:1 attempts:2\n";
  return out;
}

std::vector<IpAddress> choose_resolvers(const std::vector<std::uint32_t>& ipv4,
                                        const std::vector<Ipv6Address>& ipv6) {
  std::size_t room6 = ipv6.empty() ? 0 : 1;
  std::size_t take4 = std::min(ipv4.size(), kMaxResolvConfServers - room6);
  std::vector<IpAddress> out;
  for (std::size_t i = 0; i < take4; ++i) out.push_back(IpAddress::ipv4(ipv4[i]));
  for (std::size_t i = 0; i < ipv6.size() && out.size() < kMaxResolvConfServers; ++i) {
    out.push_back(IpAddress::ipv6(ipv6[i]));
  }
  return out;
}

DnsFollower::Step DnsFollower::step(const std::optional<std::string>& active, std::uint32_t gateway,
                                    const std::vector<std::uint32_t>& announced,
                                    const std::optional<std::string>& active6,
                                    const std::vector<Ipv6Address>& announced6) {
  Step out;
  if (!active) return out;  // no route: whatever is in force stays
  static const std::vector<Ipv6Address> kNone6;
  const std::vector<Ipv6Address>& six = active6 ? announced6 : kNone6;
  if (announced.empty() && six.empty()) {
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
  std::vector<IpAddress> servers = choose_resolvers(announced, six);
  std::string isp6 = six.empty() ? std::string() : *active6;
  if (applied_ && applied_->isp == *active && applied_->isp6 == isp6 &&
      applied_->servers == servers && applied_->gateway == gateway) {
    return out;
  }
  DnsUpdate update{*active, isp6, gateway, servers, render_resolv_conf(*active, servers, isp6)};
  applied_ = update;
  out.update = std::move(update);
  return out;
}

}  // namespace ispf

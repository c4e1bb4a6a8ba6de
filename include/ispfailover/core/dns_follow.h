// Which resolvers the client should use, and when to tell it: the active ISP's announced ones.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ispfailover/core/ip_address.h"

namespace ispf {

// How failoverd points the client's resolver at the active ISP's resolvers.
enum class DnsManager {
  kNone,      // it does not: DNS is someone else's business
  kFile,      // it rewrites a resolv.conf of its own (--resolv-conf)
  kResolved,  // it sets per-link DNS in systemd-resolved (D-Bus)
};
std::string_view to_string(DnsManager manager);

// glibc reads at most 3 nameserver lines (MAXNS); more would be silently ignored.
inline constexpr std::size_t kMaxResolvConfServers = 3;

// One change of the client's resolvers, for the shell to carry out.
struct DnsUpdate {
  std::string isp;                 // whose resolvers these are (the IPv4 route's ISP)
  std::string isp6;                // whose IPv6 resolvers are among them ("": none)
  std::uint32_t gateway = 0;       // the ISP's gateway: resolved mode's link reaches it
  std::vector<IpAddress> servers;  // in order of preference, at most kMaxResolvConfServers
  std::string resolv_conf;         // the whole file, for file mode

  bool operator==(const DnsUpdate&) const = default;
};

// The resolv.conf failoverd writes: a header saying who wrote it and for which ISP, at most
// kMaxResolvConfServers nameserver lines, and options that make a dead resolver cost little.
// `isp6`: whose IPv6 resolvers are among them, when that is another ISP.
std::string render_resolv_conf(std::string_view isp, const std::vector<IpAddress>& servers,
                               std::string_view isp6 = {});

// The resolvers to use: the IPv4 route's ISP's IPv4 ones and the IPv6 route's ISP's IPv6 ones
// (each family's resolvers are reached through the ISP that family's route goes to, with a
// source that ISP routes back), at most kMaxResolvConfServers. IPv4 first, but one place is kept
// for an IPv6 resolver when there is one, so that either family alone still resolves.
std::vector<IpAddress> choose_resolvers(const std::vector<std::uint32_t>& ipv4,
                                        const std::vector<Ipv6Address>& ipv6);

// Follows the active ISP's announced resolvers and says when they must be applied: when the
// active ISP or its list changes, never again for the same list (no write every datagram).
class DnsFollower {
 public:
  struct Step {
    std::optional<DnsUpdate> update;
    std::optional<std::string> note;  // a line for people, once per ISP that announces none
  };

  // `active`: the ISP carrying the traffic (nullopt: none), its gateway and its announced list;
  // `active6`: the ISP the IPv6 route goes to (nullopt: none, or no IPv6), and its IPv6 list.
  Step step(const std::optional<std::string>& active, std::uint32_t gateway,
            const std::vector<std::uint32_t>& announced,
            const std::optional<std::string>& active6 = std::nullopt,
            const std::vector<Ipv6Address>& announced6 = {});
  // Applying the last update failed: the next step tries again.
  void forget() { applied_.reset(); }
  // What is in force now (nullopt: nothing written by us yet).
  const std::optional<DnsUpdate>& applied() const { return applied_; }

 private:
  std::optional<DnsUpdate> applied_;
  std::optional<std::string> noted_none_for_;
};

}  // namespace ispf

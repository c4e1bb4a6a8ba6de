// One host's links, addresses and routing tables of both families in memory, with Linux's habits.
//
// What it models was checked against the real kernel by the contract tests (tests/contract):
// - a route's gateway must lie inside the prefix of an address on an existing, admin-up link,
//   else adding or replacing it fails with ENETUNREACH. Carrier does not matter: the kernel
//   accepts the route and flags it "linkdown".
// - a route vanishes WITHOUT an RTM_DELROUTE when its link goes admin down, is deleted, or loses
//   its last IPv4 address; the link or address change itself is reported to table watches.
//   Losing the carrier keeps the route (flagged linkdown, still listed, still used).
// - NLM_F_REPLACE replaces the first route of the same table and metric, whatever its protocol
//   (a foreign route with our metric is replaced too); an identical route makes it a no-op.
// - deletion matches table, and metric, protocol, gateway, ifindex where given (0 = any); deleting
//   a route that is not there succeeds here (the real adapter turns ESRCH into success).
//
// IPv6 (observed on Linux 6.18 with iproute2 in a namespace, links made with addrgenmode none so
// that no automatic link-local address appears; the fake never makes one either):
// - an IPv6 default route asked for with metric 0 is stored and listed with metric 1024
//   (IP6_RT_PRIO_USER), the metric of routes learned from router advertisements (protocol 9).
// - a global gateway must lie inside the prefix of an IPv6 address (tentative ones too: the
//   prefix route comes with the address) on an existing, admin-up link, and on the link given
//   when one is, else EHOSTUNREACH (not IPv4's ENETUNREACH). A link-local gateway needs its
//   ifindex: without one EINVAL ("Egress device not specified"); with one of no link ENODEV; with
//   an admin-down link ENETDOWN ("Nexthop device is not up"). Carrier does not matter.
// - a preferred source (RTA_PREFSRC) must be an address of this host that is not tentative (any
//   link), else EINVAL ("Invalid source address"); the gateway is judged first.
// - NLM_F_REPLACE replaces the first route of the same table and metric, as for IPv4.
// - deletion matches table, and metric, protocol, gateway, ifindex where given (0 = any), never the
//   source; a route that is not there gives ESRCH, which the real adapter turns into success.
// - admin down deletes the link's IPv6 routes (with RTM_DELROUTE, unlike IPv4) and ALL its IPv6
//   addresses (net.ipv6.conf.*.keep_addr_on_down is 0); up again, neither comes back.
//   Losing the carrier keeps routes (flagged linkdown, still listed, replace still accepted) and
//   addresses (kept, but the link is not usable, so ipv6_addresses() leaves them out).
// - `ip addr flush` takes the IPv6 addresses too, but IPv6 default routes stay (unlike IPv4);
//   a route whose preferred source was among them loses its RTA_PREFSRC and stays.
// Not modelled: an IPv6 route appended with the table and metric of one with a gateway joins it
// as a multipath route (listed as nexthops of one route, all with the first one's protocol), and
// NLM_F_REPLACE then replaces every nexthop; the engine never shares a metric, so the fake keeps
// such routes apart.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "ispfailover/core/probe_types.h"
#include "ispfailover/core/route.h"
#include "ispfailover/io/env.h"

namespace ispf {

// How an IPv6 address stands: still in duplicate address detection, failed it, or past its
// preferred lifetime (`preferred_lft 0`).
struct FakeAddress6State {
  bool tentative = false;
  bool dad_failed = false;
  bool deprecated = false;
};

class FakeKernel {
 public:
  using ChangeCallback = std::function<void()>;
  using LinkCallback = std::function<void(const std::string&, const LinkStatus&)>;

  // Returns the new link's ifindex (never reused, like the kernel's).
  int add_link(const std::string& name, bool admin_up = true, bool carrier = true);
  void set_link(const std::string& name, bool admin_up, bool carrier);
  void delete_link(const std::string& name);
  void rename_link(const std::string& from, const std::string& to);
  void add_address(const std::string& name, std::uint32_t address, int prefix_length);
  // Every address of `name`, IPv4 and IPv6, as `ip addr flush dev NAME`.
  void flush_addresses(const std::string& name);
  using Address6State = FakeAddress6State;
  void add_address6(const std::string& name, const Ipv6Address& address, int prefix_length,
                    Address6State state = {});

  LinkStatus link_status(const std::string& name) const;
  std::optional<int> ifindex(const std::string& name) const;
  // The first IPv4 address of `name` with its prefix length, if any.
  std::optional<std::pair<std::uint32_t, int>> address_of(const std::string& name) const;
  // The name of the link with `ifindex`, if it exists.
  std::optional<std::string> name_of(int ifindex) const;

  // Whether the main table routes `destination` out of `name`: an address prefix of that admin-up
  // link holds it, or a default route of the main table (of the destination's family) leaves
  // through it (what a FIB match with the link as output finds here: the fake holds no other
  // routes).
  bool routes_via(const std::string& name, const IpAddress& destination) const;
  // The prefixes of the addresses on usable (admin up, carrier) links.
  std::vector<Ipv4Prefix> usable_prefixes() const;
  IoResult<std::vector<DefaultRoute>> default_routes(std::uint32_t table) const;
  std::error_code replace_default(const RouteSlot& slot, std::uint32_t gateway);
  std::error_code remove_default(const RouteSlot& slot);
  std::error_code delete_route(const DefaultRoute& route);
  // The IPv6 addresses of usable links (admin up, carrier), neither tentative nor DAD-failed.
  std::vector<Ipv6InterfaceAddress> ipv6_addresses() const;
  IoResult<std::vector<DefaultRoute6>> default_routes6(std::uint32_t table) const;
  std::error_code replace_default6(const RouteSlot& slot, const Route6Via& via);
  std::error_code remove_default6(const RouteSlot& slot);
  std::error_code delete_route6(const DefaultRoute6& route);
  // Someone else's IPv6 route (an RA, an admin), as `ip -6 route append` adds it; checked as a
  // replace is (EHOSTUNREACH, EINVAL, ENODEV, ENETDOWN), metric 0 stored as 1024, EEXIST for an
  // identical route. The route's ifindex is filled in for a global gateway.
  std::error_code add_route6(const DefaultRoute6& route);
  // Someone else's route (DHCP, an admin), as `ip route append` adds it: after the routes of
  // its table and metric. ENETUNREACH if no admin-up link has an address whose prefix holds the
  // gateway, ENETDOWN for a gatewayless route on a down or missing link, EEXIST for an identical
  // route. The route's ifindex is filled in.
  std::error_code add_route(const DefaultRoute& route);

  // The next `count` edits through replace_default, remove_default or delete_route (or their
  // IPv6 twins) fail with
  // `error` and change nothing (fault injection for the callers' retries).
  void fail_next_edits(std::errc error, int count = 1);

  // Called after every change a TableWatch reports (route, link, address); returns an id.
  int on_change(ChangeCallback callback);
  // Called after a link's status changes (name, status), for link watches.
  int on_link(LinkCallback callback);
  void remove_callback(int id);

  // Bumps on every change.
  std::uint64_t generation() const { return generation_; }

 private:
  struct Address {
    std::uint32_t address = 0;
    int prefix_length = 0;
  };
  struct Address6 {
    Ipv6Address address;
    int prefix_length = 0;
    Address6State state;
  };
  struct Link {
    int ifindex = 0;
    bool admin_up = false;
    bool carrier = false;
    std::vector<Address> addresses;
    std::vector<Address6> addresses6;
  };

  Link* find(const std::string& name);
  const Link* find(const std::string& name) const;
  // The link through which `gateway` is reachable on-link, as the kernel's lookup finds it.
  std::optional<int> nexthop_for(std::uint32_t gateway) const;
  bool take_injected_failure(std::error_code& error);
  // Drops every route via `ifindex` silently, as the kernel does (no RTM_DELROUTE).
  void drop_routes_via(int ifindex);
  // What the kernel's IPv6 nexthop checks make of `route` (its ifindex filled in), or why not.
  std::error_code check_route6(DefaultRoute6& route) const;
  // Clears the preferred source of routes whose source address is no longer on any link.
  void drop_stale_sources6();
  // Deletes the first IPv6 route that matches as the kernel's delete does; none is success.
  std::error_code delete_route6_matching(const DefaultRoute6& route);
  // Before (or with `append`, after) the routes of the same table and metric.
  void insert(DefaultRoute route, bool append = false);
  void changed();
  void link_changed(const std::string& name);

  std::map<std::string, Link> links_;
  std::vector<DefaultRoute> routes_;    // every table; per table in the kernel's listing order
  std::vector<DefaultRoute6> routes6_;  // likewise
  int next_ifindex_ = 2;                // 1 is lo
  std::uint64_t generation_ = 0;
  std::errc injected_error_{};
  int injected_count_ = 0;
  int next_callback_id_ = 1;
  std::map<int, ChangeCallback> change_callbacks_;
  std::map<int, LinkCallback> link_callbacks_;
};

}  // namespace ispf

// One host's links, IPv4 addresses and routing tables in memory, with the Linux kernel's habits.
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
  void flush_addresses(const std::string& name);
  // IPv6 is modelled only as far as routes_via needs: on-link prefixes and whether a default
  // route leaves by the link (no IPv6 route edits: failoverd does not make any yet).
  void add_ipv6_address(const std::string& name, const Ipv6Prefix& prefix);
  void set_ipv6_default(const std::string& name, bool present);

  LinkStatus link_status(const std::string& name) const;
  std::optional<int> ifindex(const std::string& name) const;
  // The first IPv4 address of `name` with its prefix length, if any.
  std::optional<std::pair<std::uint32_t, int>> address_of(const std::string& name) const;
  // The name of the link with `ifindex`, if it exists.
  std::optional<std::string> name_of(int ifindex) const;

  // Whether the main table routes `destination` out of `name`: an address prefix of that admin-up
  // link holds it, or a default route of the main table leaves through it (what a FIB match
  // with the link as output finds here: the fake holds no other routes).
  bool routes_via(const std::string& name, const IpAddress& destination) const;
  // The prefixes of the addresses on usable (admin up, carrier) links.
  std::vector<Ipv4Prefix> usable_prefixes() const;
  IoResult<std::vector<DefaultRoute>> default_routes(std::uint32_t table) const;
  std::error_code replace_default(const RouteSlot& slot, std::uint32_t gateway);
  std::error_code remove_default(const RouteSlot& slot);
  std::error_code delete_route(const DefaultRoute& route);
  // Someone else's route (DHCP, an admin), as `ip route append` adds it: after the routes of
  // its table and metric. ENETUNREACH if no admin-up link has an address whose prefix holds the
  // gateway, ENETDOWN for a gatewayless route on a down or missing link, EEXIST for an identical
  // route. The route's ifindex is filled in.
  std::error_code add_route(const DefaultRoute& route);

  // The next `count` edits through replace_default, remove_default or delete_route fail with
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
  struct Link {
    int ifindex = 0;
    bool admin_up = false;
    bool carrier = false;
    std::vector<Address> addresses;
    std::vector<Ipv6Prefix> ipv6_prefixes;
    bool ipv6_default = false;
  };

  Link* find(const std::string& name);
  const Link* find(const std::string& name) const;
  // The link through which `gateway` is reachable on-link, as the kernel's lookup finds it.
  std::optional<int> nexthop_for(std::uint32_t gateway) const;
  bool take_injected_failure(std::error_code& error);
  // Drops every route via `ifindex` silently, as the kernel does (no RTM_DELROUTE).
  void drop_routes_via(int ifindex);
  // Before (or with `append`, after) the routes of the same table and metric.
  void insert(DefaultRoute route, bool append = false);
  void changed();
  void link_changed(const std::string& name);

  std::map<std::string, Link> links_;
  std::vector<DefaultRoute> routes_;  // every table; per table in the kernel's listing order
  int next_ifindex_ = 2;              // 1 is lo
  std::uint64_t generation_ = 0;
  std::errc injected_error_{};
  int injected_count_ = 0;
  int next_callback_id_ = 1;
  std::map<int, ChangeCallback> change_callbacks_;
  std::map<int, LinkCallback> link_callbacks_;
};

}  // namespace ispf

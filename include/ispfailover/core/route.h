// Routes as values: the slot failoverd owns, default routes as the kernel lists them, and edits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ispfailover/core/ip_address.h"

namespace ispf {

// Where our default route lives and how it is recognised after a restart: table, metric and
// rtm_protocol together (a route with our protocol but another metric is not ours).
struct RouteSlot {
  std::uint32_t table = 254;  // main
  std::uint32_t metric = 0;
  std::uint8_t protocol = 150;  // kRouteProtocol

  bool operator==(const RouteSlot&) const = default;
};

// One IPv4 default route of a table, as the kernel lists it.
struct DefaultRoute {
  std::uint32_t gateway = 0;  // host order; 0 for a route without a gateway
  std::uint32_t metric = 0;
  std::uint8_t protocol = 0;
  int ifindex = 0;
  std::uint32_t table = 254;

  bool operator==(const DefaultRoute&) const = default;
};

// The kernel stores an IPv6 route asked for with metric 0 as 1024, the metric of routes learned
// from router advertisements: ours stays below it so that the two never share a slot.
inline constexpr std::uint32_t kKernelDefaultMetric6 = 1024;
// rtm_protocol of an IPv6 default route learned from a router advertisement.
inline constexpr std::uint8_t kRouteProtocolRa = 9;

// One IPv6 default route (::/0) of a table, as the kernel lists it.
struct DefaultRoute6 {
  Ipv6Address gateway;  // unspecified for a route without a gateway
  int ifindex = 0;      // always set: a link-local gateway means nothing without it
  std::uint32_t metric = 0;
  std::uint8_t protocol = 0;
  std::uint32_t table = 254;
  std::optional<Ipv6Address> preferred_source;  // RTA_PREFSRC

  bool operator==(const DefaultRoute6&) const = default;
};

// Where our IPv6 default route points: the router's LAN address (global, or link-local with its
// interface) and the source address new connections should leave with, the client's address in
// that ISP's prefix (BCP 38: the ISP drops any other).
struct Route6Via {
  Ipv6Address gateway;
  int ifindex = 0;
  std::optional<Ipv6Address> preferred_source;

  bool operator==(const Route6Via&) const = default;
};

bool is_own(const DefaultRoute6& route, const RouteSlot& slot);

// What an engine asks the route table to do.
struct RouteEdit {
  enum class Kind {
    kReplaceOwn,     // our route in `slot` via `gateway`, one NLM_F_REPLACE (never a gap)
    kRemoveOwn,      // our route in `slot`, if there
    kDeleteForeign,  // exactly `route`, someone else's
  };
  Kind kind = Kind::kReplaceOwn;
  RouteSlot slot;
  std::uint32_t gateway = 0;
  DefaultRoute route;
  // kIpv6 edits use via6 (kReplaceOwn) and route6 (kDeleteForeign) instead of gateway and route.
  Family family = Family::kIpv4;
  Route6Via via6;
  DefaultRoute6 route6;

  static RouteEdit replace_own(const RouteSlot& slot, std::uint32_t gateway);
  static RouteEdit remove_own(const RouteSlot& slot, Family family = Family::kIpv4);
  static RouteEdit delete_foreign(const RouteSlot& slot, const DefaultRoute& route);
  static RouteEdit replace_own6(const RouteSlot& slot, const Route6Via& via);
  static RouteEdit delete_foreign6(const RouteSlot& slot, const DefaultRoute6& route);

  bool operator==(const RouteEdit&) const = default;
};

bool is_own(const DefaultRoute& route, const RouteSlot& slot);

// An address with its prefix, as on an interface: the on-link net a gateway must be in.
struct Ipv4Prefix {
  std::uint32_t address = 0;  // host order
  int length = 0;
  bool contains(std::uint32_t other) const;

  bool operator==(const Ipv4Prefix&) const = default;
};

// One IPv6 address of an interface that is up, as the kernel lists it (not tentative, not
// failed duplicate address detection): an on-link prefix and a source this host can use.
struct Ipv6InterfaceAddress {
  Ipv6Address address;
  int prefix_length = 64;
  int ifindex = 0;
  std::string ifname;
  bool deprecated = false;  // preferred lifetime over: usable, but not for new connections

  Ipv6Prefix prefix() const;
  bool operator==(const Ipv6InterfaceAddress&) const = default;
};

}  // namespace ispf

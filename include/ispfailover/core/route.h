// Routes as values: the slot failoverd owns, default routes as the kernel lists them, and edits.
#pragma once

#include <cstdint>
#include <vector>

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

}  // namespace ispf

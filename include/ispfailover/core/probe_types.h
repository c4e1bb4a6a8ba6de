// Probing as values: a link's state, a round asked for, and the round's outcome.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "ispfailover/core/clock.h"
#include "ispfailover/core/ip_address.h"

namespace ispf {

// An interface's state as netlink reports it.
struct LinkStatus {
  bool exists = false;
  bool admin_up = false;  // IFF_UP: `ip link set X up`
  bool carrier = false;   // IFF_LOWER_UP: the cable (or veth peer) is there
  // Another index under the same name is another link (a PPP or LTE reconnect, a veth made
  // anew): sockets bound to the old one must be opened again. 0 while it does not exist.
  int ifindex = 0;
  bool usable() const { return exists && admin_up && carrier; }

  bool operator==(const LinkStatus&) const = default;
};

// One round: an echo request to every target, each concluded by its answer or the timeout.
struct RoundRequest {
  std::uint16_t sequence = 0;
  std::vector<IpAddress> targets;  // all of the prober's family
  Duration timeout{};

  bool operator==(const RoundRequest&) const = default;
};

enum class ProbeError { kNone, kTimeout, kNoRoute, kUnreachable };

struct ProbeOutcome {
  IpAddress target;
  std::optional<Duration> rtt;
  ProbeError error = ProbeError::kTimeout;
  std::error_code send_error;  // what sendto() said, in std::system_category
};

// An echo reply that came after its round was concluded (timed out): the line still works, and
// the RTT is a sample for the timeout (a congested line's RTT can jump past it).
struct LateReply {
  std::uint16_t sequence = 0;
  IpAddress target;
  Duration rtt{};

  bool operator==(const LateReply&) const = default;
};

// How many targets of each family the kernel routes out of the uplink (a route check).
struct RoutedTargets {
  std::uint32_t ipv4 = 0;
  std::uint32_t ipv6 = 0;

  bool operator==(const RoutedTargets&) const = default;
};

struct RoundReport {
  std::uint16_t sequence = 0;
  TimePoint started;
  TimePoint concluded;
  std::vector<ProbeOutcome> probes;  // one per target, in target order
  std::uint32_t answered() const;
  // The most telling failure among the probes: no-route, unreachable, else probe-loss.
  std::string failure_reason() const;
};

}  // namespace ispf

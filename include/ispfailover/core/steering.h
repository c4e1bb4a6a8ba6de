// Sticky connections and resets as values: each ISP's conntrack mark, routing table and rule, the
// nftables script that marks new connections by the gateway they leave through, and which ISP
// tables hold a route now.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ispfailover/core/failover_policy.h"

namespace ispf {

// failoverd --sticky-connections, --reset-connections and where their marks, tables and rules
// live. The defaults stay clear of wg-quick (fwmark 0xca6c, table 51820, rules 32764-32765),
// Tailscale (marks 0xff0000, table 52, rules 5210-5310) and Docker (no fwmarks, no rules).
struct SteeringSettings {
  bool sticky = true;
  bool reset = true;
  std::uint32_t mark_mask = 0x0f000000;
  // The ISP at position k (1-based, in preference order) uses table table_base + k and a rule
  // at rule_priority + k - 1.
  std::uint32_t table_base = 3150;
  std::uint32_t rule_priority = 1500;

  bool enabled() const { return sticky || reset; }
  bool operator==(const SteeringSettings&) const = default;
};

// The nftables table that is ours alone (inet family): created, replaced and deleted whole.
inline constexpr const char* kNftTable = "failoverd";

// How many ISPs a mask can tell apart: its contiguous bits hold positions 1..capacity.
std::uint32_t mark_capacity(std::uint32_t mask);
// The mark of the ISP at `position` (0-based): position + 1 in the mask's bits.
std::uint32_t mark_of(std::size_t position, std::uint32_t mask);

struct SteeredIsp {
  std::string name;
  std::uint32_t gateway = 0;  // IPv4, host order
  std::uint32_t mark = 0;     // one mark for both families: the kernel's tables tell them apart
  std::uint32_t table = 0;
  std::uint32_t rule_priority = 0;
  // Its table holds a default route via the gateway: the ISP is up or degraded. Without it,
  // its connections fall through to the main table's route, wherever that goes.
  bool routed = false;
  // The ISP's IPv6 gateway (none: it carries no IPv6 for us, and gets no IPv6 marks, rule or
  // route); a link-local one needs its interface.
  std::optional<Ipv6Address> gateway6;
  std::string gateway6_device;
  // Its IPv6 table holds a default route via gateway6: the ISP's IPv6 is up or degraded, as
  // the IPv6 side sees it (apart from IPv4's verdict).
  bool routed6 = false;

  bool operator==(const SteeredIsp&) const = default;
};

// What the kernel should hold for steering: the nftables table, and with `sticky` one fwmark
// rule and one routing table per ISP.
struct SteeringState {
  bool sticky = true;
  std::uint32_t mark_mask = 0;
  std::uint8_t route_protocol = 0;
  std::vector<SteeredIsp> isps;

  bool operator==(const SteeringState&) const = default;
};

SteeringState steering_state(const SteeringSettings& settings, const std::vector<IspConfig>& isps,
                             std::uint8_t route_protocol);

// Our table exactly as `state` wants it, in one nft transaction (create, delete, define: it works
// whether or not the table exists, and no packet ever sees half of it).
//
// New connections are marked by the gateway their first packet was routed to (`rt ip nexthop`),
// so only connections that went through an ISP router are marked: LAN, loopback, VPN and other
// routes are never touched. Packets to the router itself are LAN traffic and stay unmarked. With
// `sticky`, every later packet carries its connection's mark as its fwmark, which the ISP's rule
// sends to the ISP's own table. IPv6 alike (`rt ip6 nexthop`) for ISPs with a gateway6, with the
// same mark: the sticky rules and the fwmark rules do not care for the family.
std::string nft_script(const SteeringState& state);
std::string nft_delete_script();

// An ISP whose connections of one family are to end now: that family's path through it is down
// or silent while another ISP carries the family's traffic, so nothing that went through it can
// get an answer. Families apart: an ISP whose IPv6 died while its IPv4 works keeps its IPv4
// connections.
struct ConnectionReset {
  std::string isp;
  std::uint32_t mark = 0;
  std::uint32_t mask = 0;
  std::string why;  // "down (link-down)"
  Family family = Family::kIpv4;
};

// One family's memory between evaluations, for its routed flags and resets.
struct ResetMemory {
  std::set<std::string> seen_usable;  // ISPs seen up or degraded since we started
  std::set<std::string> reset_done;   // dead ISPs whose connections were already ended
};

// What one family's ISP health asks of the steering, ISP by ISP in `views`' order: whether its
// table holds a route, and which ISPs' connections end now (indices into `views`). The same rules
// for both families, each with its own views and memory: routed while up or degraded, or not
// heard from since start; a reset once per death, only for down or silent (never degraded),
// only while another ISP of the family is usable, never for one not heard from since start.
struct FamilySteering {
  std::vector<bool> routed;
  std::vector<std::size_t> resets;
};
FamilySteering steer_family(const std::vector<IspView>& views, bool reset, ResetMemory& memory);

// The reset of `isp`'s connections of `family`, `view` saying why ("down (link-down)").
ConnectionReset reset_of(const IspView& view, const SteeredIsp& isp, std::uint32_t mask,
                         Family family);

// One ISP's tracked connections (its conntrack mark), per family: one mark covers both.
struct ConnectionCounts {
  std::uint64_t ipv4 = 0;
  std::uint64_t ipv6 = 0;

  bool operator==(const ConnectionCounts&) const = default;
};

// What a reset did, as the shell reports it back.
struct ResetOutcome {
  std::size_t matched = 0;    // TCP connections with the ISP's mark
  std::size_t destroyed = 0;  // local sockets ended (SOCK_DESTROY)
  std::size_t failed = 0;
  std::string problem;  // empty when every socket could be looked at
};

}  // namespace ispf

// What failoverd tells people: the STATUS= line, the status file's JSON, the `status` table.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ispfailover/core/clock.h"
#include "ispfailover/core/failover_policy.h"
#include "ispfailover/core/format.h"
#include "ispfailover/core/ip_address.h"
#include "ispfailover/core/result.h"
#include "ispfailover/core/route.h"

namespace ispf {

using DropCounters = std::array<std::uint64_t, static_cast<std::size_t>(DropReason::kCount)>;

// One move of the default route, for the history in the status file and `failoverd status`.
struct SwitchRecord {
  std::uint64_t unix_ms = 0;  // our wall clock when the decision was made
  std::string from;           // empty: no ISP carried the route before (the first pick)
  std::string to;             // empty: the route was withdrawn (when-all-down remove)
  std::string reason;         // the token of the switch counters
  std::string why;            // the journal's line
};
// How many moves the history keeps: enough for an afternoon of trouble, small enough to read.
inline constexpr std::size_t kSwitchHistoryLength = 20;

// The last time connections were ended because their ISP died.
struct ResetRecord {
  std::uint64_t unix_ms = 0;
  std::string isp;
  std::string why;
  std::size_t matched = 0;
  std::size_t destroyed = 0;
};

// What the status shows of the IPv6 side.
struct Ipv6Report {
  std::vector<IspView> isps;  // the ISPs with a gateway6, in preference order
  std::optional<std::size_t> active;
  std::optional<Route6Via> route;  // what our route holds (or is about to)
  std::string route_text;          // "via 2001:db8:1:1::1 dev ifindex 3 src 2001:db8:1:1::10"
  std::uint64_t switches = 0;
  std::string last_switch;
  // Per ISP with a gateway6: whether its datagrams carry an IPv6 verdict (ipv6=) or IPv4's
  // stands in for it.
  std::map<std::string, bool> own_verdict;
  std::vector<std::string> warnings;
  // IPv6 TCP sockets ended per ISP (its IPv6 died); StatusReport::resets_total has the IPv4 ones.
  std::map<std::string, std::uint64_t> resets_total;
  // Tracked IPv6 connections per ISP; StatusReport::connections has the IPv4 ones.
  std::map<std::string, std::uint64_t> connections;

  bool operator==(const Ipv6Report&) const = default;
};

struct StatusReport {
  std::vector<IspView> isps;
  std::optional<std::size_t> active;   // index into isps
  std::optional<Duration> active_for;  // since the route last moved
  bool all_down = false;
  AllDownPolicy when_all_down = AllDownPolicy::kKeep;
  std::uint64_t switches = 0;
  SwitchCounts switch_counts;  // switches by from, to and reason (the metrics file)
  std::uint64_t accepted = 0;
  DropCounters drops{};
  std::uint64_t updated_unix_ms = 0;
  std::string last_switch;                    // the why of the last switch, for people
  std::vector<SwitchRecord> recent_switches;  // oldest first, at most kSwitchHistoryLength
  std::vector<std::string> warnings;          // configuration problems worth a person's attention
  std::string dns_manager = "none";           // --dns-manager in force
  std::string dns_isp;                        // whose resolvers are in force ("": none set by us)
  std::vector<IpAddress> dns_servers;         // the resolvers in force, in order
  bool sticky = false;                        // --sticky-connections
  bool reset = false;                         // --reset-connections
  // Tracked connections per ISP by their mark (counted once a second); an ISP that does not
  // carry the route holds its sticky ones.
  std::map<std::string, std::uint64_t> connections;
  std::map<std::string, std::uint64_t> resets_total;  // sockets ended, per ISP
  std::optional<ResetRecord> last_reset;
  // With any --isp ...,gateway6=: the IPv6 side, decided on its own.
  std::optional<Ipv6Report> ipv6;
};

// One line that answers "which ISP and why", e.g.
//   via isp1 192.168.56.101 (up 2h13m, rtt 11.2 ms); isp2 standby
//   NO ISP UP: isp1 down (link-down), isp2 stale; keeping last route via isp1
std::string summary_line(const StatusReport& report);

// The status file: {"active": NAME|null, "switches": N, "isps": [...], ...} (docs/operations.md).
std::string to_json(const StatusReport& report);

// `failoverd status`: the status file as a short table; an error names what is wrong with it.
Result<std::string, std::string> render_status_table(std::string_view json_text);

}  // namespace ispf

// failoverd's decisions as a pure state machine: datagrams, table snapshots and time in; actions
// out.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "ispfailover/core/clock.h"
#include "ispfailover/core/config.h"
#include "ispfailover/core/dns_follow.h"
#include "ispfailover/core/failover_policy.h"
#include "ispfailover/core/hooks.h"
#include "ispfailover/core/ipv6_router.h"
#include "ispfailover/core/log_event.h"
#include "ispfailover/core/rate_limit.h"
#include "ispfailover/core/route.h"
#include "ispfailover/core/status_report.h"
#include "ispfailover/core/steering.h"

namespace ispf {

// What the shell does after an input, in this order: the route edits (reporting each result
// back with on_edits_done), then, if asked, a fresh read of the table (on_table), then the log
// lines, the status, and a wake-up (on_wake) no later than wake_at.
struct FailoverActions {
  std::vector<RouteEdit> route_edits;
  bool read_table = false;
  std::vector<LogEvent> log;
  // Events for the hooks (--hook-dir), in order: handed to the HookScheduler, never waited for.
  std::vector<HookEvent> hooks;
  std::optional<StatusReport> publish;  // STATUS= (summary_line) and the status file (to_json)
  std::optional<std::string> service_status;  // the STATUS= line, when publish is set
  // The replay floors to keep on disk (encode_replay_floors), replacing the file atomically.
  std::optional<std::string> persist;
  // Point the client's resolver at these (--dns-manager file: write update.resolv_conf to
  // --resolv-conf; resolved: per-link DNS), reporting a failure back with on_dns_failed.
  std::optional<DnsUpdate> dns;
  // --dns-manager resolved with --cleanup-on-exit, at stop: give the link back to resolved.
  bool dns_revert = false;
  // After the route edits: make the kernel's steering (our nftables table, per-ISP tables and
  // rules) exactly this, reporting back with on_steering_applied; then end the connections of
  // each reset (after the route moved, so that the applications' reconnects take the new one),
  // reporting each with on_connections_reset.
  std::optional<SteeringState> steering;
  std::vector<ConnectionReset> resets;
  // Remove all of the steering (--cleanup-on-exit, or turned off by a reload).
  bool steering_remove = false;
  std::optional<TimePoint> wake_at;

  void append(FailoverActions&& later);
};

class FailoverEngine {
 public:
  // Retry backoff for refused route edits, and how often the status is refreshed for readers.
  static constexpr Duration kFirstRetry = std::chrono::milliseconds(100);
  static constexpr Duration kMaxRetry = std::chrono::seconds(5);
  static constexpr Duration kPublishPeriod = std::chrono::seconds(1);
  // How often a grown sequence number is written down (a new epoch is written at once): rare
  // enough for flash, and a bound on what a crash forgets.
  static constexpr Duration kPersistPeriod = std::chrono::seconds(60);

  FailoverEngine(FailoverSettings settings, Now now);

  // The first input: our table as it is. Our own route from before a restart is adopted, foreign
  // routes named by --replace-gateway are deleted, and the decision takes over from there.
  // With IPv6 ISPs, `table6` is our table's IPv6 default routes, read with `table`.
  FailoverActions start(const std::vector<DefaultRoute>& table, Now now,
                        const std::vector<DefaultRoute6>& table6 = {});
  // Before start: the state file kept by an earlier run (empty if there was none). Returns a
  // line for people if it could not be read whole.
  std::optional<std::string> restore(std::string_view state);
  // One datagram from the LAN, with its IPv4 source (host order). Never fails: a bad one is
  // counted under exactly one reason.
  FailoverActions on_datagram(std::span<const char> bytes, std::uint32_t source, Now now);
  // The default routes of our table now (after any route, link or address event, or a retry).
  FailoverActions on_table(const std::vector<DefaultRoute>& table, Now now);
  // The prefixes of the addresses on our links that are up (read with the table after every
  // link or address event): which ISP gateways we can reach on-link at all.
  FailoverActions on_local_network(const std::vector<Ipv4Prefix>& usable, Now now);
  // The IPv6 twins, read with the IPv4 ones when any ISP has a gateway6: our table's IPv6
  // default routes, and the IPv6 addresses of our usable links.
  FailoverActions on_table6(const std::vector<DefaultRoute6>& table, Now now);
  FailoverActions on_local_network6(const std::vector<Ipv6InterfaceAddress>& addresses, Now now);
  bool has_ipv6() const { return ipv6_.enabled(); }
  const Ipv6Router& ipv6() const { return ipv6_; }
  // Reading the table failed: retried with backoff.
  FailoverActions on_table_error(std::error_code error, Now now);
  // The outcome of each edit of the last route_edits, in order.
  FailoverActions on_edits_done(const std::vector<RouteEdit>& edits,
                                const std::vector<std::error_code>& results, Now now);
  // A timer the engine asked for (or any earlier wake-up): deadlines, retries, publishing.
  FailoverActions on_wake(Now now);
  // A new configuration, already checked and with its adapters open: applied whole.
  FailoverActions reconfigure(FailoverSettings settings, Now now);
  // A refused reload: shown in front of STATUS= until a reload succeeds.
  FailoverActions set_config_problem(std::string problem, Now now);
  // The last dns update could not be applied: logged, and tried again with the next input.
  FailoverActions on_dns_failed(std::string problem, Now now);
  // The steering asked for could not be put in place (`problem`), or was (empty).
  FailoverActions on_steering_applied(std::string problem, Now now);
  // What a reset did.
  FailoverActions on_connections_reset(const ConnectionReset& reset, const ResetOutcome& outcome,
                                       Now now);
  // How many tracked connections carry each ISP's mark now (by ISP name), for the status.
  void on_connection_counts(std::map<std::string, ConnectionCounts> counts);
  // SIGTERM: our route stays (or goes, with `cleanup`).
  FailoverActions stop(bool cleanup, Now now);

  StatusReport report(Now now) const;
  const FailoverSettings& settings() const { return settings_; }
  const RouteSlot& slot() const { return slot_; }
  const FailoverPolicy& policy() const { return policy_; }
  const DropCounters& drops() const { return drops_; }
  std::uint64_t accepted() const { return accepted_; }
  // The gateway our route should have now (nullopt: no route wanted).
  std::optional<std::uint32_t> desired_gateway() const;

 private:
  // Counts a refused datagram; `detail()` is built only when a (rate-limited) line is logged,
  // so a flood costs counter increments and nothing else.
  template <class Detail>
  void count_drop(FailoverActions& out, DropReason reason, std::uint32_t source,
                  const Detail& detail, Now now);
  void evaluate(FailoverActions& out, Now now);
  HookEvent ipv4_hook(std::string name,
                      std::vector<std::pair<std::string, std::string>> fields) const;
  void reconcile(FailoverActions& out, bool after_decision);
  void reconcile6(FailoverActions& out);
  void schedule_retry(Now now);
  void publish(FailoverActions& out, Now now);
  void finish(FailoverActions& out, Now now);
  void persist_if_due(FailoverActions& out, Now now, bool force);
  void follow_dns(FailoverActions& out);
  // The steering the ISPs' health asks for, and the resets of ISPs that died.
  void steer(FailoverActions& out, const std::vector<IspView>& views, Now now);

  FailoverSettings settings_;
  RouteSlot slot_;
  FailoverPolicy policy_;
  Ipv6Router ipv6_;
  std::set<std::string> ipv6_refused_logged_;  // ISPs whose unreadable IPv6 keys were logged
  std::vector<DefaultRoute> table_;            // our table's default routes as last read or edited
  bool table_known_ = false;
  bool stopped_ = false;
  bool all_down_ = false;
  bool publish_wanted_ = false;
  bool correcting_ = false;               // the edits in flight undo someone else's change
  bool own_was_present_ = false;          // ... and our route was there, only wrong
  bool table_read_for_decision_ = false;  // the next on_table answers our own read_table
  std::vector<IspHealth> last_health_;
  std::optional<TimePoint> active_since_;
  std::string last_switch_;
  std::deque<SwitchRecord> recent_switches_;  // since start; the first pick included
  std::string config_problem_;
  std::set<std::string> unverified_;   // ISPs that sign while we have no key
  std::vector<std::string> warnings_;  // configuration problems for people, in the status
  std::uint64_t accepted_ = 0;
  DropCounters drops_{};
  Duration retry_backoff_{};
  std::optional<TimePoint> retry_at_;
  TimePoint next_publish_{};
  ReplayFloors persisted_;
  std::uint64_t floors_checked_at_ = 0;  // accepted_ when the floors were last compared
  bool floors_dirty_ = false;            // floors differ from what was last written
  TimePoint next_persist_{};
  std::map<std::string, std::vector<std::uint32_t>> announced_dns_;  // per ISP, latest report
  std::map<std::string, std::vector<Ipv6Address>> announced_dns6_;   // likewise, dns6=
  std::set<std::string> dns_refused_logged_;  // ISPs whose unreadable dns= was logged once
  DnsFollower dns_;
  std::optional<SteeringState> steering_sent_;  // what the kernel was last asked to hold
  std::optional<TimePoint> steering_retry_at_;  // after a failure, when to ask again
  std::string steering_problem_;
  ResetMemory steering4_;  // the IPv4 side's; the IPv6 side keeps its own
  std::map<std::string, ConnectionCounts> connections_;  // per ISP, as last counted
  std::map<std::string, std::uint64_t> resets_total_;    // IPv4 sockets ended, per ISP
  std::map<std::string, std::uint64_t> resets6_total_;   // IPv6 sockets ended, per ISP
  std::optional<ResetRecord> last_reset_;
  PerKeyRateLimiter drop_log_{std::chrono::minutes(1), 256};
  PerKeyRateLimiter error_log_{std::chrono::seconds(10), 4};
};

}  // namespace ispf

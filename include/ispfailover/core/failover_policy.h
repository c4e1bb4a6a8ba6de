// The route decision: which trusted ISP carries the default route now, and why.
#pragma once

#include <compare>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ispfailover/core/clock.h"
#include "ispfailover/core/ip_address.h"
#include "ispfailover/core/reachability.h"
#include "ispfailover/core/replay_floor.h"
#include "ispfailover/core/status_message.h"

namespace ispf {

struct IspConfig {
  IspConfig() = default;
  IspConfig(std::string name_, std::uint32_t gateway_, int priority_ = 0)
      : name(std::move(name_)), gateway(gateway_), priority(priority_) {}

  std::string name;
  std::uint32_t gateway = 0;  // IPv4, host byte order
  int priority = 0;           // lower is preferred; ties broken by configuration order
  // The router's IPv6 address on the LAN (gateway6=): global, or link-local with the interface
  // it is on (gateway6_device, from "fe80::1%eth1"). None: this ISP carries no IPv6 for us.
  std::optional<Ipv6Address> gateway6;
  std::string gateway6_device;

  bool operator==(const IspConfig&) const = default;
};

enum class AllDownPolicy { kKeep, kRemove };

// Flap damping: an ISP that failed n times in the last kDampingWindow must stay up
// failback_after × 2^(n-1) before traffic returns to it, at most 2^kMaxDampingDoublings times
// as long. A failure is a report that ends a run of good ones: down or lossy, or the first
// report after a silence (docs/timing.md, "Failback and flap damping").
inline constexpr Duration kDampingWindow = std::chrono::minutes(10);
inline constexpr int kMaxDampingDoublings = 5;
Duration damped_failback_hold(Duration failback_after, std::size_t recent_failures);

struct PolicyConfig {
  Duration failback_after = std::chrono::seconds(3);
  std::uint32_t max_loss_permille = 200;  // above: degraded; back below half: healthy again
  AllDownPolicy when_all_down = AllDownPolicy::kKeep;
  // An ISP is stale after (stale_heartbeats + 1/2) promised heartbeats without a report: a false
  // stale needs this many lost in a row, and the half absorbs LAN latency and a busy client.
  std::uint32_t stale_heartbeats = 4;
  // The silence limit is never below this (failoverd --stale-floor): a client whose own link
  // holds broadcasts back (Wi-Fi power save) raises it. Zero: no floor.
  Duration stale_floor{};
  // After start, an ISP not heard from yet is given this long before it counts as stale, so a
  // restart does not move traffic off a route that is already carrying it.
  Duration startup_grace = std::chrono::milliseconds(1500);
  // With authenticated datagrams: a new instance id is believed only with a time_ms within
  // this of our wall clock and later than the last report accepted from that ISP, so a
  // captured datagram of an earlier instance cannot be replayed after a restart.
  bool require_fresh_instances = false;
  Duration max_clock_skew = std::chrono::seconds(30);

  bool operator==(const PolicyConfig&) const = default;
};

enum class IspHealth { kUp, kDegraded, kDown, kStale };
std::string_view to_string(IspHealth health);

enum class DropReason {
  kUndecodable,
  kUnknownName,
  kWrongSource,
  kReplay,
  kUnauthenticated,  // key configured, tag missing or wrong
  kStaleTime,        // new instance whose time_ms is outside the allowed clock skew
  kCount
};
std::string_view to_string(DropReason reason);

// What the status file, STATUS= and the logs show of one ISP.
struct IspView {
  IspConfig config;
  IspHealth health = IspHealth::kStale;
  std::string reason;  // the ISP's own reason, or "silent" / "never-heard" / "loss"
  std::optional<Duration> since_last_seen;
  std::optional<std::uint32_t> rtt_avg_us;
  std::uint32_t loss_permille = 0;
  std::optional<TimePoint> healthy_since;
  // Flap damping: failures within kDampingWindow, and the failback hold they give.
  std::size_t recent_failures = 0;
  Duration failback_hold{};
  // Why the latest datagram from this ISP's gateway was refused, while that still matters
  // (the ISP is not up): how a key on one side only shows up instead of a silent outage.
  std::optional<std::string> rejected;
  // Every refused datagram from this ISP's gateway, and the reason of the latest.
  std::uint64_t refused = 0;
  std::optional<std::string> last_refusal;
};

// One kind of counted switch: from and to name ISPs ("none": no route), reason is a short token
// (the old ISP's reason such as link-down or silent, "failback", "isp-up" from no route).
struct SwitchKind {
  std::string from;
  std::string to;
  std::string reason;
  auto operator<=>(const SwitchKind&) const = default;
};
using SwitchCounts = std::map<SwitchKind, std::uint64_t>;
// Reasons come from the wire: past this many kinds a new one is counted as reason "other", so
// a peer cannot grow the map (or a scrape) without bound.
inline constexpr std::size_t kMaxSwitchKinds = 64;

struct Decision {
  std::optional<std::size_t> active;  // index into the ISP list; nullopt: no route wanted
  std::optional<std::size_t> previous;
  bool changed = false;   // active differs from before this evaluation
  bool counted = false;   // counts as a switch: any change but the first pick after start
  bool all_down = false;  // no ISP is up or degraded
  std::string why;        // one line for the journal: from, to, why, how long since the fault
  std::string reason;     // a token for the switch counters (SwitchKind::reason), when changed
};

class FailoverPolicy {
 public:
  FailoverPolicy(PolicyConfig config, std::vector<IspConfig> isps, TimePoint now);

  // A decoded (and, with a key, verified) datagram from `source` (IPv4, host order); `wall_ms`
  // is our wall clock in Unix ms. Returns why it was dropped, if it was.
  std::optional<DropReason> on_status(const Status& status, std::uint32_t source, TimePoint now,
                                      std::uint64_t wall_ms = 0);
  // A datagram from `source` refused before it reached on_status (undecodable, bad tag).
  // Returns the index of the ISP whose gateway `source` is, if any.
  std::optional<std::size_t> note_rejected(std::uint32_t source, DropReason reason, TimePoint now);

  // Whether our own links reach each ISP's gateway on-link (in isps() order). An unreachable
  // ISP is down ("local-link-down"); when none is reachable nothing is decided, and an ISP
  // reachable again is given a fresh silence allowance. Returns whether anything changed.
  bool set_local_reachability(const std::vector<bool>& reachable, TimePoint now);
  bool all_local_down() const;

  // The name and refusal count of the ISP whose gateway is `source`, if any (cheap: per drop).
  std::optional<std::pair<std::string_view, std::uint64_t>> refusals_of(std::uint32_t source) const;

  // After a restart: the route already installed via `gateway` is taken as the active choice.
  void adopt_route(std::uint32_t gateway);

  Decision evaluate(TimePoint now);
  // When evaluate() should next run even if no datagram arrives (staleness, failback hold).
  std::optional<TimePoint> next_deadline(TimePoint now) const;

  // New ISP list and settings; the active ISP stays if it is still configured.
  void reconfigure(PolicyConfig config, std::vector<IspConfig> isps);

  std::vector<IspView> view(TimePoint now) const;
  // With a key: the newest (epoch, seq) accepted per ISP, to keep across restarts, and back.
  ReplayFloors replay_floors() const;
  void restore_replay_floors(const ReplayFloors& floors);
  std::optional<std::size_t> active() const { return active_; }
  std::vector<IspConfig> isps() const;
  std::uint64_t switches() const { return switches_; }
  // Every counted switch by kind; the counts add up to switches().
  const SwitchCounts& switch_counts() const { return switch_counts_; }
  const PolicyConfig& config() const { return config_; }

 private:
  struct Tracked {
    IspConfig config;
    std::optional<Status> last;
    std::optional<TimePoint> last_seen;
    bool degraded = false;
    std::optional<TimePoint> healthy_since;    // continuously up and not degraded since
    std::optional<TimePoint> unhealthy_since;  // first sign of the current fault
    std::optional<DropReason> last_rejection;  // cleared by the next accepted report
    std::optional<TimePoint> last_rejection_at;
    std::optional<DropReason> last_refusal;  // kept, for the status
    std::uint64_t refused = 0;
    std::optional<ReplayFloor> restored_floor;  // from before our own restart
    bool local_down = false;                    // our own link to its gateway is gone
    bool awaiting_report = false;               // since our link came back, nothing heard yet
    bool reported_good = false;                 // the latest report was up and not lossy
    std::deque<TimePoint> failures;             // within kDampingWindow, oldest first
  };
  std::size_t recent_failures(const Tracked& isp, TimePoint now) const;
  Duration failback_hold(const Tracked& isp, TimePoint now) const;
  std::optional<ReplayFloor> replay_floor(const Tracked& isp) const;
  std::optional<DropReason> take(Tracked& isp, const Status& status, TimePoint now);
  Duration silence_limit(const Status& last) const;
  std::optional<DropReason> accept(const Status& status, std::uint32_t source, TimePoint now,
                                   std::uint64_t wall_ms);
  IspHealth health_of(const Tracked& isp, TimePoint now) const;
  std::string reason_of(const Tracked& isp, TimePoint now) const;
  void refresh(Tracked& isp, TimePoint now);
  std::string describe(std::size_t index, TimePoint now) const;

  PolicyConfig config_;
  std::vector<Tracked> isps_;
  TimePoint started_;
  std::optional<std::size_t> active_;
  std::uint64_t switches_ = 0;
  SwitchCounts switch_counts_;
  bool ever_active_ = false;
};

}  // namespace ispf

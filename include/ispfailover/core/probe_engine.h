// ispprobed's decisions as a pure state machine: rounds, link states and time in; actions out.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "ispfailover/core/clock.h"
#include "ispfailover/core/log_event.h"
#include "ispfailover/core/metrics.h"
#include "ispfailover/core/probe_types.h"
#include "ispfailover/core/rate_limit.h"
#include "ispfailover/core/reachability.h"
#include "ispfailover/core/rtt_estimator.h"

namespace ispf {

// Everything the engine decides with; the shell builds it from ProbedOptions and the key file.
struct ProbeEngineConfig {
  std::string name;
  // Either family, at least one IPv4 (validate() refuses a list without: state= is the IPv4
  // verdict, which every failoverd reads). Each family has its own verdict, and the quorum
  // applies per family as min(quorum, that family's targets).
  std::vector<IpAddress> targets;
  std::vector<std::uint32_t> dns;  // IPv4 resolvers announced in every datagram (dns=)
  std::vector<Ipv6Address> dns6;   // IPv6 ones (dns6=)
  std::uint32_t quorum = 1;
  std::optional<Ipv6Prefix> prefix6;  // the LAN prefix announced in every datagram (prefix6=)
  Duration interval = std::chrono::milliseconds(150);
  // A probe's timeout follows its target's measured RTT (RttEstimator) within these bounds;
  // before the first reply it is the ceiling.
  Duration timeout = std::chrono::seconds(1);
  Duration min_timeout = std::chrono::milliseconds(50);
  // After a failed round, rounds come this often until one is answered or the line is down.
  Duration confirm_interval = std::chrono::milliseconds(25);
  std::uint32_t down_after = 8;
  Duration down_window = std::chrono::milliseconds(200);
  std::uint32_t up_after = 3;
  Duration heartbeat = std::chrono::milliseconds(100);
  Duration loss_window = std::chrono::seconds(30);
  std::vector<std::string> keys;  // with keys, every datagram is signed with the first
  std::string uplink;             // for people only (log lines)

  bool operator==(const ProbeEngineConfig&) const = default;
};

// What the shell does after an input: start the round (reporting it with on_round), send each
// datagram, write the log lines, set STATUS=, and call on_wake no later than wake_at.
struct ProbeActions {
  std::optional<RoundRequest> start_round;
  std::vector<std::string> send;
  std::vector<LogEvent> log;
  std::optional<std::string> service_status;
  std::optional<ProbeMetrics> metrics;  // for the metrics file (probe_metrics), when due
  std::optional<TimePoint> wake_at;
};

class ProbeEngine {
 public:
  // A change is sent at once and repeated after these delays, so one lost datagram costs nothing.
  static constexpr std::uint32_t kRouteChecksForNoRoute = 2;
  // The metrics go out on every verdict and at least this often (not with every heartbeat:
  // a scrape every 15 s or so gains nothing from more writes).
  static constexpr Duration kMetricsPeriod = std::chrono::seconds(1);
  static constexpr std::array<Duration, 3> kBurstDelays = {
      std::chrono::milliseconds(20), std::chrono::milliseconds(40), std::chrono::milliseconds(80)};

  // `instance` is random per process start (the shell draws it); it names this run on the wire.
  // `epoch` (next_epoch of the stored one) orders this start after every earlier one, so that
  // with a key a client needs no clock to refuse a replay of an earlier start.
  ProbeEngine(ProbeEngineConfig config, std::uint64_t instance, Now now,
              std::optional<std::uint64_t> epoch = std::nullopt);

  // The first input: the uplink's state now. The first round starts at once.
  ProbeActions start(const LinkStatus& uplink, Now now);
  ProbeActions on_round(const RoundReport& report, Now now);
  ProbeActions on_late_reply(const LateReply& reply, Now now);
  ProbeActions on_link(const LinkStatus& uplink, Now now);
  // Before each round the shell asks the kernel which targets have a route out of the uplink
  // (an ISP's DHCP lease or PPP session can end while the link stays up, and a socket bound to
  // the uplink would then ARP for the target and may even be answered). Fewer than the quorum
  // twice in a row takes the line down at once with reason no-route; the second look is the
  // debounce for a route being replaced (delete, then add). Per family: an ISP may route IPv4
  // and not IPv6 (a lost DHCPv6-PD lease, a missing RA), and that takes only IPv6 down.
  ProbeActions on_route_check(RoutedTargets routed, Now now);
  ProbeActions on_wake(Now now);
  // A datagram could not be sent: counted, logged rate-limited.
  ProbeActions on_send_error(std::error_code error, Now now);
  ProbeActions reconfigure(ProbeEngineConfig config, Now now);
  ProbeActions set_config_problem(std::string problem, Now now);

  // The IPv4 verdict (state= on the wire).
  LinkState state() const { return line4_.reachability.state(); }
  const std::string& reason() const { return line4_.reachability.reason(); }
  // The IPv6 verdict (ipv6=), when there are IPv6 targets.
  std::optional<LinkState> ipv6_state() const;
  std::optional<std::string> ipv6_reason() const;
  std::uint64_t instance() const { return instance_; }
  std::uint64_t datagrams_sent() const { return seq_; }
  std::uint64_t send_errors() const { return send_errors_; }
  // Echo requests handed to the kernel, and the replies per target, since start.
  std::uint64_t probes_sent() const { return probes_sent_; }
  std::uint64_t probes_answered(const IpAddress& target) const;
  std::uint64_t late_replies() const { return late_replies_; }
  ProbeMetrics metrics(Now now);
  const ProbeEngineConfig& config() const { return config_; }
  // The datagram a heartbeat would send now (for tests and the sim).
  Status status_now(Now now);

 private:
  // One verdict per family: IPv4 always, IPv6 when there are IPv6 targets. Link usability is
  // shared; routes, rounds, hysteresis and figures are each family's own.
  struct Line {
    Family family = Family::kIpv4;
    Reachability reachability;
    std::uint32_t unrouted_checks = 0;  // route checks in a row below the family's quorum
    bool announced = false;             // has had its first verdict
    std::string since_text = "start";   // wall-clock time of the last up/down edge
  };
  using MaybeTransition = std::optional<Transition>;

  static ReachabilityConfig reachability_config(const ProbeEngineConfig& config, Family family);
  static bool has_family(const ProbeEngineConfig& config, Family family);
  Line* line_of(Family family);
  void sync_ipv6_line(Now now);
  bool suspect() const;
  // Logs each transition and sends ONE datagram (then the burst) for all of them, so that a
  // link event that takes both families down says so at once and in one piece.
  void on_transitions(ProbeActions& out, const MaybeTransition& t4, const MaybeTransition& t6,
                      Now now);
  void log_transition(ProbeActions& out, Line& line, const Transition& t, Now now);
  std::string line_label(const Line& line) const;
  std::string line_status(Line& line, Now now);
  void send_status(ProbeActions& out, Now now);
  void update_service_status(ProbeActions& out, Now now);
  void finish(ProbeActions& out);
  void publish_metrics(ProbeActions& out, Now now);
  void apply_usability(ProbeActions& out, Now now);
  std::string figures(Line& line, Now now);
  Duration round_timeout();
  RttEstimator& estimator(const IpAddress& target);
  TimePoint next_round_due() const;

  ProbeEngineConfig config_;
  std::uint64_t instance_;
  std::optional<std::uint64_t> epoch_;
  Line line4_;
  std::optional<Line> line6_;
  std::uint64_t seq_ = 0;
  std::uint16_t round_seq_ = 0;
  LinkStatus uplink_{true, true, true};  // until start() says otherwise
  TimePoint next_round_{};
  TimePoint last_round_start_{};
  // The rounds that late replies may still complete: when each started, whether it was a
  // confirmation round, and how many targets answered, per family; the last kRoundsKept rounds.
  struct SentRound {
    TimePoint started;
    bool confirming4 = false;
    bool confirming6 = false;
    std::uint32_t answered4 = 0;
    std::uint32_t answered6 = 0;
    bool concluded = false;
  };
  static constexpr std::size_t kRoundsKept = 128;
  std::map<std::uint16_t, SentRound> sent_rounds_;
  std::map<IpAddress, RttEstimator> rtt_;  // per target
  std::uint64_t late_replies_ = 0;
  TimePoint next_heartbeat_{};
  std::vector<TimePoint> burst_due_;
  bool started_ = false;
  std::string config_problem_;
  std::uint64_t send_errors_ = 0;
  std::uint64_t probes_sent_ = 0;
  std::map<IpAddress, std::uint64_t> probes_answered_;  // kept for targets reloaded away
  TimePoint next_metrics_{};
  PerKeyRateLimiter send_error_log_{std::chrono::minutes(1), 4};
};

}  // namespace ispf

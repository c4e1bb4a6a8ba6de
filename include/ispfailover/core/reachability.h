// Probe hysteresis and line quality: rounds and link events in, up/down with a reason out.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "ispfailover/core/clock.h"
#include "ispfailover/core/status_message.h"

namespace ispf {

struct ReachabilityConfig {
  std::uint32_t targets = 1;  // probes per round
  std::uint32_t quorum = 1;   // answers a round needs to succeed
  // An up line is down when every round for down_window has failed, and at least down_after
  // of them: from the start of the first failed round after the last answered one to the start
  // of the latest. A glitch shorter than the window is never a down, however fast the rounds.
  std::uint32_t down_after = 6;
  Duration down_window = std::chrono::milliseconds(200);
  std::uint32_t up_after = 3;  // good rounds in a row that make a down line up
  Duration loss_window = std::chrono::seconds(30);
  // Loss is reported over at least this many probes (missing ones count as answered), so a
  // window that has barely started does not make a few lost probes look like 30 % loss.
  std::uint32_t loss_min_probes = 0;
};

// Why a round failed, when it did; the token goes on the wire as reason=.
inline constexpr const char* kReasonProbeOk = "probe-ok";
inline constexpr const char* kReasonProbeLoss = "probe-loss";
inline constexpr const char* kReasonNoRoute = "no-route";
inline constexpr const char* kReasonUnreachable = "unreachable";
inline constexpr const char* kReasonLinkDown = "link-down";
// The uplink interface does not exist (yet, or any more): PPPoE, LTE and VLAN links come and go.
inline constexpr const char* kReasonNoUplink = "no-uplink";
inline constexpr const char* kReasonStarting = "starting";
// failoverd's own: the client's link or address that reaches the ISP's gateway is gone.
inline constexpr const char* kReasonLocalLinkDown = "local-link-down";

struct RoundOutcome {
  std::uint32_t answered = 0;
  // The reason to report if this round is what takes the line down: probe-loss by default,
  // no-route when the kernel refused to send, unreachable when an ICMP error came back.
  std::string failure_reason = kReasonProbeLoss;
  // When the round was sent: the down window is measured between round starts.
  TimePoint started{};
};

struct Transition {
  LinkState from;
  LinkState to;
  std::string reason;
  TimePoint at;
};

struct LineQuality {
  std::uint32_t loss_permille = 0;  // lost / concluded probes in the window, in tenths of %
  std::uint32_t probes_in_window = 0;
  std::optional<std::uint32_t> rtt_last_us;
  std::optional<std::uint32_t> rtt_avg_us;
  std::uint32_t targets_up_last_round = 0;
};

class Reachability {
 public:
  // Starts down with reason "starting": a line is up only once it has proven it, and is reported
  // down (with the failure reason) once down_after rounds in a row have failed.
  Reachability(ReachabilityConfig config, TimePoint now);

  // Every concluded probe (answered with its RTT, or timed out/refused). Only probes made while
  // the line is up count in the loss window: the figures describe a working line's quality, so
  // a past outage does not make a recovered line look lossy (and keep clients away from it).
  void record_probe(TimePoint concluded_at, std::optional<Duration> rtt);

  std::optional<Transition> on_round(const RoundOutcome& round, TimePoint now);
  // A round that failed has its quorum after all, from late replies: the line answered then, so
  // the failed rounds before it are no longer a run. It makes no edge (up needs up_after
  // rounds answered in time).
  void on_late_answer(TimePoint round_started);
  // Up, with failed rounds since the last answered one: the shell confirms with a burst.
  bool suspect() const {
    return state_ == LinkState::kUp && link_usable_ && !failed_starts_.empty();
  }
  // Whether the uplink can carry probes: it exists, is up with carrier, and routes to the
  // targets. Unusable takes the line down at once with `reason` (link-down, no-uplink,
  // no-route); a better reason for an unusable link is reported without an edge. Usable again,
  // the line is up once up_after rounds prove it.
  std::optional<Transition> on_link(bool usable, TimePoint now,
                                    std::string reason = kReasonLinkDown);

  // New settings keep the verdict; the run counters restart, and the window restarts only when
  // the number of targets changed (old figures would mean something else).
  void reconfigure(ReachabilityConfig config);

  LinkState state() const { return state_; }
  const std::string& reason() const { return reason_; }
  TimePoint since() const { return since_; }
  bool link_usable() const { return link_usable_; }
  LineQuality quality(TimePoint now);
  const ReachabilityConfig& config() const { return config_; }

 private:
  struct ProbeRecord {
    TimePoint at;
    std::optional<Duration> rtt;
  };
  std::optional<Transition> move_to(LinkState to, std::string reason, TimePoint now);
  void prune(TimePoint now);
  void answered_at(TimePoint round_started);
  bool run_is_down() const;

  ReachabilityConfig config_;
  LinkState state_ = LinkState::kDown;
  std::string reason_ = kReasonStarting;
  TimePoint since_;
  bool link_usable_ = true;
  std::uint32_t good_in_row_ = 0;
  // Starts of the failed rounds that started after the last answered one, oldest first.
  std::deque<TimePoint> failed_starts_;
  std::optional<TimePoint> last_answered_start_;
  std::uint32_t targets_up_last_round_ = 0;
  std::optional<Duration> rtt_last_;
  std::deque<ProbeRecord> window_;
};

}  // namespace ispf

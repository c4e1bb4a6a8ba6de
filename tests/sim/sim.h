// A simulated LAN of ISP routers (ProbeEngine) and clients (FailoverEngine) in virtual time,
// with injectable faults, the ground truth of every path, and invariants checked after each step.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "ispfailover/core/clock.h"
#include "ispfailover/core/config.h"
#include "ispfailover/core/failover_engine.h"
#include "ispfailover/core/probe_engine.h"
#include "support/fake_kernel.h"

namespace ispf::sim {

using namespace std::chrono_literals;

// ---- The default profile (docs/timing.md) the sim runs with ----
inline constexpr Duration kInterval = 150ms;
inline constexpr Duration kTimeout = 1s;  // the ceiling of the RTT-derived timeout
inline constexpr Duration kMinTimeout = 50ms;
inline constexpr Duration kConfirmInterval = 25ms;
inline constexpr Duration kDownWindow = 200ms;
inline constexpr Duration kHeartbeat = 100ms;
inline constexpr std::uint32_t kDownAfter = 8;
inline constexpr std::uint32_t kUpAfter = 3;
inline constexpr std::uint32_t kStaleHeartbeats = 4;
inline constexpr Duration kLossWindow = 30s;
inline constexpr Duration kStartupGrace = 1500ms;

// ---- The sim's plumbing delays and the worst the chaos run injects ----
inline constexpr Duration kKernelDelay = 200us;  // netlink event to a daemon, route edit to ack
inline constexpr Duration kLanDelayMax = 100ms;  // largest LAN delay (base + jitter) injected
inline constexpr Duration kRttMax = kTimeout;    // an RTT at or above the ceiling is a lost probe
// A path whose RTT jumps by more than the down window and the shortest timeout at once looks
// like an outage until its first late reply: the chaos run counts such a path as impaired.
inline constexpr Duration kRttStepTolerated = kDownWindow + kMinTimeout;

// ---- Detection bounds: how long traffic may stay on a broken path (invariant a) ----
// Link down: netlink tells ispprobed at once, which sends `down` at once; one LAN crossing and a
// route edit later the client is off the ISP. The 100 ms margin covers event ordering only.
inline constexpr Duration kLinkDownBound = 2 * kKernelDelay + kLanDelayMax + 100ms;
// Silent blackhole: the next round starts within one interval and fails one timeout later;
// confirmation rounds then come every kConfirmInterval until the failed ones span kDownWindow
// (and number kDownAfter); the last fails one timeout after it started; then one LAN
// crossing; 100 ms margin. The worst case has timeouts at the ceiling (a slow path); on a
// short path (timeouts at the floor, docs/timing.md) it is kBlackholeBoundShortPath.
constexpr Duration BlackholeBound(Duration timeout) {
  Duration confirm = timeout + (kDownAfter - 2) * kConfirmInterval;
  return kInterval + (confirm > kDownWindow ? confirm : kDownWindow) + timeout + kLanDelayMax +
         100ms;
}
inline constexpr Duration kBlackholeBound = BlackholeBound(kTimeout);              // 2.45 s
inline constexpr Duration kBlackholeBoundShortPath = BlackholeBound(kMinTimeout);  // 0.6 s
// No route out of the uplink: the route check before each round sees it, the second check in a
// row (one interval later) takes the line down, then one LAN crossing; 100 ms margin.
inline constexpr Duration kNoRouteBound = 2 * kInterval + kKernelDelay + kLanDelayMax + 100ms;
// An ISP is stale (stale_heartbeats + 1/2) heartbeats after its last report (no --stale-floor).
inline constexpr Duration kStaleLimit = kHeartbeat * kStaleHeartbeats + kHeartbeat / 2;  // 450 ms
// Router death: its last datagram left at the latest when it died and reached the client within
// kLanDelayMax; the client calls it stale kStaleLimit after that; 150 ms margin.
inline constexpr Duration kDeathBound = kStaleLimit + kLanDelayMax + 150ms;
// A datagram the LAN dropped is made good by the next heartbeat (or repeat), one LAN crossing on.
inline constexpr Duration kDropBound = kHeartbeat + kLanDelayMax + 100ms;
// A path that became clean is reported up once up_after rounds in a row succeed: a round that
// started before may still fail one timeout later, then up_after + 1 rounds start and answer
// (rtt < kRttMax), then one LAN crossing; 100 ms margin.
inline constexpr Duration kUpBound =
    kTimeout + (kUpAfter + 1) * kInterval + kRttMax + kLanDelayMax + 100ms;  // 1.4 s
// Our route deleted or lost with the client's link: the table watch fires at once and the
// engine replaces it on the next read; a refused edit is retried after 100 ms, 200 ms, ...
inline constexpr Duration kRestoreBound = 1s;

inline constexpr std::uint64_t kWallBase = 1795000000000ULL;  // Unix ms at virtual time zero
inline constexpr std::uint32_t kLanPrefix = 0xC0A83800;       // 192.168.56.0/24
inline constexpr std::uint32_t kNatGateway = 0x0A000202;      // 10.0.2.2, the foreign route

// The flap-damping rule (invariant c), in one place: how long an ISP must have been reported
// good before traffic returns to it, given when it went bad lately. kFlat is what FailoverPolicy
// did before damping (failback_after); kExponential is FailoverPolicy's rule, restated here
// independently: failback_after doubled per bad episode in the last 10 minutes beyond the first,
// at most 2^5 times.
enum class DampingRule { kFlat, kExponential };
inline constexpr DampingRule kDampingRule = DampingRule::kExponential;
Duration expected_failback_hold(const std::deque<TimePoint>& bad_episodes, TimePoint now,
                                Duration failback_after);

// The sim's one source of randomness; distributions by hand so a seed means the same everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  std::uint64_t next() { return engine_(); }
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return p > 0 && uniform() < p; }
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : engine_() % n; }
  Duration between(Duration lo, Duration hi) {
    return lo +
           Duration(static_cast<Duration::rep>(uniform() * static_cast<double>((hi - lo).count())));
  }

 private:
  std::mt19937_64 engine_;
};

// Gilbert-Elliott bursty loss, per packet: a good and a bad state with their own loss.
struct GilbertElliott {
  bool enabled = false;
  double p_good_to_bad = 0.01;
  double p_bad_to_good = 0.2;
  double loss_good = 0.0;
  double loss_bad = 1.0;
  bool bad = false;
};

// The ground truth of one ISP router and its uplink.
struct UplinkTruth {
  LinkStatus link{true, true, true};
  bool routed = true;  // the routing table has a route to the targets out of the uplink
  bool blackhole = false;
  double loss_each_way = 0.0;
  GilbertElliott bursty;
  Duration rtt_base = 10ms;
  Duration rtt_jitter = 2ms;
};

struct LanFaults {
  double drop = 0.0;
  double duplicate = 0.0;
  Duration delay_base = 100us;
  Duration delay_jitter = 0us;  // jitter above 20 ms reorders a burst
};

struct WorldConfig {
  std::uint64_t seed = 1;
  int isps = 2;
  int clients = 1;
  int targets = 1;
  std::string when_all_down = "keep";
  Duration failback_after = 3s;
  double max_loss_pct = 20.0;
  bool keyed = false;          // both sides sign and check
  bool routers_keyed = false;  // routers sign, clients do not check (or the reverse with keyed)
  bool check_invariants = true;
  bool trace = false;  // keep the engines' log lines in the trace (costs; for debugging)
  bool dns = false;  // each router announces its LAN address (--dns); clients run dns-manager file
};

// One entry of the trace ring: cheap to record, formatted only when an invariant fails.
struct TraceRecord {
  TimePoint at;
  const char* what = "";
  int host = -1;
  std::int64_t a = 0;
  std::int64_t b = 0;
  std::string text;  // only with tracing, or for rare events
};

// A datagram on the LAN, decoded once at the sender so the ground truth knows what it says.
struct Datagram {
  std::string bytes;
  int isp = -1;  // the genuine sender, or -1 for forgeries
  std::uint64_t instance = 0;
  std::uint64_t seq = 0;
  std::uint64_t time_ms = 0;
  bool up = false;
  std::uint32_t loss_permille = 0;
};

class World {
 public:
  explicit World(WorldConfig config);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // ---- Time ----
  TimePoint now() const { return now_; }
  Duration elapsed() const { return now_ - kEpoch; }
  void run_for(Duration d) { run_until(now_ + d); }
  void run_until(TimePoint t);
  // Runs until `done` holds (checked after each event) or `limit` passes; returns the time taken.
  std::optional<Duration> run_until_true(const std::function<bool()>& done, Duration limit);
  // Calls `fn` at virtual time `t` (for chaos schedules and scenarios).
  void at(TimePoint t, std::function<void()> fn);
  std::uint64_t events() const { return events_; }
  Rng& rng() { return rng_; }

  // ---- Faults: ISP routers and uplinks ----
  void set_uplink(int isp, bool admin_up, bool carrier);
  void delete_uplink(int isp);
  void create_uplink(int isp);
  void set_blackhole(int isp, bool on);
  // The uplink's route to the internet goes (DHCP lease, PPP session), the link stays up.
  void set_uplink_routed(int isp, bool routed);
  void set_loss(int isp, double each_way);
  void set_bursty(int isp, GilbertElliott ge);
  void set_latency(int isp, Duration base, Duration jitter);
  void kill_router(int isp);    // ispprobed dies and forwarding stops
  void revive_router(int isp);  // forwarding again; ispprobed starts (a new instance)
  void stop_probed(int isp);    // ispprobed stops; forwarding goes on
  void start_probed(int isp);   // a new instance
  void restart_probed(int isp) {
    stop_probed(isp);
    start_probed(isp);
  }
  void set_router_keyed(int isp, bool signs);

  // ---- Faults: clients ----
  void stop_failoverd(int client);
  void start_failoverd(int client);
  void set_client_link(int client, bool up);
  void flush_client_addresses(int client);
  void restore_client_address(int client);
  void add_foreign_route(int client, std::uint32_t metric);
  void replace_with_foreign(int client);  // `ip route replace default via 10.0.2.2` (metric 0)
  void delete_own_route(int client);
  void fail_next_edits(int client, std::errc error, int count);

  // ---- Faults: clocks and the LAN ----
  void step_clock(int host, std::int64_t ms);  // hosts: ISPs 0..n-1, then clients
  LanFaults& lan() { return lan_; }
  // A datagram from `source` to every running client (or one), as an attacker sends it.
  void inject(const std::string& bytes, std::uint32_t source, int client = -1);
  // Re-sends, from the genuine source, the datagram `isp` sent `back` datagrams ago.
  bool replay(int isp, int back, int client = -1);
  std::size_t recorded(int isp) const;
  bool recorded_up(int isp, int back) const;  // what that recorded datagram says
  // True when the client's engine must refuse that replay by the protocol's rules (it accepted
  // a later datagram of that ISP): the only replays a chaos run sends, as others may count.
  bool replay_refusable(int isp, int back, int client) const;

  // ---- Observations ----
  int isp_count() const { return static_cast<int>(isps_.size()); }
  int client_count() const { return static_cast<int>(clients_.size()); }
  std::uint32_t gateway(int isp) const;
  // The ISP the client's traffic goes through now (its lowest-metric default route), -1: none,
  // -2: a foreign gateway.
  int traffic_isp(int client) const;
  bool own_route_present(int client) const;
  std::vector<DefaultRoute> routes(int client) const;
  std::uint64_t table_generation(int client) const;  // bumps on every change of its kernel
  const FailoverEngine* engine(int client) const;
  // With WorldConfig::dns: the client's resolv.conf as failoverd last wrote it, and how often.
  const std::string& resolv_conf(int client) const;
  int resolv_conf_writes(int client) const;
  const ProbeEngine* probe_engine(int isp) const;
  std::uint64_t delivered(int client) const;  // datagrams handed to the current engine
  // Route moves the engines made (edits applied), for scenario figures.
  struct Move {
    TimePoint at;
    int from;  // ISP index, -1 none
    int to;
  };
  const std::vector<Move>& moves(int client) const;
  // When the traffic of `client` was last moved to `isp` (nullopt: never).
  std::optional<TimePoint> last_move_to(int client, int isp) const;

  // ---- Invariants ----
  const std::string& failure() const { return failure_; }
  bool failed() const { return !failure_.empty(); }
  std::string trace_tail(std::size_t n = 30) const;
  const WorldConfig& config() const { return config_; }
  static constexpr TimePoint kEpoch = TimePoint{} + std::chrono::hours(1);

 private:
  struct Isp;
  struct Client;
  struct PairTruth;
  struct Event {
    TimePoint at;
    std::uint64_t order;
    std::function<void()> fn;
  };

  void schedule(TimePoint t, std::function<void()> fn);
  bool step();
  Now now_for(int host) const;
  void note(const char* what, int host, std::int64_t a = 0, std::int64_t b = 0,
            std::string text = {});

  // ISP side
  void isp_apply(int i, ProbeActions&& actions);
  void isp_round(int i, std::uint64_t gen, const RoundRequest& request);
  void late_reply(int i, std::uint64_t gen, LateReply reply);
  void isp_link_changed(int i);
  void isp_truth_changed(int i);
  bool probe_lost_one_way(Isp& isp);
  void broadcast(int i, std::string bytes);
  void deliver_lan(std::shared_ptr<const Datagram> d, std::uint32_t source, int client);

  // Client side
  void client_apply(int c, FailoverActions&& actions);
  void client_read_table(int c);
  void client_apply_edits(int c, std::uint64_t gen, std::vector<RouteEdit> edits);
  void client_table_changed(int c);
  void client_lan_changed(int c);
  bool client_lan_ok(int c) const;
  void client_receive(int c, const std::shared_ptr<const Datagram>& d, std::uint32_t source);
  int isp_of_gateway(std::uint32_t gw) const;

  // Ground truth and invariants
  bool broken(int i) const;
  std::optional<TimePoint> qualified_at(int j, int c) const;
  TimePoint detect_deadline(int i, int c) const;
  bool reports_good(int c, int i) const;
  void check_switch(int c, int from, int to);
  void check_after_step();
  void check_client(int c);
  void fail(const std::string& invariant);

  WorldConfig config_;
  Rng rng_;
  TimePoint now_ = kEpoch;
  std::uint64_t order_ = 0;
  std::uint64_t events_ = 0;
  std::vector<Event> heap_;
  LanFaults lan_;
  std::vector<std::unique_ptr<Isp>> isps_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<std::vector<PairTruth>> pairs_;  // [client][isp]
  std::vector<TraceRecord> trace_;
  std::size_t trace_next_ = 0;
  std::string failure_;
  bool stopping_ = false;
  std::string key_ = "sim-shared-key-0123456789abcdef";
};

}  // namespace ispf::sim

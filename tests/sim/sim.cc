// The simulated network: each host carries out its engine's actions as the daemon's shell would,
// faults change the ground truth, and the invariants judge the clients against that truth.
#include "sim/sim.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <numeric>

#include "ispfailover/core/auth.h"
#include "ispfailover/core/format.h"
#include "ispfailover/core/replay_floor.h"
#include "ispfailover/core/status_message.h"

namespace ispf::sim {
namespace {

constexpr TimePoint kFarPast = World::kEpoch - std::chrono::hours(1);
constexpr TimePoint kFarFuture = TimePoint::max();
constexpr std::size_t kTraceSize = 400;
constexpr std::size_t kHistorySize = 64;

std::string seconds(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3fs", std::chrono::duration<double>(d).count());
  return buf;
}

}  // namespace

Duration expected_failback_hold(const std::deque<TimePoint>& bad_episodes, TimePoint now,
                                Duration failback_after) {
  if constexpr (kDampingRule == DampingRule::kFlat) {
    (void)bad_episodes;
    (void)now;
    return failback_after;
  } else {
    auto recent = std::count_if(bad_episodes.begin(), bad_episodes.end(),
                                [&](TimePoint t) { return now - t <= std::chrono::minutes(10); });
    // The failure that moved the traffic away costs nothing extra; each further one doubles.
    return failback_after * (1 << std::min<long>(std::max<long>(recent - 1, 0), 5));
  }
}

struct World::Isp {
  std::string name;
  std::uint32_t lan_addr = 0;
  ProbeEngineConfig config;
  UplinkTruth truth;
  bool alive = true;
  bool signs = false;
  std::unique_ptr<ProbeEngine> engine;
  std::uint64_t gen = 0;
  std::optional<TimePoint> wake_at;
  std::int64_t wall_offset_ms = 0;
  std::deque<std::shared_ptr<const Datagram>> history;
  // Ground truth: since when each fault has held without a break (nullopt: not now).
  std::optional<TimePoint> link_bad_since, blackhole_since, dead_since, clean_since, unrouted_since;
  std::optional<TimePoint> engine_since;
  std::string epoch_file;  // what ispprobed keeps in its --state-dir: survives restarts
  TimePoint last_engine_stop = kEpoch;
  TimePoint last_break = kFarPast;  // the path last became broken (lost in-flight probes)
};

struct World::Client {
  std::string name;
  std::uint32_t addr = 0;
  FakeKernel kernel;
  FailoverSettings settings;
  std::unique_ptr<FailoverEngine> engine;
  std::uint64_t gen = 0;
  std::optional<TimePoint> wake_at;
  bool read_pending = false;
  std::uint64_t delivered = 0;
  std::int64_t wall_offset_ms = 0;
  std::optional<TimePoint> lan_ok_since;
  std::optional<TimePoint> engine_since;
  std::string state_file;   // what failoverd keeps in its --state-dir: survives restarts
  std::string resolv_conf;  // what failoverd --dns-manager file wrote: survives restarts
  int resolv_conf_writes = 0;
  bool routed = false;  // this engine instance installed or adopted our route
  std::optional<std::uint32_t> last_own_gateway;
  bool table_dirty = true;
  int traffic = -1;
  std::optional<TimePoint> no_traffic_since;
  std::optional<TimePoint> own_missing_since;
  std::vector<Move> moves;
  int edit_failures = 0;  // refused edits in a row: the engine retries after 100 ms, 200 ms, ...
  TimePoint last_edit_failure = kFarPast;
};

// What one client was told by one ISP, mirroring the engine's acceptance rules, so the
// failback hold can be judged on the reports the engine had.
struct World::PairTruth {
  TimePoint last_drop = kFarPast;  // a datagram of this ISP did not reach this client
  bool have = false;
  std::uint64_t instance = 0;
  std::uint64_t seq = 0;
  std::uint64_t time_ms = 0;
  TimePoint last_report = kFarPast;
  bool up = false;
  bool degraded = false;
  bool good = false;
  std::optional<TimePoint> healthy_since;
  std::deque<TimePoint> bad_episodes;
};

World::World(WorldConfig config) : config_(std::move(config)), rng_(config_.seed) {
  trace_.resize(kTraceSize);
  for (int i = 0; i < config_.isps; ++i) {
    auto isp = std::make_unique<Isp>();
    isp->name = "isp" + std::to_string(i + 1);
    isp->lan_addr = kLanPrefix + 101 + static_cast<std::uint32_t>(i);
    isp->config.name = isp->name;
    for (int t = 0; t < config_.targets; ++t) {
      isp->config.targets.push_back(
          IpAddress::ipv4(0xC6336408 + static_cast<std::uint32_t>(t)));  // 198.51.100.8
    }
    isp->config.uplink = "up0";
    // The profile's heartbeat, not whatever ProbeEngineConfig defaults to: the bounds above
    // are computed from kHeartbeat.
    isp->config.heartbeat = kHeartbeat;
    if (config_.dns) isp->config.dns = {isp->lan_addr};
    isp->signs = config_.keyed || config_.routers_keyed;
    isp->clean_since = kEpoch;
    isps_.push_back(std::move(isp));
  }
  FailoverOptions options;
  for (auto& isp : isps_) options.isp_specs.push_back(isp->name + "=" + format_ipv4(isp->lan_addr));
  options.replace_gateways = {"10.0.2.2"};
  options.failback_after = config_.failback_after;
  options.max_loss_pct = config_.max_loss_pct;
  options.when_all_down = config_.when_all_down;
  if (config_.keyed) options.key_file = "/etc/ispfailover/key";
  auto settings = validate(options);
  if (!settings) {
    failure_ = "bad world config: " + settings.error().to_string();
    return;
  }
  if (config_.keyed) settings->keys = {key_};
  if (config_.dns) settings->dns_manager = DnsManager::kFile;
  pairs_.assign(static_cast<std::size_t>(config_.clients), std::vector<PairTruth>(isps_.size()));
  for (int c = 0; c < config_.clients; ++c) {
    auto client = std::make_unique<Client>();
    client->name = "client" + std::to_string(c + 1);
    client->addr = kLanPrefix + 200 + static_cast<std::uint32_t>(c);
    client->settings = *settings;
    client->kernel.add_link("lan0");
    client->kernel.add_address("lan0", client->addr, 24);
    client->kernel.add_link("nat0");
    client->kernel.add_address("nat0", 0x0A00020F, 24);  // 10.0.2.15, Vagrant's NAT
    // The DHCP default route Vagrant leaves behind: failoverd takes the table over from it.
    client->kernel.add_route(DefaultRoute{kNatGateway, 100, 16, 0, 254});
    client->lan_ok_since = kEpoch;
    client->kernel.on_change([this, c] { client_table_changed(c); });
    clients_.push_back(std::move(client));
  }
  // Every host boots at once: routers first (their daemons say nothing until a verdict).
  for (int i = 0; i < config_.isps; ++i) start_probed(i);
  for (int c = 0; c < config_.clients; ++c) start_failoverd(c);
}

World::~World() = default;

// ---------------------------------------------------------------- scheduler

void World::schedule(TimePoint t, std::function<void()> fn) {
  heap_.push_back(Event{t, order_++, std::move(fn)});
  std::push_heap(heap_.begin(), heap_.end(), [](const Event& a, const Event& b) {
    return a.at != b.at ? a.at > b.at : a.order > b.order;
  });
}

void World::at(TimePoint t, std::function<void()> fn) {
  schedule(std::max(t, now_), std::move(fn));
}

bool World::step() {
  if (heap_.empty()) return false;
  std::pop_heap(heap_.begin(), heap_.end(), [](const Event& a, const Event& b) {
    return a.at != b.at ? a.at > b.at : a.order > b.order;
  });
  Event e = std::move(heap_.back());
  heap_.pop_back();
  now_ = e.at;
  e.fn();
  ++events_;
  check_after_step();
  return true;
}

void World::run_until(TimePoint t) {
  while (!failed() && !heap_.empty() && heap_.front().at <= t) step();
  if (now_ < t) now_ = t;
}

std::optional<Duration> World::run_until_true(const std::function<bool()>& done, Duration limit) {
  TimePoint start = now_;
  TimePoint end = now_ + limit;
  if (done()) return Duration::zero();
  while (!failed() && !heap_.empty() && heap_.front().at <= end) {
    step();
    if (done()) return now_ - start;
  }
  if (now_ < end) now_ = end;
  return std::nullopt;
}

Now World::now_for(int host) const {
  std::int64_t offset = host < isp_count() ? isps_[host]->wall_offset_ms
                                           : clients_[host - isp_count()]->wall_offset_ms;
  auto ms = std::chrono::duration_cast<milliseconds>(now_ - kEpoch).count();
  return Now{now_, static_cast<std::uint64_t>(static_cast<std::int64_t>(kWallBase) + ms + offset)};
}

void World::note(const char* what, int host, std::int64_t a, std::int64_t b, std::string text) {
  TraceRecord& r = trace_[trace_next_++ % kTraceSize];
  r.at = now_;
  r.what = what;
  r.host = host;
  r.a = a;
  r.b = b;
  r.text = std::move(text);
}

std::string World::trace_tail(std::size_t n) const {
  std::string out;
  std::size_t count = std::min({n, trace_next_, kTraceSize});
  for (std::size_t k = trace_next_ - count; k < trace_next_; ++k) {
    const TraceRecord& r = trace_[k % kTraceSize];
    std::string host = r.host < 0             ? "-"
                       : r.host < isp_count() ? isps_[r.host]->name
                                              : clients_[r.host - isp_count()]->name;
    char buf[160];
    std::snprintf(buf, sizeof buf, "  %12s %-8s %-18s a=%" PRId64 " b=%" PRId64,
                  seconds(r.at - kEpoch).c_str(), host.c_str(), r.what, r.a, r.b);
    out += buf;
    if (!r.text.empty()) out += " " + r.text;
    out += "\n";
  }
  return out;
}

std::uint32_t World::gateway(int isp) const { return isps_[isp]->lan_addr; }

int World::isp_of_gateway(std::uint32_t gw) const {
  for (int i = 0; i < isp_count(); ++i) {
    if (isps_[i]->lan_addr == gw) return i;
  }
  return gw == 0 ? -1 : -2;
}

// ---------------------------------------------------------------- ISP routers

void World::isp_apply(int i, ProbeActions&& actions) {
  Isp& isp = *isps_[i];
  if (!isp.engine) return;
  if (config_.trace) {
    for (auto& e : actions.log) note("probed-log", i, 0, 0, std::move(e.text));
  }
  for (auto& bytes : actions.send) broadcast(i, std::move(bytes));
  // A wake-up asked for a time already past comes at once (Timer's contract too).
  if (actions.wake_at && std::max(*actions.wake_at, now_) != isp.wake_at) {
    // One timer per daemon: a new wake_at replaces the old one (Timer's contract).
    std::uint64_t gen = isp.gen;
    TimePoint when = std::max(*actions.wake_at, now_);
    isp.wake_at = when;
    schedule(when, [this, i, gen, when] {
      Isp& s = *isps_[i];
      if (!s.engine || s.gen != gen || s.wake_at != when) return;
      s.wake_at.reset();
      isp_apply(i, s.engine->on_wake(now_for(i)));
    });
  }
  // As ProbeShell does, last: ask the routing table before each round (its actions come after
  // these, so their wake-up is the engine's latest).
  if (actions.start_round && isp.truth.link.usable()) {
    std::uint64_t gen = isp.gen;
    RoutedTargets routed;
    if (isp.truth.routed) {
      for (const IpAddress& target : actions.start_round->targets) {
        ++(target.family == Family::kIpv6 ? routed.ipv6 : routed.ipv4);
      }
    }
    isp_apply(i, isp.engine->on_route_check(routed, now_for(i)));
    if (!isp.engine || isp.gen != gen) return;
  }
  if (actions.start_round) isp_round(i, isp.gen, *actions.start_round);
}

bool World::probe_lost_one_way(Isp& isp) {
  auto& ge = isp.truth.bursty;
  if (ge.enabled) {
    if (ge.bad ? rng_.chance(ge.p_bad_to_good) : rng_.chance(ge.p_good_to_bad)) ge.bad = !ge.bad;
    if (rng_.chance(ge.bad ? ge.loss_bad : ge.loss_good)) return true;
  }
  return rng_.chance(isp.truth.loss_each_way);
}

void World::isp_round(int i, std::uint64_t gen, const RoundRequest& request) {
  Isp& isp = *isps_[i];
  auto report = std::make_shared<RoundReport>();
  report->sequence = request.sequence;
  report->started = now_;
  TimePoint concluded = now_ + kKernelDelay;
  bool all_concluded_early = true;
  for (auto target : request.targets) {
    ProbeOutcome o;
    o.target = target;
    if (!isp.truth.link.usable()) {
      // SO_BINDTODEVICE on a down (or missing) uplink: sendto() refuses at once.
      o.error = ProbeError::kNoRoute;
      o.send_error = std::make_error_code(std::errc::network_unreachable);
    } else {
      // Unrouted, a probe bound to the uplink is sent on-link (ARP for the target): nobody answers.
      bool lost = !isp.alive || isp.truth.blackhole || !isp.truth.routed ||
                  probe_lost_one_way(isp) || probe_lost_one_way(isp);
      Duration rtt = isp.truth.rtt_base + rng_.between(Duration::zero(), isp.truth.rtt_jitter);
      if (!lost && rtt < request.timeout) {
        o.rtt = rtt;
        o.error = ProbeError::kNone;
        concluded = std::max(concluded, now_ + rtt);
      } else {
        o.error = ProbeError::kTimeout;
        all_concluded_early = false;
        if (!lost) late_reply(i, gen, LateReply{request.sequence, target, rtt});
      }
    }
    report->probes.push_back(o);
  }
  if (!all_concluded_early) concluded = now_ + request.timeout;
  TimePoint deadline = now_ + request.timeout;
  schedule(concluded, [this, i, gen, report, deadline] {
    Isp& s = *isps_[i];
    if (!s.engine || s.gen != gen) return;
    // A break while a probe was in flight loses its answer: the round ends at the timeout.
    bool lost_in_flight = false;
    for (auto& p : report->probes) {
      if (p.rtt && s.last_break > report->started && s.last_break <= report->started + *p.rtt) {
        p.rtt.reset();
        p.error = ProbeError::kTimeout;
        lost_in_flight = true;
      }
    }
    if (lost_in_flight && now_ < deadline) {
      schedule(deadline, [this, i, gen, report] {
        Isp& s2 = *isps_[i];
        if (!s2.engine || s2.gen != gen) return;
        report->concluded = now_;
        note("round", i, report->sequence, report->answered());
        isp_apply(i, s2.engine->on_round(*report, now_for(i)));
      });
      return;
    }
    report->concluded = now_;
    note("round", i, report->sequence, report->answered());
    isp_apply(i, s.engine->on_round(*report, now_for(i)));
  });
}

void World::late_reply(int i, std::uint64_t gen, LateReply reply) {
  TimePoint sent = now_;
  schedule(now_ + reply.rtt, [this, i, gen, reply, sent] {
    Isp& s = *isps_[i];
    if (!s.engine || s.gen != gen) return;
    if (s.last_break > sent) return;  // the link broke while the reply was on its way
    note("late", i, reply.sequence, 1);
    isp_apply(i, s.engine->on_late_reply(reply, now_for(i)));
  });
}

void World::broadcast(int i, std::string bytes) {
  Isp& isp = *isps_[i];
  auto d = std::make_shared<Datagram>();
  d->isp = i;
  if (auto status = decode(bytes)) {
    d->instance = status->instance;
    d->seq = status->seq;
    d->time_ms = status->time_ms;
    d->up = status->state == LinkState::kUp;
    d->loss_permille = status->loss_permille;
  }
  d->bytes = std::move(bytes);
  note(d->up ? "send up" : "send down", i, static_cast<std::int64_t>(d->seq), d->loss_permille);
  std::shared_ptr<const Datagram> shared = d;
  isp.history.push_back(shared);
  if (isp.history.size() > kHistorySize) isp.history.pop_front();
  for (int c = 0; c < client_count(); ++c) deliver_lan(shared, isp.lan_addr, c);
}

void World::deliver_lan(std::shared_ptr<const Datagram> d, std::uint32_t source, int c) {
  if (rng_.chance(lan_.drop)) {
    if (d->isp >= 0) pairs_[c][d->isp].last_drop = now_;
    note("lan drop", isp_count() + c, d->isp, static_cast<std::int64_t>(d->seq));
    return;
  }
  int copies = rng_.chance(lan_.duplicate) ? 2 : 1;
  for (int k = 0; k < copies; ++k) {
    Duration delay = lan_.delay_base + rng_.between(Duration::zero(), lan_.delay_jitter);
    schedule(now_ + delay, [this, d, source, c] { client_receive(c, d, source); });
  }
}

void World::isp_link_changed(int i) {
  Isp& isp = *isps_[i];
  isp_truth_changed(i);
  note("uplink", i, isp.truth.link.exists, isp.truth.link.usable());
  std::uint64_t gen = isp.gen;
  schedule(now_ + kKernelDelay, [this, i, gen] {
    Isp& s = *isps_[i];
    if (!s.engine || s.gen != gen) return;
    isp_apply(i, s.engine->on_link(s.truth.link, now_for(i)));
  });
}

void World::isp_truth_changed(int i) {
  Isp& isp = *isps_[i];
  auto track = [&](std::optional<TimePoint>& since, bool on) {
    if (on && !since) since = now_;
    if (!on) since.reset();
  };
  bool was_broken = broken(i);
  track(isp.link_bad_since, !isp.truth.link.usable());
  track(isp.unrouted_since, !isp.truth.routed);
  track(isp.blackhole_since, isp.truth.blackhole || isp.truth.rtt_base >= kRttMax);
  track(isp.dead_since, !isp.alive);
  bool impaired = isp.truth.loss_each_way > 0 || isp.truth.bursty.enabled ||
                  isp.truth.rtt_base + isp.truth.rtt_jitter >= kRttStepTolerated;
  track(isp.clean_since, !broken(i) && !impaired);
  if (broken(i) && !was_broken) isp.last_break = now_;
}

bool World::broken(int i) const {
  const Isp& isp = *isps_[i];
  return isp.link_bad_since || isp.blackhole_since || isp.dead_since || isp.unrouted_since;
}

void World::set_uplink(int i, bool admin_up, bool carrier) {
  auto& link = isps_[i]->truth.link;
  link.admin_up = admin_up;
  link.carrier = carrier;
  isp_link_changed(i);
}

void World::delete_uplink(int i) {
  isps_[i]->truth.link = LinkStatus{false, false, false};
  isp_link_changed(i);
}

void World::create_uplink(int i) {
  // A re-created interface appears down; it is brought up at once (ifup, networkd).
  isps_[i]->truth.link = LinkStatus{true, false, false};
  isp_link_changed(i);
  isps_[i]->truth.link = LinkStatus{true, true, true};
  isp_link_changed(i);
}

void World::set_uplink_routed(int i, bool routed) {
  isps_[i]->truth.routed = routed;
  isp_truth_changed(i);
  note(routed ? "uplink route back" : "uplink route gone", i);
}

void World::set_blackhole(int i, bool on) {
  isps_[i]->truth.blackhole = on;
  isp_truth_changed(i);
  note(on ? "blackhole on" : "blackhole off", i);
}

void World::set_loss(int i, double each_way) {
  isps_[i]->truth.loss_each_way = each_way;
  isp_truth_changed(i);
  note("loss permille", i, static_cast<std::int64_t>(each_way * 1000));
}

void World::set_bursty(int i, GilbertElliott ge) {
  isps_[i]->truth.bursty = ge;
  isp_truth_changed(i);
  note("bursty loss", i, ge.enabled);
}

void World::set_latency(int i, Duration base, Duration jitter) {
  isps_[i]->truth.rtt_base = base;
  isps_[i]->truth.rtt_jitter = jitter;
  isp_truth_changed(i);
  note("latency ms", i, to_ms(base), to_ms(jitter));
}

void World::kill_router(int i) {
  stop_probed(i);
  isps_[i]->alive = false;
  isp_truth_changed(i);
  note("router dies", i);
}

void World::revive_router(int i) {
  isps_[i]->alive = true;
  isp_truth_changed(i);
  note("router boots", i);
  start_probed(i);
}

void World::stop_probed(int i) {
  Isp& isp = *isps_[i];
  if (!isp.engine) return;
  isp.engine.reset();
  ++isp.gen;
  isp.wake_at.reset();
  isp.engine_since.reset();
  isp.last_engine_stop = now_;
  note("probed stops", i);
}

void World::start_probed(int i) {
  Isp& isp = *isps_[i];
  if (!isp.alive || isp.engine) return;
  ++isp.gen;
  ProbeEngineConfig config = isp.config;
  if (isp.signs) config.keys = {key_};
  std::uint64_t instance = rng_.next();
  // As ProbeShell does: one more than the kept epoch, never behind this host's clock.
  std::uint64_t epoch = next_epoch(isp.epoch_file, now_for(i).wall_ms);
  isp.epoch_file = std::to_string(epoch);
  isp.engine = std::make_unique<ProbeEngine>(config, instance, now_for(i), epoch);
  isp.engine_since = now_;
  note("probed starts", i, static_cast<std::int64_t>(instance & 0xffff));
  isp_apply(i, isp.engine->start(isp.truth.link, now_for(i)));
}

void World::set_router_keyed(int i, bool signs) { isps_[i]->signs = signs; }

// ---------------------------------------------------------------- clients

void World::start_failoverd(int c) {
  Client& cl = *clients_[c];
  if (cl.engine) return;
  ++cl.gen;
  cl.wake_at.reset();
  cl.read_pending = false;
  cl.delivered = 0;
  for (auto& pair : pairs_[c]) {
    // A new process knows nothing of what the last one was told.
    TimePoint drop = pair.last_drop;
    pair = PairTruth{};
    pair.last_drop = drop;
  }
  cl.engine = std::make_unique<FailoverEngine>(cl.settings, now_for(isp_count() + c));
  cl.engine->restore(cl.state_file);
  cl.engine_since = now_;
  auto table = cl.kernel.default_routes(cl.settings.table);
  std::vector<DefaultRoute> routes = table ? *table : std::vector<DefaultRoute>{};
  cl.routed = false;
  cl.last_own_gateway.reset();
  for (const auto& r : routes) {
    if (is_own(r, cl.engine->slot())) {
      cl.routed = true;
      cl.last_own_gateway = r.gateway;
    }
  }
  note("failoverd starts", isp_count() + c, cl.routed);
  client_apply(c, cl.engine->start(routes, now_for(isp_count() + c)));
}

void World::stop_failoverd(int c) {
  Client& cl = *clients_[c];
  if (!cl.engine) return;
  stopping_ = true;
  client_apply(c, cl.engine->stop(false, now_for(isp_count() + c)));
  stopping_ = false;
  cl.engine.reset();
  ++cl.gen;
  cl.engine_since.reset();
  note("failoverd stops", isp_count() + c);
}

void World::client_apply(int c, FailoverActions&& actions) {
  Client& cl = *clients_[c];
  int host = isp_count() + c;
  if (actions.persist) cl.state_file = *actions.persist;
  if (actions.dns) {
    cl.resolv_conf = actions.dns->resolv_conf;
    ++cl.resolv_conf_writes;
  }
  for (auto& e : actions.log) {
    if (config_.trace || e.kind == EventKind::kSwitch)
      note("failoverd-log", host, 0, 0, std::move(e.text));
  }
  // Switches are judged when the engine decides them (a refused edit is retried later, when the
  // ground truth may have moved on): the first edit towards a new gateway, or away from any.
  for (const auto& edit : actions.route_edits) {
    int from = cl.last_own_gateway ? isp_of_gateway(*cl.last_own_gateway) : -1;
    if (edit.kind == RouteEdit::Kind::kReplaceOwn && cl.last_own_gateway != edit.gateway) {
      cl.last_own_gateway = edit.gateway;
      check_switch(c, from, isp_of_gateway(edit.gateway));
    } else if (edit.kind == RouteEdit::Kind::kRemoveOwn && cl.last_own_gateway && cl.engine &&
               !stopping_) {
      cl.last_own_gateway.reset();
      check_switch(c, from, -1);
    }
  }
  if (!actions.route_edits.empty()) {
    std::uint64_t gen = cl.gen;
    schedule(now_ + kKernelDelay, [this, c, gen, edits = std::move(actions.route_edits)] {
      client_apply_edits(c, gen, edits);
    });
  }
  if (actions.read_table) client_read_table(c);
  if (cl.engine && actions.wake_at && actions.wake_at != cl.wake_at) {
    cl.wake_at = actions.wake_at;
    std::uint64_t gen = cl.gen;
    TimePoint when = std::max(*actions.wake_at, now_);
    schedule(when, [this, c, gen, when] {
      Client& s = *clients_[c];
      if (!s.engine || s.gen != gen || s.wake_at != when) return;
      s.wake_at.reset();
      client_apply(c, s.engine->on_wake(now_for(isp_count() + c)));
    });
  }
}

void World::client_read_table(int c) {
  Client& cl = *clients_[c];
  if (cl.read_pending || !cl.engine) return;
  cl.read_pending = true;
  std::uint64_t gen = cl.gen;
  // Netlink events come in bursts; the shell reads the table once for all of them.
  schedule(now_ + kKernelDelay, [this, c, gen] {
    Client& s = *clients_[c];
    s.read_pending = false;
    if (!s.engine || s.gen != gen) return;
    auto table = s.kernel.default_routes(s.settings.table);
    int host = isp_count() + c;
    if (!table) {
      client_apply(c, s.engine->on_table_error(table.error(), now_for(host)));
    } else {
      // As FailoverShell does: which gateways our links reach, then the routes.
      client_apply(c, s.engine->on_local_network(s.kernel.usable_prefixes(), now_for(host)));
      if (!s.engine || s.gen != gen) return;
      client_apply(c, s.engine->on_table(*table, now_for(host)));
    }
  });
}

void World::client_table_changed(int c) {
  Client& cl = *clients_[c];
  cl.table_dirty = true;
  client_read_table(c);
}

void World::client_apply_edits(int c, std::uint64_t gen, std::vector<RouteEdit> edits) {
  Client& cl = *clients_[c];
  if (!cl.engine || cl.gen != gen) return;  // the process died with its request unsent
  int host = isp_count() + c;
  std::vector<std::error_code> results;
  for (const auto& edit : edits) {
    std::error_code result;
    switch (edit.kind) {
      case RouteEdit::Kind::kReplaceOwn: {
        result = cl.kernel.replace_default(edit.slot, edit.gateway);
        if (!result) cl.routed = true;
        note("edit replace", host, isp_of_gateway(edit.gateway), result.value());
        break;
      }
      case RouteEdit::Kind::kRemoveOwn: {
        bool present = own_route_present(c);
        result = cl.kernel.remove_default(edit.slot);
        note("edit remove", host, present, result.value());
        break;
      }
      case RouteEdit::Kind::kDeleteForeign:
        result = cl.kernel.delete_route(edit.route);
        note("edit del-foreign", host, static_cast<std::int64_t>(edit.route.gateway & 0xff),
             result.value());
        break;
    }
    results.push_back(result);
    if (result) {
      ++cl.edit_failures;
      cl.last_edit_failure = now_;
    } else if (edit.kind != RouteEdit::Kind::kDeleteForeign) {
      cl.edit_failures = 0;
    }
  }
  if (!cl.engine || cl.gen != gen) return;
  client_apply(c, cl.engine->on_edits_done(edits, results, now_for(host)));
}

bool World::client_lan_ok(int c) const {
  const Client& cl = *clients_[c];
  return cl.kernel.link_status("lan0").usable() && cl.kernel.address_of("lan0").has_value();
}

void World::client_lan_changed(int c) {
  Client& cl = *clients_[c];
  bool ok = client_lan_ok(c);
  if (ok && !cl.lan_ok_since) {
    // As the engine does when its link returns: nothing was seen meanwhile, so a failback
    // hold counts from each ISP's first report after the return (and none is stale before).
    for (auto& p : pairs_[c]) {
      p.good = false;
      p.healthy_since.reset();
      p.last_report = now_;
    }
  }
  if (ok && !cl.lan_ok_since) cl.lan_ok_since = now_;
  if (!ok) cl.lan_ok_since.reset();
  note("client lan", isp_count() + c, ok);
}

void World::client_receive(int c, const std::shared_ptr<const Datagram>& d, std::uint32_t source) {
  Client& cl = *clients_[c];
  int host = isp_count() + c;
  bool reaches = client_lan_ok(c) && cl.engine;
  // A router that signs for a client without the key (or the reverse) is a configuration the
  // ground truth counts as "its datagrams do not reach the client".
  bool refused_config = d->isp >= 0 && config_.keyed && !isps_[d->isp]->signs;
  if (!reaches) {
    if (d->isp >= 0) pairs_[c][d->isp].last_drop = now_;
    return;
  }
  if (refused_config) pairs_[c][d->isp].last_drop = now_;
  ++cl.delivered;
  if (d->isp >= 0 && source == isps_[d->isp]->lan_addr && !refused_config) {
    PairTruth& p = pairs_[c][d->isp];
    bool same = p.have && p.instance == d->instance;
    bool accepted = !(same && d->seq <= p.seq);
    if (accepted && !same && config_.keyed) {
      auto wall = now_for(host).wall_ms;
      auto skew = static_cast<std::uint64_t>(to_ms(cl.settings.policy.max_clock_skew));
      std::uint64_t distance = d->time_ms > wall ? d->time_ms - wall : wall - d->time_ms;
      if (distance > skew || (p.have && d->time_ms <= p.time_ms)) accepted = false;
    }
    if (accepted) {
      bool fresh = now_ - p.last_report < kStaleLimit;
      p.have = true;
      p.instance = d->instance;
      p.seq = d->seq;
      p.time_ms = d->time_ms;
      p.last_report = now_;
      p.up = d->up;
      auto max_loss = cl.settings.policy.max_loss_permille;
      if (d->up) {
        if (d->loss_permille > max_loss) p.degraded = true;
        if (d->loss_permille * 2 < max_loss) p.degraded = false;
      }
      bool good = d->up && !p.degraded;
      if (good && (!p.good || !fresh)) p.healthy_since = now_;
      if (!good) p.healthy_since.reset();
      if ((p.good && !good) || (p.good && !fresh)) {
        p.bad_episodes.push_back(now_);
        while (p.bad_episodes.size() > 64) p.bad_episodes.pop_front();
      }
      p.good = good;
    }
    note(accepted ? "rx" : "rx (old)", host, d->isp * 10 + d->up,
         static_cast<std::int64_t>(d->seq));
  } else {
    note("rx other", host, static_cast<std::int64_t>(source & 0xff),
         static_cast<std::int64_t>(d->bytes.size()));
  }
  client_apply(c, cl.engine->on_datagram(std::span<const char>(d->bytes.data(), d->bytes.size()),
                                         source, now_for(host)));
}

void World::set_client_link(int c, bool up) {
  clients_[c]->kernel.set_link("lan0", up, up);
  client_lan_changed(c);
}

void World::flush_client_addresses(int c) {
  clients_[c]->kernel.flush_addresses("lan0");
  client_lan_changed(c);
}

void World::restore_client_address(int c) {
  if (!clients_[c]->kernel.address_of("lan0")) {
    clients_[c]->kernel.add_address("lan0", clients_[c]->addr, 24);
  }
  client_lan_changed(c);
}

void World::add_foreign_route(int c, std::uint32_t metric) {
  auto error = clients_[c]->kernel.add_route(DefaultRoute{kNatGateway, metric, 16, 0, 254});
  note("foreign route add", isp_count() + c, metric, error.value());
}

void World::replace_with_foreign(int c) {
  Client& cl = *clients_[c];
  auto table = cl.kernel.default_routes(254);
  if (table) {
    for (const auto& r : *table) {
      if (r.metric == 0) cl.kernel.delete_route(r);
    }
  }
  auto error = cl.kernel.add_route(DefaultRoute{kNatGateway, 0, 3, 0, 254});
  note("foreign replace", isp_count() + c, 0, error.value());
}

void World::delete_own_route(int c) {
  Client& cl = *clients_[c];
  auto table = cl.kernel.default_routes(254);
  if (!table) return;
  for (const auto& r : *table) {
    if (r.protocol == kRouteProtocol) cl.kernel.delete_route(r);
  }
  note("own route deleted", isp_count() + c);
}

void World::fail_next_edits(int c, std::errc error, int count) {
  clients_[c]->kernel.fail_next_edits(error, count);
}

void World::step_clock(int host, std::int64_t ms) {
  if (host < isp_count()) {
    isps_[host]->wall_offset_ms += ms;
  } else {
    clients_[host - isp_count()]->wall_offset_ms += ms;
  }
  note("clock step ms", host, ms);
}

void World::inject(const std::string& bytes, std::uint32_t source, int client) {
  auto d = std::make_shared<Datagram>();
  d->bytes = bytes;
  std::shared_ptr<const Datagram> shared = d;
  for (int c = 0; c < client_count(); ++c) {
    if (client < 0 || client == c) deliver_lan(shared, source, c);
  }
}

std::size_t World::recorded(int isp) const { return isps_[isp]->history.size(); }

bool World::recorded_up(int isp, int back) const {
  auto& history = isps_[isp]->history;
  return history[history.size() - 1 - static_cast<std::size_t>(back)]->up;
}

bool World::replay(int isp, int back, int client) {
  auto& history = isps_[isp]->history;
  if (back < 0 || static_cast<std::size_t>(back) >= history.size()) return false;
  auto d = history[history.size() - 1 - static_cast<std::size_t>(back)];
  for (int c = 0; c < client_count(); ++c) {
    if (client < 0 || client == c) deliver_lan(d, isps_[isp]->lan_addr, c);
  }
  return true;
}

bool World::replay_refusable(int isp, int back, int client) const {
  auto& history = isps_[isp]->history;
  if (back < 0 || static_cast<std::size_t>(back) >= history.size()) return false;
  const Datagram& d = *history[history.size() - 1 - static_cast<std::size_t>(back)];
  const PairTruth& p = pairs_[client][isp];
  if (!p.have || !clients_[client]->engine) return false;
  if (p.instance == d.instance) return p.seq >= d.seq;
  // Another instance: with a key, refused as not later than the last accepted report.
  return config_.keyed && p.time_ms >= d.time_ms;
}

// ---------------------------------------------------------------- observations

std::vector<DefaultRoute> World::routes(int c) const {
  auto table = clients_[c]->kernel.default_routes(254);
  return table ? *table : std::vector<DefaultRoute>{};
}

std::uint64_t World::table_generation(int c) const { return clients_[c]->kernel.generation(); }

int World::traffic_isp(int c) const {
  auto table = routes(c);
  const DefaultRoute* best = nullptr;
  for (const auto& r : table) {
    if (!best || r.metric < best->metric) best = &r;
  }
  return best ? isp_of_gateway(best->gateway) : -1;
}

bool World::own_route_present(int c) const {
  auto table = routes(c);
  return std::any_of(table.begin(), table.end(), [](const DefaultRoute& r) {
    return r.protocol == kRouteProtocol && r.metric == 0 && r.table == 254;
  });
}

const FailoverEngine* World::engine(int c) const { return clients_[c]->engine.get(); }
const ProbeEngine* World::probe_engine(int i) const { return isps_[i]->engine.get(); }
std::uint64_t World::delivered(int c) const { return clients_[c]->delivered; }
const std::vector<World::Move>& World::moves(int c) const { return clients_[c]->moves; }

std::optional<TimePoint> World::last_move_to(int c, int isp) const {
  const auto& m = clients_[c]->moves;
  for (auto it = m.rbegin(); it != m.rend(); ++it) {
    if (it->to == isp) return it->at;
  }
  return std::nullopt;
}

const std::string& World::resolv_conf(int client) const { return clients_[client]->resolv_conf; }

int World::resolv_conf_writes(int client) const { return clients_[client]->resolv_conf_writes; }

// ---------------------------------------------------------------- invariants

std::optional<TimePoint> World::qualified_at(int j, int c) const {
  const Isp& isp = *isps_[j];
  const Client& cl = *clients_[c];
  if (!isp.clean_since || !isp.engine_since || !cl.lan_ok_since || !cl.engine_since) {
    return std::nullopt;
  }
  if (config_.keyed && !isp.signs) return std::nullopt;
  return std::max({*isp.clean_since, *isp.engine_since, pairs_[c][j].last_drop, *cl.lan_ok_since}) +
         kUpBound;
}

TimePoint World::detect_deadline(int i, int c) const {
  const Isp& isp = *isps_[i];
  TimePoint d = kFarFuture;
  if (isp.link_bad_since) d = std::min(d, *isp.link_bad_since + kLinkDownBound);
  if (isp.blackhole_since) d = std::min(d, *isp.blackhole_since + kBlackholeBound);
  if (isp.unrouted_since) d = std::min(d, *isp.unrouted_since + kNoRouteBound);
  if (isp.dead_since) d = std::min(d, *isp.dead_since + kDeathBound);
  // A lost datagram is made good by the next one; a silent router goes stale.
  d = std::max(d, pairs_[c][i].last_drop + kDropBound);
  d = std::max(d, isp.last_engine_stop + kDeathBound);
  // Whatever was said while the client's own link was away is lost: it learns from the next
  // report, or from the silence that follows its return.
  if (const Client& cl = *clients_[c]; cl.lan_ok_since)
    d = std::max(d, *cl.lan_ok_since + kDeathBound);
  return d;
}

bool World::reports_good(int c, int i) const {
  const PairTruth& p = pairs_[c][i];
  return p.have && p.good && now_ - p.last_report < kStaleLimit;
}

void World::check_switch(int c, int from, int to) {
  Client& cl = *clients_[c];
  cl.moves.push_back(Move{now_, from, to});
  if (!config_.check_invariants || from < 0) return;
  const Isp& isp = *isps_[from];
  auto older_than = [&](const std::optional<TimePoint>& since, Duration d) {
    return since && now_ - *since >= d;
  };
  bool works = older_than(isp.clean_since, kLossWindow + kUpBound) &&
               older_than(isp.engine_since, kUpBound) &&
               now_ - pairs_[c][from].last_drop >= kStaleLimit + kLanDelayMax &&
               older_than(cl.lan_ok_since, kUpBound);
  bool failback = to >= 0 && to < from;
  if (works && !failback) {
    fail("(b) switch away from " + isp.name + " whose path works and whose datagrams reach " +
         cl.name + " (to " + (to >= 0 ? isps_[to]->name : std::string("no route")) + ")");
    return;
  }
  if (to < 0 && cl.settings.policy.when_all_down == AllDownPolicy::kKeep) {
    fail("(d) when-all-down keep, yet " + cl.name + " withdrew its route via " + isp.name);
    return;
  }
  if (failback && reports_good(c, from)) {
    const PairTruth& p = pairs_[c][to];
    Duration hold = expected_failback_hold(p.bad_episodes, now_, cl.settings.policy.failback_after);
    if (!p.healthy_since || now_ - *p.healthy_since < hold) {
      fail("(c) failback " + isp.name + " -> " + isps_[to]->name + " after only " +
           (p.healthy_since ? seconds(now_ - *p.healthy_since) : std::string("no")) +
           " of good reports; the hold is " + seconds(hold));
    }
  }
}

void World::check_after_step() {
  for (int c = 0; c < client_count(); ++c) check_client(c);
}

void World::check_client(int c) {
  Client& cl = *clients_[c];
  if (cl.table_dirty) {
    cl.table_dirty = false;
    cl.traffic = traffic_isp(c);
    if (cl.traffic < 0 && !cl.no_traffic_since) cl.no_traffic_since = now_;
    if (cl.traffic >= 0) cl.no_traffic_since.reset();
    bool own = own_route_present(c);
    if (!own && !cl.own_missing_since) cl.own_missing_since = now_;
    if (own) cl.own_missing_since.reset();
  }
  if (!config_.check_invariants || failed() || !cl.engine) return;
  const FailoverEngine& e = *cl.engine;
  // (e) every datagram handed to the engine is accepted or counted under exactly one reason.
  auto drops = e.drops();
  std::uint64_t counted = std::accumulate(drops.begin(), drops.end(), e.accepted());
  if (counted != cl.delivered) {
    fail("(e) " + cl.name + ": accepted + drops = " + std::to_string(counted) + " but " +
         std::to_string(cl.delivered) + " datagrams were delivered");
    return;
  }
  // A refused edit is retried after FailoverEngine's backoff (100 ms doubling to 5 s).
  Duration backoff =
      std::min<Duration>(FailoverEngine::kFirstRetry * (1 << std::min(cl.edit_failures, 8)),
                         FailoverEngine::kMaxRetry);
  TimePoint engine_ready = std::max(*cl.engine_since + kStartupGrace + kDropBound,
                                    cl.last_edit_failure + backoff + 100ms);
  // (a) traffic leaves a broken ISP (or finds a route) once another ISP qualifies.
  std::optional<TimePoint> alternative;
  int alt_isp = -1;
  for (int j = 0; j < isp_count(); ++j) {
    if (j == cl.traffic) continue;
    auto q = qualified_at(j, c);
    if (q && (!alternative || *q < *alternative)) {
      alternative = q;
      alt_isp = j;
    }
  }
  if (alternative) {
    std::optional<TimePoint> cause;
    std::string what;
    if (cl.traffic >= 0 && broken(cl.traffic)) {
      cause = detect_deadline(cl.traffic, c);
      what = "traffic stays on broken " + isps_[cl.traffic]->name;
    } else if (cl.traffic < 0) {
      cause = *cl.no_traffic_since + kRestoreBound;
      what = cl.traffic == -1 ? "no default route" : "traffic on a foreign route";
    }
    if (cause && now_ > std::max({*cause, *alternative, engine_ready})) {
      fail("(a) " + cl.name + ": " + what + " although " + isps_[alt_isp]->name +
           " works (qualified at " + seconds(*alternative - kEpoch) + ", deadline " +
           seconds(std::max(*cause, engine_ready) - kEpoch) + ")");
      return;
    }
  }
  // (d) when-all-down: remove withdraws the route once every ISP is known broken; keep keeps it
  // (and puts it back when the client's own link returns).
  if (cl.settings.policy.when_all_down == AllDownPolicy::kRemove && cl.traffic >= 0 &&
      now_ > engine_ready) {
    bool all_known_broken = true;
    for (int i = 0; i < isp_count() && all_known_broken; ++i) {
      all_known_broken = broken(i) && now_ > detect_deadline(i, c);
    }
    if (all_known_broken) {
      fail("(d) when-all-down remove, every ISP broken, yet " + cl.name + " routes via " +
           isps_[cl.traffic]->name);
      return;
    }
  }
  if (cl.settings.policy.when_all_down == AllDownPolicy::kKeep && cl.routed &&
      cl.own_missing_since && cl.lan_ok_since &&
      now_ > std::max({*cl.own_missing_since, *cl.lan_ok_since, engine_ready}) + kRestoreBound) {
    fail("(d) when-all-down keep: " + cl.name + "'s route is gone since " +
         seconds(*cl.own_missing_since - kEpoch) + " and not restored");
  }
}

void World::fail(const std::string& invariant) {
  if (failed()) return;
  failure_ = "INVARIANT VIOLATED: " + invariant + "\n  seed " + std::to_string(config_.seed) +
             ", virtual time " + seconds(now_ - kEpoch) + ", " + std::to_string(events_) +
             " events\n  last events:\n" + trace_tail(config_.trace ? 400 : 30);
}

}  // namespace ispf::sim

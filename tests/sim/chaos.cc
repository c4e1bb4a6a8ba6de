// The chaos run: one seeded schedule of overlapping faults of every kind the sim can inject.
#include "sim/chaos.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <vector>

#include "ispfailover/core/auth.h"
#include "ispfailover/core/status_message.h"
#include "sim/sim.h"

namespace ispf::sim {
namespace {

constexpr std::uint32_t kForger = kLanPrefix + 66;  // 192.168.56.66, a host on the LAN

class Chaos {
 public:
  Chaos(World& world, const ChaosOptions& options)
      : w_(world),
        o_(options),
        isp_busy_(world.isp_count(), false),
        client_busy_(world.client_count(), false) {}

  void next() {
    if (w_.failed()) return;
    inject_one();
    // A new fault every 20 s on average (exponential gaps): many overlap, most end quickly.
    double gap = -20.0 * std::log(1.0 - w_.rng().uniform());
    w_.at(w_.now() + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(gap)),
          [this] { next(); });
  }
  std::uint64_t faults() const { return faults_; }

 private:
  Rng& rng() { return w_.rng(); }
  Duration between(double lo_s, double hi_s) {
    return std::chrono::duration_cast<Duration>(
        std::chrono::duration<double>(lo_s + rng().uniform() * (hi_s - lo_s)));
  }
  // An ISP with no uplink fault running, or -1.
  int free_isp() {
    int i = static_cast<int>(rng().below(static_cast<std::uint64_t>(w_.isp_count())));
    return isp_busy_[i] ? -1 : i;
  }
  // Runs `fault` on ISP i now and `repair` after `d`; the ISP takes no other uplink fault
  // meanwhile.
  void episode(int i, Duration d, const std::function<void()>& fault,
               std::function<void()> repair) {
    isp_busy_[i] = true;
    fault();
    w_.at(w_.now() + d, [this, i, repair = std::move(repair)] {
      repair();
      isp_busy_[i] = false;
    });
  }

  void inject_one() {
    ++faults_;
    int isp = free_isp();
    auto kind = rng().below(20);
    switch (kind) {
      case 0:
      case 1:  // the uplink goes down (cable, modem reboot)
        if (isp >= 0) {
          episode(
              isp, between(0.02, 20), [=, this] { w_.set_uplink(isp, true, false); },
              [=, this] { w_.set_uplink(isp, true, true); });
        }
        break;
      case 2:  // the uplink is deleted and made anew (PPP, USB modem), or loses its route
        // (the lease or session ends, the link stays up); chosen without a draw, so the seeds
        // kept as regressions replay the same faults as when they were found.
        if (isp >= 0 && faults_ % 2 == 0) {
          episode(
              isp, between(0.5, 10), [=, this] { w_.delete_uplink(isp); },
              [=, this] { w_.create_uplink(isp); });
        } else if (isp >= 0) {
          episode(
              isp, between(0.05, 10), [=, this] { w_.set_uplink_routed(isp, false); },
              [=, this] { w_.set_uplink_routed(isp, true); });
        }
        break;
      case 3:
      case 4:  // a silent blackhole upstream
        if (isp >= 0) {
          episode(
              isp, between(0.1, 30), [=, this] { w_.set_blackhole(isp, true); },
              [=, this] { w_.set_blackhole(isp, false); });
        }
        break;
      case 5:  // a glitch: a blackhole shorter than the detection needs
        if (isp >= 0) {
          episode(
              isp, between(0.05, 0.8), [=, this] { w_.set_blackhole(isp, true); },
              [=, this] { w_.set_blackhole(isp, false); });
        }
        break;
      case 6:  // random loss each way, 5 % or 20 %
        if (isp >= 0) {
          double p = rng().chance(0.5) ? 0.05 : 0.20;
          episode(
              isp, between(20, 200), [=, this] { w_.set_loss(isp, p); },
              [=, this] { w_.set_loss(isp, 0); });
        }
        break;
      case 7:  // bursty loss (Gilbert-Elliott): bursts of a few packets
        if (isp >= 0) {
          GilbertElliott ge;
          ge.enabled = true;
          ge.p_good_to_bad = 0.02;
          ge.p_bad_to_good = 0.3;
          episode(
              isp, between(20, 120), [=, this] { w_.set_bursty(isp, ge); },
              [=, this] { w_.set_bursty(isp, GilbertElliott{}); });
        }
        break;
      case 8:  // latency: a long path, or one slower than the timeout (a blackhole by another name)
        if (isp >= 0) {
          auto choice = rng().below(3);
          Duration base = choice == 0 ? 80ms : choice == 1 ? 240ms : 1200ms;
          episode(
              isp, between(5, 90), [=, this] { w_.set_latency(isp, base, 40ms); },
              [=, this] { w_.set_latency(isp, 10ms, 2ms); });
        }
        break;
      case 9:  // the router dies (power) and boots again
        if (isp >= 0) {
          episode(
              isp, between(0.5, 40), [=, this] { w_.kill_router(isp); },
              [=, this] { w_.revive_router(isp); });
        }
        break;
      case 10: {  // ispprobed restarts (upgrade), or stays stopped for a while
        int i = static_cast<int>(rng().below(static_cast<std::uint64_t>(w_.isp_count())));
        Duration down = rng().chance(0.5) ? Duration::zero() : between(0.1, 5);
        w_.stop_probed(i);
        w_.at(w_.now() + down, [=, this] { w_.start_probed(i); });
        break;
      }
      case 11: {  // failoverd restarts, its route in the table
        int c = static_cast<int>(rng().below(static_cast<std::uint64_t>(w_.client_count())));
        w_.stop_failoverd(c);
        w_.at(w_.now() + between(0.05, 3), [=, this] { w_.start_failoverd(c); });
        break;
      }
      case 12: {  // the LAN misbehaves: drops, duplicates, delays and reorders
        if (lan_busy_) break;
        lan_busy_ = true;
        LanFaults f;
        f.drop = rng().uniform() * 0.10;
        f.duplicate = rng().uniform() * 0.05;
        f.delay_base = between(0.0001, 0.01);
        f.delay_jitter = kLanDelayMax - f.delay_base;
        w_.lan() = f;
        w_.at(w_.now() + between(5, 60), [this] {
          w_.lan() = LanFaults{};
          lan_busy_ = false;
        });
        break;
      }
      case 13:  // forgeries: wrong source, unknown name, garbage (and unsigned, with a key)
        forge_burst();
        break;
      case 14:  // replays of recorded datagrams the engines must refuse
        replay_burst();
        break;
      case 15: {  // someone edits the client's table: a DHCP route, or ours deleted
        int c = static_cast<int>(rng().below(static_cast<std::uint64_t>(w_.client_count())));
        auto what = rng().below(3);
        if (what == 0) w_.add_foreign_route(c, 100);
        if (what == 1) w_.replace_with_foreign(c);
        if (what == 2) w_.delete_own_route(c);
        break;
      }
      case 16: {  // the kernel refuses a few route edits (EBUSY, ENOBUFS)
        int c = static_cast<int>(rng().below(static_cast<std::uint64_t>(w_.client_count())));
        w_.fail_next_edits(
            c, rng().chance(0.5) ? std::errc::device_or_resource_busy : std::errc::no_buffer_space,
            1 + static_cast<int>(rng().below(3)));
        break;
      }
      case 17: {  // clocks: NTP steps within the allowed skew (forward only on routers)
        int host = static_cast<int>(
            rng().below(static_cast<std::uint64_t>(w_.isp_count() + w_.client_count())));
        std::int64_t ms = static_cast<std::int64_t>(rng().below(4000));
        if (host >= w_.isp_count() && rng().chance(0.5)) ms = -ms;
        if (offset_ok(host, ms)) w_.step_clock(host, ms);
        break;
      }
      case 18:
      case 19:  // the client's own LAN link flaps, or DHCP flushes its address
        if (o_.client_link_faults) client_fault();
        break;
    }
  }

  bool offset_ok(int host, std::int64_t ms) {
    // Keeps every clock within 10 s of true time: the skew allowed is 30 s.
    auto& offset = offsets_[host];
    if (std::abs(offset + ms) > 10000) return false;
    offset += ms;
    return true;
  }

  void client_fault() {
    int c = static_cast<int>(rng().below(static_cast<std::uint64_t>(w_.client_count())));
    if (client_busy_[c]) return;
    client_busy_[c] = true;
    Duration d = between(0.05, 10);
    if (rng().chance(0.5)) {
      w_.set_client_link(c, false);
      w_.at(w_.now() + d, [=, this] {
        w_.set_client_link(c, true);
        client_busy_[c] = false;
      });
    } else {
      w_.flush_client_addresses(c);
      w_.at(w_.now() + d, [=, this] {
        w_.restore_client_address(c);
        client_busy_[c] = false;
      });
    }
  }

  void forge_burst() {
    int n = 1 + static_cast<int>(rng().below(200));
    for (int k = 0; k < n; ++k) {
      Status s;
      int isp = static_cast<int>(rng().below(static_cast<std::uint64_t>(w_.isp_count())));
      s.name = "isp" + std::to_string(isp + 1);
      s.instance = rng().next();
      s.seq = rng().below(1000000);
      s.time_ms = kWallBase + static_cast<std::uint64_t>(to_ms(w_.elapsed()));
      s.state = rng().chance(0.5) ? LinkState::kDown : LinkState::kUp;
      s.reason = s.state == LinkState::kUp ? "probe-ok" : "link-down";
      s.heartbeat_ms = 300;
      s.targets = 1;
      s.targets_up = s.state == LinkState::kUp ? 1 : 0;
      s.window_ms = 30000;
      std::string bytes;
      std::uint32_t source = kForger;
      switch (rng().below(4)) {
        case 0:  // a configured name from the wrong address
          bytes = encode(s);
          break;
        case 1:  // a name nobody configured
          s.name = "isp9";
          bytes = encode(s);
          source = rng().chance(0.5) ? kForger : w_.gateway(isp);
          break;
        case 2: {  // garbage
          auto len = rng().below(600);
          for (std::uint64_t b = 0; b < len; ++b)
            bytes.push_back(static_cast<char>(rng().below(256)));
          source = rng().chance(0.5) ? kForger : w_.gateway(isp);
          break;
        }
        case 3:  // with a key: from the gateway's own address, unsigned or signed with another key
          if (!o_.keyed) {
            bytes = encode(s);
            break;
          }
          bytes =
              rng().chance(0.5) ? encode(s) : sign_datagram(encode(s), "not-the-key-0123456789");
          source = w_.gateway(isp);
          break;
      }
      w_.inject(bytes, source);
    }
  }

  void replay_burst() {
    int isp = static_cast<int>(rng().below(static_cast<std::uint64_t>(w_.isp_count())));
    int c = static_cast<int>(rng().below(static_cast<std::uint64_t>(w_.client_count())));
    int n = 1 + static_cast<int>(rng().below(20));
    for (int k = 0; k < n; ++k) {
      int back = static_cast<int>(rng().below(w_.recorded(isp) + 1));
      if (w_.replay_refusable(isp, back, c)) w_.replay(isp, back, c);
    }
  }

  World& w_;
  ChaosOptions o_;
  std::vector<bool> isp_busy_;
  std::vector<bool> client_busy_;
  bool lan_busy_ = false;
  std::map<int, std::int64_t> offsets_;
  std::uint64_t faults_ = 0;
};

}  // namespace

ChaosResult run_chaos(const ChaosOptions& options) {
  WorldConfig config;
  config.seed = options.seed;
  config.isps = options.isps;
  config.clients = options.clients;
  config.keyed = options.keyed;
  config.when_all_down = options.when_all_down;
  config.trace = flags().trace;
  auto wall_start = std::chrono::steady_clock::now();
  World world(config);
  Chaos chaos(world, options);
  // The network settles for a minute before the first fault.
  world.at(world.now() + std::chrono::minutes(1), [&] { chaos.next(); });
  world.run_until(World::kEpoch + std::chrono::duration_cast<Duration>(
                                      std::chrono::duration<double>(options.hours * 3600)));
  ChaosResult r;
  r.failure = world.failure();
  r.virtual_hours = std::chrono::duration<double>(world.elapsed()).count() / 3600;
  r.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  r.events = world.events();
  r.faults = chaos.faults();
  for (int c = 0; c < world.client_count(); ++c) r.switches += world.moves(c).size();
  return r;
}

}  // namespace ispf::sim

// ProbeEngine: round cadence, verdicts, the datagrams and their timing, link events.
#include "ispfailover/core/probe_engine.h"

#include <gtest/gtest.h>

#include "ispfailover/core/auth.h"
#include "ispfailover/core/status_message.h"

namespace ispf {
namespace {

Now At(long long ms) { return Now{TimePoint{} + milliseconds(ms), 1795000000000ULL + ms}; }
long long Ms(TimePoint t) {
  return std::chrono::duration_cast<milliseconds>(t - TimePoint{}).count();
}

ProbeEngineConfig Config() {
  ProbeEngineConfig c;
  c.name = "isp1";
  c.targets = {IpAddress::ipv4(0xc6336408), IpAddress::ipv4(0xc6336409)};  // 198.51.100.8, .9
  c.uplink = "up0";
  return c;
}

constexpr LinkStatus kUsable{true, true, true};

long long TimeoutMs(const RoundRequest& request) { return to_ms(request.timeout); }

RoundReport Answered(const RoundRequest& request, long long at_ms, bool answered) {
  RoundReport r;
  r.sequence = request.sequence;
  r.started = At(at_ms).steady;
  r.concluded = At(at_ms + (answered ? 1 : TimeoutMs(request))).steady;
  for (auto target : request.targets) {
    ProbeOutcome p;
    p.target = target;
    if (answered) {
      p.rtt = microseconds(1000);
      p.error = ProbeError::kNone;
    }
    r.probes.push_back(p);
  }
  return r;
}

// Drives the engine like the shell does, with every round answered (or not) by `answer`.
struct Driver {
  explicit Driver(ProbeEngineConfig config) : engine(std::move(config), 0x1234, At(0)) {}
  void Take(const ProbeActions& a, long long at) {
    for (const auto& d : a.send) sent.push_back({at, d});
    if (a.start_round) {
      rounds.push_back({*a.start_round, at});
      all_rounds.push_back({*a.start_round, at});
    }
    if (a.wake_at) wake = Ms(*a.wake_at);
  }
  // Rounds conclude in start order (answered after 1 ms, or at their timeout); a wake-up asked
  // for a time already past comes at once, as the shell's timer does.
  void RunUntil(long long end, bool answer) {
    while (true) {
      long long next = std::max(wake, now);
      if (!rounds.empty()) {
        const auto& [request, started] = rounds.front();
        long long concluded = started + (answer ? 1 : TimeoutMs(request));
        if (concluded <= next) {
          if (concluded > end) return;
          auto report = Answered(request, started, answer);
          rounds.erase(rounds.begin());
          now = std::max(now, concluded);
          Take(engine.on_round(report, At(now)), now);
          continue;
        }
      }
      if (next > end) return;
      now = next;
      Take(engine.on_wake(At(now)), now);
    }
  }
  long long now = 0;
  ProbeEngine engine;
  std::vector<std::pair<long long, std::string>> sent;
  std::vector<std::pair<RoundRequest, long long>> rounds;
  std::vector<std::pair<RoundRequest, long long>> all_rounds;  // every round ever started
  long long wake = 0;
};

TEST(ProbeEngineTest, FirstRoundStartsAtOnceAndRoundsKeepTheirCadence) {
  Driver d(Config());
  auto a = d.engine.start(kUsable, At(0));
  ASSERT_TRUE(a.start_round);
  EXPECT_EQ(a.start_round->sequence, 1);
  EXPECT_EQ(a.start_round->targets.size(), 2u);
  // Nothing measured yet: the ceiling.
  EXPECT_EQ(a.start_round->timeout, std::chrono::seconds(1));
  d.Take(a, 0);
  d.RunUntil(1500, true);
  ASSERT_GE(d.rounds.size() + 10, 10u);
  // Rounds every 150 ms: 0, 150, ..., 1500 (11 starts, whatever the answers' timing).
  EXPECT_EQ(d.engine.status_now(At(1500)).state, LinkState::kUp);
}

TEST(ProbeEngineTest, SilentUntilTheFirstVerdictThenUpWithBurstAndHeartbeat) {
  Driver d(Config());
  d.Take(d.engine.start(kUsable, At(0)), 0);
  d.RunUntil(49, true);
  EXPECT_TRUE(d.sent.empty()) << "nothing true to say before up-after rounds";
  d.RunUntil(3000, true);
  ASSERT_FALSE(d.sent.empty());
  long long up_at = d.sent.front().first;
  // Until the first verdict rounds come every 25 ms (a restart must be heard from fast): the
  // third answered round, started at 50 ms, concludes at 51 ms.
  EXPECT_EQ(up_at, 51);
  auto first = decode(d.sent.front().second);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->state, LinkState::kUp);
  EXPECT_EQ(first->reason, "probe-ok");
  // The change is repeated at +20, +40 and +80 ms, then a heartbeat every 100 ms (the first
  // one 100 ms after the change).
  ASSERT_GE(d.sent.size(), 6u);
  EXPECT_EQ(d.sent[1].first - up_at, 20);
  EXPECT_EQ(d.sent[2].first - up_at, 40);
  EXPECT_EQ(d.sent[3].first - up_at, 80);
  EXPECT_EQ(d.sent[4].first - up_at, 100);
  EXPECT_EQ(d.sent[5].first - d.sent[4].first, 100);
  // Sequence numbers grow by one per datagram.
  for (std::size_t i = 1; i < d.sent.size(); ++i) {
    EXPECT_EQ(decode(d.sent[i].second)->seq, decode(d.sent[i - 1].second)->seq + 1);
  }
}

TEST(ProbeEngineTest, SilentUpstreamGoesDownAfterDownAfterRounds) {
  Driver d(Config());
  d.Take(d.engine.start(kUsable, At(0)), 0);
  d.RunUntil(1000, true);
  ASSERT_EQ(d.engine.state(), LinkState::kUp);
  d.sent.clear();
  d.RunUntil(3000, false);
  ASSERT_EQ(d.engine.state(), LinkState::kDown);
  EXPECT_EQ(d.engine.reason(), "probe-loss");
  auto down = std::find_if(d.sent.begin(), d.sent.end(), [](const auto& s) {
    return decode(s.second)->state == LinkState::kDown;
  });
  ASSERT_NE(down, d.sent.end());
  // The round of 1050 ms fails at its 50 ms timeout (the floor: the RTT is 1 ms); rounds then
  // come every 25 ms from 1100. The round started 200 ms after 1050 fails at 1300 ms.
  EXPECT_EQ(down->first, 1300);
  // Confirmation rounds came every 25 ms from the first miss to the verdict.
  std::vector<long long> starts;
  for (const auto& [request, at] : d.all_rounds) {
    if (at >= 1050 && at <= 1250) starts.push_back(at);
  }
  EXPECT_EQ(starts, (std::vector<long long>{1050, 1100, 1125, 1150, 1175, 1200, 1225, 1250}));
}

TEST(ProbeEngineTest, LinkDownIsDownAtOnce) {
  Driver d(Config());
  d.Take(d.engine.start(kUsable, At(0)), 0);
  d.RunUntil(1000, true);
  d.sent.clear();
  auto a = d.engine.on_link(LinkStatus{true, true, false}, At(1010));
  ASSERT_EQ(a.send.size(), 1u);
  auto s = decode(a.send[0]);
  EXPECT_EQ(s->state, LinkState::kDown);
  EXPECT_EQ(s->reason, "link-down");
  EXPECT_EQ(d.engine.state(), LinkState::kDown);
}

// PPPoE, LTE and VLAN uplinks come and go: a missing uplink is a state, reported as no-uplink.
TEST(ProbeEngineTest, AMissingUplinkIsDownWithNoUplinkAndComesUpWhenItAppears) {
  Driver d(Config());
  auto a = d.engine.start(LinkStatus{}, At(0));
  d.Take(a, 0);
  ASSERT_FALSE(a.send.empty());
  auto s = decode(a.send[0]);
  EXPECT_EQ(s->state, LinkState::kDown);
  EXPECT_EQ(s->reason, "no-uplink");
  EXPECT_EQ(d.engine.reason(), "no-uplink");
  // It appears (made anew, index 7), and up_after good rounds later the line is up.
  d.Take(d.engine.on_link(LinkStatus{true, true, true, 7}, At(500)), 500);
  EXPECT_EQ(d.engine.state(), LinkState::kDown);
  d.RunUntil(2000, true);
  EXPECT_EQ(d.engine.state(), LinkState::kUp);
  // Deleted: down at once with no-uplink, not link-down.
  auto gone = d.engine.on_link(LinkStatus{}, At(2010));
  ASSERT_EQ(gone.send.size(), 1u);
  EXPECT_EQ(decode(gone.send[0])->reason, "no-uplink");
}

// The ISP's lease or session ends and its route goes, while the link stays up: down at once
// (on the second check in a row), with no-route, not after the probe hysteresis.
TEST(ProbeEngineTest, NoRouteOutOfTheUplinkIsDownOnTheSecondCheck) {
  Driver d(Config());
  d.Take(d.engine.start(kUsable, At(0)), 0);
  d.RunUntil(1000, true);
  ASSERT_EQ(d.engine.state(), LinkState::kUp);
  auto first = d.engine.on_route_check(0, At(1050));
  EXPECT_TRUE(first.send.empty()) << "one look is not enough: a route may be being replaced";
  EXPECT_EQ(d.engine.state(), LinkState::kUp);
  // A route back in between starts the count anew.
  d.Take(d.engine.on_route_check(2, At(1200)), 1200);
  d.Take(d.engine.on_route_check(0, At(1350)), 1350);
  EXPECT_EQ(d.engine.state(), LinkState::kUp);
  d.Take(d.engine.on_route_check(1, At(1500)), 1500);  // quorum 1: one routed target is enough
  EXPECT_EQ(d.engine.state(), LinkState::kUp);
  d.Take(d.engine.on_route_check(0, At(1650)), 1650);
  auto down = d.engine.on_route_check(0, At(1800));
  ASSERT_EQ(down.send.size(), 1u);
  EXPECT_EQ(decode(down.send[0])->state, LinkState::kDown);
  EXPECT_EQ(decode(down.send[0])->reason, "no-route");
  // Rounds answered meanwhile (the upstream answers ARP for the target) do not bring it up.
  d.RunUntil(3000, true);
  EXPECT_EQ(d.engine.state(), LinkState::kDown);
  // The route is back: up once up_after rounds prove it.
  d.Take(d.engine.on_route_check(2, At(3050)), 3050);
  d.RunUntil(4000, true);
  EXPECT_EQ(d.engine.state(), LinkState::kUp);
}

// A link that goes down while unrouted says link-down; the better-known cause wins.
TEST(ProbeEngineTest, LinkStateExplainsBeforeRoutes) {
  Driver d(Config());
  d.Take(d.engine.start(kUsable, At(0)), 0);
  d.RunUntil(1000, true);
  d.Take(d.engine.on_route_check(0, At(1050)), 1050);
  d.Take(d.engine.on_route_check(0, At(1200)), 1200);
  EXPECT_EQ(d.engine.reason(), "no-route");
  d.Take(d.engine.on_link(LinkStatus{true, false, false, 3}, At(1300)), 1300);
  EXPECT_EQ(d.engine.reason(), "link-down");
  d.Take(d.engine.on_link(LinkStatus{}, At(1400)), 1400);
  EXPECT_EQ(d.engine.reason(), "no-uplink");
}

TEST(ProbeEngineTest, WithAKeyEveryDatagramIsSigned) {
  ProbeEngineConfig config = Config();
  config.keys = {"0123456789abcdef0123", "older key, still accepted"};
  Driver d(config);
  d.Take(d.engine.start(kUsable, At(0)), 0);
  d.RunUntil(1000, true);
  ASSERT_FALSE(d.sent.empty());
  for (const auto& [at, datagram] : d.sent) {
    auto verified = verify_datagram(datagram, {config.keys[0]});
    ASSERT_TRUE(verified) << datagram;
  }
}

TEST(ProbeEngineTest, SendErrorsAreCountedAndLoggedRateLimited) {
  Driver d(Config());
  d.Take(d.engine.start(kUsable, At(0)), 0);
  auto error = std::make_error_code(std::errc::network_down);
  std::size_t lines = 0;
  for (int i = 0; i < 100; ++i) lines += d.engine.on_send_error(error, At(i * 100)).log.size();
  EXPECT_EQ(d.engine.send_errors(), 100u);
  EXPECT_EQ(lines, 1u);  // once a minute
}

// Loss counted from the moment the line came up: a small sample must not look like a lossy
// line. The lab's e2e 05 once saw 9 of the first 40 probes lost at 5 % loss each way (22.5 %)
// and failoverd moved traffic off a working ISP.
TEST(ProbeEngineTest, EarlyLossOnASmallSampleIsNotReportedAsHighLoss) {
  ProbeEngine engine(Config(), 0x1234, At(0));
  engine.start(kUsable, At(0));
  long long t = 0;
  auto round = [&](int lost) {
    RoundRequest request{0, Config().targets, milliseconds(300)};
    RoundReport report = Answered(request, t, true);
    for (int i = 0; i < lost; ++i) {
      report.probes[i].rtt.reset();
      report.probes[i].error = ProbeError::kTimeout;
    }
    engine.on_round(report, At(t + 1));
    t += 150;
  };
  for (int i = 0; i < 3; ++i) round(0);  // up
  ASSERT_EQ(engine.state(), LinkState::kUp);
  // 20 rounds, 40 probes, 9 lost: 22.5 % of the sample.
  for (int i = 0; i < 20; ++i) round(i < 9 ? 1 : 0);
  EXPECT_LE(engine.status_now(At(t)).loss_permille, 200u) << "a 40-probe sample is not a verdict";
  // A line that really loses 36 % of its probes is reported above 20 % once the sample is big.
  for (int i = 0; i < 200; ++i) round(i % 3 == 0 ? 1 : (i % 3 == 1 ? 1 : 0));
  EXPECT_GT(engine.status_now(At(t)).loss_permille, 200u);
}

TEST(ProbeEngineTest, CountsProbesSentAndAnsweredPerTarget) {
  ProbeEngine engine(Config(), 0x1234, At(0));
  auto a = engine.start(kUsable, At(0));
  ASSERT_TRUE(a.start_round);
  RoundReport round = Answered(*a.start_round, 0, true);
  round.probes[1].rtt.reset();  // .9 silent
  round.probes[1].error = ProbeError::kTimeout;
  engine.on_round(round, At(300));
  RoundReport refused = Answered(*a.start_round, 300, false);
  refused.probes[0].error = ProbeError::kNoRoute;  // never left: not sent
  refused.probes[0].send_error = std::make_error_code(std::errc::network_unreachable);
  engine.on_round(refused, At(600));
  EXPECT_EQ(engine.probes_sent(), 3u);
  EXPECT_EQ(engine.probes_answered(IpAddress::ipv4(0xc6336408)), 1u);
  EXPECT_EQ(engine.probes_answered(IpAddress::ipv4(0xc6336409)), 0u);
  ProbeMetrics m = engine.metrics(At(600));
  EXPECT_EQ(m.probes_sent, 3u);
  using Entry = std::pair<std::string, std::uint64_t>;
  EXPECT_EQ(m.probes_answered, (std::vector<Entry>{{"198.51.100.8", 1}, {"198.51.100.9", 0}}));
  EXPECT_FALSE(m.up);  // no verdict yet
}

TEST(ProbeEngineTest, MetricsOnEveryVerdictAndAtLeastOnceASecond) {
  ProbeEngineConfig config = Config();
  config.heartbeat = std::chrono::seconds(5);  // no heartbeat to hide behind
  Driver d(config);
  auto a = d.engine.start(kUsable, At(0));
  EXPECT_TRUE(a.metrics);  // at once, so the file exists from the start
  d.Take(a, 0);
  // The verdict "up" (after up_after rounds) comes with metrics that say so.
  long long up_at = -1;
  long long last = 0;
  long long longest_gap = 0;
  auto watch = [&](const ProbeActions& actions, long long now) {
    if (!actions.metrics) return;
    if (actions.metrics->up && up_at < 0) up_at = now;
    longest_gap = std::max(longest_gap, now - last);
    last = now;
  };
  // Drive by hand to see every action's metrics.
  for (int step = 0; step < 200 && d.wake <= 5000; ++step) {
    long long next = d.wake;
    if (!d.rounds.empty() && d.rounds.front().second + 1 <= next) {
      auto [request, started] = d.rounds.front();
      d.rounds.erase(d.rounds.begin());
      auto actions = d.engine.on_round(Answered(request, started, true), At(started + 1));
      watch(actions, started + 1);
      d.Take(actions, started + 1);
      continue;
    }
    auto actions = d.engine.on_wake(At(next));
    watch(actions, next);
    d.Take(actions, next);
  }
  ASSERT_GE(up_at, 0);
  EXPECT_LE(up_at, 1000);
  EXPECT_LE(longest_gap, 1000);
  EXPECT_GE(last, 4000);
}

}  // namespace
}  // namespace ispf

namespace ispf {
namespace {

TEST(ProbeEngineTest, ALateReplyEndsTheRunAndTeachesTheTimeout) {
  Driver d(Config());
  d.Take(d.engine.start(kUsable, At(0)), 0);
  d.RunUntil(1000, true);  // up, answers in 1 ms: the timeout is at its 50 ms floor
  ASSERT_EQ(d.engine.state(), LinkState::kUp);
  auto first = d.engine.on_wake(At(1050));
  ASSERT_TRUE(first.start_round);
  EXPECT_EQ(first.start_round->timeout, milliseconds(50));
  // The RTT jumps to 120 ms: the round times out, and a confirmation round follows at once.
  auto missed = d.engine.on_round(Answered(*first.start_round, 1050, false), At(1100));
  ASSERT_TRUE(missed.wake_at);
  EXPECT_LE(Ms(*missed.wake_at), 1100) << "a confirmation round is due at once";
  auto confirm = d.engine.on_wake(At(1100));
  ASSERT_TRUE(confirm.start_round);
  d.engine.on_round(Answered(*confirm.start_round, 1100, false), At(1150));
  // Both replies come, late; each counts as the answer it is.
  IpAddress target = first.start_round->targets[0];
  d.engine.on_late_reply(LateReply{first.start_round->sequence, target, milliseconds(120)},
                         At(1170));
  d.engine.on_late_reply(LateReply{confirm.start_round->sequence, target, milliseconds(120)},
                         At(1190));
  // The run is over: no confirmation round (it would have been due at 1125), the next round
  // comes at the 150 ms cadence.
  EXPECT_FALSE(d.engine.on_wake(At(1199)).start_round);
  auto next = d.engine.on_wake(At(1200));
  ASSERT_TRUE(next.start_round);
  EXPECT_GT(next.start_round->timeout, milliseconds(120)) << "the timeout learned the new RTT";
  EXPECT_EQ(d.engine.state(), LinkState::kUp);
  EXPECT_EQ(d.engine.late_replies(), 2u);
  EXPECT_EQ(d.engine.probes_answered(target) > 0, true);
}

}  // namespace
}  // namespace ispf

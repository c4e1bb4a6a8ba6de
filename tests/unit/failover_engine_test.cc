// FailoverEngine: the actions it asks for on datagrams, table changes, refused edits and time.
#include "ispfailover/core/failover_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "ispfailover/core/auth.h"
#include "support/sample_status.h"

namespace ispf {
namespace {

constexpr std::uint32_t kIsp1 = 0xc0a83865;     // 192.168.56.101
constexpr std::uint32_t kIsp2 = 0xc0a83866;     // 192.168.56.102
constexpr std::uint32_t kVagrant = 0x0a000202;  // 10.0.2.2

Now At(long long ms) { return Now{TimePoint{} + milliseconds(ms), 1795000000000ULL + ms}; }

FailoverSettings Settings() {
  FailoverSettings s;
  s.isps = {{"isp1", kIsp1, 0}, {"isp2", kIsp2, 1}};
  s.replace_gateways = {kVagrant};
  return s;
}

class FailoverEngineTest : public testing::Test {
 protected:
  std::string Datagram(const std::string& name, LinkState state, const std::string& reason = "") {
    Status s = test::SampleStatus();
    s.name = name;
    s.instance = name == "isp1" ? 1 : 2;
    s.seq = ++seq_;
    s.state = state;
    s.reason = reason.empty() ? (state == LinkState::kUp ? "probe-ok" : "link-down") : reason;
    s.loss_permille = 0;
    return encode(s);
  }
  FailoverActions Send(FailoverEngine& engine, const std::string& name, LinkState state,
                       std::uint32_t source, long long at_ms) {
    std::string d = Datagram(name, state);
    return engine.on_datagram(d, source, At(at_ms));
  }
  // Both up, the route via isp1, then isp1 reports down: the actions of that report.
  FailoverActions Isp1GoesDown(FailoverEngine& engine) {
    engine.start({}, At(0));
    auto a = Send(engine, "isp1", LinkState::kUp, kIsp1, 10);
    engine.on_edits_done(a.route_edits, {std::error_code{}}, At(10));
    Send(engine, "isp2", LinkState::kUp, kIsp2, 20);
    return Send(engine, "isp1", LinkState::kDown, kIsp1, 100);
  }
  static bool Logged(const FailoverActions& a, EventKind kind) {
    return std::any_of(a.log.begin(), a.log.end(),
                       [&](const LogEvent& e) { return e.kind == kind; });
  }
  std::uint64_t seq_ = 0;
};

RouteEdit ReplaceVia(std::uint32_t gateway) { return RouteEdit::replace_own(RouteSlot{}, gateway); }

TEST_F(FailoverEngineTest, StartDeletesTheForeignRouteAndWaitsForReports) {
  FailoverEngine engine(Settings(), At(0));
  DefaultRoute foreign{kVagrant, 100, 16, 2, 254};
  auto a = engine.start({foreign}, At(0));
  ASSERT_EQ(a.route_edits.size(), 1u);
  EXPECT_EQ(a.route_edits[0].kind, RouteEdit::Kind::kDeleteForeign);
  EXPECT_EQ(a.route_edits[0].route, foreign);
  ASSERT_TRUE(a.publish);
  ASSERT_TRUE(a.wake_at);
  auto done = engine.on_edits_done(a.route_edits, {std::error_code{}}, At(1));
  EXPECT_TRUE(Logged(done, EventKind::kForeignRouteDeleted));
  EXPECT_TRUE(done.route_edits.empty());
}

TEST_F(FailoverEngineTest, FirstUpReportInstallsTheRoute) {
  FailoverEngine engine(Settings(), At(0));
  engine.start({}, At(0));
  auto a = Send(engine, "isp1", LinkState::kUp, kIsp1, 10);
  ASSERT_EQ(a.route_edits.size(), 1u);
  EXPECT_EQ(a.route_edits[0], ReplaceVia(kIsp1));
  EXPECT_TRUE(Logged(a, EventKind::kSwitch));
  EXPECT_EQ(engine.desired_gateway(), kIsp1);
}

TEST_F(FailoverEngineTest, DownReportMovesTheRouteAtOnce) {
  FailoverEngine engine(Settings(), At(0));
  auto down = Isp1GoesDown(engine);
  ASSERT_EQ(down.route_edits.size(), 1u);
  EXPECT_EQ(down.route_edits[0], ReplaceVia(kIsp2));
  auto switch_line = std::find_if(down.log.begin(), down.log.end(),
                                  [](const LogEvent& e) { return e.kind == EventKind::kSwitch; });
  ASSERT_NE(switch_line, down.log.end());
  EXPECT_EQ(switch_line->level, LogLevel::kWarning);
  EXPECT_EQ(switch_line->text.rfind("switch isp1 -> isp2", 0), 0u) << switch_line->text;
  // The journal's fields (and the hooks) get the same facts without parsing the text.
  auto field = [&](const std::string& name) {
    for (const auto& [key, value] : switch_line->fields) {
      if (key == name) return value;
    }
    return std::string("(absent)");
  };
  EXPECT_EQ(field("ISPF_FROM"), "isp1");
  EXPECT_EQ(field("ISPF_TO"), "isp2");
  EXPECT_EQ(field("ISPF_REASON"), "link-down");  // the failed ISP's own reason
}

TEST_F(FailoverEngineTest, SwitchAndHealthChangeAreHookEvents) {
  FailoverEngine engine(Settings(), At(0));
  auto down = Isp1GoesDown(engine);
  using Fields = std::vector<std::pair<std::string, std::string>>;
  auto has = [&](const std::string& kind, const Fields& fields) {
    return std::any_of(down.hooks.begin(), down.hooks.end(),
                       [&](const HookEvent& h) { return h.event == kind && h.fields == fields; });
  };
  EXPECT_TRUE(
      has("switch", {{"ISPF_FROM", "isp1"}, {"ISPF_TO", "isp2"}, {"ISPF_REASON", "link-down"}}));
  EXPECT_TRUE(has("isp-state",
                  {{"ISPF_ISP", "isp1"}, {"ISPF_STATE", "down"}, {"ISPF_REASON", "link-down"}}));
}

TEST_F(FailoverEngineTest, RouteRemovedBySomeoneElseIsRestored) {
  FailoverEngine engine(Settings(), At(0));
  engine.start({}, At(0));
  auto a = Send(engine, "isp1", LinkState::kUp, kIsp1, 10);
  engine.on_edits_done(a.route_edits, {std::error_code{}}, At(10));
  // The kernel dropped it with the link: the table no longer has it, and nothing was decided.
  auto changed = engine.on_table({}, At(500));
  ASSERT_EQ(changed.route_edits.size(), 1u);
  EXPECT_EQ(changed.route_edits[0], ReplaceVia(kIsp1));
  auto done = engine.on_edits_done(changed.route_edits, {std::error_code{}}, At(500));
  EXPECT_TRUE(Logged(done, EventKind::kRouteRestored));
  // Our own route in the table is left alone.
  auto same = engine.on_table({DefaultRoute{kIsp1, 0, 150, 2, 254}}, At(600));
  EXPECT_TRUE(same.route_edits.empty());
}

// Our own link gone: the kernel dropped the route and would refuse it (ENETUNREACH), so nothing
// is tried (and no error logged) until the link returns; then it is put back at once.
TEST_F(FailoverEngineTest, WithOurOwnLinkGoneTheRouteWaitsForTheLink) {
  FailoverEngine engine(Settings(), At(0));
  engine.start({}, At(0));
  auto a = Send(engine, "isp1", LinkState::kUp, kIsp1, 10);
  engine.on_edits_done(a.route_edits, {std::error_code{}}, At(10));
  auto gone = engine.on_local_network({}, At(500));
  EXPECT_TRUE(gone.route_edits.empty());
  auto table = engine.on_table({}, At(500));
  EXPECT_TRUE(table.route_edits.empty()) << "a route edit while our own link is gone";
  auto back = engine.on_local_network({Ipv4Prefix{0xc0a838c8, 24}}, At(800));
  auto reread = engine.on_table({}, At(800));
  std::vector<RouteEdit> edits = back.route_edits;
  edits.insert(edits.end(), reread.route_edits.begin(), reread.route_edits.end());
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0], ReplaceVia(kIsp1));
}

TEST_F(FailoverEngineTest, RefusedEditIsRetriedWithGrowingBackoff) {
  FailoverEngine engine(Settings(), At(0));
  engine.start({}, At(0));
  auto a = Send(engine, "isp1", LinkState::kUp, kIsp1, 10);
  auto unreachable = std::make_error_code(std::errc::network_unreachable);
  long long now = 10;
  std::vector<long long> waits;
  auto edits = a.route_edits;
  for (int attempt = 0; attempt < 8; ++attempt) {
    ASSERT_FALSE(edits.empty()) << "attempt " << attempt;
    auto failed = engine.on_edits_done(edits, {unreachable}, At(now));
    EXPECT_TRUE(attempt > 0 || Logged(failed, EventKind::kRouteEditFailed));
    // The retry comes as a wake-up that asks for a fresh read of the table.
    ASSERT_TRUE(failed.wake_at);
    long long retry = now;
    FailoverActions woke;
    while (!woke.read_table) {
      retry = std::chrono::duration_cast<milliseconds>(
                  (woke.wake_at ? *woke.wake_at : *failed.wake_at) - TimePoint{})
                  .count();
      woke = engine.on_wake(At(retry));
    }
    waits.push_back(retry - now);
    now = retry;
    edits = engine.on_table({}, At(now)).route_edits;
  }
  EXPECT_EQ(waits.front(), 100);
  EXPECT_EQ(waits[1], 200);
  EXPECT_EQ(waits.back(), 5000);  // capped
  // Success resets the backoff.
  engine.on_edits_done(edits, {std::error_code{}}, At(now));
  auto again = engine.on_table({}, At(now + 10));
  auto failed = engine.on_edits_done(again.route_edits, {unreachable}, At(now + 10));
  FailoverActions woke;
  long long t = now + 10;
  while (!woke.read_table && t < now + 10 + 1000) woke = engine.on_wake(At(++t));
  EXPECT_EQ(t - (now + 10), 100);
}

TEST_F(FailoverEngineTest, BadTagsCostCountersOnly) {
  FailoverSettings settings = Settings();
  settings.keys = {"0123456789abcdef0123"};
  FailoverEngine engine(settings, At(0));
  engine.start({}, At(0));
  std::string good = sign_datagram(Datagram("isp1", LinkState::kUp), settings.keys[0]);
  auto a = engine.on_datagram(good, kIsp1, At(10));
  ASSERT_EQ(a.route_edits.size(), 1u);
  engine.on_edits_done(a.route_edits, {std::error_code{}}, At(10));
  // Forged "isp1 is down" with a wrong key, as fast as a host can send, within one publish period.
  std::string forged = sign_datagram(Datagram("isp1", LinkState::kDown), "another key, 16+ bytes");
  for (int i = 0; i < 1000; ++i) {
    auto f = engine.on_datagram(forged, kIsp1, At(20 + i / 10));
    EXPECT_TRUE(f.route_edits.empty());
    EXPECT_FALSE(f.publish) << "datagram " << i;
    EXPECT_LE(f.log.size(), i == 0 ? 1u : 0u) << "datagram " << i;
  }
  EXPECT_EQ(engine.drops()[static_cast<std::size_t>(DropReason::kUnauthenticated)], 1000u);
  EXPECT_EQ(engine.desired_gateway(), kIsp1);
}

TEST_F(FailoverEngineTest, EveryDatagramIsAcceptedOrCountedOnce) {
  FailoverEngine engine(Settings(), At(0));
  engine.start({}, At(0));
  std::vector<std::pair<std::string, std::uint32_t>> inputs = {
      {Datagram("isp1", LinkState::kUp), kIsp1},  // accepted
      {Datagram("isp1", LinkState::kUp), kIsp2},  // wrong source
      {Datagram("isp9", LinkState::kUp), kIsp1},  // unknown name
      {"ISPF 2\nname=x\n", kIsp1},                // undecodable
      {"", kIsp1},                                // undecodable
  };
  std::string replayed = Datagram("isp2", LinkState::kUp);
  inputs.push_back({replayed, kIsp2});  // accepted
  inputs.push_back({replayed, kIsp2});  // replay
  for (const auto& [bytes, source] : inputs) engine.on_datagram(bytes, source, At(50));
  const auto& drops = engine.drops();
  std::uint64_t dropped = std::accumulate(drops.begin(), drops.end(), std::uint64_t{0});
  EXPECT_EQ(engine.accepted(), 2u);
  EXPECT_EQ(engine.accepted() + dropped, inputs.size());
  EXPECT_EQ(drops[static_cast<std::size_t>(DropReason::kWrongSource)], 1u);
  EXPECT_EQ(drops[static_cast<std::size_t>(DropReason::kUnknownName)], 1u);
  EXPECT_EQ(drops[static_cast<std::size_t>(DropReason::kUndecodable)], 2u);
  EXPECT_EQ(drops[static_cast<std::size_t>(DropReason::kReplay)], 1u);
}

TEST_F(FailoverEngineTest, RefusalsAreCountedPerIspAndShownWithTheLastReason) {
  FailoverSettings settings = Settings();
  settings.keys = {"0123456789abcdef0123"};
  FailoverEngine engine(settings, At(0));
  engine.start({}, At(0));
  // isp2 signs with another key: every report of its own is refused.
  std::string wrong_key = sign_datagram(Datagram("isp2", LinkState::kUp), "a key isp2 has, 16+");
  std::vector<LogEvent> warnings;
  for (int i = 0; i < 5; ++i) {
    auto a = engine.on_datagram(wrong_key, kIsp2, At(10 + i));
    for (auto& e : a.log) warnings.push_back(e);
  }
  ASSERT_EQ(warnings.size(), 1u);  // once a minute per ISP
  EXPECT_EQ(warnings[0].level, LogLevel::kWarning);
  EXPECT_EQ(warnings[0].text.rfind("isp2's reports are refused: unauthenticated", 0), 0u)
      << warnings[0].text;
  auto report = engine.report(At(20));
  EXPECT_EQ(report.isps[1].refused, 5u);
  EXPECT_EQ(report.isps[1].last_refusal, std::optional<std::string>("unauthenticated"));
  EXPECT_EQ(report.isps[0].refused, 0u);
  auto table = render_status_table(to_json(report));
  ASSERT_TRUE(table) << table.error();
  EXPECT_NE(table->find("refused reports: isp2 5 (last: unauthenticated)"), std::string::npos)
      << *table;
}

// An ISP that failed twice in ten minutes waits twice as long; the status table says so.
// An unreadable resolver list costs one warning per ISP, naming every key it could not read.
TEST_F(FailoverEngineTest, UnreadableResolverListsAreNamedInOneWarning) {
  FailoverEngine engine(Settings(), At(0));
  engine.start({}, At(0));
  auto warnings = [](const FailoverActions& a) {
    std::vector<std::string> texts;
    for (const LogEvent& e : a.log) {
      if (e.kind == EventKind::kDatagramRefused) texts.push_back(e.text);
    }
    return texts;
  };
  std::string both = Datagram("isp1", LinkState::kUp) + "dns=1.1.1\ndns6=fe80::1\n";
  auto first = warnings(engine.on_datagram(both, kIsp1, At(10)));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_NE(first[0].find("(dns=, dns6=)"), std::string::npos) << first[0];
  both = Datagram("isp1", LinkState::kUp) + "dns=1.1.1\ndns6=fe80::1\n";
  EXPECT_TRUE(warnings(engine.on_datagram(both, kIsp1, At(20))).empty());

  std::string only6 = Datagram("isp2", LinkState::kUp) + "dns6=ff02::1\n";
  auto second = warnings(engine.on_datagram(only6, kIsp2, At(30)));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_NE(second[0].find("(dns6=)"), std::string::npos) << second[0];
}

TEST_F(FailoverEngineTest, DampedFailbackHoldIsShownInTheStatusTable) {
  FailoverEngine engine(Settings(), At(0));
  engine.start({}, At(0));
  long long now = 10;
  for (int failure = 0; failure < 2; ++failure) {
    engine.on_datagram(Datagram("isp1", LinkState::kUp), kIsp1, At(now));
    engine.on_datagram(Datagram("isp2", LinkState::kUp), kIsp2, At(now));
    engine.on_datagram(Datagram("isp1", LinkState::kDown), kIsp1, At(now + 100));
    now += 1000;
  }
  engine.on_datagram(Datagram("isp1", LinkState::kUp), kIsp1, At(now));
  auto report = engine.report(At(now));
  EXPECT_EQ(report.isps[0].recent_failures, 2u);
  auto table = render_status_table(to_json(report));
  ASSERT_TRUE(table) << table.error();
  EXPECT_NE(table->find("damped: isp1 failback after 6.0s (2 failures in 10 min)"),
            std::string::npos)
      << *table;
}

// The status keeps the route's last moves, newest shown first, and forgets older ones.
TEST_F(FailoverEngineTest, StatusKeepsTheLastTwentySwitches) {
  FailoverEngine engine(Settings(), At(0));
  engine.start({}, At(0));
  engine.on_datagram(Datagram("isp2", LinkState::kUp), kIsp2, At(5));
  engine.on_datagram(Datagram("isp1", LinkState::kUp), kIsp1, At(10));  // the first pick: isp1
  long long now = 10;
  // Each down report moves the route to the other ISP at once: 25 switches in all. Reports come
  // every 100 ms, well within the 300 ms heartbeat's silence allowance.
  for (int i = 0; i < 25; ++i) {
    now += 100;
    bool isp1_fails = i % 2 == 0;
    engine.on_datagram(Datagram(isp1_fails ? "isp2" : "isp1", LinkState::kUp),
                       isp1_fails ? kIsp2 : kIsp1, At(now));
    engine.on_datagram(Datagram(isp1_fails ? "isp1" : "isp2", LinkState::kDown, "probe-loss"),
                       isp1_fails ? kIsp1 : kIsp2, At(now + 1));
  }
  auto report = engine.report(At(now + 2));
  EXPECT_EQ(report.switches, 25u);
  ASSERT_EQ(report.recent_switches.size(), kSwitchHistoryLength);
  const auto& last = report.recent_switches.back();
  EXPECT_EQ(last.from, "isp1");  // the 25th down report (i = 24) is isp1's
  EXPECT_EQ(last.to, "isp2");
  EXPECT_EQ(last.reason, "probe-loss");
  EXPECT_EQ(last.unix_ms, At(now + 1).wall_ms);
  EXPECT_EQ(last.why.rfind("switch isp1 -> isp2", 0), 0u) << last.why;
  for (std::size_t i = 1; i < report.recent_switches.size(); ++i) {
    EXPECT_LT(report.recent_switches[i - 1].unix_ms, report.recent_switches[i].unix_ms);
  }
  auto table = render_status_table(to_json(report));
  ASSERT_TRUE(table) << table.error();
  auto heading = table->find("recent switches (newest first):\n");
  ASSERT_NE(heading, std::string::npos) << *table;
  std::string newest = format_utc_datetime(At(now + 1).wall_ms) + "  isp1 -> isp2  probe-loss\n";
  EXPECT_EQ(table->find(newest),
            heading + std::string("recent switches (newest first):\n").size() + 2)
      << *table;
  EXPECT_EQ(std::count(table->begin() + static_cast<long>(heading), table->end(), '\n'),
            static_cast<long>(kSwitchHistoryLength) + 1)
      << *table;
}

TEST_F(FailoverEngineTest, RestartAdoptsOurRouteAndKeepsIt) {
  FailoverEngine engine(Settings(), At(0));
  auto a = engine.start({DefaultRoute{kIsp2, 0, 150, 2, 254}}, At(0));
  EXPECT_TRUE(Logged(a, EventKind::kRouteAdopted));
  EXPECT_TRUE(a.route_edits.empty());
  EXPECT_EQ(engine.desired_gateway(), kIsp2);
}

TEST_F(FailoverEngineTest, StopLeavesTheRouteOrRemovesItWhenAsked) {
  FailoverEngine keep(Settings(), At(0));
  keep.start({DefaultRoute{kIsp1, 0, 150, 2, 254}}, At(0));
  EXPECT_TRUE(keep.stop(false, At(10)).route_edits.empty());
  FailoverEngine clean(Settings(), At(0));
  clean.start({DefaultRoute{kIsp1, 0, 150, 2, 254}}, At(0));
  auto a = clean.stop(true, At(10));
  ASSERT_EQ(a.route_edits.size(), 1u);
  EXPECT_EQ(a.route_edits[0].kind, RouteEdit::Kind::kRemoveOwn);
  // Nothing else happens after a stop.
  EXPECT_FALSE(clean.on_wake(At(5000)).wake_at);
}

TEST_F(FailoverEngineTest, ReloadIntoAnotherTableMovesTheRoute) {
  FailoverEngine engine(Settings(), At(0));
  engine.start({DefaultRoute{kIsp1, 0, 150, 2, 254}}, At(0));
  FailoverSettings moved = Settings();
  moved.table = 100;
  auto a = engine.reconfigure(moved, At(10));
  ASSERT_FALSE(a.route_edits.empty());
  EXPECT_EQ(a.route_edits[0].kind, RouteEdit::Kind::kRemoveOwn);
  EXPECT_EQ(a.route_edits[0].slot.table, 254u);
  EXPECT_TRUE(a.read_table);
  auto read = engine.on_table({}, At(11));
  ASSERT_EQ(read.route_edits.size(), 1u);
  EXPECT_EQ(read.route_edits[0].slot.table, 100u);
  EXPECT_EQ(read.route_edits[0].gateway, kIsp1);
  auto done = engine.on_edits_done(read.route_edits, {std::error_code{}}, At(11));
  EXPECT_FALSE(Logged(done, EventKind::kRouteRestored));  // our own decision, not a repair
}

TEST_F(FailoverEngineTest, StatusIsPublishedOncePerPeriodWhenNothingHappens) {
  FailoverEngine engine(Settings(), At(0));
  auto a = engine.start({}, At(0));
  ASSERT_TRUE(a.publish);
  long long now = 0;
  int publishes = 0;
  while (now < 10'000) {
    auto wake = engine.on_wake(At(now));
    if (wake.publish) ++publishes;
    ASSERT_TRUE(wake.wake_at);
    now = std::chrono::duration_cast<milliseconds>(*wake.wake_at - TimePoint{}).count();
  }
  EXPECT_GE(publishes, 9);
  EXPECT_LE(publishes, 11);
}

// --- Sticky connections and resets ---

std::vector<bool> Routed(const FailoverActions& a) {
  std::vector<bool> routed;
  EXPECT_TRUE(a.steering) << "no steering asked for";
  if (a.steering) {
    for (const auto& isp : a.steering->isps) routed.push_back(isp.routed);
  }
  return routed;
}

TEST_F(FailoverEngineTest, EachIspsTableHoldsItsRouteWhileItIsUp) {
  FailoverEngine engine(Settings(), At(0));
  // Not heard from yet: their tables keep what they hold (after a restart, routes for the sticky
  // connections of before), as our main route is kept.
  auto start = engine.start({}, At(0));
  EXPECT_EQ(Routed(start), (std::vector<bool>{true, true}));
  EXPECT_FALSE(Send(engine, "isp1", LinkState::kUp, kIsp1, 10).steering);
  auto down = Send(engine, "isp1", LinkState::kDown, kIsp1, 100);
  EXPECT_EQ(Routed(down), (std::vector<bool>{false, true}));
  auto isp2_down = Send(engine, "isp2", LinkState::kDown, kIsp2, 150);
  EXPECT_EQ(Routed(isp2_down), (std::vector<bool>{false, false}));
  auto back = Send(engine, "isp1", LinkState::kUp, kIsp1, 200);
  EXPECT_EQ(Routed(back), (std::vector<bool>{true, false}));
}

TEST_F(FailoverEngineTest, ADeadIspsConnectionsAreResetOnceWhenTheRouteLeavesIt) {
  FailoverEngine engine(Settings(), At(0));
  auto down = Isp1GoesDown(engine);
  ASSERT_EQ(down.resets.size(), 1u);
  EXPECT_EQ(down.resets[0].isp, "isp1");
  EXPECT_EQ(down.resets[0].mark, 0x01000000u);
  EXPECT_EQ(down.resets[0].mask, 0x0f000000u);
  EXPECT_EQ(down.resets[0].why, "down (link-down)");
  // In the same actions as the route edit: the shell ends them right after the route moved.
  ASSERT_EQ(down.route_edits.size(), 1u);
  EXPECT_TRUE(Send(engine, "isp1", LinkState::kDown, kIsp1, 200).resets.empty());
  // Up again, and down again: a new death, a new reset.
  Send(engine, "isp1", LinkState::kUp, kIsp1, 300);
  auto again = Send(engine, "isp1", LinkState::kDown, kIsp1, 400);
  ASSERT_EQ(again.resets.size(), 1u);
}

TEST_F(FailoverEngineTest, ASilentBackupWithStickyConnectionsIsResetToo) {
  FailoverEngine engine(Settings(), At(0));
  engine.start({}, At(0));
  Send(engine, "isp1", LinkState::kUp, kIsp1, 10);
  Send(engine, "isp2", LinkState::kUp, kIsp2, 20);
  // isp2 falls silent while isp1 carries the route: its sticky connections are dead.
  FailoverActions all;
  for (long long t = 100; t <= 3000; t += 100) {
    std::string d = Datagram("isp1", LinkState::kUp);
    all.append(engine.on_datagram(d, kIsp1, At(t)));
    all.append(engine.on_wake(At(t + 50)));
  }
  ASSERT_EQ(all.resets.size(), 1u);
  EXPECT_EQ(all.resets[0].isp, "isp2");
  EXPECT_EQ(all.resets[0].why.rfind("stale", 0), 0u) << all.resets[0].why;
}

TEST_F(FailoverEngineTest, ADegradedIspKeepsItsConnections) {
  FailoverEngine engine(Settings(), At(0));
  engine.start({}, At(0));
  Send(engine, "isp1", LinkState::kUp, kIsp1, 10);
  Send(engine, "isp2", LinkState::kUp, kIsp2, 20);
  Status lossy = test::SampleStatus();
  lossy.name = "isp1";
  lossy.instance = 1;
  lossy.seq = ++seq_;
  lossy.state = LinkState::kUp;
  lossy.loss_permille = 400;
  auto a = engine.on_datagram(encode(lossy), kIsp1, At(100));
  ASSERT_EQ(a.route_edits.size(), 1u) << "the route leaves the lossy ISP";
  EXPECT_TRUE(a.resets.empty()) << "its connections stay: it still carries traffic";
  EXPECT_FALSE(a.steering) << "and its table keeps its route";
}

TEST_F(FailoverEngineTest, WhenEveryIspLooksDeadNothingIsResetUntilOneIsBack) {
  FailoverEngine engine(Settings(), At(0));
  engine.start({}, At(0));
  Send(engine, "isp1", LinkState::kUp, kIsp1, 10);
  // isp2 never heard from; isp1 dies: no other ISP carries anything, so no reset yet.
  auto down = Send(engine, "isp1", LinkState::kDown, kIsp1, 100);
  EXPECT_TRUE(down.resets.empty());
  auto isp2 = Send(engine, "isp2", LinkState::kUp, kIsp2, 2000);
  ASSERT_EQ(isp2.resets.size(), 1u);
  EXPECT_EQ(isp2.resets[0].isp, "isp1");
}

// After a restart isp2 may just speak later than isp1: its sticky connections are alive and
// stay, however long it is silent; a report of down ends them.
TEST_F(FailoverEngineTest, AnIspNotHeardSinceStartIsNotReset) {
  FailoverEngine engine(Settings(), At(0));
  engine.start({}, At(0));
  FailoverActions all;
  for (long long t = 10; t <= 5000; t += 100) {
    std::string d = Datagram("isp1", LinkState::kUp);
    all.append(engine.on_datagram(d, kIsp1, At(t)));
    all.append(engine.on_wake(At(t + 50)));
  }
  EXPECT_TRUE(all.resets.empty());
  auto down = Send(engine, "isp2", LinkState::kDown, kIsp2, 5100);
  ASSERT_EQ(down.resets.size(), 1u);
  EXPECT_EQ(down.resets[0].isp, "isp2");
}

TEST_F(FailoverEngineTest, SteeringOffAsksForNothingAndResetOffEndsNothing) {
  FailoverSettings off = Settings();
  off.steering.sticky = false;
  off.steering.reset = false;
  FailoverEngine engine(off, At(0));
  auto down = Isp1GoesDown(engine);
  EXPECT_FALSE(down.steering);
  EXPECT_TRUE(down.resets.empty());

  FailoverSettings sticky_only = Settings();
  sticky_only.steering.reset = false;
  FailoverEngine sticky(sticky_only, At(0));
  auto a = sticky.start({}, At(0));
  ASSERT_TRUE(a.steering);
  EXPECT_TRUE(a.steering->sticky);
  EXPECT_TRUE(Isp1GoesDown(sticky).resets.empty());
}

TEST_F(FailoverEngineTest, AReloadThatTurnsSteeringOffRemovesIt) {
  FailoverEngine engine(Settings(), At(0));
  engine.start({}, At(0));
  FailoverSettings off = Settings();
  off.steering.sticky = false;
  off.steering.reset = false;
  auto a = engine.reconfigure(off, At(100));
  EXPECT_TRUE(a.steering_remove);
  EXPECT_FALSE(a.steering);
}

TEST_F(FailoverEngineTest, ASteeringFailureIsShownAndRetried) {
  FailoverEngine engine(Settings(), At(0));
  auto start = engine.start({}, At(0));
  ASSERT_TRUE(start.steering);
  auto failed = engine.on_steering_applied("Operation not permitted", At(10));
  EXPECT_TRUE(Logged(failed, EventKind::kSteering));
  auto report = engine.report(At(10));
  ASSERT_FALSE(report.warnings.empty());
  EXPECT_NE(report.warnings.back().find("Operation not permitted"), std::string::npos);
  // Not asked again before the retry is due, however many reports come.
  EXPECT_FALSE(Send(engine, "isp2", LinkState::kUp, kIsp2, 20).steering);
  ASSERT_TRUE(failed.wake_at);
  auto retry = engine.on_wake(At(10 + 5000));
  EXPECT_TRUE(retry.steering);
  auto fixed = engine.on_steering_applied("", At(5020));
  EXPECT_TRUE(Logged(fixed, EventKind::kSteering));
  EXPECT_TRUE(engine.report(At(5020)).warnings.empty());
}

TEST_F(FailoverEngineTest, ResetsAndCountsAreInTheStatus) {
  FailoverEngine engine(Settings(), At(0));
  auto down = Isp1GoesDown(engine);
  ASSERT_EQ(down.resets.size(), 1u);
  auto done = engine.on_connections_reset(down.resets[0], ResetOutcome{3, 2, 0, ""}, At(110));
  ASSERT_TRUE(Logged(done, EventKind::kConnectionsReset));
  engine.on_connection_counts({{"isp1", {0, 0}}, {"isp2", {7, 0}}});
  auto r = engine.report(At(120));
  ASSERT_TRUE(r.last_reset);
  EXPECT_EQ(r.last_reset->isp, "isp1");
  EXPECT_EQ(r.last_reset->destroyed, 2u);
  EXPECT_EQ(r.resets_total.at("isp1"), 2u);
  EXPECT_EQ(r.connections.at("isp2"), 7u);
  auto table = render_status_table(to_json(r));
  ASSERT_TRUE(table);
  EXPECT_NE(table->find("connections: isp1 0, isp2 7"), std::string::npos) << *table;
  EXPECT_NE(table->find("last reset: 2 connection(s) of isp1 (down (link-down))"),
            std::string::npos)
      << *table;
  // A reset that found nothing is not news.
  auto nothing = engine.on_connections_reset(down.resets[0], ResetOutcome{}, At(130));
  EXPECT_FALSE(Logged(nothing, EventKind::kConnectionsReset));
}

TEST_F(FailoverEngineTest, CleanupOnExitRemovesTheSteering) {
  FailoverEngine engine(Settings(), At(0));
  engine.start({}, At(0));
  EXPECT_TRUE(engine.stop(/*cleanup=*/true, At(10)).steering_remove);
  FailoverEngine kept(Settings(), At(0));
  kept.start({}, At(0));
  EXPECT_FALSE(kept.stop(/*cleanup=*/false, At(10)).steering_remove);
}

}  // namespace
}  // namespace ispf

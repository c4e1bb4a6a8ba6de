// FakeEnv's own promises beyond the contract: virtual time, timers, scripted probes, the LAN.
#include "support/fake_env.h"

#include <gtest/gtest.h>

namespace ispf {
namespace {

using std::chrono::seconds;

TEST(FakeEnvTest, TimersFireInTimeOrderAndWakeAtReplaces) {
  FakeEnv env;
  std::vector<std::string> fired;
  auto a = env.make_timer();
  auto b = env.make_timer();
  const TimePoint start = env.now().steady;
  a->wake_at(start + seconds(3), [&] { fired.push_back("a3"); });
  b->wake_at(start + seconds(2), [&] { fired.push_back("b2"); });
  a->wake_at(start + seconds(1), [&] { fired.push_back("a1"); });  // replaces a3
  env.advance(seconds(5));
  EXPECT_EQ(fired, (std::vector<std::string>{"a1", "b2"}));
  EXPECT_EQ(env.now().steady, start + seconds(5));
}

TEST(FakeEnvTest, TimeMovesToEachTimerAndWallTimeFollows) {
  FakeEnv env;
  const Now start = env.now();
  auto timer = env.make_timer();
  Now seen;
  timer->wake_at(start.steady + seconds(2), [&] { seen = env.now(); });
  env.advance(seconds(10));
  EXPECT_EQ(seen.steady, start.steady + seconds(2));
  EXPECT_EQ(seen.wall_ms, start.wall_ms + 2000);
}

TEST(FakeEnvTest, CancelledAndDestroyedTimersNeverFire) {
  FakeEnv env;
  int fired = 0;
  auto cancelled = env.make_timer();
  cancelled->wake_at(env.now().steady + seconds(1), [&] { ++fired; });
  cancelled->cancel();
  {
    auto destroyed = env.make_timer();
    destroyed->wake_at(env.now().steady + seconds(1), [&] { ++fired; });
  }
  env.advance(seconds(2));
  EXPECT_EQ(fired, 0);
  EXPECT_EQ(env.loop().pending(), 0u);
}

TEST(FakeEnvTest, DefaultProbesFollowTheUplink) {
  FakeEnv env;
  env.kernel().add_link("wan0");
  auto prober = env.open_prober("wan0", 7, Family::kIpv4);
  ASSERT_TRUE(prober.has_value());
  std::vector<RoundReport> reports;
  RoundRequest request{
      1, {IpAddress::ipv4(0x08080808), IpAddress::ipv4(0x01010101)}, milliseconds(500)};
  (*prober)->start_round(request, [&](const RoundReport& r) { reports.push_back(r); });
  EXPECT_TRUE(reports.empty()) << "reported inside start_round";
  env.advance(seconds(1));
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].answered(), 2u);
  EXPECT_EQ(reports[0].concluded - reports[0].started, milliseconds(10));

  env.kernel().set_link("wan0", true, false);
  request.sequence = 2;
  (*prober)->start_round(request, [&](const RoundReport& r) { reports.push_back(r); });
  env.advance(seconds(1));
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[1].answered(), 0u);
  EXPECT_EQ(reports[1].probes[0].error, ProbeError::kNoRoute);
  EXPECT_EQ(reports[1].probes[0].send_error, std::errc::network_down);
  EXPECT_EQ(env.rounds().size(), 2u);
}

TEST(FakeEnvTest, ScriptedSilenceTimesOutAndADestroyedProberSaysNothing) {
  FakeEnv env;
  env.kernel().add_link("wan0");
  env.set_probe_script([](const std::string&, const IpAddress& target, std::uint16_t) {
    ScriptedProbe probe;
    if (target == IpAddress::ipv4(1)) probe.rtt = milliseconds(30);  // others: silence
    return probe;
  });
  auto prober = env.open_prober("wan0", 7, Family::kIpv4);
  ASSERT_TRUE(prober.has_value());
  std::optional<RoundReport> report;
  (*prober)->start_round(
      RoundRequest{1, {IpAddress::ipv4(1), IpAddress::ipv4(2)}, milliseconds(400)},
      [&](const RoundReport& r) { report = r; });
  env.advance(seconds(1));
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->concluded - report->started, milliseconds(400));
  EXPECT_EQ(report->probes[0].rtt, milliseconds(30));
  EXPECT_EQ(report->probes[1].error, ProbeError::kTimeout);

  int late = 0;
  (*prober)->start_round(RoundRequest{2, {IpAddress::ipv4(1)}, milliseconds(400)},
                         [&](const RoundReport&) { ++late; });
  prober->reset();
  env.advance(seconds(1));
  EXPECT_EQ(late, 0);
}

TEST(FakeEnvTest, OpenProberNeedsNetRawAndTheLink) {
  FakeEnv env;
  env.kernel().add_link("wan0");
  EXPECT_EQ(env.open_prober("nosuch0", 1, Family::kIpv4).error(), std::errc::no_such_device);
  env.set_capability(13, false);
  EXPECT_EQ(env.open_prober("wan0", 1, Family::kIpv4).error(), std::errc::operation_not_permitted);
}

TEST(FakeEnvTest, AnIpv6ProberAnswersIpv6TargetsAndRefusesIpv4Ones) {
  FakeEnv env;
  env.kernel().add_link("wan0");
  auto prober = env.open_prober("wan0", 7, Family::kIpv6);
  ASSERT_TRUE(prober.has_value());
  const IpAddress v6 = IpAddress::ipv6(*parse_ipv6("2001:db8::8"));
  std::optional<RoundReport> report;
  (*prober)->start_round(RoundRequest{1, {v6, IpAddress::ipv4(0x08080808)}, milliseconds(500)},
                         [&](const RoundReport& r) { report = r; });
  env.advance(seconds(1));
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->probes[0].target, v6);
  EXPECT_EQ(report->probes[0].rtt, milliseconds(10));
  EXPECT_FALSE(report->probes[1].rtt);
  EXPECT_EQ(report->probes[1].send_error, std::errc::address_family_not_supported);
}

TEST(FakeEnvTest, RoutesViaForIpv6FollowsPrefixesAndTheDefault) {
  FakeEnv env;
  env.kernel().add_link("wan0");
  env.kernel().add_link("wan1");
  env.kernel().add_address6("wan0", *parse_ipv6("2001:db8:1::2"), 64);
  const IpAddress on_link = IpAddress::ipv6(*parse_ipv6("2001:db8:1::9"));
  const IpAddress far = IpAddress::ipv6(*parse_ipv6("2001:db8:ff::8"));
  EXPECT_TRUE(*env.routes_via("wan0", on_link));
  EXPECT_FALSE(*env.routes_via("wan0", far));
  EXPECT_FALSE(*env.routes_via("wan1", on_link));
  DefaultRoute6 isp_default;
  isp_default.gateway = *parse_ipv6("2001:db8:1::1");
  isp_default.protocol = 4;
  ASSERT_FALSE(env.kernel().add_route6(isp_default));
  EXPECT_TRUE(*env.routes_via("wan0", far));
  EXPECT_FALSE(*env.routes_via("wan1", far));
  env.kernel().set_link("wan0", false, false);
  EXPECT_FALSE(*env.routes_via("wan0", far));
}

TEST(FakeEnvTest, HostsOnOneLanHearEachOtherUnlessFiltered) {
  FakeLoop loop;
  FakeLan lan(loop);
  FakeKernel router_kernel, client_kernel;
  FakeEnv router(loop, router_kernel, lan, 0xc0a83865);
  FakeEnv client(loop, client_kernel, lan, 0xc0a8380a);
  std::vector<std::pair<std::string, std::uint32_t>> heard;
  auto listener = client.listen(1500, [&](std::span<const char> bytes, std::uint32_t source) {
    heard.emplace_back(std::string(bytes.begin(), bytes.end()), source);
  });
  auto sender = router.open_sender({0xc0a838ff}, 1500, "");
  ASSERT_TRUE(listener && sender);
  ASSERT_FALSE((*sender)->send("one"));
  EXPECT_TRUE(heard.empty()) << "delivered inside send()";
  loop.run_ready();
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_EQ(heard[0], (std::pair<std::string, std::uint32_t>{"one", 0xc0a83865}));

  lan.set_filter([](const FakeLan::Datagram& d) { return d.bytes != "two"; });
  router.fail_sends(std::errc::network_unreachable);
  EXPECT_EQ((*sender)->send("lost"), std::errc::network_unreachable);
  ASSERT_FALSE((*sender)->send("two"));
  ASSERT_FALSE((*sender)->send("three"));
  loop.run_ready();
  ASSERT_EQ(heard.size(), 2u);
  EXPECT_EQ(heard[1].first, "three");
  EXPECT_EQ(lan.sent().size(), 3u);
}

TEST(FakeEnvTest, HeldDatagramsWaitForReadPendingOrTheRelease) {
  FakeEnv env;
  std::vector<std::string> heard;
  auto listener = env.listen(1500, [&](std::span<const char> bytes, std::uint32_t) {
    heard.emplace_back(bytes.begin(), bytes.end());
  });
  ASSERT_TRUE(listener);
  env.hold_datagrams(true);
  env.lan().inject(1500, 0xc0a83865, "one");
  env.lan().inject(1500, 0xc0a83865, "two");
  env.advance(seconds(1));
  EXPECT_TRUE(heard.empty()) << "handed over while held";
  (*listener)->read_pending();
  EXPECT_EQ(heard, (std::vector<std::string>{"one", "two"}));
  env.lan().inject(1500, 0xc0a83865, "three");
  env.loop().run_ready();
  EXPECT_EQ(heard.size(), 2u);
  env.hold_datagrams(false);
  EXPECT_EQ(heard.size(), 2u) << "handed over inside hold_datagrams()";
  env.loop().run_ready();
  EXPECT_EQ(heard, (std::vector<std::string>{"one", "two", "three"}));
}

TEST(FakeEnvTest, TableWatchCoalescesABurstAndStopsWhenDestroyed) {
  FakeEnv env;
  int calls = 0;
  auto watch = env.watch_table([&] { ++calls; });
  ASSERT_TRUE(watch.has_value());
  env.kernel().add_link("lan0");
  env.kernel().add_address("lan0", 0xc0a8380a, 24);
  env.kernel().set_link("lan0", false, true);
  env.loop().run_ready();
  EXPECT_EQ(calls, 1);
  env.kernel().set_link("lan0", true, true);
  watch->reset();
  env.loop().run_ready();
  EXPECT_EQ(calls, 1);
}

TEST(FakeEnvTest, NftablesWatchFiresOnTheLoopCoalescesAndStopsWhenDestroyed) {
  FakeEnv env;
  int first = 0;
  int second = 0;
  auto a = env.watch_nftables([&] { ++first; });
  auto b = env.watch_nftables([&] { ++second; });
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b.has_value());
  env.nftables_changed();
  env.nftables_changed();
  EXPECT_EQ(first, 0) << "events arrive on the loop, not inside the call";
  env.loop().run_ready();
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 1);

  // Destroyed with a call already queued, and destroyed before a change: neither calls it.
  env.nftables_changed();
  a->reset();
  env.loop().run_ready();
  env.nftables_changed();
  env.loop().run_ready();
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 3);

  env.fail_next_open(std::errc::operation_not_permitted);
  auto refused = env.watch_nftables([] {});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error(), std::errc::operation_not_permitted);
}

TEST(FakeEnvTest, FilesLogsNotifierAndOpenFailures) {
  FakeEnv env;
  ASSERT_FALSE(env.write_file_atomically("/run/x/status.json", "{}"));
  EXPECT_EQ(env.files().at("/run/x/status.json"), "{}");
  env.fail_writes(std::errc::no_space_on_device);
  EXPECT_EQ(env.write_file_atomically("/run/x/status.json", "{1}"), std::errc::no_space_on_device);
  EXPECT_EQ(env.files().at("/run/x/status.json"), "{}");
  env.log(LogEvent{LogLevel::kWarning, EventKind::kSwitch, "switched", {}});
  ASSERT_EQ(env.logged().size(), 1u);
  env.notifier().status("up");
  EXPECT_EQ(env.fake_notifier().events, (std::vector<std::string>{"STATUS=up"}));
  env.fail_next_open(std::errc::address_in_use);
  EXPECT_EQ(env.listen(1500, nullptr).error(), std::errc::address_in_use);
  EXPECT_TRUE(env.listen(1500, nullptr).has_value());
  EXPECT_NE(env.random64(), env.random64());
}

}  // namespace
}  // namespace ispf

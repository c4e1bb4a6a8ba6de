// failoverd's shell on FakeEnv: what it does between the seam and the engine, in virtual time.
#include "failover_shell.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ispfailover/core/status_message.h"
#include "support/fake_env.h"
#include "support/sample_status.h"

namespace ispf {
namespace {

constexpr std::uint32_t kIsp1 = 0xc0a83865;  // 192.168.56.101
constexpr std::uint32_t kIsp2 = 0xc0a83866;  // 192.168.56.102

class FailoverShellTest : public testing::Test {
 protected:
  void SetUp() override {
    env_.kernel().add_link("lan0");
    env_.kernel().add_address("lan0", env_.address(), 24);
    ASSERT_TRUE(shell_
                    .configure({"failoverd", "--isp", "isp1=192.168.56.101", "--isp",
                                "isp2=192.168.56.102", "--hook-dir", "", "--state-dir", "",
                                "--status-file", "/run/failoverd/status.json"})
                    .run);
    ASSERT_EQ(shell_.start(), std::nullopt);
  }

  // One report of `name` from `gateway`, by default with ispprobed's default heartbeat.
  void Report(const std::string& name, std::uint32_t gateway, std::uint32_t heartbeat_ms = 100) {
    Status status = test::SampleStatus();
    status.name = name;
    status.instance += gateway;
    status.seq = ++seq_[name];
    status.time_ms = env_.now().wall_ms;
    status.heartbeat_ms = heartbeat_ms;
    status.loss_permille = 0;
    env_.lan().inject(kDefaultPort, gateway, encode(status));
  }

  // Both routers report every 100 ms for `d`; returns when the last report reached the shell.
  TimePoint Heartbeats(Duration d) {
    TimePoint end = env_.now().steady + d;
    TimePoint last = env_.now().steady;
    while (env_.now().steady + std::chrono::milliseconds(100) <= end) {
      env_.advance(std::chrono::milliseconds(100));
      Report("isp1", kIsp1);
      Report("isp2", kIsp2);
      env_.loop().run_ready();
      last = env_.now().steady;
    }
    return last;
  }

  std::optional<std::uint32_t> RouteGateway() {
    auto routes = env_.kernel().default_routes(254);
    if (!routes) return std::nullopt;
    for (const auto& route : *routes) {
      if (route.protocol == kRouteProtocol) return route.gateway;
    }
    return std::nullopt;
  }

  // isp2 promises the longest heartbeat: it stays fresh while isp1 is silent.
  void Isp2StaysFresh() {
    Report("isp2", kIsp2, kMaxHeartbeatMs);
    env_.loop().run_ready();
  }

  std::optional<IspHealth> HealthOf(const std::string& name) {
    for (const auto& isp : shell_.engine()->policy().view(env_.now().steady)) {
      if (isp.config.name == name) return isp.health;
    }
    return std::nullopt;
  }

  FakeEnv env_;
  FailoverShell shell_{env_};
  std::map<std::string, std::uint64_t> seq_;
};

TEST_F(FailoverShellTest, RouteFollowsTheReports) {
  Heartbeats(std::chrono::seconds(2));
  EXPECT_EQ(RouteGateway(), std::optional<std::uint32_t>(kIsp1));
  EXPECT_EQ(HealthOf("isp1"), std::optional<IspHealth>(IspHealth::kUp));
}

// The control for the next test: a report that never comes makes isp1 stale at 450 ms.
TEST_F(FailoverShellTest, SilenceMakesAnIspStaleAtTheLimit) {
  TimePoint last = Heartbeats(std::chrono::seconds(2));
  ASSERT_EQ(RouteGateway(), std::optional<std::uint32_t>(kIsp1));
  Isp2StaysFresh();
  env_.run_until(last + std::chrono::milliseconds(449));
  EXPECT_EQ(RouteGateway(), std::optional<std::uint32_t>(kIsp1));
  env_.run_until(last + std::chrono::milliseconds(451));
  EXPECT_EQ(HealthOf("isp1"), std::optional<IspHealth>(IspHealth::kStale));
  EXPECT_EQ(RouteGateway(), std::optional<std::uint32_t>(kIsp2));
}

// The loop is busy (or behind a flood) when isp1's report arrives: it waits in the socket, not
// yet handed over, when the stale deadline fires. The shell reads it before judging, so isp1
// stays fresh and the route stays.
TEST_F(FailoverShellTest, ADatagramQueuedWhenTheDeadlineFiresKeepsTheIspFresh) {
  TimePoint last = Heartbeats(std::chrono::seconds(2));
  ASSERT_EQ(RouteGateway(), std::optional<std::uint32_t>(kIsp1));
  Isp2StaysFresh();
  env_.hold_datagrams(true);
  env_.run_until(last + std::chrono::milliseconds(440));
  Report("isp1", kIsp1);
  env_.run_until(last + std::chrono::milliseconds(451));
  EXPECT_EQ(HealthOf("isp1"), std::optional<IspHealth>(IspHealth::kUp));
  EXPECT_EQ(RouteGateway(), std::optional<std::uint32_t>(kIsp1));
  EXPECT_EQ(shell_.engine()->policy().switches(), 0u);
  env_.hold_datagrams(false);
  Heartbeats(std::chrono::seconds(1));
  EXPECT_EQ(RouteGateway(), std::optional<std::uint32_t>(kIsp1));
}

// --stale-floor, and a reload (SIGHUP) that changes it.
TEST_F(FailoverShellTest, StaleFloorComesFromTheOptionsAndAReload) {
  ASSERT_EQ(
      shell_.reload({"failoverd", "--isp", "isp1=192.168.56.101", "--isp", "isp2=192.168.56.102",
                     "--hook-dir", "", "--state-dir", "", "--stale-floor", "800ms"}),
      std::nullopt);
  TimePoint last = Heartbeats(std::chrono::seconds(2));
  ASSERT_EQ(RouteGateway(), std::optional<std::uint32_t>(kIsp1));
  Isp2StaysFresh();
  env_.run_until(last + std::chrono::milliseconds(799));
  EXPECT_EQ(HealthOf("isp1"), std::optional<IspHealth>(IspHealth::kUp));
  env_.run_until(last + std::chrono::milliseconds(801));
  EXPECT_EQ(HealthOf("isp1"), std::optional<IspHealth>(IspHealth::kStale));
  EXPECT_EQ(RouteGateway(), std::optional<std::uint32_t>(kIsp2));
}

// A silent isp1: its connections end after the route moved to isp2 (so reconnects take isp2),
// once; the steering follows isp1's health.
TEST_F(FailoverShellTest, ADeadIspsConnectionsEndAfterTheRouteMoved) {
  TimePoint last = Heartbeats(std::chrono::seconds(2));
  ASSERT_EQ(RouteGateway(), std::optional<std::uint32_t>(kIsp1));
  ASSERT_FALSE(env_.steering_applied().empty());
  EXPECT_TRUE(env_.steering_applied().back().isps[0].routed);
  env_.set_reset_outcome(ResetOutcome{2, 2, 0, ""});
  Isp2StaysFresh();
  env_.run_until(last + std::chrono::milliseconds(451));
  ASSERT_EQ(RouteGateway(), std::optional<std::uint32_t>(kIsp2));
  ASSERT_EQ(env_.resets().size(), 1u);
  EXPECT_EQ(env_.resets()[0].isp, "isp1");
  EXPECT_EQ(env_.routes_at_resets()[0], std::optional<std::uint32_t>(kIsp2));
  EXPECT_FALSE(env_.steering_applied().back().isps[0].routed);
  EXPECT_TRUE(env_.steering_applied().back().isps[1].routed);
  env_.run_until(last + std::chrono::seconds(2));
  EXPECT_EQ(env_.resets().size(), 1u);
  auto status = env_.files().find("/run/failoverd/status.json");
  ASSERT_NE(status, env_.files().end());
  EXPECT_NE(status->second.find("\"ended\": 2"), std::string::npos) << status->second;
}

// `nft flush ruleset` (Debian's nftables service on reload) deletes our table: the watch puts it
// back and says so.
TEST_F(FailoverShellTest, TheNftablesWatchPutsOurTableBack) {
  Heartbeats(std::chrono::seconds(1));
  std::size_t applied = env_.steering_applied().size();
  ASSERT_GT(applied, 0u);
  env_.lose_steering();
  env_.nftables_changed();
  env_.loop().run_ready();
  EXPECT_EQ(env_.steering_applied().size(), applied + 1);
  bool said = false;
  for (const auto& e : env_.logged()) {
    said = said || (e.kind == EventKind::kSteering && e.text.find("put back") != std::string::npos);
  }
  EXPECT_TRUE(said);
  // A change that is our own (nothing lost) writes nothing and says nothing.
  std::size_t lines = env_.logged().size();
  env_.nftables_changed();
  env_.loop().run_ready();
  EXPECT_EQ(env_.steering_applied().size(), applied + 1);
  EXPECT_EQ(env_.logged().size(), lines);
}

// nftables refuses: failoverd runs on without stickiness, says why in the status, and tries
// again.
TEST_F(FailoverShellTest, ARefusedSteeringIsAWarningAndRetried) {
  env_.fail_steering(std::errc::operation_not_permitted, 1000);
  ASSERT_EQ(
      shell_.reload({"failoverd", "--isp", "isp1=192.168.56.101", "--isp", "isp2=192.168.56.102",
                     "--hook-dir", "", "--state-dir", "", "--sticky-table-base", "4000"}),
      std::nullopt);
  Heartbeats(std::chrono::milliseconds(500));
  auto status = env_.files().find("/run/failoverd/status.json");
  ASSERT_NE(status, env_.files().end());
  EXPECT_NE(status->second.find("no sticky connections or resets"), std::string::npos)
      << status->second;
  EXPECT_EQ(RouteGateway(), std::optional<std::uint32_t>(kIsp1)) << "the route does not wait";
  env_.fail_steering(std::errc::operation_not_permitted, 0);  // nftables works again
  Heartbeats(std::chrono::seconds(6));
  EXPECT_EQ(env_.steering_applied().back().isps[0].table, 4001u);
  status = env_.files().find("/run/failoverd/status.json");
  EXPECT_EQ(status->second.find("no sticky connections or resets"), std::string::npos);
}

}  // namespace
}  // namespace ispf

namespace ispf {
namespace {

// Dual stack through the shell: the IPv6 table and addresses are read with the IPv4 ones, the
// route lands in the fake kernel with its source, and an RA route that appears later goes.
TEST(FailoverShellIpv6Test, KeepsTheIpv6RouteWithItsSourceAndTheRaRouteAway) {
  FakeEnv env;
  FailoverShell shell(env);
  env.kernel().add_link("lan0");
  env.kernel().add_address("lan0", env.address(), 24);
  env.kernel().add_address6("lan0", *parse_ipv6("2001:db8:1:1::10"), 64);
  env.kernel().add_address6("lan0", *parse_ipv6("fe80::10"), 64);
  DefaultRoute6 ra;
  ra.gateway = *parse_ipv6("fe80::1");
  ra.ifindex = *env.kernel().ifindex("lan0");
  ra.metric = 1024;
  ra.protocol = kRouteProtocolRa;
  ASSERT_FALSE(env.kernel().add_route6(ra));
  ASSERT_TRUE(shell
                  .configure({"failoverd", "--isp", "isp1=192.168.56.101,gateway6=2001:db8:1:1::1",
                              "--hook-dir", "", "--state-dir", "", "--status-file",
                              "/run/failoverd/status.json"})
                  .run);
  ASSERT_EQ(shell.start(), std::nullopt);
  auto ra_routes = [&] {
    auto routes = env.kernel().default_routes6(254);
    return std::count_if(routes->begin(), routes->end(),
                         [](const DefaultRoute6& r) { return r.protocol == kRouteProtocolRa; });
  };
  EXPECT_EQ(ra_routes(), 0) << "the RA route is taken over at start";

  Status status = test::SampleStatus();
  status.name = "isp1";
  status.seq = 1;
  status.time_ms = env.now().wall_ms;
  status.loss_permille = 0;
  status.ipv6 = Status::Ipv6Line{LinkState::kUp, "probe-ok", 1, 1, std::nullopt, 0};
  env.lan().inject(kDefaultPort, kIsp1, encode(status));
  env.loop().run_ready();
  auto routes = env.kernel().default_routes6(254);
  ASSERT_TRUE(routes);
  auto ours = std::find_if(routes->begin(), routes->end(),
                           [](const DefaultRoute6& r) { return r.protocol == kRouteProtocol; });
  ASSERT_NE(ours, routes->end());
  EXPECT_EQ(ours->gateway, *parse_ipv6("2001:db8:1:1::1"));
  EXPECT_EQ(ours->metric, 1u);
  EXPECT_EQ(ours->preferred_source, parse_ipv6("2001:db8:1:1::10"));

  // The next advertisement: the watch fires, the shell reads the table, the route goes again.
  ASSERT_FALSE(env.kernel().add_route6(ra));
  env.loop().run_ready();
  EXPECT_EQ(ra_routes(), 0);
}

// isp1's IPv6 dies while its IPv4 works: its IPv6 connections end after the IPv6 route moved to
// isp2 (so reconnects take isp2), its IPv4 ones are left, and the steering follows each family.
TEST(FailoverShellIpv6Test, AnIspsIpv6DeathEndsOnlyItsIpv6ConnectionsAfterTheRouteMoved) {
  FakeEnv env;
  FailoverShell shell(env);
  env.kernel().add_link("lan0");
  env.kernel().add_address("lan0", env.address(), 24);
  env.kernel().add_address6("lan0", *parse_ipv6("2001:db8:1:1::10"), 64);
  env.kernel().add_address6("lan0", *parse_ipv6("2001:db8:2:1::10"), 64);
  ASSERT_TRUE(shell
                  .configure({"failoverd", "--isp", "isp1=192.168.56.101,gateway6=2001:db8:1:1::1",
                              "--isp", "isp2=192.168.56.102,gateway6=2001:db8:2:1::1", "--hook-dir",
                              "", "--state-dir", ""})
                  .run);
  ASSERT_EQ(shell.start(), std::nullopt);
  std::uint64_t seq = 0;
  auto send = [&](const std::string& name, LinkState six) {
    Status status = test::SampleStatus();
    status.name = name;
    status.instance = name == "isp1" ? 1 : 2;
    status.seq = ++seq;
    status.time_ms = env.now().wall_ms;
    status.loss_permille = 0;
    status.ipv6 = Status::Ipv6Line{
        six, six == LinkState::kUp ? "probe-ok" : "probe-loss", 1, 1, std::nullopt, 0};
    env.lan().inject(kDefaultPort, name == "isp1" ? kIsp1 : kIsp2, encode(status));
    env.loop().run_ready();
  };
  send("isp1", LinkState::kUp);
  send("isp2", LinkState::kUp);
  ASSERT_FALSE(env.steering_applied().empty());
  EXPECT_TRUE(env.steering_applied().back().isps[0].routed6);
  EXPECT_TRUE(env.resets().empty());

  send("isp1", LinkState::kDown);
  ASSERT_EQ(env.resets().size(), 1u);
  EXPECT_EQ(env.resets()[0].isp, "isp1");
  EXPECT_EQ(env.resets()[0].family, Family::kIpv6);
  EXPECT_EQ(env.routes6_at_resets()[0], parse_ipv6("2001:db8:2:1::1"));
  EXPECT_EQ(env.routes_at_resets()[0], std::optional<std::uint32_t>(kIsp1));
  EXPECT_TRUE(env.steering_applied().back().isps[0].routed);
  EXPECT_FALSE(env.steering_applied().back().isps[0].routed6);
  EXPECT_TRUE(env.steering_applied().back().isps[1].routed6);
}

}  // namespace
}  // namespace ispf

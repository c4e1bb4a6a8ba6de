// Resolvers follow the active ISP: the pure DnsFollower and the engine's dns actions.
#include "ispfailover/core/dns_follow.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ispfailover/core/failover_engine.h"
#include "ispfailover/core/status_report.h"
#include "support/sample_status.h"

namespace ispf {
namespace {

constexpr std::uint32_t kIsp1 = 0xc0a83865;  // 192.168.56.101
constexpr std::uint32_t kIsp2 = 0xc0a83866;  // 192.168.56.102
constexpr std::uint32_t kPublic = 0x01010101;

Now At(long long ms) { return Now{TimePoint{} + milliseconds(ms), 1795000000000ULL + ms}; }
IpAddress V4(std::uint32_t a) { return IpAddress::ipv4(a); }
Ipv6Address V6(const char* text) { return *parse_ipv6(text); }

TEST(ResolvConfTest, NamesTheIspAndKeepsGlibcsLimit) {
  std::string text =
      render_resolv_conf("isp1", {V4(kIsp1), V4(kIsp2), V4(kPublic), V4(0x02020202)});
  EXPECT_EQ(text,
            "# Written by failoverd: the resolvers announced by isp1, the ISP that carries the "
            "traffic now.\n"
            "# Rewritten when the active ISP or its resolvers change; edits here are lost.\n"
            "nameserver 192.168.56.101\n"
            "nameserver 192.168.56.102\n"
            "nameserver 1.1.1.1\n"
            "options timeout:1 attempts:2\n");
}

TEST(ResolvConfTest, IpOfBothFamiliesAndWhoseIpv6OnesTheyAre) {
  std::string text =
      render_resolv_conf("isp1", {V4(kIsp1), IpAddress::ipv6(V6("2001:db8:2::53"))}, "isp2");
  EXPECT_EQ(text,
            "# Written by failoverd: the resolvers announced by isp1 (IPv6: isp2), the ISP that "
            "carries the traffic now.\n"
            "# Rewritten when the active ISP or its resolvers change; edits here are lost.\n"
            "nameserver 192.168.56.101\n"
            "nameserver 2001:db8:2::53\n"
            "options timeout:1 attempts:2\n");
  EXPECT_EQ(render_resolv_conf("isp1", {V4(kIsp1)}, "isp1"),
            render_resolv_conf("isp1", {V4(kIsp1)}))
      << "the same ISP for both families is not named twice";
}

// Three places: IPv4 first, but one is kept for IPv6 so that either family alone resolves.
TEST(ChooseResolversTest, IpvFourFirstWithOnePlaceKeptForIpv6) {
  Ipv6Address a = V6("2001:db8::53"), b = V6("2001:db8::54"), c = V6("2001:db8::55");
  EXPECT_EQ(choose_resolvers({kIsp1, kIsp2, kPublic, 0x02020202}, {}),
            (std::vector<IpAddress>{V4(kIsp1), V4(kIsp2), V4(kPublic)}));
  EXPECT_EQ(choose_resolvers({kIsp1, kIsp2, kPublic}, {a, b}),
            (std::vector<IpAddress>{V4(kIsp1), V4(kIsp2), IpAddress::ipv6(a)}));
  EXPECT_EQ(choose_resolvers({kIsp1}, {a, b, c}),
            (std::vector<IpAddress>{V4(kIsp1), IpAddress::ipv6(a), IpAddress::ipv6(b)}));
  EXPECT_EQ(choose_resolvers({}, {a, b, c}),
            (std::vector<IpAddress>{IpAddress::ipv6(a), IpAddress::ipv6(b), IpAddress::ipv6(c)}));
  EXPECT_TRUE(choose_resolvers({}, {}).empty());
}

TEST(DnsFollowerTest, IpvSixResolversFollowTheIpv6RoutesIsp) {
  DnsFollower follower;
  Ipv6Address one = V6("2001:db8:1::53"), two = V6("2001:db8:2::53");
  auto both = follower.step("isp1", kIsp1, {kIsp1}, "isp1", {one});
  ASSERT_TRUE(both.update);
  EXPECT_EQ(both.update->servers, (std::vector<IpAddress>{V4(kIsp1), IpAddress::ipv6(one)}));
  EXPECT_EQ(both.update->isp6, "isp1");
  EXPECT_FALSE(follower.step("isp1", kIsp1, {kIsp1}, "isp1", {one}).update);
  // isp1's IPv6 died, its IPv4 works: isp2's IPv6 resolver replaces isp1's.
  auto moved = follower.step("isp1", kIsp1, {kIsp1}, "isp2", {two});
  ASSERT_TRUE(moved.update);
  EXPECT_EQ(moved.update->isp, "isp1");
  EXPECT_EQ(moved.update->isp6, "isp2");
  EXPECT_EQ(moved.update->servers, (std::vector<IpAddress>{V4(kIsp1), IpAddress::ipv6(two)}));
  EXPECT_NE(moved.update->resolv_conf.find("isp1 (IPv6: isp2)"), std::string::npos);
  // No IPv6 route: IPv4's resolvers only.
  auto gone = follower.step("isp1", kIsp1, {kIsp1}, std::nullopt, {two});
  ASSERT_TRUE(gone.update);
  EXPECT_EQ(gone.update->servers, std::vector<IpAddress>{V4(kIsp1)});
  EXPECT_EQ(gone.update->isp6, "");
  // An ISP announcing IPv6 resolvers only is not "announcing none".
  auto six_only = follower.step("isp2", kIsp2, {}, "isp2", {two});
  ASSERT_TRUE(six_only.update);
  EXPECT_FALSE(six_only.note);
  EXPECT_EQ(six_only.update->servers, std::vector<IpAddress>{IpAddress::ipv6(two)});
}

TEST(DnsFollowerTest, WritesOncePerChange) {
  DnsFollower follower;
  auto first = follower.step("isp1", kIsp1, {kIsp1});
  ASSERT_TRUE(first.update);
  EXPECT_EQ(first.update->isp, "isp1");
  EXPECT_EQ(first.update->gateway, kIsp1);
  EXPECT_EQ(first.update->servers, std::vector<IpAddress>{V4(kIsp1)});
  EXPECT_FALSE(follower.step("isp1", kIsp1, {kIsp1}).update) << "the same list again";
  auto grown = follower.step("isp1", kIsp1, {kIsp1, kPublic});
  ASSERT_TRUE(grown.update);
  EXPECT_EQ(grown.update->servers.size(), 2u);
  auto switched = follower.step("isp2", kIsp2, {kIsp2});
  ASSERT_TRUE(switched.update);
  EXPECT_NE(switched.update->resolv_conf.find("nameserver 192.168.56.102\n"), std::string::npos);
}

TEST(DnsFollowerTest, NoResolversLeavesThingsAsTheyAreAndSaysSoOnce) {
  DnsFollower follower;
  ASSERT_TRUE(follower.step("isp1", kIsp1, {kIsp1}).update);
  auto none = follower.step("isp2", kIsp2, {});
  EXPECT_FALSE(none.update);
  ASSERT_TRUE(none.note);
  EXPECT_NE(none.note->find("isp2"), std::string::npos);
  EXPECT_FALSE(follower.step("isp2", kIsp2, {}).note) << "said once";
  EXPECT_EQ(follower.applied()->isp, "isp1") << "what is in force stays";
  EXPECT_FALSE(follower.step(std::nullopt, 0, {}).update) << "no route: nothing changes";
}

TEST(DnsFollowerTest, ForgetMakesTheNextStepWriteAgain) {
  DnsFollower follower;
  ASSERT_TRUE(follower.step("isp1", kIsp1, {kIsp1}).update);
  follower.forget();
  EXPECT_TRUE(follower.step("isp1", kIsp1, {kIsp1}).update);
}

class DnsEngineTest : public testing::Test {
 protected:
  static FailoverSettings Settings(DnsManager manager) {
    FailoverSettings s;
    s.isps = {{"isp1", kIsp1, 0}, {"isp2", kIsp2, 1}};
    s.dns_manager = manager;
    return s;
  }
  FailoverActions Send(FailoverEngine& engine, const std::string& name, LinkState state,
                       std::vector<std::uint32_t> dns, long long at_ms) {
    Status s = test::SampleStatus();
    s.name = name;
    s.instance = name == "isp1" ? 1 : 2;
    s.seq = ++seq_;
    s.state = state;
    s.reason = state == LinkState::kUp ? "probe-ok" : "link-down";
    s.loss_permille = 0;
    s.dns = std::move(dns);
    std::string d = encode(s);
    auto out = engine.on_datagram(d, name == "isp1" ? kIsp1 : kIsp2, At(at_ms));
    if (!out.route_edits.empty()) {
      out.append(engine.on_edits_done(
          out.route_edits, std::vector<std::error_code>(out.route_edits.size()), At(at_ms)));
    }
    return out;
  }
  std::uint64_t seq_ = 0;
};

TEST_F(DnsEngineTest, SwitchRewritesAndAnUnchangedListWritesNothing) {
  FailoverEngine engine(Settings(DnsManager::kFile), At(0));
  engine.start({}, At(0));
  auto first = Send(engine, "isp1", LinkState::kUp, {kIsp1}, 10);
  ASSERT_TRUE(first.dns);
  EXPECT_EQ(first.dns->isp, "isp1");
  EXPECT_NE(first.dns->resolv_conf.find("nameserver 192.168.56.101\n"), std::string::npos);
  Send(engine, "isp2", LinkState::kUp, {kIsp2}, 20);
  for (long long t = 100; t < 3000; t += 300) {
    EXPECT_FALSE(Send(engine, "isp1", LinkState::kUp, {kIsp1}, t).dns) << "at " << t;
    EXPECT_FALSE(Send(engine, "isp2", LinkState::kUp, {kIsp2}, t + 1).dns) << "at " << t + 1;
    EXPECT_FALSE(engine.on_wake(At(t + 150)).dns) << "at " << t + 150;
  }
  auto down = Send(engine, "isp1", LinkState::kDown, {kIsp1}, 3000);
  ASSERT_TRUE(down.dns) << "the route moved to isp2, the resolvers with it";
  EXPECT_EQ(down.dns->isp, "isp2");
  EXPECT_EQ(down.dns->servers, std::vector<IpAddress>{V4(kIsp2)});
  auto report = engine.report(At(3001));
  EXPECT_EQ(report.dns_isp, "isp2");
  EXPECT_EQ(report.dns_servers, std::vector<IpAddress>{V4(kIsp2)});
  // `failoverd status` shows them, from the status file.
  auto table = render_status_table(to_json(report));
  ASSERT_TRUE(table.has_value()) << table.error();
  EXPECT_NE(table->find("dns: 192.168.56.102 (isp2, file)\n"), std::string::npos) << *table;
}

TEST_F(DnsEngineTest, OldPeerWithoutDnsLeavesTheFileAlone) {
  FailoverEngine engine(Settings(DnsManager::kFile), At(0));
  engine.start({}, At(0));
  ASSERT_TRUE(Send(engine, "isp1", LinkState::kUp, {kIsp1}, 10).dns);
  Send(engine, "isp2", LinkState::kUp, {}, 20);
  auto down = Send(engine, "isp1", LinkState::kDown, {kIsp1}, 100);
  EXPECT_FALSE(down.dns);
  EXPECT_TRUE(std::any_of(down.log.begin(), down.log.end(), [](const LogEvent& e) {
    return e.kind == EventKind::kDns && e.text.find("isp2 announces no resolvers") == 0;
  }));
  EXPECT_EQ(engine.report(At(101)).dns_isp, "isp1");
}

TEST_F(DnsEngineTest, NoneWritesNothing) {
  FailoverEngine engine(Settings(DnsManager::kNone), At(0));
  engine.start({}, At(0));
  EXPECT_FALSE(Send(engine, "isp1", LinkState::kUp, {kIsp1}, 10).dns);
}

TEST_F(DnsEngineTest, FailedWriteIsTriedAgain) {
  FailoverEngine engine(Settings(DnsManager::kFile), At(0));
  engine.start({}, At(0));
  ASSERT_TRUE(Send(engine, "isp1", LinkState::kUp, {kIsp1}, 10).dns);
  auto failed = engine.on_dns_failed("read-only file system", At(11));
  EXPECT_FALSE(failed.log.empty());
  EXPECT_TRUE(Send(engine, "isp1", LinkState::kUp, {kIsp1}, 300).dns);
}

TEST_F(DnsEngineTest, ResolvedRevertsOnlyWithCleanup) {
  FailoverEngine engine(Settings(DnsManager::kResolved), At(0));
  engine.start({}, At(0));
  auto up = Send(engine, "isp1", LinkState::kUp, {kIsp1}, 10);
  ASSERT_TRUE(up.dns);
  EXPECT_EQ(up.dns->gateway, kIsp1);
  FailoverEngine keep(Settings(DnsManager::kResolved), At(0));
  keep.start({}, At(0));
  Send(keep, "isp1", LinkState::kUp, {kIsp1}, 10);
  EXPECT_FALSE(keep.stop(false, At(20)).dns_revert);
  EXPECT_TRUE(engine.stop(true, At(20)).dns_revert);
}

// Dual stack: the IPv6 resolvers come from the ISP the IPv6 route goes through, which may not be
// the IPv4 route's.
TEST(DnsDualStackEngineTest, Ipv6ResolversFollowTheIpv6Route) {
  FailoverSettings settings;
  settings.isps = {{"isp1", kIsp1, 0}, {"isp2", kIsp2, 1}};
  settings.isps[0].gateway6 = V6("2001:db8:1:1::1");
  settings.isps[1].gateway6 = V6("2001:db8:2:1::1");
  settings.dns_manager = DnsManager::kFile;
  FailoverEngine engine(settings, At(0));
  std::uint64_t seq = 0;
  auto carry = [&](FailoverActions a, long long at) {
    if (!a.route_edits.empty()) {
      a.append(engine.on_edits_done(a.route_edits,
                                    std::vector<std::error_code>(a.route_edits.size()), At(at)));
    }
    return a;
  };
  auto send = [&](const std::string& name, LinkState six, long long at) {
    Status s = test::SampleStatus();
    s.name = name;
    s.instance = name == "isp1" ? 1 : 2;
    s.seq = ++seq;
    s.state = LinkState::kUp;
    s.reason = "probe-ok";
    s.loss_permille = 0;
    s.ipv6 = Status::Ipv6Line{
        six, six == LinkState::kUp ? "probe-ok" : "probe-loss", 1, 2, std::nullopt, 0};
    s.dns = {name == "isp1" ? kIsp1 : kIsp2};
    s.dns6 = {V6(name == "isp1" ? "2001:db8:1::53" : "2001:db8:2::53")};
    return carry(engine.on_datagram(encode(s), name == "isp1" ? kIsp1 : kIsp2, At(at)), at);
  };
  carry(engine.start({}, At(0), {}), 0);
  carry(engine.on_local_network6({{V6("2001:db8:1:1::10"), 64, 3, "lan0", false},
                                  {V6("2001:db8:2:1::10"), 64, 3, "lan0", false}},
                                 At(0)),
        0);
  std::optional<DnsUpdate> last;
  auto note = [&](const FailoverActions& a) {
    if (a.dns) last = a.dns;
  };
  note(send("isp1", LinkState::kUp, 10));
  note(send("isp2", LinkState::kUp, 20));
  for (long long t = 100; t < 2000; t += 100) {
    note(send("isp1", LinkState::kUp, t));
    note(send("isp2", LinkState::kUp, t + 1));
  }
  ASSERT_TRUE(last);
  EXPECT_EQ(last->servers,
            (std::vector<IpAddress>{V4(kIsp1), IpAddress::ipv6(V6("2001:db8:1::53"))}));
  // isp1's IPv6 goes silent while its IPv4 works: IPv4's resolver stays, IPv6's is isp2's.
  last.reset();
  for (long long t = 2000; t < 4000; t += 100) {
    note(send("isp1", LinkState::kDown, t));
    note(send("isp2", LinkState::kUp, t + 1));
  }
  ASSERT_TRUE(last) << "the IPv6 route moved: the resolvers are rewritten";
  EXPECT_EQ(last->isp, "isp1");
  EXPECT_EQ(last->isp6, "isp2");
  EXPECT_EQ(last->servers,
            (std::vector<IpAddress>{V4(kIsp1), IpAddress::ipv6(V6("2001:db8:2::53"))}));
  auto report = engine.report(At(4000));
  ASSERT_EQ(report.dns_servers.size(), 2u);
  EXPECT_EQ(format_ip(report.dns_servers[1]), "2001:db8:2::53");
}

}  // namespace
}  // namespace ispf

// failoverd's IPv6 side in the engine: families decided apart, the RA route taken over, the
// source of the chosen ISP's prefix on the route, an old router's IPv4 verdict standing in, and
// sticky connections and resets by each family's own verdicts.
#include <gtest/gtest.h>

#include <algorithm>

#include "ispfailover/core/failover_engine.h"
#include "support/sample_status.h"

namespace ispf {
namespace {

constexpr std::uint32_t kIsp1 = 0xc0a83865;  // 192.168.56.101
constexpr std::uint32_t kIsp2 = 0xc0a83866;  // 192.168.56.102
constexpr int kLan = 3;

Now At(long long ms) { return Now{TimePoint{} + milliseconds(ms), 1795000000000ULL + ms}; }
Ipv6Address V6(const char* text) { return *parse_ipv6(text); }

FailoverSettings Settings() {
  FailoverSettings s;
  s.isps = {{"isp1", kIsp1, 0}, {"isp2", kIsp2, 1}};
  s.isps[0].gateway6 = V6("2001:db8:1:1::1");
  s.isps[1].gateway6 = V6("fe80::2");
  s.isps[1].gateway6_device = "lan0";
  return s;
}

// The client's addresses: one in each ISP's prefix, and the link-local one.
std::vector<Ipv6InterfaceAddress> ClientAddresses() {
  return {{V6("2001:db8:1:1::10"), 64, kLan, "lan0", false},
          {V6("2001:db8:2:1::10"), 64, kLan, "lan0", false},
          {V6("fe80::10"), 64, kLan, "lan0", false}};
}

class Ipv6FailoverTest : public testing::Test {
 protected:
  // isp2 announces its prefix (its gateway is link-local, so nothing else ties an address to it).
  FailoverActions Send(const std::string& name, LinkState v4, std::optional<LinkState> v6,
                       long long at_ms, std::uint32_t loss6_permille = 0) {
    Status s = test::SampleStatus();
    s.name = name;
    s.instance = name == "isp1" ? 1 : 2;
    s.seq = ++seq_;
    s.state = v4;
    s.reason = v4 == LinkState::kUp ? "probe-ok" : "link-down";
    s.loss_permille = 0;
    if (v6) {
      s.ipv6 = Status::Ipv6Line{
          *v6,           *v6 == LinkState::kUp ? "probe-ok" : "probe-loss", 1, 2, std::nullopt,
          loss6_permille};
    }
    if (name == "isp2") s.prefix6 = parse_ipv6_prefix("2001:db8:2:1::/64");
    std::string d = encode(s);
    return Carry(engine_.on_datagram(d, name == "isp1" ? kIsp1 : kIsp2, At(at_ms)), at_ms);
  }
  // The shell's part: edits succeed and the tables follow.
  FailoverActions Carry(FailoverActions a, long long at_ms) {
    if (a.steering) steering_ = a.steering;
    for (const auto& r : a.resets) resets_.push_back(r);
    if (!a.route_edits.empty()) {
      std::vector<std::error_code> ok(a.route_edits.size());
      for (const auto& e : a.route_edits) edits_.push_back(e);
      engine_.on_edits_done(a.route_edits, ok, At(at_ms));
    }
    return a;
  }
  void Start(std::vector<DefaultRoute6> table6 = {}) {
    Carry(engine_.start({}, At(0), table6), 0);
    Carry(engine_.on_local_network6(ClientAddresses(), At(0)), 0);
  }
  std::vector<RouteEdit> Edits6() const {
    std::vector<RouteEdit> out;
    std::copy_if(edits_.begin(), edits_.end(), std::back_inserter(out),
                 [](const RouteEdit& e) { return e.family == Family::kIpv6; });
    return out;
  }
  std::optional<Route6Via> Last6() const {
    auto six = Edits6();
    for (auto it = six.rbegin(); it != six.rend(); ++it) {
      if (it->kind == RouteEdit::Kind::kReplaceOwn) return it->via6;
      if (it->kind == RouteEdit::Kind::kRemoveOwn) return std::nullopt;
    }
    return std::nullopt;
  }
  std::optional<std::uint32_t> Last4() const {
    for (auto it = edits_.rbegin(); it != edits_.rend(); ++it) {
      if (it->family == Family::kIpv4 && it->kind == RouteEdit::Kind::kReplaceOwn) {
        return it->gateway;
      }
    }
    return std::nullopt;
  }

  // Each ISP's routed flags in the last steering asked for: {IPv4, IPv6}.
  std::vector<std::pair<bool, bool>> Routed() const {
    std::vector<std::pair<bool, bool>> out;
    if (steering_) {
      for (const auto& isp : steering_->isps) out.emplace_back(isp.routed, isp.routed6);
    }
    return out;
  }
  std::vector<ConnectionReset> Resets(Family family) const {
    std::vector<ConnectionReset> out;
    std::copy_if(resets_.begin(), resets_.end(), std::back_inserter(out),
                 [&](const ConnectionReset& r) { return r.family == family; });
    return out;
  }
  // Both ISPs up in both families.
  void BothUp() {
    Start();
    Send("isp1", LinkState::kUp, LinkState::kUp, 10);
    Send("isp2", LinkState::kUp, LinkState::kUp, 20);
  }

  FailoverEngine engine_{Settings(), At(0)};
  std::uint64_t seq_ = 0;
  std::vector<RouteEdit> edits_;
  std::optional<SteeringState> steering_;
  std::vector<ConnectionReset> resets_;
};

TEST_F(Ipv6FailoverTest, BothFamiliesOnTheFirstIspWithItsOwnSource) {
  Start();
  Send("isp1", LinkState::kUp, LinkState::kUp, 10);
  Send("isp2", LinkState::kUp, LinkState::kUp, 20);
  EXPECT_EQ(Last4(), kIsp1);
  ASSERT_TRUE(Last6());
  EXPECT_EQ(Last6()->gateway, V6("2001:db8:1:1::1"));
  EXPECT_EQ(Last6()->ifindex, kLan);
  EXPECT_EQ(Last6()->preferred_source, V6("2001:db8:1:1::10"));  // the on-link prefix's
  auto six = Edits6();
  ASSERT_FALSE(six.empty());
  EXPECT_EQ(six.front().slot.metric, 1u);  // below the 1024 of RA routes
  EXPECT_EQ(six.front().slot.protocol, kRouteProtocol);
}

// isp1's IPv6 silent upstream while its IPv4 works: IPv6 via isp2, IPv4 stays on isp1.
TEST_F(Ipv6FailoverTest, FamiliesAreDecidedApart) {
  Start();
  Send("isp1", LinkState::kUp, LinkState::kUp, 10);
  Send("isp2", LinkState::kUp, LinkState::kUp, 20);
  auto a = Send("isp1", LinkState::kUp, LinkState::kDown, 100);
  EXPECT_EQ(Last4(), kIsp1);
  ASSERT_TRUE(Last6());
  EXPECT_EQ(Last6()->gateway, V6("fe80::2"));
  EXPECT_EQ(Last6()->ifindex, kLan);
  // isp2's gateway is link-local: the source comes from the prefix it announces.
  EXPECT_EQ(Last6()->preferred_source, V6("2001:db8:2:1::10"));
  auto line = std::find_if(a.log.begin(), a.log.end(),
                           [](const LogEvent& e) { return e.kind == EventKind::kSwitch; });
  ASSERT_NE(line, a.log.end());
  EXPECT_EQ(line->text.rfind("IPv6: switch isp1 -> isp2", 0), 0u) << line->text;
  // The hooks hear it too, told apart from IPv4's events by ISPF_FAMILY.
  auto hook = std::find_if(a.hooks.begin(), a.hooks.end(), [](const HookEvent& h) {
    return h.event == "switch" &&
           std::find(h.fields.begin(), h.fields.end(),
                     std::pair<std::string, std::string>{"ISPF_FAMILY", "ipv6"}) != h.fields.end();
  });
  ASSERT_NE(hook, a.hooks.end());
  EXPECT_NE(std::find(hook->fields.begin(), hook->fields.end(),
                      std::pair<std::string, std::string>{"ISPF_TO", "isp2"}),
            hook->fields.end());
  ASSERT_TRUE(a.publish);
  ASSERT_TRUE(a.publish->ipv6);
  EXPECT_EQ(a.publish->ipv6->active, 1u);
  EXPECT_EQ(a.publish->active, 0u);
  EXPECT_EQ(a.publish->ipv6->isps[0].health, IspHealth::kDown);
  EXPECT_EQ(a.publish->ipv6->isps[0].reason, "probe-loss");
}

// A router without IPv6 probing (or older than ipv6=): its IPv4 verdict stands for IPv6.
TEST_F(Ipv6FailoverTest, WithoutAnIpv6VerdictIpv4StandsIn) {
  Start();
  Send("isp1", LinkState::kUp, std::nullopt, 10);
  Send("isp2", LinkState::kUp, std::nullopt, 20);
  ASSERT_TRUE(Last6());
  EXPECT_EQ(Last6()->gateway, V6("2001:db8:1:1::1"));
  auto down = Send("isp1", LinkState::kDown, std::nullopt, 100);
  EXPECT_EQ(Last4(), kIsp2);
  // Both families switched: two switch events, one of each family.
  int switches = 0;
  for (const auto& h : down.hooks) {
    if (h.event != "switch") continue;
    ++switches;
    EXPECT_EQ(std::count_if(h.fields.begin(), h.fields.end(),
                            [](const auto& f) { return f.first == "ISPF_FAMILY"; }),
              1);
  }
  EXPECT_EQ(switches, 2);
  ASSERT_TRUE(Last6());
  EXPECT_EQ(Last6()->gateway, V6("fe80::2"));
  auto r = engine_.report(At(100));
  ASSERT_TRUE(r.ipv6);
  EXPECT_FALSE(r.ipv6->own_verdict.at("isp1"));
}

TEST_F(Ipv6FailoverTest, RouterAdvertisementRoutesAreTakenOverAndKeptAway) {
  DefaultRoute6 ra{V6("fe80::1"), kLan, 1024, kRouteProtocolRa, 254, std::nullopt};
  Start({ra});
  auto deleted = Edits6();
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].kind, RouteEdit::Kind::kDeleteForeign);
  EXPECT_EQ(deleted[0].route6, ra);
  // The next advertisement puts it back: it goes again, and our route is left alone.
  Send("isp1", LinkState::kUp, LinkState::kUp, 10);
  edits_.clear();
  DefaultRoute6 ours{V6("2001:db8:1:1::1"), kLan, 1, kRouteProtocol, 254, V6("2001:db8:1:1::10")};
  Carry(engine_.on_table6({ours, ra}, At(50)), 50);
  ASSERT_EQ(Edits6().size(), 1u);
  EXPECT_EQ(Edits6()[0].kind, RouteEdit::Kind::kDeleteForeign);
  // Someone else's static IPv6 route is not ours to touch.
  edits_.clear();
  DefaultRoute6 admin{V6("2001:db8:1:1::99"), kLan, 500, 4, 254, std::nullopt};
  Carry(engine_.on_table6({ours, admin}, At(60)), 60);
  EXPECT_TRUE(Edits6().empty());
}

TEST_F(Ipv6FailoverTest, OurRouteFromBeforeARestartIsAdopted) {
  DefaultRoute6 ours{V6("fe80::2"), kLan, 1, kRouteProtocol, 254, V6("2001:db8:2:1::10")};
  FailoverActions a = engine_.start({}, At(0), {ours});
  EXPECT_TRUE(std::any_of(a.log.begin(), a.log.end(),
                          [](const LogEvent& e) { return e.kind == EventKind::kRouteAdopted; }));
  Carry(engine_.on_local_network6(ClientAddresses(), At(0)), 0);
  Carry(engine_.on_table6({ours}, At(0)), 0);
  // isp2 keeps carrying IPv6, with its source, while the ISPs report in: no edit.
  EXPECT_TRUE(Edits6().empty()) << Edits6().size();
}

TEST_F(Ipv6FailoverTest, TheSourceFollowsTheAddresses) {
  Start();
  Send("isp1", LinkState::kUp, LinkState::kUp, 10);
  ASSERT_TRUE(Last6());
  EXPECT_EQ(Last6()->preferred_source, V6("2001:db8:1:1::10"));
  // Renumbered: the address in isp1's prefix is now ::20; the route follows.
  auto addresses = ClientAddresses();
  addresses[0].address = V6("2001:db8:1:1::20");
  Carry(engine_.on_local_network6(addresses, At(20)), 20);
  EXPECT_EQ(Last6()->preferred_source, V6("2001:db8:1:1::20"));
  // Deprecated: kept for old connections, not picked for new ones; the route has no source
  // (the kernel picks) and the status says why.
  addresses[0].deprecated = true;
  Carry(engine_.on_local_network6(addresses, At(30)), 30);
  ASSERT_TRUE(Last6());
  EXPECT_FALSE(Last6()->preferred_source);
  auto r = engine_.report(At(30));
  ASSERT_TRUE(r.ipv6);
  ASSERT_EQ(r.ipv6->warnings.size(), 1u);
  EXPECT_NE(r.ipv6->warnings[0].find("--prefix6"), std::string::npos);
}

// With our own LAN link gone nothing is decided (as for IPv4) and no route is tried.
TEST_F(Ipv6FailoverTest, NoRouteTriedWithoutOurLink) {
  Start();
  Send("isp1", LinkState::kUp, LinkState::kUp, 10);
  edits_.clear();
  Carry(engine_.on_local_network6({}, At(20)), 20);
  Carry(engine_.on_table6({}, At(21)), 21);
  EXPECT_TRUE(Edits6().empty());
  Carry(engine_.on_local_network6(ClientAddresses(), At(30)), 30);
  Carry(engine_.on_table6({}, At(31)), 31);
  ASSERT_TRUE(Last6());
  EXPECT_EQ(Last6()->gateway, V6("2001:db8:1:1::1"));
}

TEST_F(Ipv6FailoverTest, CleanupOnExitRemovesBothRoutes) {
  Start();
  Send("isp1", LinkState::kUp, LinkState::kUp, 10);
  auto a = engine_.stop(/*cleanup=*/true, At(20));
  EXPECT_TRUE(std::any_of(a.route_edits.begin(), a.route_edits.end(), [](const RouteEdit& e) {
    return e.family == Family::kIpv6 && e.kind == RouteEdit::Kind::kRemoveOwn;
  }));
}

// A reload that gives an ISP a gateway6 asks for a read of the tables at once (the shell reads
// the IPv6 ones only for an engine with IPv6), and the route follows.
TEST_F(Ipv6FailoverTest, AReloadThatTurnsIpv6OnReadsTheTables) {
  FailoverSettings v4 = Settings();
  for (auto& isp : v4.isps) isp.gateway6.reset();
  FailoverEngine engine(v4, At(0));
  engine.start({}, At(0), {});
  EXPECT_FALSE(engine.has_ipv6());
  auto a = engine.reconfigure(Settings(), At(10));
  EXPECT_TRUE(engine.has_ipv6());
  EXPECT_TRUE(a.read_table);
  // Reloading the same again asks for nothing more.
  EXPECT_FALSE(engine.reconfigure(Settings(), At(20)).read_table);
}

TEST_F(Ipv6FailoverTest, IPv4OnlyConfigurationHasNoIpv6Side) {
  FailoverSettings s = Settings();
  for (auto& isp : s.isps) isp.gateway6.reset();
  FailoverEngine engine(s, At(0));
  EXPECT_FALSE(engine.has_ipv6());
  auto a = engine.start({}, At(0), {});
  ASSERT_TRUE(a.publish);
  EXPECT_FALSE(a.publish->ipv6);
  EXPECT_TRUE(engine
                  .on_table6({DefaultRoute6{V6("fe80::1"), kLan, 1024, kRouteProtocolRa, 254,
                                            std::nullopt}},
                             At(1))
                  .route_edits.empty());
}

TEST_F(Ipv6FailoverTest, TheSteeringCarriesEachIspsGateway6) {
  Start();
  ASSERT_TRUE(steering_);
  ASSERT_EQ(steering_->isps.size(), 2u);
  EXPECT_EQ(steering_->isps[0].gateway6, V6("2001:db8:1:1::1"));
  EXPECT_EQ(steering_->isps[1].gateway6, V6("fe80::2"));
  EXPECT_EQ(steering_->isps[1].gateway6_device, "lan0");
  // Not heard from yet: both families' tables keep their routes, as after a restart.
  EXPECT_EQ(Routed(), (std::vector<std::pair<bool, bool>>{{true, true}, {true, true}}));
}

// isp1's IPv6 dies while its IPv4 works: its IPv6 table loses its route and its IPv6
// connections end, once; its IPv4 ones keep going.
TEST_F(Ipv6FailoverTest, AnIspsIpv6DeathResetsOnlyItsIpv6Connections) {
  BothUp();
  resets_.clear();
  Send("isp1", LinkState::kUp, LinkState::kDown, 100);
  EXPECT_EQ(Routed(), (std::vector<std::pair<bool, bool>>{{true, false}, {true, true}}));
  EXPECT_TRUE(Resets(Family::kIpv4).empty());
  auto six = Resets(Family::kIpv6);
  ASSERT_EQ(six.size(), 1u);
  EXPECT_EQ(six[0].isp, "isp1");
  EXPECT_EQ(six[0].mark, 0x01000000u) << "the same mark as its IPv4 connections";
  EXPECT_EQ(six[0].mask, 0x0f000000u);
  EXPECT_EQ(six[0].why, "down (probe-loss)");
  // What the shell reports back is told as IPv6's, in the log and the status.
  auto done = engine_.on_connections_reset(six[0], ResetOutcome{1, 1, 0, ""}, At(150));
  EXPECT_TRUE(std::any_of(done.log.begin(), done.log.end(), [](const LogEvent& e) {
    return e.text.rfind("ended 1 IPv6 TCP connection(s) of isp1, whose IPv6 is down", 0) == 0;
  }));
  ASSERT_TRUE(engine_.report(At(150)).last_reset);
  EXPECT_EQ(engine_.report(At(150)).last_reset->why, "IPv6 down (probe-loss)");
  EXPECT_TRUE(engine_.report(At(150)).resets_total.empty()) << "no IPv4 socket ended";
  EXPECT_EQ(engine_.report(At(150)).ipv6->resets_total.at("isp1"), 1u);
  // Still down: no second reset. Back and down again: a new death, a new reset.
  Send("isp1", LinkState::kUp, LinkState::kDown, 200);
  EXPECT_EQ(Resets(Family::kIpv6).size(), 1u);
  Send("isp1", LinkState::kUp, LinkState::kUp, 300);
  EXPECT_EQ(Routed(), (std::vector<std::pair<bool, bool>>{{true, true}, {true, true}}));
  Send("isp1", LinkState::kUp, LinkState::kDown, 400);
  EXPECT_EQ(Resets(Family::kIpv6).size(), 2u);
  EXPECT_TRUE(Resets(Family::kIpv4).empty());
}

// And the other way: isp1's IPv4 dies while its IPv6 works: only IPv4 connections end.
TEST_F(Ipv6FailoverTest, AnIspsIpv4DeathResetsOnlyItsIpv4Connections) {
  BothUp();
  resets_.clear();
  Send("isp1", LinkState::kDown, LinkState::kUp, 100);
  EXPECT_EQ(Routed(), (std::vector<std::pair<bool, bool>>{{false, true}, {true, true}}));
  ASSERT_EQ(Resets(Family::kIpv4).size(), 1u);
  EXPECT_TRUE(Resets(Family::kIpv6).empty());
}

// A silent ISP is dead in both families: one reset of each.
TEST_F(Ipv6FailoverTest, ASilentIspIsResetInBothFamilies) {
  BothUp();
  resets_.clear();
  for (long long t = 100; t <= 3000; t += 100) {
    Send("isp2", LinkState::kUp, LinkState::kUp, t);
    Carry(engine_.on_wake(At(t + 50)), t + 50);
  }
  ASSERT_EQ(Resets(Family::kIpv4).size(), 1u);
  ASSERT_EQ(Resets(Family::kIpv6).size(), 1u);
  EXPECT_EQ(Resets(Family::kIpv6)[0].isp, "isp1");
  EXPECT_EQ(Resets(Family::kIpv6)[0].why.rfind("stale", 0), 0u) << Resets(Family::kIpv6)[0].why;
  EXPECT_EQ(Routed(), (std::vector<std::pair<bool, bool>>{{false, false}, {true, true}}));
}

// Lossy IPv6: the IPv6 route leaves it, but it still carries traffic, so nothing ends and its
// table keeps its route.
TEST_F(Ipv6FailoverTest, ADegradedIpv6KeepsItsConnections) {
  BothUp();
  resets_.clear();
  edits_.clear();
  Send("isp1", LinkState::kUp, LinkState::kUp, 100, /*loss6_permille=*/400);
  ASSERT_TRUE(Last6());
  EXPECT_EQ(Last6()->gateway, V6("fe80::2")) << "the IPv6 route leaves the lossy ISP";
  EXPECT_TRUE(resets_.empty());
  EXPECT_EQ(Routed(), (std::vector<std::pair<bool, bool>>{{true, true}, {true, true}}));
}

// Every ISP's IPv6 dead at once: nothing ends until one is back.
TEST_F(Ipv6FailoverTest, WhenEveryIspsIpv6LooksDeadNothingIsResetUntilOneIsBack) {
  BothUp();
  resets_.clear();
  Send("isp2", LinkState::kUp, LinkState::kDown, 100);
  Send("isp1", LinkState::kUp, LinkState::kDown, 110);
  auto first = Resets(Family::kIpv6);
  ASSERT_EQ(first.size(), 1u) << "isp2's, while isp1 still carried IPv6";
  EXPECT_EQ(first[0].isp, "isp2");
  Send("isp2", LinkState::kUp, LinkState::kUp, 200);
  auto six = Resets(Family::kIpv6);
  ASSERT_EQ(six.size(), 2u);
  EXPECT_EQ(six[1].isp, "isp1");
  EXPECT_TRUE(Resets(Family::kIpv4).empty());
}

// After a restart an ISP may just speak later: its IPv6 connections stay however long it is
// silent; a report of IPv6 down ends them.
TEST_F(Ipv6FailoverTest, AnIspNotHeardSinceStartIsNotResetInIpv6) {
  Start();
  for (long long t = 10; t <= 5000; t += 100) {
    Send("isp1", LinkState::kUp, LinkState::kUp, t);
    Carry(engine_.on_wake(At(t + 50)), t + 50);
  }
  EXPECT_TRUE(resets_.empty());
  Send("isp2", LinkState::kUp, LinkState::kDown, 5100);
  ASSERT_EQ(Resets(Family::kIpv6).size(), 1u);
  EXPECT_EQ(Resets(Family::kIpv6)[0].isp, "isp2");
  EXPECT_TRUE(Resets(Family::kIpv4).empty());
}

// An ISP without gateway6 carries no IPv6 for us: no IPv6 route in its table, no IPv6 reset.
TEST_F(Ipv6FailoverTest, AnIspWithoutGateway6HasNoIpv6Steering) {
  FailoverSettings s = Settings();
  s.isps.push_back({"isp3", 0xc0a83867, 2});
  FailoverEngine engine(s, At(0));
  auto a = engine.start({}, At(0), {});
  ASSERT_TRUE(a.steering);
  ASSERT_EQ(a.steering->isps.size(), 3u);
  EXPECT_FALSE(a.steering->isps[2].gateway6);
  EXPECT_FALSE(a.steering->isps[2].routed6);
  EXPECT_TRUE(a.steering->isps[2].routed);
  Status s3 = test::SampleStatus();
  s3.name = "isp3";
  s3.instance = 3;
  s3.seq = 1;
  s3.state = LinkState::kUp;
  s3.ipv6 = Status::Ipv6Line{LinkState::kUp, "probe-ok", 1, 2, std::nullopt, 0};
  engine.on_datagram(encode(s3), 0xc0a83867, At(10));
  s3.seq = 2;
  s3.ipv6->state = LinkState::kDown;
  auto down = engine.on_datagram(encode(s3), 0xc0a83867, At(20));
  EXPECT_TRUE(down.resets.empty()) << "no IPv6 side for isp3";
}

}  // namespace
}  // namespace ispf

// Sticky connections as values: marks, tables, rules and our nftables script.
#include "ispfailover/core/steering.h"

#include <gtest/gtest.h>

#include "ispfailover/core/config.h"

namespace ispf {
namespace {

constexpr std::uint32_t kIsp1 = 0xc0a83865;  // 192.168.56.101
constexpr std::uint32_t kIsp2 = 0xc0a83866;  // 192.168.56.102

TEST(Steering, MarksAreIspPositionsInTheMasksBits) {
  EXPECT_EQ(mark_capacity(0x0f000000), 15u);
  EXPECT_EQ(mark_capacity(0x00000003), 3u);
  EXPECT_EQ(mark_capacity(0), 0u);
  EXPECT_EQ(mark_capacity(0x0f0f0000), 0u) << "not one run of bits";
  EXPECT_EQ(mark_of(0, 0x0f000000), 0x01000000u);
  EXPECT_EQ(mark_of(1, 0x0f000000), 0x02000000u);
  EXPECT_EQ(mark_of(14, 0x0f000000), 0x0f000000u);
}

TEST(Steering, EachIspGetsItsTableAndRuleInPreferenceOrder) {
  SteeringSettings settings;
  auto state = steering_state(settings, {{"isp1", kIsp1, 0}, {"isp2", kIsp2, 1}}, 150);
  ASSERT_EQ(state.isps.size(), 2u);
  EXPECT_EQ(state.isps[0].table, 3151u);
  EXPECT_EQ(state.isps[1].table, 3152u);
  EXPECT_EQ(state.isps[0].rule_priority, 1500u);
  EXPECT_EQ(state.isps[1].rule_priority, 1501u);
  EXPECT_EQ(state.isps[1].mark, 0x02000000u);
  EXPECT_FALSE(state.isps[0].routed);
  EXPECT_EQ(state.route_protocol, 150);
}

TEST(Steering, TheScriptMarksByGatewayAndRestoresOnlyWhenSticky) {
  SteeringSettings settings;
  auto state = steering_state(settings, {{"isp1", kIsp1, 0}, {"isp2", kIsp2, 1}}, 150);
  std::string script = nft_script(state);
  // Replaced whole, in one transaction, whether or not it was there.
  EXPECT_EQ(script.rfind("add table inet failoverd\ndelete table inet failoverd\n", 0), 0u);
  EXPECT_NE(script.find("type route hook output priority mangle"), std::string::npos);
  EXPECT_NE(script.find("ct state new ip daddr != 192.168.56.101 rt ip nexthop 192.168.56.101 ct "
                        "mark set ct mark and 0xf0ffffff or 0x01000000"),
            std::string::npos)
      << script;
  EXPECT_NE(script.find("ct mark and 0x0f000000 == 0x02000000 meta mark set meta mark and "
                        "0xf0ffffff or 0x02000000"),
            std::string::npos)
      << script;
  state.sticky = false;
  std::string marks_only = nft_script(state);
  EXPECT_EQ(marks_only.find("meta mark set"), std::string::npos) << marks_only;
  EXPECT_NE(marks_only.find("rt ip nexthop 192.168.56.102"), std::string::npos);
}

// IPv6 alike for the ISPs with a gateway6, with the same mark; link-local gateways as they are.
TEST(Steering, TheScriptMarksIpv6ByGateway6WithTheSameMark) {
  SteeringSettings settings;
  std::vector<IspConfig> isps{{"isp1", kIsp1, 0}, {"isp2", kIsp2, 1}, {"isp3", 0xc0a83867, 2}};
  isps[0].gateway6 = parse_ipv6("2001:db8:1:1::1");
  isps[1].gateway6 = parse_ipv6("fe80::2");
  isps[1].gateway6_device = "lan0";
  auto state = steering_state(settings, isps, 150);
  EXPECT_EQ(state.isps[1].gateway6, parse_ipv6("fe80::2"));
  EXPECT_EQ(state.isps[1].gateway6_device, "lan0");
  EXPECT_FALSE(state.isps[2].gateway6);
  EXPECT_FALSE(state.isps[0].routed6);
  std::string script = nft_script(state);
  EXPECT_NE(script.find("ct state new ip6 daddr != 2001:db8:1:1::1 rt ip6 nexthop 2001:db8:1:1::1 "
                        "ct mark set ct mark and 0xf0ffffff or 0x01000000"),
            std::string::npos)
      << script;
  EXPECT_NE(script.find("ct state new ip6 daddr != fe80::2 rt ip6 nexthop fe80::2 ct mark set ct "
                        "mark and 0xf0ffffff or 0x02000000"),
            std::string::npos)
      << script;
  // isp3 has no gateway6: IPv4 marks only.
  EXPECT_NE(script.find("rt ip nexthop 192.168.56.103"), std::string::npos);
  std::size_t ip6_rules = 0;
  for (auto at = script.find("rt ip6 nexthop"); at != std::string::npos;
       at = script.find("rt ip6 nexthop", at + 1)) {
    ++ip6_rules;
  }
  EXPECT_EQ(ip6_rules, 2u);
  // The sticky rules are one per ISP, for both families.
  std::size_t sticky = 0;
  for (auto at = script.find("meta mark set"); at != std::string::npos;
       at = script.find("meta mark set", at + 1)) {
    ++sticky;
  }
  EXPECT_EQ(sticky, 3u);
}

// The routed flags and resets' rules, one family's views at a time.
TEST(Steering, OneFamilysRoutedFlagsAndResets) {
  auto view = [](const char* name, IspHealth health) {
    IspView v;
    v.config.name = name;
    v.health = health;
    return v;
  };
  ResetMemory memory;
  // Not heard yet: routed, nothing reset.
  auto start =
      steer_family({view("a", IspHealth::kStale), view("b", IspHealth::kStale)}, true, memory);
  EXPECT_EQ(start.routed, (std::vector<bool>{true, true}));
  EXPECT_TRUE(start.resets.empty());
  steer_family({view("a", IspHealth::kUp), view("b", IspHealth::kUp)}, true, memory);
  auto down = steer_family({view("a", IspHealth::kDown), view("b", IspHealth::kUp)}, true, memory);
  EXPECT_EQ(down.routed, (std::vector<bool>{false, true}));
  EXPECT_EQ(down.resets, (std::vector<std::size_t>{0}));
  auto again = steer_family({view("a", IspHealth::kDown), view("b", IspHealth::kUp)}, true, memory);
  EXPECT_TRUE(again.resets.empty()) << "once per death";
  auto degraded =
      steer_family({view("a", IspHealth::kUp), view("b", IspHealth::kDegraded)}, true, memory);
  EXPECT_EQ(degraded.routed, (std::vector<bool>{true, true}));
  EXPECT_TRUE(degraded.resets.empty());
  ResetMemory off;
  steer_family({view("a", IspHealth::kUp), view("b", IspHealth::kUp)}, false, off);
  EXPECT_TRUE(steer_family({view("a", IspHealth::kDown), view("b", IspHealth::kUp)}, false, off)
                  .resets.empty());
}

FailoverOptions TwoIsps() {
  FailoverOptions o;
  o.isp_specs = {"isp1=192.168.56.101", "isp2=192.168.56.102"};
  return o;
}

TEST(Steering, OptionsAreCheckedWithAWayOut) {
  auto ok = validate(TwoIsps());
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_TRUE(ok->steering.sticky);
  EXPECT_TRUE(ok->steering.reset);
  EXPECT_EQ(ok->steering.mark_mask, 0x0f000000u);

  auto bad = [](auto change) {
    FailoverOptions o = TwoIsps();
    change(o);
    auto r = validate(o);
    return r ? std::string("(accepted)") : r.error().to_string();
  };
  EXPECT_EQ(bad([](FailoverOptions& o) {
              o.sticky_connections = "maybe";
            }).rfind("--sticky-connections: 'maybe' must be yes or no", 0),
            0u);
  EXPECT_EQ(
      bad([](FailoverOptions& o) { o.reset_connections = "1"; }).rfind("--reset-connections", 0),
      0u);
  EXPECT_NE(
      bad([](FailoverOptions& o) { o.conn_mark_mask = "0x0f0f"; }).find("one run of set bits"),
      std::string::npos);
  EXPECT_NE(bad([](FailoverOptions& o) { o.conn_mark_mask = "0x1"; }).find("tells only 1 ISPs"),
            std::string::npos);
  EXPECT_NE(bad([](FailoverOptions& o) { o.conn_mark_mask = "zz"; }).find("--conn-mark-mask"),
            std::string::npos);
  EXPECT_NE(bad([](FailoverOptions& o) { o.sticky_table_base = 252; }).find("--sticky-table-base"),
            std::string::npos);
  EXPECT_NE(bad([](FailoverOptions& o) { o.table = "3152"; }).find("--sticky-table-base"),
            std::string::npos);
  EXPECT_NE(bad([](FailoverOptions& o) {
              o.sticky_rule_priority = 32765;
            }).find("--sticky-rule-priority: must be from 1 to 32764"),
            std::string::npos);
  EXPECT_EQ(bad([](FailoverOptions& o) { o.conn_mark_mask = "3"; }), "(accepted)");
}

}  // namespace
}  // namespace ispf

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

// IPv6 addresses and prefixes: the forms people write, the ones we refuse, and prefix matching.
#include "ispfailover/core/ip_address.h"

#include <gtest/gtest.h>

namespace ispf {
namespace {

TEST(Ipv6Address, ParsesAndPrintsTheCanonicalForm) {
  auto a = parse_ipv6("2001:DB8:0:0:0:0:0:1");
  ASSERT_TRUE(a);
  EXPECT_EQ(format_ipv6(*a), "2001:db8::1");
  EXPECT_EQ(a->bytes[0], 0x20);
  EXPECT_EQ(a->bytes[15], 0x01);
  EXPECT_TRUE(a->is_unicast());
  EXPECT_FALSE(a->is_link_local());
}

TEST(Ipv6Address, RefusesZonesBracketsPrefixesAndIpv4) {
  for (const char* bad : {"", "fe80::1%eth0", "[2001:db8::1]", "2001:db8::/64", "192.0.2.1",
                          "2001:db8:::1", "2001:db8::g", "1:2:3:4:5:6:7:8:9"}) {
    EXPECT_FALSE(parse_ipv6(bad)) << bad;
  }
}

TEST(Ipv6Address, KnowsWhatIsNotAUnicastTarget) {
  EXPECT_FALSE(parse_ipv6("::")->is_unicast());
  EXPECT_FALSE(parse_ipv6("::1")->is_unicast());
  EXPECT_FALSE(parse_ipv6("ff02::1")->is_unicast());
  EXPECT_FALSE(parse_ipv6("::ffff:192.0.2.1")->is_unicast());
  EXPECT_TRUE(parse_ipv6("fe80::1")->is_unicast());
  EXPECT_TRUE(parse_ipv6("fe80::1")->is_link_local());
  EXPECT_FALSE(parse_ipv6("fec0::1")->is_link_local());
}

TEST(Ipv6Address, RoutableUnicastMeansTheSameOnEveryHost) {
  EXPECT_TRUE(parse_ipv6("2001:db8::1")->is_routable_unicast());
  EXPECT_TRUE(parse_ipv6("fd00::1")->is_routable_unicast());  // ULA: routable inside the site
  EXPECT_FALSE(parse_ipv6("fe80::1")->is_routable_unicast());
  EXPECT_FALSE(parse_ipv6("febf::1")->is_routable_unicast());
  EXPECT_FALSE(parse_ipv6("ff02::1")->is_routable_unicast());
  EXPECT_FALSE(parse_ipv6("::1")->is_routable_unicast());
  EXPECT_FALSE(parse_ipv6("::")->is_routable_unicast());
  EXPECT_FALSE(parse_ipv6("::ffff:192.0.2.1")->is_routable_unicast());
}

TEST(IpAddress, EitherFamily) {
  auto v4 = parse_ip("198.51.100.1");
  auto v6 = parse_ip("2001:db8::2");
  ASSERT_TRUE(v4 && v6);
  EXPECT_EQ(v4->family, Family::kIpv4);
  EXPECT_EQ(v4->v4, 0xC6336401u);
  EXPECT_EQ(v6->family, Family::kIpv6);
  EXPECT_EQ(format_ip(*v4), "198.51.100.1");
  EXPECT_EQ(format_ip(*v6), "2001:db8::2");
  EXPECT_FALSE(parse_ip("isp1"));
  EXPECT_LT(*v4, *v6);  // a stable order: IPv4 first, so maps keyed by target print in order
}

TEST(Ipv6Prefix, ParsesAndContains) {
  auto p = parse_ipv6_prefix("2001:db8:1:1::/64");
  ASSERT_TRUE(p);
  EXPECT_EQ(format_ipv6_prefix(*p), "2001:db8:1:1::/64");
  EXPECT_TRUE(p->contains(*parse_ipv6("2001:db8:1:1::10")));
  EXPECT_FALSE(p->contains(*parse_ipv6("2001:db8:1:2::10")));
  auto odd = parse_ipv6_prefix("2001:db8:1:f000::/52");
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->contains(*parse_ipv6("2001:db8:1:fabc::1")));
  EXPECT_FALSE(odd->contains(*parse_ipv6("2001:db8:1:e000::1")));
  EXPECT_TRUE(parse_ipv6_prefix("::/0")->contains(*parse_ipv6("2001:db8::1")));
}

TEST(Ipv6Prefix, HostBitsOnlyWhenAskedFor) {
  EXPECT_FALSE(parse_ipv6_prefix("2001:db8:1:1::10/64"));
  auto own = parse_ipv6_prefix("2001:db8:1:1::10/64", true);
  ASSERT_TRUE(own);
  EXPECT_EQ(format_ipv6_prefix(*own), "2001:db8:1:1::/64");
  for (const char* bad :
       {"2001:db8::/129", "2001:db8::/", "2001:db8::", "2001:db8::/064", "2001:db8::/6a", "x/64"}) {
    EXPECT_FALSE(parse_ipv6_prefix(bad)) << bad;
  }
}

TEST(Ipv6Prefix, OfAnInterfaceAddress) {
  auto p = Ipv6Prefix::of(*parse_ipv6("2001:db8:2:1::10"), 64);
  EXPECT_EQ(format_ipv6_prefix(p), "2001:db8:2:1::/64");
  EXPECT_EQ(Ipv6Prefix::of(*parse_ipv6("2001:db8::1"), 200).length, 128);
}

}  // namespace
}  // namespace ispf

// FakeKernel's own habits that the contract tests do not reach (fault injection, callbacks).
#include "support/fake_kernel.h"

#include <gtest/gtest.h>

namespace ispf {
namespace {

constexpr std::uint32_t kGateway = 0xc0a83865;  // 192.168.56.101

TEST(FakeKernelTest, InjectedFailuresChangeNothingThenStop) {
  FakeKernel kernel;
  kernel.add_link("lan0");
  kernel.add_address("lan0", 0xc0a8380a, 24);
  kernel.fail_next_edits(std::errc::resource_unavailable_try_again, 2);
  RouteSlot slot{254, 50, 150};
  EXPECT_EQ(kernel.replace_default(slot, kGateway), std::errc::resource_unavailable_try_again);
  EXPECT_EQ(kernel.replace_default(slot, kGateway), std::errc::resource_unavailable_try_again);
  EXPECT_TRUE(kernel.default_routes(254)->empty());
  EXPECT_FALSE(kernel.replace_default(slot, kGateway));
  EXPECT_EQ(kernel.default_routes(254)->size(), 1u);
}

TEST(FakeKernelTest, InjectedFailuresReachIpv6EditsToo) {
  FakeKernel kernel;
  int lan = kernel.add_link("lan0");
  auto gateway = parse_ipv6("2001:db8:1:1::1");
  auto host = parse_ipv6("2001:db8:1:1::10");
  ASSERT_TRUE(gateway && host);
  kernel.add_address6("lan0", *host, 64);
  RouteSlot slot{254, 50, 150};
  kernel.fail_next_edits(std::errc::resource_unavailable_try_again, 1);
  EXPECT_EQ(kernel.replace_default6(slot, {*gateway, lan, *host}),
            std::errc::resource_unavailable_try_again);
  EXPECT_TRUE(kernel.default_routes6(254)->empty());
  ASSERT_FALSE(kernel.replace_default6(slot, {*gateway, lan, *host}));
  kernel.fail_next_edits(std::errc::resource_unavailable_try_again, 2);
  EXPECT_EQ(kernel.remove_default6(slot), std::errc::resource_unavailable_try_again);
  EXPECT_EQ(kernel.delete_route6(kernel.default_routes6(254)->front()),
            std::errc::resource_unavailable_try_again);
  EXPECT_EQ(kernel.default_routes6(254)->size(), 1u);
  EXPECT_FALSE(kernel.remove_default6(slot));
  EXPECT_TRUE(kernel.default_routes6(254)->empty());
}

// The gateway judged against the link given: a prefix on another link does not reach it.
TEST(FakeKernelTest, Ipv6GatewayOnAnotherLinkThanTheOneGivenIsUnreachable) {
  FakeKernel kernel;
  kernel.add_link("lan0");
  int wan = kernel.add_link("wan0");
  kernel.add_address6("lan0", *parse_ipv6("2001:db8:1:1::10"), 64);
  EXPECT_EQ(kernel.replace_default6({254, 50, 150}, {*parse_ipv6("2001:db8:1:1::1"), wan, {}}),
            std::errc::host_unreachable);
  EXPECT_TRUE(kernel.default_routes6(254)->empty());
}

TEST(FakeKernelTest, CallbacksSeeChangesAndCanBeRemoved) {
  FakeKernel kernel;
  int changes = 0;
  std::vector<std::pair<std::string, LinkStatus>> links;
  int change_id = kernel.on_change([&] { ++changes; });
  kernel.on_link(
      [&](const std::string& name, const LinkStatus& s) { links.emplace_back(name, s); });
  auto generation = kernel.generation();
  kernel.add_link("wan0", true, false);
  kernel.rename_link("wan0", "wan1");
  EXPECT_EQ(changes, 2);
  EXPECT_GT(kernel.generation(), generation);
  ASSERT_EQ(links.size(), 3u);
  EXPECT_EQ(links[1].first, "wan0");
  EXPECT_FALSE(links[1].second.exists);
  EXPECT_EQ(links[2].first, "wan1");
  EXPECT_EQ(links[2].second, (LinkStatus{true, true, false, *kernel.ifindex("wan1")}));
  kernel.remove_callback(change_id);
  kernel.set_link("wan1", true, true);
  EXPECT_EQ(changes, 2);
  EXPECT_EQ(links.size(), 4u);
}

TEST(FakeKernelTest, IfindexIsNeverReused) {
  FakeKernel kernel;
  int first = kernel.add_link("wan0");
  kernel.delete_link("wan0");
  EXPECT_FALSE(kernel.ifindex("wan0"));
  EXPECT_NE(kernel.add_link("wan0"), first);
}

}  // namespace
}  // namespace ispf

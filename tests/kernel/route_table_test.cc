// LinuxEnv's route table and table watch against a real routing table, iproute2 the witness.
#include <gtest/gtest.h>
#include <net/if.h>

#include <chrono>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "ispfailover/core/config.h"
#include "ispfailover/io/linux_env.h"
#include "support/netns.h"

namespace ispf {
namespace {

using std::chrono::milliseconds;
using test::Background;
using test::EnterNetns;
using test::Ip;
using test::Netns;
using test::RunUntil;

constexpr std::uint32_t kMetric = 50;
constexpr RouteSlot kSlot{254, kMetric, 150};

// One line of `ip -N -d route show default`, as iproute2 sees it.
struct IpRoute {
  std::string gateway;  // empty without "via"
  int protocol = -1;
  long metric = 0;  // iproute2 omits "metric 0"
};

std::vector<IpRoute> ParseIpRoutes(const std::string& text) {
  std::vector<IpRoute> routes;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("default") == std::string::npos) continue;
    IpRoute route;
    std::istringstream words(line);
    std::string word;
    while (words >> word) {
      std::string value;
      if (word == "via" && words >> value) route.gateway = value;
      if (word == "proto" && words >> value) route.protocol = std::stoi(value);
      if (word == "metric" && words >> value) route.metric = std::stol(value);
    }
    routes.push_back(route);
  }
  return routes;
}

std::string Describe(const std::vector<DefaultRoute>& routes) {
  std::string text;
  for (const auto& r : routes) {
    text += "[via " + format_ipv4(r.gateway) + " metric " + std::to_string(r.metric) + " proto " +
            std::to_string(r.protocol) + " ifindex " + std::to_string(r.ifindex) + "] ";
  }
  return text;
}

const DefaultRoute* Find(const std::vector<DefaultRoute>& routes, const std::string& gateway,
                         std::uint32_t metric) {
  for (const auto& r : routes) {
    if (r.gateway == Ip(gateway) && r.metric == metric) return &r;
  }
  return nullptr;
}

// A client (192.168.56.10) on a LAN with two routers, .101 and .102, each holding
// 198.51.100.8 on lo: whichever is the client's gateway answers pings to it.
class RouteTableTest : public ::testing::Test {
 protected:
  RouteTableTest() {
    lan_.Attach(client_, "lan0", "192.168.56.10/24");
    lan_.Attach(router1_, "lan0", "192.168.56.101/24");
    lan_.Attach(router2_, "lan0", "192.168.56.102/24");
    router1_.Must("ip addr add 198.51.100.8/32 dev lo");
    router2_.Must("ip addr add 198.51.100.8/32 dev lo");
  }

  std::unique_ptr<RouteTable> OpenTable() {
    EnterNetns inside(client_);
    auto table = env_.open_route_table();
    if (!table) throw std::runtime_error("open_route_table: " + table.error().message());
    return std::move(*table);
  }

  std::vector<IpRoute> IpDefaults(const std::string& table = "main") {
    return ParseIpRoutes(client_.Must("ip -N -d route show default table " + table));
  }

  std::vector<DefaultRoute> Listed(RouteTable& table, std::uint32_t id = 254) {
    auto routes = table.default_routes(id);
    if (!routes) throw std::runtime_error("default_routes: " + routes.error().message());
    return *routes;
  }

  int LanIndex() {
    EnterNetns inside(client_);
    unsigned index = if_nametoindex("lan0");
    if (index == 0) throw std::runtime_error("no lan0 in the client");
    return static_cast<int>(index);
  }

  test::Lan lan_;
  Netns client_{"client"};
  Netns router1_{"router1"};
  Netns router2_{"router2"};
  asio::io_context io_;
  LinuxEnv env_{io_, "route_table_test"};
};

TEST_F(RouteTableTest, ReplaceDefaultInstallsOurRoute) {
  auto writer = OpenTable();
  ASSERT_FALSE(writer->replace_default(kSlot, Ip("192.168.56.101")));
  auto routes = IpDefaults();
  ASSERT_EQ(routes.size(), 1u) << client_.Must("ip -d route show");
  EXPECT_EQ(routes[0].gateway, "192.168.56.101");
  EXPECT_EQ(routes[0].protocol, 150);
  EXPECT_EQ(routes[0].metric, static_cast<long>(kMetric));
  // The route works: the ping is answered by router1.
  client_.Must("ping -q -c 1 -W 2 198.51.100.8");

  // Replacing moves it, still one route.
  ASSERT_FALSE(writer->replace_default(kSlot, Ip("192.168.56.102")));
  routes = IpDefaults();
  ASSERT_EQ(routes.size(), 1u) << client_.Must("ip -d route show");
  EXPECT_EQ(routes[0].gateway, "192.168.56.102");
  EXPECT_EQ(routes[0].protocol, 150);
  EXPECT_EQ(routes[0].metric, static_cast<long>(kMetric));
}

TEST_F(RouteTableTest, ReplaceDefaultInAnotherTable) {
  auto writer = OpenTable();
  ASSERT_FALSE(writer->replace_default({100, 7, 150}, Ip("192.168.56.101")));
  EXPECT_TRUE(IpDefaults("main").empty());
  auto routes = IpDefaults("100");
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0].gateway, "192.168.56.101");
  EXPECT_EQ(routes[0].metric, 7);
  EXPECT_EQ(routes[0].protocol, 150);
  auto listed = Listed(*writer, 100);
  ASSERT_EQ(listed.size(), 1u) << Describe(listed);
  EXPECT_EQ(listed[0].gateway, Ip("192.168.56.101"));
  EXPECT_EQ(listed[0].table, 100u);
}

TEST_F(RouteTableTest, ReplaceWithUnreachableGatewayFails) {
  auto writer = OpenTable();
  // Not on any connected network of the client: the kernel refuses the nexthop.
  std::error_code refused = writer->replace_default(kSlot, Ip("203.0.113.77"));
  EXPECT_EQ(refused, std::errc::network_unreachable) << refused.message();
  EXPECT_TRUE(IpDefaults().empty());
}

// A 10 ms ping keeps running while the route flips between two working gateways ten times.
TEST_F(RouteTableTest, SwitchingGatewaysLosesNoPackets) {
  auto writer = OpenTable();
  ASSERT_FALSE(writer->replace_default(kSlot, Ip("192.168.56.101")));
  // Warm both neighbours up, so the test is about the route switch and not about ARP.
  client_.Must("ping -q -c 1 -W 2 192.168.56.101 && ping -q -c 1 -W 2 192.168.56.102");
  client_.Must("ping -q -c 1 -W 2 198.51.100.8");

  Background ping(client_, "exec ping -q -i 0.01 -c 300 -W 1 198.51.100.8");
  for (int i = 0; i < 10; ++i) {
    test::RunFor(io_, milliseconds(250));
    auto gateway = Ip(i % 2 == 0 ? "192.168.56.102" : "192.168.56.101");
    ASSERT_FALSE(writer->replace_default(kSlot, gateway)) << "switch " << i;
    auto routes = IpDefaults();
    ASSERT_EQ(routes.size(), 1u) << "switch " << i << ": " << client_.Must("ip route show");
    EXPECT_EQ(routes[0].gateway, format_ipv4(gateway));
  }
  auto result = ping.Wait(milliseconds(15000));
  ASSERT_NE(result.status, -1) << "ping still running: " << result.output;
  std::smatch match;
  static const std::regex kStats("([0-9]+) packets transmitted, ([0-9]+) received");
  ASSERT_TRUE(std::regex_search(result.output, match, kStats)) << result.output;
  int transmitted = std::stoi(match[1].str());
  int received = std::stoi(match[2].str());
  EXPECT_EQ(transmitted, 300);
  EXPECT_LE(transmitted - received, 1) << result.output;
}

TEST_F(RouteTableTest, ListsAndDeletesAForeignRoute) {
  auto writer = OpenTable();
  client_.Must("ip route add default via 192.168.56.102 metric 100");
  ASSERT_FALSE(writer->replace_default(kSlot, Ip("192.168.56.101")));
  auto listed = Listed(*writer);
  ASSERT_EQ(listed.size(), 2u) << Describe(listed);

  const DefaultRoute* foreign = Find(listed, "192.168.56.102", 100);
  ASSERT_NE(foreign, nullptr) << Describe(listed);
  EXPECT_EQ(foreign->protocol, 3) << "`ip route add` makes proto boot";
  EXPECT_EQ(foreign->ifindex, LanIndex());
  const DefaultRoute* ours = Find(listed, "192.168.56.101", kMetric);
  ASSERT_NE(ours, nullptr) << Describe(listed);
  EXPECT_EQ(ours->protocol, 150);

  DefaultRoute victim = *foreign;
  ASSERT_FALSE(writer->delete_route(victim));
  auto routes = IpDefaults();
  ASSERT_EQ(routes.size(), 1u) << client_.Must("ip -d route show");
  EXPECT_EQ(routes[0].gateway, "192.168.56.101");
  EXPECT_EQ(routes[0].protocol, 150);
  // Deleting what is already gone is not an error.
  EXPECT_FALSE(writer->delete_route(victim));
}

TEST_F(RouteTableTest, DefaultRoutesIgnoresOtherRoutesAndTables) {
  auto writer = OpenTable();
  client_.Must(
      "ip route add 198.51.100.0/24 via 192.168.56.102 && "
      "ip route add default via 192.168.56.102 table 100");
  auto listed = Listed(*writer);
  EXPECT_TRUE(listed.empty()) << Describe(listed);
}

TEST_F(RouteTableTest, RemoveDefaultRemovesOnlyOurs) {
  auto writer = OpenTable();
  ASSERT_FALSE(writer->replace_default(kSlot, Ip("192.168.56.101")));
  client_.Must("ip route add default via 192.168.56.102 metric 100");
  // A foreign route in our very slot (same metric), appended beside ours.
  client_.Must("ip route append default via 192.168.56.102 metric " + std::to_string(kMetric));
  ASSERT_EQ(IpDefaults().size(), 3u) << client_.Must("ip -d route show");

  ASSERT_FALSE(writer->remove_default(kSlot));
  auto routes = IpDefaults();
  ASSERT_EQ(routes.size(), 2u) << client_.Must("ip -d route show");
  for (const auto& route : routes) {
    EXPECT_EQ(route.protocol, 3) << "left: via " << route.gateway << " metric " << route.metric;
    EXPECT_EQ(route.gateway, "192.168.56.102");
  }
  // Removing again, with ours gone already, is fine and still leaves the others alone.
  EXPECT_FALSE(writer->remove_default(kSlot));
  EXPECT_EQ(IpDefaults().size(), 2u);
}

// The same LAN in IPv6: the client 2001:db8:56::10, routers ::101 and ::102, each holding
// 2001:db8:ff::8 on lo.
class RouteTable6Test : public RouteTableTest {
 protected:
  RouteTable6Test() {
    client_.Must("ip -6 addr add 2001:db8:56::10/64 dev lan0 nodad");
    router1_.Must(
        "ip -6 addr add 2001:db8:56::101/64 dev lan0 nodad && "
        "ip -6 addr add 2001:db8:ff::8/128 dev lo");
    router2_.Must(
        "ip -6 addr add 2001:db8:56::102/64 dev lan0 nodad && "
        "ip -6 addr add 2001:db8:ff::8/128 dev lo");
  }

  std::vector<DefaultRoute6> Listed6(RouteTable& table, std::uint32_t id = 254) {
    auto routes = table.default_routes6(id);
    if (!routes) throw std::runtime_error("default_routes6: " + routes.error().message());
    return *routes;
  }

  static Ipv6Address V6(const char* text) {
    auto address = parse_ipv6(text);
    if (!address) throw std::invalid_argument(text);
    return *address;
  }

  // Pings 2001:db8:ff::8 until it answers: neighbour discovery may need a moment first.
  void PingsThrough() {
    EXPECT_TRUE(
        test::PollUntil([&] { return client_.Run("ping -6 -q -c 1 -W 1 2001:db8:ff::8").ok(); },
                        std::chrono::seconds(10)))
        << client_.Must("ip -6 route show; ip -6 neigh show");
  }
};

TEST_F(RouteTable6Test, ReplaceDefault6InstallsOurRouteWithItsSource) {
  auto writer = OpenTable();
  const int lan = LanIndex();
  const Ipv6Address source = V6("2001:db8:56::10");
  ASSERT_FALSE(writer->replace_default6(kSlot, {V6("2001:db8:56::101"), lan, source}));
  std::string shown = client_.Must("ip -6 -N -d route show default");
  auto routes = ParseIpRoutes(shown);
  ASSERT_EQ(routes.size(), 1u) << shown;
  EXPECT_EQ(routes[0].gateway, "2001:db8:56::101");
  EXPECT_EQ(routes[0].protocol, 150);
  EXPECT_EQ(routes[0].metric, static_cast<long>(kMetric));
  EXPECT_NE(shown.find("src 2001:db8:56::10 "), std::string::npos) << shown;
  PingsThrough();

  ASSERT_FALSE(writer->replace_default6(kSlot, {V6("2001:db8:56::102"), lan, source}));
  shown = client_.Must("ip -6 -N -d route show default");
  routes = ParseIpRoutes(shown);
  ASSERT_EQ(routes.size(), 1u) << shown;
  EXPECT_EQ(routes[0].gateway, "2001:db8:56::102");
  PingsThrough();
  // No IPv4 default route came of it.
  EXPECT_TRUE(IpDefaults().empty());
}

// `ip -6 route append` with the metric of a route that has a gateway makes one multipath route;
// it is listed one entry per nexthop, and each nexthop can be deleted alone.
TEST_F(RouteTable6Test, ListsEachNexthopOfAMultipathRoute) {
  auto writer = OpenTable();
  const int lan = LanIndex();
  client_.Must(
      "ip -6 route add default via 2001:db8:56::101 dev lan0 metric 100 && "
      "ip -6 route append default via 2001:db8:56::102 dev lan0 metric 100");
  auto listed = Listed6(*writer);
  const DefaultRoute6 first{V6("2001:db8:56::101"), lan, 100, 3, 254, {}};
  const DefaultRoute6 second{V6("2001:db8:56::102"), lan, 100, 3, 254, {}};
  EXPECT_EQ(listed, (std::vector<DefaultRoute6>{first, second}))
      << client_.Must("ip -6 -d route show default");
  ASSERT_FALSE(writer->delete_route6(second));
  EXPECT_EQ(Listed6(*writer), (std::vector<DefaultRoute6>{first}))
      << client_.Must("ip -6 -d route show default");
}

TEST_F(RouteTableTest, RestartedWriterRecognisesOurRoute) {
  {
    auto first = OpenTable();
    ASSERT_FALSE(first->replace_default(kSlot, Ip("192.168.56.101")));
  }
  client_.Must("ip route add default via 192.168.56.102 metric 100");
  auto second = OpenTable();
  auto listed = Listed(*second);
  const DefaultRoute* ours = Find(listed, "192.168.56.101", kMetric);
  ASSERT_NE(ours, nullptr) << Describe(listed);
  EXPECT_EQ(ours->protocol, 150);
  EXPECT_EQ(ours->protocol, kRouteProtocol);
  EXPECT_EQ(ours->ifindex, LanIndex());
  // ...and can take it over: the replace does not add a second one.
  ASSERT_FALSE(second->replace_default(kSlot, Ip("192.168.56.102")));
  auto routes = IpDefaults();
  ASSERT_EQ(routes.size(), 2u) << client_.Must("ip -d route show");
}

class TableWatchTest : public RouteTableTest {
 protected:
  std::unique_ptr<TableWatch> OpenWatch() {
    EnterNetns inside(client_);
    auto watch = env_.watch_table([this] { ++calls_; });
    if (!watch) throw std::runtime_error("watch_table: " + watch.error().message());
    return std::move(*watch);
  }

  // Runs the loop until a callback came (true) or 2 s passed.
  bool AwaitCall() {
    return RunUntil(
        io_, [this] { return calls_ > 0; }, milliseconds(2000));
  }
  // Runs the loop for a while and says whether anything was reported meanwhile.
  bool QuietFor(milliseconds period) {
    test::RunFor(io_, period);
    return calls_ == 0;
  }

  int calls_ = 0;
};

TEST_F(TableWatchTest, ReportsDefaultRouteChangesByAnyone) {
  auto writer = OpenTable();
  auto watch = OpenWatch();
  EXPECT_TRUE(QuietFor(milliseconds(200)));

  client_.Must("ip route add default via 192.168.56.102 metric 100");
  EXPECT_TRUE(AwaitCall()) << "no callback for a foreign default route";

  test::RunFor(io_, milliseconds(100));
  calls_ = 0;
  ASSERT_FALSE(writer->replace_default(kSlot, Ip("192.168.56.101")));
  EXPECT_TRUE(AwaitCall()) << "no callback for our own replace";

  test::RunFor(io_, milliseconds(100));
  calls_ = 0;
  client_.Must("ip route del default proto 150");
  EXPECT_TRUE(AwaitCall()) << "no callback when someone deleted our route";

  test::RunFor(io_, milliseconds(100));
  calls_ = 0;
  client_.Must("ip route replace default via 192.168.56.101 metric 100");
  EXPECT_TRUE(AwaitCall()) << "no callback for a changed foreign route";
}

// The watch is deliberately broad (any table, any IPv4 route, links, addresses: whatever can
// change what default_routes() says), so it must be cheap: a burst is one call per drain.
TEST_F(TableWatchTest, ABurstIsOneCall) {
  auto watch = OpenWatch();
  EXPECT_TRUE(QuietFor(milliseconds(200)));
  // All fifty arrive while the loop is not running, so one drain reads them all.
  client_.Must(
      "for i in $(seq 1 50); do echo \"route add 198.51.100.$i/32 via 192.168.56.101\"; done | "
      "ip -batch -");
  ASSERT_TRUE(AwaitCall()) << "no callback for fifty routes";
  test::RunFor(io_, milliseconds(200));
  EXPECT_EQ(calls_, 1);
}

// Another table is someone else's business, but a default route there is reported too: the
// engine watches the table it was configured with, and reads it again after any call.
TEST_F(TableWatchTest, ReportsEveryTable) {
  auto watch = OpenWatch();
  EXPECT_TRUE(QuietFor(milliseconds(200)));
  client_.Must("ip route add default via 192.168.56.102 table 100");
  EXPECT_TRUE(AwaitCall()) << "no callback for table 100";
}

}  // namespace
}  // namespace ispf

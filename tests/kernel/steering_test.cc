// LinuxSteering (sticky connections and resets, issue 14) in namespaces: our nftables table, the
// fwmark rules and per-ISP routing tables of both families, the marks conntrack keeps and the
// resets; `ip`, `nft` and `conntrack` the witnesses.
#include "io/steering.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ispfailover/core/config.h"
#include "ispfailover/core/steering.h"
#include "support/netns.h"

namespace ispf {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using test::EnterNetns;
using test::Netns;
using test::PollUntil;
using test::Socket;

constexpr auto kDeadline = std::chrono::seconds(5);
constexpr char kRemote[] = "198.51.100.8";  // on both routers' lo
constexpr std::uint16_t kRemotePort = 5001;
constexpr std::uint16_t kLanPort = 5002;
constexpr char kForeignTable[] =
    "table inet other {\n"
    "  chain c {\n"
    "    type filter hook output priority 0; policy accept;\n"
    "    meta mark 0x5 counter\n"
    "  }\n"
    "}\n";

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += "[" + line + "] ";
  return text;
}

bool AnyContains(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& line : lines) {
    if (Contains(line, part)) return true;
  }
  return false;
}

// An IPv4 or (with a ':') IPv6 socket address.
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }

  SockAddr(const std::string& address, std::uint16_t port) {
    if (address.find(':') != std::string::npos) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(port);
      length = sizeof *in6;
      if (inet_pton(AF_INET6, address.c_str(), &in6->sin6_addr) == 1) return;
    } else {
      auto* in = reinterpret_cast<sockaddr_in*>(&storage);
      in->sin_family = AF_INET;
      in->sin_port = htons(port);
      length = sizeof *in;
      if (inet_pton(AF_INET, address.c_str(), &in->sin_addr) == 1) return;
    }
    throw std::runtime_error("bad address " + address);
  }
};

Socket Listen(const std::string& address, std::uint16_t port) {
  SockAddr in(address, port);
  Socket socket(::socket(in.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(socket.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(socket.fd(), in.get(), in.length) < 0 || ::listen(socket.fd(), 16) < 0) {
    throw std::runtime_error(std::string("bind/listen: ") + std::strerror(errno));
  }
  return socket;
}

Socket Connect(const std::string& address, std::uint16_t port) {
  SockAddr in(address, port);
  Socket socket(::socket(in.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  // A safety net only: no recv() in these tests may hang the run.
  timeval timeout{5, 0};
  ::setsockopt(socket.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (::connect(socket.fd(), in.get(), in.length) < 0) {
    throw std::runtime_error("connect " + address + ": " + std::strerror(errno));
  }
  return socket;
}

bool Pending(const Socket& listener, milliseconds limit) {
  pollfd ready{listener.fd(), POLLIN, 0};
  return ::poll(&ready, 1, static_cast<int>(limit.count())) == 1;
}

Socket Accept(const Socket& listener) {
  if (!Pending(listener, milliseconds(kDeadline))) throw std::runtime_error("nothing to accept");
  Socket socket(::accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC));
  // Data that went to the wrong router never arrives: the recv fails instead of hanging.
  timeval timeout{5, 0};
  ::setsockopt(socket.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return socket;
}

int TcpState(const Socket& socket) {
  tcp_info info{};
  socklen_t length = sizeof info;
  ::getsockopt(socket.fd(), IPPROTO_TCP, TCP_INFO, &info, &length);
  return info.tcpi_state;
}

// `bytes` from one end read whole by the other.
void Send(const Socket& from, const Socket& to, const std::string& bytes) {
  ASSERT_EQ(::send(from.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(bytes.size()))
      << std::strerror(errno);
  std::string got(bytes.size(), '\0');
  ASSERT_EQ(::recv(to.fd(), got.data(), got.size(), MSG_WAITALL), static_cast<ssize_t>(got.size()))
      << std::strerror(errno);
  EXPECT_EQ(got, bytes);
}

// A client (192.168.56.10) on a LAN with two routers, .101 (isp1) and .102 (isp2), each holding
// 198.51.100.8 on lo so that whichever router a packet reaches answers it, and each counting the
// client's packets to that address as they come in from the LAN. failoverd runs in the client.
class SteeringTest : public ::testing::Test {
 protected:
  SteeringTest() {
    lan_.Attach(client_, "lan0", "192.168.56.10/24");
    lan_.Attach(router1_, "lan0", "192.168.56.101/24");
    lan_.Attach(router2_, "lan0", "192.168.56.102/24");
    for (const Netns* router : {&router1_, &router2_}) {
      router->Must("ip addr add 198.51.100.8/32 dev lo");
      router->Must(
          "nft 'add table inet witness; "
          "add chain inet witness in { type filter hook prerouting priority 0; }; "
          "add rule inet witness in iifname \"lan0\" ip saddr 192.168.56.10 "
          "ip daddr 198.51.100.8 counter'");
    }
    client_.Must("ip route add default via 192.168.56.101");
  }

  // The state failoverd computes for isp1 (.101) and isp2 (.102), with the routed flags given.
  static SteeringState State(bool isp1_routed, bool isp2_routed, bool sticky = true) {
    SteeringSettings settings;
    settings.sticky = sticky;
    SteeringState state = steering_state(
        settings, {{"isp1", 0xc0a83865, 0}, {"isp2", 0xc0a83866, 1}}, kRouteProtocol);
    state.isps[0].routed = isp1_routed;
    state.isps[1].routed = isp2_routed;
    return state;
  }

  std::unique_ptr<LinuxSteering> Open() {
    EnterNetns inside(client_);
    auto steering = LinuxSteering::open();
    if (!steering) throw std::runtime_error("LinuxSteering::open: " + steering.error().message());
    return std::move(*steering);
  }

  std::vector<std::string> Apply(LinuxSteering& steering, const SteeringState& state) {
    EnterNetns inside(client_);
    auto wrote = steering.apply(state);
    if (!wrote) {
      throw std::runtime_error("apply: " + wrote.error().message() + ": " +
                               steering.last_error_detail());
    }
    return *wrote;
  }

  std::error_code Remove(LinuxSteering& steering) {
    EnterNetns inside(client_);
    return steering.remove();
  }

  // Tracked connections per ISP, both families (Count) or IPv6's alone (Count6).
  std::map<std::string, ConnectionCounts> Counts(LinuxSteering& steering,
                                                 const SteeringState& state) {
    EnterNetns inside(client_);
    auto counts = steering.count(state);
    if (!counts) throw std::runtime_error("count: " + counts.error().message());
    return *counts;
  }
  std::map<std::string, std::uint64_t> Count(LinuxSteering& steering, const SteeringState& state) {
    std::map<std::string, std::uint64_t> out;
    for (const auto& [name, c] : Counts(steering, state)) out[name] = c.ipv4 + c.ipv6;
    return out;
  }
  std::map<std::string, std::uint64_t> Count6(LinuxSteering& steering, const SteeringState& state) {
    std::map<std::string, std::uint64_t> out;
    for (const auto& [name, c] : Counts(steering, state)) out[name] = c.ipv6;
    return out;
  }

  Socket ConnectFromClient(const std::string& address, std::uint16_t port) {
    EnterNetns inside(client_);
    return Connect(address, port);
  }

  Socket ListenIn(const Netns& ns, const std::string& address, std::uint16_t port) {
    EnterNetns inside(ns);
    return Listen(address, port);
  }

  // The witnesses, all in the client.
  std::string Rules() { return client_.Must("ip -d rule show"); }
  std::string Rules6() { return client_.Must("ip -6 -d rule show"); }
  std::string Routes6(int table) {
    test::CommandResult shown =
        client_.Run("ip -6 -N -d route show table " + std::to_string(table) + " 2>&1");
    if (shown.ok()) return shown.output;
    if (Contains(shown.output, "FIB table does not exist")) return "";
    throw std::runtime_error("ip -6 route show table " + std::to_string(table) + ": " +
                             shown.output);
  }
  std::string Rule6At(int priority) {
    std::istringstream lines(Rules6());
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind(std::to_string(priority) + ":", 0) == 0) return line;
    }
    return "";
  }
  std::string Ruleset() { return client_.Must("nft list ruleset"); }
  // A table the kernel never had a route in does not exist: `ip` fails, and that is empty too.
  std::string Routes(int table) {
    test::CommandResult shown =
        client_.Run("ip -N -d route show table " + std::to_string(table) + " 2>&1");
    if (shown.ok()) return shown.output;
    if (Contains(shown.output, "FIB table does not exist")) return "";
    throw std::runtime_error("ip route show table " + std::to_string(table) + ": " + shown.output);
  }
  bool HasOurTable() { return client_.Run("nft list table inet failoverd").ok(); }
  // The line of `ip -d rule` at `priority`, empty if there is none.
  std::string RuleAt(int priority) {
    std::istringstream lines(Rules());
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind(std::to_string(priority) + ":", 0) == 0) return line;
    }
    return "";
  }
  std::string Conntrack(const std::string& filter) {
    return client_.Run("conntrack -L " + filter + " 2>/dev/null").output;
  }

  // Packets from the client to 198.51.100.8 that `router` has seen come in on its LAN port.
  static long Received(const Netns& router) {
    std::string listing = router.Must("nft list chain inet witness in");
    std::smatch match;
    static const std::regex kPackets("packets ([0-9]+)");
    if (!std::regex_search(listing, match, kPackets)) {
      throw std::runtime_error("no counter in: " + listing);
    }
    return std::stol(match[1]);
  }

  void ExpectRule(int priority, const std::string& mark, int table) {
    std::string line = RuleAt(priority);
    EXPECT_TRUE(Contains(line, "fwmark " + mark + "/0xf000000")) << Rules();
    EXPECT_TRUE(Contains(line, "lookup " + std::to_string(table))) << Rules();
    EXPECT_TRUE(Contains(line, "proto 150")) << Rules();
  }

  void AddForeignThings() {
    client_.Must("ip rule add fwmark 0x5 lookup 100 pref 1600");
    client_.Must("ip route add default via 192.168.56.102 table 100");
    client_.Must("nft -f - <<'EOF'\n" + std::string(kForeignTable) + "EOF");
  }

  void ExpectForeignThings() {
    EXPECT_TRUE(Contains(RuleAt(1600), "fwmark 0x5 lookup 100")) << Rules();
    EXPECT_TRUE(Contains(Routes(100), "default via 192.168.56.102")) << Routes(100);
    EXPECT_TRUE(client_.Run("nft list table inet other").ok()) << Ruleset();
  }

  test::Lan lan_;
  Netns client_{"client"};
  Netns router1_{"router1"};
  Netns router2_{"router2"};
};

TEST_F(SteeringTest, ApplyCreatesTableRulesAndRoutes) {
  auto steering = Open();
  std::vector<std::string> wrote = Apply(*steering, State(true, false));
  EXPECT_FALSE(wrote.empty());
  EXPECT_TRUE(AnyContains(wrote, "nftables table inet failoverd")) << Join(wrote);
  EXPECT_TRUE(AnyContains(wrote, "rule 1500")) << Join(wrote);
  EXPECT_TRUE(AnyContains(wrote, "rule 1501")) << Join(wrote);
  EXPECT_TRUE(AnyContains(wrote, "table 3151")) << Join(wrote);
  EXPECT_FALSE(AnyContains(wrote, "in table 3152")) << Join(wrote);

  std::string table = client_.Must("nft list table inet failoverd");
  EXPECT_TRUE(Contains(table, "chain steer {")) << table;
  EXPECT_TRUE(Contains(table, "type route hook output priority mangle")) << table;
  EXPECT_TRUE(Contains(table, "meta mark set")) << table;
  EXPECT_TRUE(Contains(table, "\"isp1: new\"")) << table;
  EXPECT_TRUE(Contains(table, "\"isp2: sticky\"")) << table;

  ExpectRule(1500, "0x1000000", 3151);
  ExpectRule(1501, "0x2000000", 3152);

  std::string routes1 = Routes(3151);
  EXPECT_TRUE(Contains(routes1, "default via 192.168.56.101")) << routes1;
  EXPECT_TRUE(Contains(routes1, "proto 150")) << routes1;
  EXPECT_EQ(Routes(3152), "");
}

TEST_F(SteeringTest, ASecondApplyOfTheSameStateWritesNothing) {
  auto steering = Open();
  const SteeringState state = State(true, false);
  ASSERT_FALSE(Apply(*steering, state).empty());
  const std::string rules = Rules();
  const std::string ruleset = Ruleset();
  const std::string routes = Routes(3151);

  std::vector<std::string> wrote = Apply(*steering, state);
  EXPECT_TRUE(wrote.empty()) << Join(wrote);
  EXPECT_EQ(Rules(), rules);
  EXPECT_EQ(Ruleset(), ruleset);
  EXPECT_EQ(Routes(3151), routes);
  EXPECT_EQ(Routes(3152), "");
}

TEST_F(SteeringTest, ApplyRepairsWhatOthersRemoved) {
  auto steering = Open();
  const SteeringState state = State(true, false);
  Apply(*steering, state);

  client_.Must("nft flush ruleset");
  ASSERT_FALSE(HasOurTable());
  std::vector<std::string> wrote = Apply(*steering, state);
  ASSERT_EQ(wrote.size(), 1u) << Join(wrote);
  EXPECT_EQ(wrote[0], "nftables table inet failoverd");
  EXPECT_TRUE(HasOurTable()) << Ruleset();

  client_.Must("ip rule del pref 1500");
  ASSERT_EQ(RuleAt(1500), "");
  wrote = Apply(*steering, state);
  ASSERT_EQ(wrote.size(), 1u) << Join(wrote);
  EXPECT_TRUE(Contains(wrote[0], "rule 1500")) << Join(wrote);
  ExpectRule(1500, "0x1000000", 3151);
  ExpectRule(1501, "0x2000000", 3152);

  client_.Must("ip route flush table 3151");
  ASSERT_EQ(Routes(3151), "");
  wrote = Apply(*steering, state);
  ASSERT_EQ(wrote.size(), 1u) << Join(wrote);
  EXPECT_TRUE(Contains(wrote[0], "table 3151")) << Join(wrote);
  EXPECT_TRUE(Contains(Routes(3151), "default via 192.168.56.101")) << Routes(3151);

  EXPECT_TRUE(Apply(*steering, state).empty());
}

TEST_F(SteeringTest, ForeignRulesRoutesAndTablesAreLeftAlone) {
  AddForeignThings();
  auto steering = Open();
  Apply(*steering, State(true, true));
  ExpectForeignThings();
  Apply(*steering, State(false, false, false));
  ExpectForeignThings();
  EXPECT_FALSE(Remove(*steering));
  ExpectForeignThings();
  EXPECT_FALSE(HasOurTable());
  EXPECT_EQ(RuleAt(1500), "");
}

TEST_F(SteeringTest, RoutedAndStickyFlipsFollow) {
  auto steering = Open();
  Apply(*steering, State(true, true));
  EXPECT_TRUE(Contains(Routes(3151), "default via 192.168.56.101")) << Routes(3151);
  EXPECT_TRUE(Contains(Routes(3152), "default via 192.168.56.102")) << Routes(3152);

  // isp1 is down: its table loses its route, the rest stays.
  std::vector<std::string> wrote = Apply(*steering, State(false, true));
  ASSERT_EQ(wrote.size(), 1u) << Join(wrote);
  EXPECT_TRUE(Contains(wrote[0], "removed the route of table 3151")) << Join(wrote);
  EXPECT_EQ(Routes(3151), "");
  EXPECT_TRUE(Contains(Routes(3152), "default via 192.168.56.102")) << Routes(3152);
  ExpectRule(1500, "0x1000000", 3151);
  ExpectRule(1501, "0x2000000", 3152);

  // Sticky off: no rules, no table routes; the table only marks new connections.
  wrote = Apply(*steering, State(true, true, false));
  EXPECT_FALSE(wrote.empty());
  EXPECT_EQ(RuleAt(1500), "") << Rules();
  EXPECT_EQ(RuleAt(1501), "") << Rules();
  EXPECT_FALSE(Contains(Rules(), "proto 150")) << Rules();
  EXPECT_EQ(Routes(3151), "");
  EXPECT_EQ(Routes(3152), "");
  std::string table = client_.Must("nft list table inet failoverd");
  EXPECT_FALSE(Contains(table, "meta mark set")) << table;
  EXPECT_FALSE(Contains(table, ": sticky\"")) << table;
  EXPECT_TRUE(Contains(table, "\"isp1: new\"")) << table;
  EXPECT_TRUE(Contains(table, "\"isp2: new\"")) << table;
  EXPECT_TRUE(Contains(table, "ct mark set")) << table;

  // And back.
  Apply(*steering, State(true, true));
  ExpectRule(1500, "0x1000000", 3151);
  EXPECT_TRUE(Contains(Routes(3151), "default via 192.168.56.101")) << Routes(3151);
  EXPECT_TRUE(Contains(client_.Must("nft list table inet failoverd"), "meta mark set"));
}

TEST_F(SteeringTest, RemoveDeletesEverything) {
  auto steering = Open();
  Apply(*steering, State(true, true));
  EXPECT_FALSE(Remove(*steering));
  EXPECT_FALSE(HasOurTable()) << Ruleset();
  EXPECT_FALSE(Contains(Rules(), "proto 150")) << Rules();
  EXPECT_EQ(Routes(3151), "");
  EXPECT_EQ(Routes(3152), "");
  // Twice is fine.
  EXPECT_FALSE(Remove(*steering));
}

TEST_F(SteeringTest, RemoveAfterARestartFindsOurRulesByProtocol) {
  AddForeignThings();
  {
    auto before = Open();
    Apply(*before, State(true, true));
  }
  ASSERT_TRUE(HasOurTable());
  ASSERT_TRUE(Contains(Routes(3152), "default via 192.168.56.102"));

  auto after = Open();
  EXPECT_FALSE(Remove(*after));
  EXPECT_FALSE(HasOurTable()) << Ruleset();
  EXPECT_FALSE(Contains(Rules(), "proto 150")) << Rules();
  EXPECT_EQ(Routes(3151), "");
  EXPECT_EQ(Routes(3152), "");
  ExpectForeignThings();
}

TEST_F(SteeringTest, MarksConnectionsThroughARouterAndResetsThem) {
  auto steering = Open();
  const SteeringState state = State(true, false);
  Apply(*steering, state);

  Socket remote_listener = ListenIn(router1_, kRemote, kRemotePort);
  Socket lan_listener = ListenIn(router1_, "192.168.56.101", kLanPort);
  Socket remote = ConnectFromClient(kRemote, kRemotePort);
  Socket lan = ConnectFromClient("192.168.56.101", kLanPort);
  Socket remote_server = Accept(remote_listener);
  Socket lan_server = Accept(lan_listener);
  client_.Must("ping -q -c 1 -W 2 198.51.100.8");

  // The TCP connection and the ping went through .101: isp1's mark. The router's own address is
  // LAN traffic: no mark.
  std::map<std::string, std::uint64_t> want{{"isp1", 2}, {"isp2", 0}};
  ASSERT_TRUE(PollUntil([&] { return Count(*steering, state) == want; }))
      << Conntrack("--mark 0x1000000/0xf000000");
  std::string marked = Conntrack("--mark 0x1000000/0xf000000");
  EXPECT_TRUE(Contains(marked, "dport=5001")) << marked;
  EXPECT_TRUE(Contains(marked, "icmp")) << marked;
  EXPECT_FALSE(Contains(marked, "dport=5002")) << marked;
  std::string unmarked = Conntrack("-p tcp --dport 5002");
  EXPECT_TRUE(Contains(unmarked, "mark=0 ")) << unmarked;

  ResetOutcome outcome;
  {
    EnterNetns inside(client_);
    outcome = steering->reset(ConnectionReset{"isp1", 0x01000000, 0x0f000000, "down"});
  }
  EXPECT_EQ(outcome.matched, 1u);
  EXPECT_EQ(outcome.destroyed, 1u);
  EXPECT_EQ(outcome.failed, 0u);
  EXPECT_EQ(outcome.problem, "");

  char byte;
  ssize_t got = ::recv(remote.fd(), &byte, 1, 0);
  int error = errno;
  EXPECT_EQ(got, -1);
  EXPECT_EQ(error, ECONNABORTED) << std::strerror(error);

  // Every entry of isp1's mark is forgotten; the LAN connection's stays, and still works.
  want = {{"isp1", 0}, {"isp2", 0}};
  EXPECT_TRUE(PollUntil([&] { return Count(*steering, state) == want; }))
      << Conntrack("--mark 0x1000000/0xf000000");
  EXPECT_EQ(Conntrack("--mark 0x1000000/0xf000000"), "");
  EXPECT_TRUE(Contains(Conntrack("-p tcp --dport 5002"), "dport=5002"));
  Send(lan, lan_server, "ping");
  EXPECT_EQ(TcpState(lan), TCP_ESTABLISHED);
}

TEST_F(SteeringTest, ConnectionsStickToTheRouterTheyStartedThrough) {
  auto steering = Open();
  const SteeringState state = State(true, true);
  Apply(*steering, state);

  Socket listener1 = ListenIn(router1_, kRemote, kRemotePort);
  Socket listener2 = ListenIn(router2_, kRemote, kRemotePort);
  Socket old_client = ConnectFromClient(kRemote, kRemotePort);
  Socket old_server = Accept(listener1);
  std::map<std::string, std::uint64_t> want{{"isp1", 1}, {"isp2", 0}};
  ASSERT_TRUE(PollUntil([&] { return Count(*steering, state) == want; }));

  // Failover: the main table now sends everything new through .102.
  client_.Must("ip route replace default via 192.168.56.102");

  long received1 = Received(router1_);
  long received2 = Received(router2_);
  for (int i = 0; i < 5; ++i) Send(old_client, old_server, "data" + std::to_string(i));
  Send(old_server, old_client, "back");
  EXPECT_EQ(TcpState(old_client), TCP_ESTABLISHED);
  EXPECT_GE(Received(router1_), received1 + 5);
  EXPECT_EQ(Received(router2_), received2);

  // A new connection takes the new route and gets isp2's mark.
  received1 = Received(router1_);
  Socket new_client = ConnectFromClient(kRemote, kRemotePort);
  Socket new_server = Accept(listener2);
  Send(new_client, new_server, "new");
  EXPECT_FALSE(Pending(listener1, milliseconds(0)));
  EXPECT_GE(Received(router2_), received2 + 3);
  want = {{"isp1", 1}, {"isp2", 1}};
  EXPECT_TRUE(PollUntil([&] { return Count(*steering, state) == want; })) << Conntrack("-p tcp");

  // The old one still goes through .101.
  Send(old_client, old_server, "still");
  EXPECT_GE(Received(router1_), received1 + 1);
  EXPECT_EQ(TcpState(old_client), TCP_ESTABLISHED);
}

// The same LAN with IPv6: isp1's router at a global address, isp2's at a link-local one (as an
// ISP router that only advertises itself would be), each holding 2001:db8:99::8 on lo.
class Steering6Test : public SteeringTest {
 protected:
  static constexpr char kRemote6[] = "2001:db8:99::8";

  Steering6Test() {
    client_.Must("ip -6 addr add 2001:db8:56::10/64 dev lan0 nodad");
    router1_.Must("ip -6 addr add 2001:db8:56::101/64 dev lan0 nodad");
    router2_.Must("ip -6 addr add 2001:db8:56::102/64 dev lan0 nodad");
    router2_.Must("ip -6 addr add fe80::102/64 dev lan0 nodad");
    for (const Netns* router : {&router1_, &router2_}) {
      router->Must("ip -6 addr add 2001:db8:99::8/128 dev lo");
    }
    client_.Must("ip -6 route add default via 2001:db8:56::101 dev lan0");
  }

  static SteeringState State6(bool isp1_routed6, bool isp2_routed6, bool sticky = true) {
    SteeringState state = State(true, true, sticky);
    state.isps[0].gateway6 = parse_ipv6("2001:db8:56::101");
    state.isps[1].gateway6 = parse_ipv6("fe80::102");
    state.isps[1].gateway6_device = "lan0";
    state.isps[0].routed6 = isp1_routed6;
    state.isps[1].routed6 = isp2_routed6;
    return state;
  }

  void ExpectRule6(int priority, const std::string& mark, int table) {
    std::string line = Rule6At(priority);
    EXPECT_TRUE(Contains(line, "fwmark " + mark + "/0xf000000")) << Rules6();
    EXPECT_TRUE(Contains(line, "lookup " + std::to_string(table))) << Rules6();
    EXPECT_TRUE(Contains(line, "proto 150")) << Rules6();
  }
};

TEST_F(Steering6Test, Ipv6RulesAndRoutesComeAndGo) {
  auto steering = Open();
  std::vector<std::string> wrote = Apply(*steering, State6(true, true));
  EXPECT_TRUE(AnyContains(wrote, "IPv6 rule 1500")) << Join(wrote);
  EXPECT_TRUE(AnyContains(wrote, "IPv6 route via fe80::102 dev lan0 in table 3152")) << Join(wrote);
  // The kernel took the script, link-local nexthop and all.
  std::string table = client_.Must("nft list table inet failoverd");
  EXPECT_TRUE(Contains(table, "rt ip6 nexthop 2001:db8:56::101")) << table;
  EXPECT_TRUE(Contains(table, "rt ip6 nexthop fe80::102")) << table;
  EXPECT_TRUE(Contains(table, "\"isp2: new IPv6\"")) << table;
  // The same numbers in both families.
  ExpectRule6(1500, "0x1000000", 3151);
  ExpectRule6(1501, "0x2000000", 3152);
  ExpectRule(1500, "0x1000000", 3151);
  EXPECT_TRUE(Contains(Routes6(3151), "default via 2001:db8:56::101")) << Routes6(3151);
  EXPECT_TRUE(Contains(Routes6(3151), "proto 150")) << Routes6(3151);
  EXPECT_TRUE(Contains(Routes6(3152), "default via fe80::102 dev lan0")) << Routes6(3152);
  EXPECT_TRUE(Contains(Routes(3151), "default via 192.168.56.101")) << Routes(3151);
  EXPECT_TRUE(Apply(*steering, State6(true, true)).empty());

  // isp1's IPv6 is down: its IPv6 route goes; its IPv4 one stays.
  wrote = Apply(*steering, State6(false, true));
  ASSERT_EQ(wrote.size(), 1u) << Join(wrote);
  EXPECT_TRUE(Contains(wrote[0], "removed the IPv6 route of table 3151")) << Join(wrote);
  EXPECT_EQ(Routes6(3151), "");
  EXPECT_TRUE(Contains(Routes(3151), "default via 192.168.56.101")) << Routes(3151);
  ExpectRule6(1500, "0x1000000", 3151);

  // What an admin deletes is put back.
  client_.Must("ip -6 rule del pref 1501");
  client_.Must("ip -6 route flush table 3152");
  wrote = Apply(*steering, State6(false, true));
  EXPECT_TRUE(AnyContains(wrote, "IPv6 rule 1501")) << Join(wrote);
  EXPECT_TRUE(AnyContains(wrote, "table 3152")) << Join(wrote);
  ExpectRule6(1501, "0x2000000", 3152);
  EXPECT_TRUE(Contains(Routes6(3152), "default via fe80::102 dev lan0")) << Routes6(3152);

  // Sticky off: no IPv6 rules or routes either.
  Apply(*steering, State6(true, true, false));
  EXPECT_FALSE(Contains(Rules6(), "proto 150")) << Rules6();
  EXPECT_EQ(Routes6(3151), "");
  EXPECT_EQ(Routes6(3152), "");

  // Remove takes everything of both families.
  Apply(*steering, State6(true, true));
  EXPECT_FALSE(Remove(*steering));
  EXPECT_FALSE(Contains(Rules6(), "proto 150")) << Rules6();
  EXPECT_FALSE(Contains(Rules(), "proto 150")) << Rules();
  EXPECT_EQ(Routes6(3151), "");
  EXPECT_EQ(Routes6(3152), "");
  EXPECT_FALSE(HasOurTable());
}

TEST_F(Steering6Test, AnIspWithoutGateway6GetsNoIpv6RuleOrRoute) {
  auto steering = Open();
  SteeringState state = State6(true, true);
  state.isps[1].gateway6.reset();
  state.isps[1].gateway6_device.clear();
  state.isps[1].routed6 = false;
  Apply(*steering, state);
  ExpectRule6(1500, "0x1000000", 3151);
  EXPECT_EQ(Rule6At(1501), "") << Rules6();
  ExpectRule(1501, "0x2000000", 3152);
  EXPECT_EQ(Routes6(3152), "");
  std::string table = client_.Must("nft list table inet failoverd");
  EXPECT_FALSE(Contains(table, "isp2: new IPv6")) << table;
}

// isp1's IPv6 dies while its IPv4 works: the IPv6 reset ends the IPv6 connection and leaves the
// IPv4 one with the same mark, conntrack entry and all.
TEST_F(Steering6Test, AnIpv6ResetEndsOnlyIpv6Connections) {
  auto steering = Open();
  const SteeringState state = State6(true, true);
  Apply(*steering, state);

  Socket listener6 = ListenIn(router1_, kRemote6, kRemotePort);
  Socket listener4 = ListenIn(router1_, kRemote, kRemotePort);
  Socket six = ConnectFromClient(kRemote6, kRemotePort);
  Socket four = ConnectFromClient(kRemote, kRemotePort);
  Socket six_server = Accept(listener6);
  Socket four_server = Accept(listener4);
  Send(six, six_server, "six");
  Send(four, four_server, "four");

  // Both went through isp1's router: isp1's mark, one per family.
  std::map<std::string, std::uint64_t> want{{"isp1", 2}, {"isp2", 0}};
  ASSERT_TRUE(PollUntil([&] { return Count(*steering, state) == want; }))
      << Conntrack("--mark 0x1000000/0xf000000");
  EXPECT_TRUE(Contains(Conntrack("-f ipv6 --mark 0x1000000/0xf000000"), "dport=5001"))
      << Conntrack("-f ipv6");

  ResetOutcome outcome;
  {
    EnterNetns inside(client_);
    ConnectionReset reset{"isp1", 0x01000000, 0x0f000000, "down"};
    reset.family = Family::kIpv6;
    outcome = steering->reset(reset);
  }
  EXPECT_EQ(outcome.matched, 1u);
  EXPECT_EQ(outcome.destroyed, 1u);
  EXPECT_EQ(outcome.failed, 0u);
  EXPECT_EQ(outcome.problem, "");

  char byte;
  ssize_t got = ::recv(six.fd(), &byte, 1, 0);
  int error = errno;
  EXPECT_EQ(got, -1);
  EXPECT_EQ(error, ECONNABORTED) << std::strerror(error);

  // The IPv6 entries of the mark are forgotten; the IPv4 one stays, and its connection works.
  EXPECT_TRUE(PollUntil([&] { return Conntrack("-f ipv6 --mark 0x1000000/0xf000000").empty(); }))
      << Conntrack("-f ipv6");
  EXPECT_TRUE(Contains(Conntrack("-f ipv4 --mark 0x1000000/0xf000000"), "dport=5001"))
      << Conntrack("-f ipv4");
  Send(four, four_server, "still");
  Send(four_server, four, "back");
  EXPECT_EQ(TcpState(four), TCP_ESTABLISHED);
}

// Sticky in IPv6: a connection started through isp1 keeps going there after the IPv6 route
// moves to isp2's link-local gateway.
TEST_F(Steering6Test, Ipv6ConnectionsStickToTheRouterTheyStartedThrough) {
  auto steering = Open();
  const SteeringState state = State6(true, true);
  Apply(*steering, state);
  Socket listener1 = ListenIn(router1_, kRemote6, kRemotePort);
  Socket listener2 = ListenIn(router2_, kRemote6, kRemotePort);
  Socket old_client = ConnectFromClient(kRemote6, kRemotePort);
  Socket old_server = Accept(listener1);
  client_.Must("ip -6 route replace default via fe80::102 dev lan0");
  for (int i = 0; i < 3; ++i) Send(old_client, old_server, "data" + std::to_string(i));
  Send(old_server, old_client, "back");
  EXPECT_EQ(TcpState(old_client), TCP_ESTABLISHED);
  Socket new_client = ConnectFromClient(kRemote6, kRemotePort);
  Socket new_server = Accept(listener2);
  Send(new_client, new_server, "new");
  std::map<std::string, std::uint64_t> want{{"isp1", 1}, {"isp2", 1}};
  EXPECT_TRUE(PollUntil([&] { return Count6(*steering, state) == want; }))
      << Conntrack("-f ipv6 -p tcp");
}

}  // namespace
}  // namespace ispf

// LinuxEnv's prober against real raw sockets, ICMP and ICMPv6: answers, loss, errors, binding.

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "ispfailover/io/linux_env.h"
#include "support/netns.h"

namespace ispf {
namespace {

using std::chrono::milliseconds;
using test::Background;
using test::EnterNetns;
using test::Netns;
using test::RunUntil;

constexpr std::uint16_t kIdentifier = 0xbeef;

IpAddress Ip(const std::string& dotted) { return IpAddress::ipv4(test::Ip(dotted)); }
IpAddress Ip6(const std::string& text) {
  auto address = parse_ipv6(text);
  if (!address) throw std::runtime_error("not IPv6: " + text);
  return IpAddress::ipv6(*address);
}

// A prober with the targets and timeout its rounds ask for (the seam takes them per round).
struct Probe {
  std::unique_ptr<Prober> prober;
  std::vector<IpAddress> targets;
  Duration timeout;
  std::uint64_t ignored_packets() const { return prober->ignored_packets(); }
};

// Takes CAP_NET_RAW out of the calling thread's effective set until destroyed (it stays
// permitted, so it can come back).
class WithoutNetRaw {
 public:
  WithoutNetRaw() {
    if (::syscall(SYS_capget, &header_, saved_) != 0) throw std::runtime_error("capget failed");
    __user_cap_data_struct reduced[2] = {saved_[0], saved_[1]};
    reduced[CAP_TO_INDEX(CAP_NET_RAW)].effective &= ~CAP_TO_MASK(CAP_NET_RAW);
    if (::syscall(SYS_capset, &header_, reduced) != 0) throw std::runtime_error("capset failed");
  }
  ~WithoutNetRaw() { ::syscall(SYS_capset, &header_, saved_); }
  WithoutNetRaw(const WithoutNetRaw&) = delete;
  WithoutNetRaw& operator=(const WithoutNetRaw&) = delete;

 private:
  __user_cap_header_struct header_{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct saved_[2] = {};
};

// nft rules in the responder's input chain; the rule text is appended to "add rule inet t in".
void AddInputRule(const Netns& ns, const std::string& rule) {
  ns.Must(
      "nft list table inet t >/dev/null 2>&1 || nft 'add table inet t; "
      "add chain inet t in { type filter hook input priority 0; }'");
  ns.Must("nft add rule inet t in " + rule);
}

// The packet count of the first counter in the input chain.
long CounterPackets(const Netns& ns) {
  std::string listing = ns.Must("nft list chain inet t in");
  std::smatch match;
  static const std::regex kCounter("counter packets ([0-9]+)");
  if (!std::regex_search(listing, match, kCounter)) {
    throw std::runtime_error("no counter in: " + listing);
  }
  return std::stol(match[1].str());
}

// A prober namespace whose uplink up0 (203.0.113.2) leads to a responder (203.0.113.1) that
// holds the targets 198.51.100.8 and .9 on lo; the prober's default route goes via the responder.
class IcmpProberTest : public ::testing::Test {
 protected:
  IcmpProberTest() {
    test::AddVeth(prober_, "up0", responder_, "up0r");
    prober_.Must("ip addr add 203.0.113.2/24 dev up0 && ip route add default via 203.0.113.1");
    responder_.Must(
        "ip addr add 203.0.113.1/24 dev up0r && ip addr add 198.51.100.8/32 dev lo && "
        "ip addr add 198.51.100.9/32 dev lo");
  }

  std::unique_ptr<Probe> Open(const std::vector<IpAddress>& targets, Duration timeout,
                              const std::string& uplink = "up0") {
    EnterNetns inside(prober_);
    const Family family = targets.empty() ? Family::kIpv4 : targets.front().family;
    auto prober = env_.open_prober(uplink, kIdentifier, family);
    if (!prober) throw std::runtime_error("open_prober: " + prober.error().message());
    return std::make_unique<Probe>(Probe{std::move(*prober), targets, timeout});
  }

  // Starts one round and runs the io_context until it is reported (or `limit` passes).
  std::optional<RoundReport> Round(Probe& probe, std::uint16_t sequence,
                                   milliseconds limit = milliseconds(5000)) {
    std::optional<RoundReport> report;
    int calls = 0;
    probe.prober->start_round(RoundRequest{sequence, probe.targets, probe.timeout},
                              [&](const RoundReport& r) {
                                report = r;
                                ++calls;
                              });
    RunUntil(
        io_, [&] { return report.has_value(); }, limit);
    // A round is reported exactly once: run on a little to catch a second report.
    test::RunFor(io_, milliseconds(20));
    EXPECT_LE(calls, 1) << "round " << sequence << " reported more than once";
    return report;
  }

  // Someone else's ping (`ping_command`, 60 echoes at 20 ms) runs beside ten rounds of ours to
  // `target`: every round is answered, the other replies are counted as ignored.
  void ExpectOtherPingsIgnored(const IpAddress& target, const std::string& ping_command) {
    auto prober = Open({target}, milliseconds(1000));
    Background ping(prober_, ping_command);
    for (std::uint16_t seq = 100; seq < 110; ++seq) {
      auto report = Round(*prober, seq);
      ASSERT_TRUE(report.has_value()) << "round " << seq << " never reported";
      EXPECT_EQ(report->sequence, seq);
      ASSERT_EQ(report->probes.size(), 1u);
      EXPECT_EQ(report->answered(), 1u) << "round " << seq;
      test::RunFor(io_, milliseconds(100));
    }
    auto done = ping.Wait(milliseconds(10000));
    EXPECT_EQ(done.status, 0) << done.output;
    EXPECT_GT(prober->ignored_packets(), 0u);
  }

  Netns prober_{"prober"};
  Netns responder_{"resp"};
  asio::io_context io_;
  LinuxEnv env_{io_, "icmp_prober_test"};
};

TEST_F(IcmpProberTest, OneTargetAnswersWithRtt) {
  auto prober = Open({Ip("198.51.100.8")}, milliseconds(1000));
  auto report = Round(*prober, 1);
  ASSERT_TRUE(report.has_value()) << "round never reported";
  EXPECT_EQ(report->sequence, 1);
  ASSERT_EQ(report->probes.size(), 1u);
  EXPECT_EQ(report->answered(), 1u);
  EXPECT_EQ(report->probes[0].target, Ip("198.51.100.8"));
  EXPECT_EQ(report->probes[0].error, ProbeError::kNone);
  ASSERT_TRUE(report->probes[0].rtt.has_value());
  EXPECT_GT(*report->probes[0].rtt, Duration::zero());
  EXPECT_LT(*report->probes[0].rtt, milliseconds(500));
  // Reported as soon as the answer came, not at the timeout.
  EXPECT_LT(report->concluded - report->started, milliseconds(500));
}

TEST_F(IcmpProberTest, TwoTargetsBothAnswer) {
  auto prober = Open({Ip("198.51.100.8"), Ip("198.51.100.9")}, milliseconds(1000));
  for (std::uint16_t seq = 10; seq < 13; ++seq) {
    auto report = Round(*prober, seq);
    ASSERT_TRUE(report.has_value()) << "round " << seq << " never reported";
    EXPECT_EQ(report->sequence, seq);
    ASSERT_EQ(report->probes.size(), 2u);
    EXPECT_EQ(report->answered(), 2u);
    EXPECT_EQ(report->probes[0].target, Ip("198.51.100.8"));
    EXPECT_EQ(report->probes[1].target, Ip("198.51.100.9"));
    EXPECT_TRUE(report->probes[0].rtt.has_value());
    EXPECT_TRUE(report->probes[1].rtt.has_value());
  }
}

TEST_F(IcmpProberTest, SilentDropTimesOutAsProbeLoss) {
  AddInputRule(responder_, "icmp type echo-request counter drop");
  const auto timeout = milliseconds(500);
  auto prober = Open({Ip("198.51.100.8")}, timeout);
  auto before = Clock::now();
  auto report = Round(*prober, 7);
  auto waited = Clock::now() - before;
  ASSERT_TRUE(report.has_value()) << "round never reported";
  EXPECT_EQ(report->answered(), 0u);
  ASSERT_EQ(report->probes.size(), 1u);
  EXPECT_EQ(report->probes[0].error, ProbeError::kTimeout);
  EXPECT_FALSE(report->probes[0].rtt.has_value());
  EXPECT_EQ(report->failure_reason(), "probe-loss");
  EXPECT_GE(report->concluded - report->started, timeout - milliseconds(20));
  EXPECT_LT(waited, timeout + milliseconds(1500));
  // The probe did reach the responder: the drop was the responder's doing.
  EXPECT_GE(CounterPackets(responder_), 1);
}

TEST_F(IcmpProberTest, NoRouteAtResponderIsUnreachableBeforeTimeout) {
  // A forwarding responder without a route to .77 answers with ICMP net unreachable.
  responder_.Must("sysctl -qw net.ipv4.ip_forward=1");
  const auto timeout = milliseconds(2000);
  auto prober = Open({Ip("198.51.100.8"), Ip("198.51.100.77")}, timeout);
  auto report = Round(*prober, 3);
  ASSERT_TRUE(report.has_value()) << "round never reported";
  ASSERT_EQ(report->probes.size(), 2u);
  EXPECT_EQ(report->answered(), 1u);
  EXPECT_EQ(report->probes[0].error, ProbeError::kNone);
  EXPECT_EQ(report->probes[1].error, ProbeError::kUnreachable);
  EXPECT_FALSE(report->probes[1].rtt.has_value());
  EXPECT_EQ(report->failure_reason(), "unreachable");
  EXPECT_LT(report->concluded - report->started, milliseconds(1000));
}

TEST_F(IcmpProberTest, RejectedWithHostUnreachableIsUnreachable) {
  AddInputRule(responder_, "icmp type echo-request reject with icmp type host-unreachable");
  const auto timeout = milliseconds(2000);
  auto prober = Open({Ip("198.51.100.8")}, timeout);
  auto report = Round(*prober, 4);
  ASSERT_TRUE(report.has_value()) << "round never reported";
  ASSERT_EQ(report->probes.size(), 1u);
  EXPECT_EQ(report->answered(), 0u);
  EXPECT_EQ(report->probes[0].error, ProbeError::kUnreachable);
  EXPECT_EQ(report->failure_reason(), "unreachable");
  EXPECT_LT(report->concluded - report->started, milliseconds(1000));
}

TEST_F(IcmpProberTest, UplinkDownIsNoRouteAtOnce) {
  auto prober = Open({Ip("198.51.100.8")}, milliseconds(2000));
  prober_.Must("ip link set up0 down");
  auto before = Clock::now();
  auto report = Round(*prober, 5);
  ASSERT_TRUE(report.has_value()) << "round never reported";
  ASSERT_EQ(report->probes.size(), 1u);
  // What sendto() said: ENETUNREACH for a bound socket whose device is down.
  EXPECT_EQ(report->probes[0].send_error.value(), ENETUNREACH)
      << report->probes[0].send_error.message();
  EXPECT_EQ(report->probes[0].error, ProbeError::kNoRoute)
      << "send_error=" << report->probes[0].send_error.message() << " ("
      << report->probes[0].send_error.category().name() << " "
      << report->probes[0].send_error.value() << ")";
  EXPECT_EQ(report->failure_reason(), "no-route");
  EXPECT_LT(Clock::now() - before, milliseconds(500));
}

// The uplink is up and addressed but has no route to the target any more (e.g. the DHCP lease
// and its default route went away). The responder, like an ISP's router, does not answer ARP
// for addresses that are not on its link.
// With SO_BINDTODEVICE and no route, the kernel assumes the target is on the uplink's link and
// sends (ARP first), so sendto() succeeds: the round fails by its timeout, as probe-loss. This
// pins that behaviour down: a prober bound to its uplink cannot learn "no route" from sendto().
TEST_F(IcmpProberTest, DefaultRouteDeletedFailsTheRoundByTimeout) {
  responder_.Must("sysctl -qw net.ipv4.conf.all.arp_ignore=1");
  auto prober = Open({Ip("198.51.100.8")}, milliseconds(300));
  prober_.Must("ip route del default && ip neigh flush all");
  ASSERT_NE(prober_.Run("ip route get 198.51.100.8").status, 0)
      << "the prober namespace still has a route to the target";
  auto report = Round(*prober, 6);
  ASSERT_TRUE(report.has_value()) << "round never reported";
  ASSERT_EQ(report->probes.size(), 1u);
  EXPECT_EQ(report->answered(), 0u);
  EXPECT_FALSE(report->probes[0].rtt.has_value());
  EXPECT_EQ(report->probes[0].error, ProbeError::kTimeout)
      << "send_error=" << report->probes[0].send_error.message();
  EXPECT_EQ(report->failure_reason(), "probe-loss");
}

TEST_F(IcmpProberTest, UnknownInterfaceFailsWithEnodev) {
  EnterNetns inside(prober_);
  auto prober = env_.open_prober("nosuch0", kIdentifier, Family::kIpv4);
  ASSERT_FALSE(prober.has_value());
  EXPECT_EQ(prober.error().value(), ENODEV) << prober.error().message();
  EXPECT_TRUE(prober.error() == std::errc::no_such_device) << prober.error().category().name();
}

// The daemon tells "run me with CAP_NET_RAW" from other failures by comparing with errc.
TEST_F(IcmpProberTest, OpenWithoutNetRawFailsWithEperm) {
  EnterNetns inside(prober_);
  std::optional<std::error_code> error;
  {
    WithoutNetRaw drop;
    auto prober = env_.open_prober("up0", kIdentifier, Family::kIpv4);
    if (!prober) error = prober.error();
  }
  ASSERT_TRUE(error.has_value()) << "a raw socket opened without CAP_NET_RAW";
  EXPECT_EQ(error->value(), EPERM) << error->message();
  EXPECT_TRUE(*error == std::errc::operation_not_permitted)
      << "category " << error->category().name() << " does not compare equal to errc";
}

// Probes leave by the uplink even when the main default route goes by another interface.
TEST_F(IcmpProberTest, ProbesLeaveByTheUplinkOnly) {
  Netns other("other");
  test::AddVeth(prober_, "wan1", other, "wan1r");
  // Re-address the uplink into the lower half so the other link can have the upper one.
  prober_.Must(
      "ip route flush table main && ip addr flush dev up0 && "
      "ip addr add 203.0.113.2/25 dev up0 && ip addr add 203.0.113.130/25 dev wan1 && "
      "ip route add default via 203.0.113.129 dev wan1 metric 10 && "
      "ip route add default via 203.0.113.1 dev up0 metric 200");
  responder_.Must("ip addr flush dev up0r && ip addr add 203.0.113.1/25 dev up0r");
  other.Must("ip addr add 203.0.113.129/25 dev wan1r && ip addr add 198.51.100.8/32 dev lo");
  AddInputRule(responder_, "icmp type echo-request counter");
  AddInputRule(other, "icmp type echo-request counter");

  auto prober = Open({Ip("198.51.100.8")}, milliseconds(1000));
  for (std::uint16_t seq = 20; seq < 25; ++seq) {
    auto report = Round(*prober, seq);
    ASSERT_TRUE(report.has_value()) << "round " << seq << " never reported";
    EXPECT_EQ(report->answered(), 1u) << "round " << seq;
  }
  EXPECT_EQ(CounterPackets(responder_), 5);
  EXPECT_EQ(CounterPackets(other), 0) << "a probe left by the main default route";
  // The witness: an unbound ping does go the other way, so the counter there works.
  prober_.Must("ping -q -c 1 -W 2 198.51.100.8");
  EXPECT_EQ(CounterPackets(other), 1);
}

// Someone else's ping in the same namespace: its replies reach our raw socket too.
TEST_F(IcmpProberTest, IgnoresOtherPingsInTheNamespace) {
  ExpectOtherPingsIgnored(Ip("198.51.100.8"), "exec ping -q -i 0.02 -c 60 -W 2 198.51.100.8");
}

class Icmpv6ProberTest : public IcmpProberTest {
 protected:
  Icmpv6ProberTest() {
    prober_.Must(
        "ip -6 addr add 2001:db8:1::2/64 dev up0 nodad && "
        "ip -6 route add default via 2001:db8:1::1 dev up0");
    responder_.Must(
        "ip -6 addr add 2001:db8:1::1/64 dev up0r nodad && "
        "ip -6 addr add 2001:db8:ff::8/128 dev lo && ip -6 addr add 2001:db8:ff::9/128 dev lo");
  }
};

TEST_F(Icmpv6ProberTest, TwoTargetsAnswerWithRtt) {
  auto prober = Open({Ip6("2001:db8:ff::8"), Ip6("2001:db8:ff::9")}, milliseconds(1000));
  for (std::uint16_t seq = 1; seq < 4; ++seq) {
    auto report = Round(*prober, seq);
    ASSERT_TRUE(report.has_value()) << "round " << seq << " never reported";
    EXPECT_EQ(report->sequence, seq);
    ASSERT_EQ(report->probes.size(), 2u);
    EXPECT_EQ(report->answered(), 2u);
    EXPECT_EQ(report->probes[0].target, Ip6("2001:db8:ff::8"));
    EXPECT_EQ(report->probes[1].target, Ip6("2001:db8:ff::9"));
    for (const ProbeOutcome& probe : report->probes) {
      EXPECT_EQ(probe.error, ProbeError::kNone);
      ASSERT_TRUE(probe.rtt.has_value());
      EXPECT_GT(*probe.rtt, Duration::zero());
      EXPECT_LT(*probe.rtt, milliseconds(500));
      RecordProperty(
          "rtt_us_seq" + std::to_string(seq) + "_" + format_ip(probe.target),
          std::to_string(
              std::chrono::duration_cast<std::chrono::microseconds>(*probe.rtt).count()));
    }
    // Reported as soon as the answers came, not at the timeout.
    EXPECT_LT(report->concluded - report->started, milliseconds(500));
  }
}

TEST_F(Icmpv6ProberTest, SilentDropTimesOutAsProbeLoss) {
  AddInputRule(responder_, "icmpv6 type echo-request counter drop");
  const auto timeout = milliseconds(500);
  auto prober = Open({Ip6("2001:db8:ff::8")}, timeout);
  auto report = Round(*prober, 7);
  ASSERT_TRUE(report.has_value()) << "round never reported";
  ASSERT_EQ(report->probes.size(), 1u);
  EXPECT_EQ(report->probes[0].error, ProbeError::kTimeout);
  EXPECT_FALSE(report->probes[0].rtt.has_value());
  EXPECT_EQ(report->failure_reason(), "probe-loss");
  EXPECT_GE(report->concluded - report->started, timeout - milliseconds(20));
  EXPECT_GE(CounterPackets(responder_), 1) << "the probe never reached the responder";
}

// A forwarding responder whose table says "unreachable" (or "prohibit") for the target sends
// ICMPv6 destination unreachable back, before the timeout.
TEST_F(Icmpv6ProberTest, UnreachableAndProhibitedRoutesAtResponderAreUnreachable) {
  responder_.Must(
      "sysctl -qw net.ipv6.conf.all.forwarding=1 && "
      "ip -6 route add unreachable 2001:db8:dead::/48 && "
      "ip -6 route add prohibit 2001:db8:beef::/48");
  const auto timeout = milliseconds(2000);
  auto prober =
      Open({Ip6("2001:db8:ff::8"), Ip6("2001:db8:dead::1"), Ip6("2001:db8:beef::1")}, timeout);
  auto report = Round(*prober, 3);
  ASSERT_TRUE(report.has_value()) << "round never reported";
  ASSERT_EQ(report->probes.size(), 3u);
  EXPECT_EQ(report->answered(), 1u);
  EXPECT_EQ(report->probes[0].error, ProbeError::kNone);
  EXPECT_EQ(report->probes[1].error, ProbeError::kUnreachable);
  EXPECT_EQ(report->probes[2].error, ProbeError::kUnreachable);
  EXPECT_FALSE(report->probes[1].rtt.has_value());
  EXPECT_EQ(report->failure_reason(), "unreachable");
  EXPECT_LT(report->concluded - report->started, milliseconds(1000));
}

TEST_F(Icmpv6ProberTest, Ipv4TargetRefusedWithEafnosupport) {
  auto prober = Open({Ip6("2001:db8:ff::8"), Ip("198.51.100.8")}, milliseconds(1000));
  auto report = Round(*prober, 8);
  ASSERT_TRUE(report.has_value()) << "round never reported";
  ASSERT_EQ(report->probes.size(), 2u);
  EXPECT_EQ(report->probes[0].error, ProbeError::kNone);
  EXPECT_EQ(report->probes[1].send_error.value(), EAFNOSUPPORT);
  EXPECT_FALSE(report->probes[1].rtt.has_value());
}

// Someone else's ping -6 in the same namespace: its replies reach our raw socket too, and are
// told apart by identifier.
TEST_F(Icmpv6ProberTest, IgnoresOtherPingsInTheNamespace) {
  ExpectOtherPingsIgnored(Ip6("2001:db8:ff::8"),
                          "exec ping -6 -q -i 0.02 -c 60 -W 2 2001:db8:ff::8");
}

// A target reachable only by another link (a more specific route out of wan1) is not reached
// through the uplink: the socket stays bound to up0, whatever the routing tables prefer.
TEST_F(Icmpv6ProberTest, ProbesLeaveByTheUplinkOnly) {
  Netns other("other");
  test::AddVeth(prober_, "wan1", other, "wan1r");
  prober_.Must(
      "ip -6 addr add 2001:db8:2::2/64 dev wan1 nodad && "
      "ip -6 route add 2001:db8:ee::/48 via 2001:db8:2::1 dev wan1");
  other.Must(
      "ip -6 addr add 2001:db8:2::1/64 dev wan1r nodad && "
      "ip -6 addr add 2001:db8:ee::8/128 dev lo");
  AddInputRule(other, "icmpv6 type echo-request counter");

  auto prober = Open({Ip6("2001:db8:ee::8")}, milliseconds(300));
  for (std::uint16_t seq = 20; seq < 23; ++seq) {
    auto report = Round(*prober, seq);
    ASSERT_TRUE(report.has_value()) << "round " << seq << " never reported";
    ASSERT_EQ(report->probes.size(), 1u);
    EXPECT_EQ(report->answered(), 0u) << "round " << seq << " answered through another link";
    EXPECT_FALSE(report->probes[0].rtt.has_value());
  }
  EXPECT_EQ(CounterPackets(other), 0) << "a probe left by wan1";
  // The witness: an unbound ping does go the other way, so the counter there works.
  prober_.Must("ping -6 -q -c 1 -W 2 2001:db8:ee::8");
  EXPECT_EQ(CounterPackets(other), 1);
}

TEST_F(Icmpv6ProberTest, RoutesViaIpv6) {
  Netns other("other");
  test::AddVeth(prober_, "dum0", other, "dum0r");
  EnterNetns inside(prober_);
  prober_.Must(
      "ip -6 addr add 2001:db8:2::1/64 dev dum0 nodad && "
      "ip -6 route add unreachable 2001:db8:dead::/48");
  auto routes = [&](const char* link, const char* to) {
    auto answer = env_.routes_via(link, Ip6(to));
    EXPECT_TRUE(answer.has_value()) << link << " " << to << ": " << answer.error().message();
    return answer.value_or(false);
  };
  EXPECT_TRUE(routes("up0", "2001:db8:ff::8")) << "the default route leaves by up0";
  EXPECT_TRUE(routes("up0", "2001:db8:1::77")) << "on-link";
  EXPECT_TRUE(routes("dum0", "2001:db8:2::7")) << "on-link";
  EXPECT_FALSE(routes("dum0", "2001:db8:ff::8")) << "the default route leaves by up0, not dum0";
  // Restricted to up0, the lookup skips routes out of other devices (dum0's prefix, the reject
  // route on lo) and finds up0's default route: where a socket bound to up0 would send them.
  EXPECT_TRUE(routes("up0", "2001:db8:2::7")) << "up0's default route covers it";
  EXPECT_TRUE(routes("up0", "2001:db8:dead::1")) << "a reject route elsewhere hides nothing";
  EXPECT_FALSE(routes("nosuch0", "2001:db8:ff::8"));
  prober_.Must("ip -6 route del default");
  EXPECT_FALSE(routes("up0", "2001:db8:ff::8")) << "the default route is gone";
  EXPECT_FALSE(routes("up0", "2001:db8:2::7")) << "dum0's prefix, not up0's";
  EXPECT_FALSE(routes("up0", "2001:db8:dead::1"));
  EXPECT_TRUE(routes("up0", "2001:db8:1::77")) << "on-link still";
}

}  // namespace
}  // namespace ispf

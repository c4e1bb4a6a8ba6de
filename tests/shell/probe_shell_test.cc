// ispprobed's shell on FakeEnv: IPv6 targets get their own prober and join the engine's rounds.
#include "probe_shell.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "ispfailover/core/status_message.h"
#include "support/fake_env.h"

namespace ispf {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const IpAddress kV4Target = IpAddress::ipv4(0x0a090909);  // 10.9.9.9
const IpAddress kV6Target = IpAddress::ipv6(*parse_ipv6("2001:db8::8"));

class ProbeShellTest : public testing::Test {
 protected:
  void SetUp() override {
    env_.kernel().add_link("lan0");
    env_.kernel().add_address("lan0", env_.address(), 24);
    env_.kernel().add_link("wan0");
    // Both targets on-link, so routes_via says yes for each family.
    env_.kernel().add_address("wan0", 0x0a000002, 8);
    env_.kernel().add_address6("wan0", *parse_ipv6("2001:db8::2"), 32);
  }

  void Start(const std::vector<std::string>& targets) {
    std::vector<std::string> args = {"ispprobed", "--name", "isp1",     "--uplink", "wan0",
                                     "--lan",     "lan0",   "--quorum", "1"};
    for (const auto& target : targets) {
      args.push_back("--target");
      args.push_back(target);
    }
    ASSERT_TRUE(shell_.configure(args).run);
    ASSERT_EQ(shell_.start(), std::nullopt);
  }

  // The last status datagram ispprobed sent.
  std::optional<Status> LastStatus() {
    const auto& sent = env_.lan().sent();
    for (auto it = sent.rbegin(); it != sent.rend(); ++it) {
      auto status = decode(std::span<const char>(it->bytes.data(), it->bytes.size()));
      if (status) return *status;
    }
    return std::nullopt;
  }

  FakeEnv env_;
  ProbeShell shell_{env_};
};

TEST_F(ProbeShellTest, EachFamilyGoesToItsOwnProberAndTheRoundsCountBoth) {
  Start({"10.9.9.9", "2001:db8::8"});
  env_.advance(seconds(3));
  int v4_rounds = 0;
  int v6_rounds = 0;
  for (const auto& [uplink, request] : env_.rounds()) {
    EXPECT_EQ(uplink, "wan0");
    ASSERT_EQ(request.targets.size(), 1u) << "a round mixed the families";
    if (request.targets[0] == kV4Target) ++v4_rounds;
    if (request.targets[0] == kV6Target) ++v6_rounds;
  }
  EXPECT_GT(v4_rounds, 0);
  EXPECT_EQ(v4_rounds, v6_rounds);
  // Each family has its verdict: state= and its figures are IPv4's, ipv6= IPv6's.
  auto status = LastStatus();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->targets, 1u);
  EXPECT_EQ(status->targets_up, 1u);
  ASSERT_TRUE(status->ipv6.has_value());
  EXPECT_EQ(status->ipv6->state, LinkState::kUp);
  EXPECT_EQ(status->ipv6->targets, 1u);
  EXPECT_EQ(status->ipv6->targets_up, 1u);
}

TEST_F(ProbeShellTest, ASilentIpv6TargetTakesOnlyIpv6Down) {
  env_.set_probe_script([](const std::string&, const IpAddress& target, std::uint16_t) {
    ScriptedProbe probe;
    if (target.family == Family::kIpv4) probe.rtt = milliseconds(10);  // IPv6: silence
    return probe;
  });
  Start({"2001:db8::8", "10.9.9.9"});
  env_.advance(seconds(3));
  auto status = LastStatus();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->state, LinkState::kUp);
  EXPECT_EQ(status->targets, 1u);
  EXPECT_EQ(status->targets_up, 1u);
  ASSERT_TRUE(status->ipv6.has_value());
  EXPECT_EQ(status->ipv6->state, LinkState::kDown);
  EXPECT_EQ(status->ipv6->reason, "probe-loss");
  EXPECT_EQ(status->ipv6->targets_up, 0u);
}

// The routes are asked per family: an uplink with IPv4 routes and none for IPv6 has IPv6 down
// with no-route, and IPv4 up.
TEST_F(ProbeShellTest, NoIpv6RouteTakesOnlyIpv6Down) {
  env_.kernel().flush_addresses("wan0");
  env_.kernel().add_address("wan0", 0x0a000002, 8);
  Start({"10.9.9.9", "2001:db8::8"});
  env_.advance(seconds(3));
  auto status = LastStatus();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->state, LinkState::kUp);
  ASSERT_TRUE(status->ipv6.has_value());
  EXPECT_EQ(status->ipv6->state, LinkState::kDown);
  EXPECT_EQ(status->ipv6->reason, "no-route");
}

TEST_F(ProbeShellTest, OnlyIpv6TargetsAreRefused) {
  std::vector<std::string> args = {"ispprobed", "--name", "isp1",     "--uplink",   "wan0",
                                   "--lan",     "lan0",   "--target", "2001:db8::8"};
  auto outcome = shell_.configure(args);
  EXPECT_FALSE(outcome.run);
  EXPECT_NE(outcome.error.find("--target"), std::string::npos) << outcome.error;
  EXPECT_NE(outcome.error.find("add an IPv4 target"), std::string::npos) << outcome.error;
}

TEST_F(ProbeShellTest, Prefix6IsAnnounced) {
  std::vector<std::string> args = {
      "ispprobed", "--name",   "isp1",      "--uplink",         "wan0", "--lan", "lan0",
      "--target",  "10.9.9.9", "--prefix6", "2001:db8:1:1::/64"};
  ASSERT_TRUE(shell_.configure(args).run);
  ASSERT_EQ(shell_.start(), std::nullopt);
  env_.advance(seconds(1));
  auto status = LastStatus();
  ASSERT_TRUE(status.has_value());
  ASSERT_TRUE(status->prefix6.has_value());
  EXPECT_EQ(format_ipv6_prefix(*status->prefix6), "2001:db8:1:1::/64");
  EXPECT_FALSE(status->ipv6.has_value()) << "no IPv6 targets, no IPv6 verdict";
}

TEST_F(ProbeShellTest, Ipv4OnlyRoundsAreUnsplit) {
  Start({"10.9.9.9", "10.9.9.10"});
  env_.advance(seconds(1));
  ASSERT_FALSE(env_.rounds().empty());
  for (const auto& [uplink, request] : env_.rounds()) EXPECT_EQ(request.targets.size(), 2u);
}

}  // namespace
}  // namespace ispf

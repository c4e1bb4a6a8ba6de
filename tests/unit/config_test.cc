// Option parsing and validation of both daemons: every error names the option at fault.
#include "ispfailover/core/config.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace ispf {
namespace {

using std::chrono::seconds;

ProbedOptions ValidProbed() {
  ProbedOptions options;
  options.name = "isp1";
  options.uplink = "wan0";
  options.lan = "lan0";
  options.targets = {"8.8.8.8", "1.1.1.1"};
  options.quorum = 1;
  return options;
}

FailoverOptions ValidFailover() {
  FailoverOptions options;
  options.isp_specs = {"alpha=10.0.1.1", "bravo=10.0.2.1"};
  return options;
}

testing::AssertionResult ProbedFailsOn(const ProbedOptions& options, const std::string& option) {
  const std::optional<ConfigError> error = validate(options);
  if (!error) return testing::AssertionFailure() << "accepted, expected an error on " << option;
  if (error->option != option) {
    return testing::AssertionFailure()
           << "error on " << error->to_string() << ", expected " << option;
  }
  if (error->message.empty()) return testing::AssertionFailure() << "empty message";
  return testing::AssertionSuccess();
}

testing::AssertionResult FailoverFailsOn(const FailoverOptions& options,
                                         const std::string& option) {
  const auto result = validate(options);
  if (result) return testing::AssertionFailure() << "accepted, expected an error on " << option;
  if (result.error().option != option) {
    return testing::AssertionFailure()
           << "error on " << result.error().to_string() << ", expected " << option;
  }
  if (result.error().message.empty()) return testing::AssertionFailure() << "empty message";
  return testing::AssertionSuccess();
}

TEST(ParseIpv4Test, ValidAddresses) {
  EXPECT_EQ(parse_ipv4("192.168.1.1"), std::optional<std::uint32_t>(0xc0a80101));
  EXPECT_EQ(parse_ipv4("0.0.0.0"), std::optional<std::uint32_t>(0));
  EXPECT_EQ(parse_ipv4("255.255.255.255"), std::optional<std::uint32_t>(0xffffffff));
  EXPECT_EQ(parse_ipv4("10.0.2.1"), std::optional<std::uint32_t>(0x0a000201));
  EXPECT_EQ(parse_ipv4("1.2.3.4"), std::optional<std::uint32_t>(0x01020304));
}

TEST(ParseIpv4Test, InvalidAddresses) {
  for (const char* text :
       {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.256", "1.2.3.1000", "a.b.c.d", "1.2.3.4 ",
        " 1.2.3.4", "1..3.4", ".1.2.3", "1.2.3.", "-1.2.3.4", "+1.2.3.4", "1.2.3.4/24", "localhost",
        "0x01.2.3.4", "1.2.3.4\n", "4294967295"}) {
    EXPECT_FALSE(parse_ipv4(text).has_value()) << "\"" << text << "\"";
  }
}

TEST(FormatIpv4Test, DottedQuad) {
  EXPECT_EQ(format_ipv4(0xc0a80101), "192.168.1.1");
  EXPECT_EQ(format_ipv4(0), "0.0.0.0");
  EXPECT_EQ(format_ipv4(0xffffffff), "255.255.255.255");
  EXPECT_EQ(format_ipv4(0x0a000201), "10.0.2.1");
}

TEST(FormatIpv4Test, RoundTrip) {
  for (const std::uint32_t address : {0x01020304u, 0x7f000001u, 0xa9fe0a0bu, 0x00ff00ffu}) {
    EXPECT_EQ(parse_ipv4(format_ipv4(address)), std::optional<std::uint32_t>(address));
  }
}

TEST(ParseIspSpecTest, NameAndGatewayWithDefaultPriority) {
  const auto isp = parse_isp_spec("isp1=192.168.1.1", 3);
  ASSERT_TRUE(isp.has_value()) << isp.error().to_string();
  EXPECT_EQ(isp->name, "isp1");
  EXPECT_EQ(isp->gateway, 0xc0a80101u);
  EXPECT_EQ(isp->priority, 3);
}

TEST(ParseIspSpecTest, ExplicitPriority) {
  const auto isp = parse_isp_spec("fiber.1=10.0.0.1,priority=7", 0);
  ASSERT_TRUE(isp.has_value()) << isp.error().to_string();
  EXPECT_EQ(isp->name, "fiber.1");
  EXPECT_EQ(isp->gateway, 0x0a000001u);
  EXPECT_EQ(isp->priority, 7);
  const auto zero = parse_isp_spec("lte=10.0.0.2,priority=0", 5);
  ASSERT_TRUE(zero.has_value()) << zero.error().to_string();
  EXPECT_EQ(zero->priority, 0);
}

TEST(ParseIspSpecTest, Gateway6GlobalOrLinkLocalWithItsInterface) {
  const auto global = parse_isp_spec("isp1=192.168.56.101,gateway6=2001:db8:1:1::1", 0);
  ASSERT_TRUE(global.has_value()) << global.error().to_string();
  EXPECT_EQ(global->gateway6, parse_ipv6("2001:db8:1:1::1"));
  EXPECT_EQ(global->gateway6_device, "");
  const auto local = parse_isp_spec("isp2=192.168.56.102,priority=4,gateway6=fe80::2%eth1", 0);
  ASSERT_TRUE(local.has_value()) << local.error().to_string();
  EXPECT_EQ(local->gateway6, parse_ipv6("fe80::2"));
  EXPECT_EQ(local->gateway6_device, "eth1");
  EXPECT_EQ(local->priority, 4);
  EXPECT_FALSE(parse_isp_spec("isp1=192.168.56.101", 0)->gateway6);
}

TEST(ParseIspSpecTest, BadGateway6SaysWhatToWrite) {
  for (const char* spec :
       {"isp1=1.2.3.4,gateway6=", "isp1=1.2.3.4,gateway6=fe80::1", "isp1=1.2.3.4,gateway6=fe80::1%",
        "isp1=1.2.3.4,gateway6=2001:db8::1%eth1", "isp1=1.2.3.4,gateway6=ff02::1",
        "isp1=1.2.3.4,gateway6=::1", "isp1=1.2.3.4,gateway6=1.2.3.5",
        "isp1=1.2.3.4,gateway6=fe80::1%a/b", "isp1=1.2.3.4,gateway6=fe80::1%waytoolonginterface",
        "isp1=1.2.3.4,gateway6=2001:db8::1,gateway6=2001:db8::2"}) {
    const auto isp = parse_isp_spec(spec, 0);
    ASSERT_FALSE(isp.has_value()) << "\"" << spec << "\" accepted";
    EXPECT_EQ(isp.error().option, "--isp") << spec;
  }
  const auto local = parse_isp_spec("isp1=1.2.3.4,gateway6=fe80::1", 0);
  EXPECT_NE(local.error().message.find("fe80::1%eth1"), std::string::npos) << local.error().message;
}

TEST(ParseIspSpecTest, MalformedSpecsNameIsp) {
  for (const char* spec : {"", "isp1", "=1.2.3.4", "isp1=", "isp1=999.1.1.1", "isp1=1.2.3",
                           "bad name=1.2.3.4", "isp/1=1.2.3.4", "isp1=1.2.3.4,prio=3",
                           "isp1=1.2.3.4,priority=x", "isp1=1.2.3.4,priority=", "isp1=1.2.3.4,",
                           "isp1=1.2.3.4,priority=1,priority=2", "isp1=gateway.example"}) {
    const auto isp = parse_isp_spec(spec, 0);
    ASSERT_FALSE(isp.has_value()) << "\"" << spec << "\" accepted";
    EXPECT_EQ(isp.error().option, "--isp") << spec;
    EXPECT_FALSE(isp.error().message.empty()) << spec;
  }
}

TEST(ParseIspSpecTest, TooLongNameRejected) {
  const std::string spec = std::string(33, 'a') + "=1.2.3.4";
  EXPECT_FALSE(parse_isp_spec(spec, 0).has_value());
  EXPECT_TRUE(parse_isp_spec(std::string(32, 'a') + "=1.2.3.4", 0).has_value());
}

TEST(ParseRouteTableTest, NamesAndNumbers) {
  EXPECT_EQ(parse_route_table("default").value_or(0), 253u);
  EXPECT_EQ(parse_route_table("local").value_or(0), 255u);
  EXPECT_EQ(parse_route_table("main").value_or(0), 254u);
  EXPECT_EQ(parse_route_table("100").value_or(0), 100u);
  EXPECT_EQ(parse_route_table("1").value_or(0), 1u);
  EXPECT_EQ(parse_route_table("4294967295").value_or(0), 4294967295u);
}

TEST(ParseRouteTableTest, InvalidTablesNameTable) {
  for (const char* text : {"", "0", "Main", "nope", "-1", "+5", "4294967296", "12a", " 100"}) {
    const auto table = parse_route_table(text);
    ASSERT_FALSE(table.has_value()) << "\"" << text << "\" accepted";
    EXPECT_EQ(table.error().option, "--table") << text;
  }
}

TEST(LogLevelTest, KnownLevels) {
  EXPECT_TRUE(is_valid_log_level("info"));
  EXPECT_TRUE(is_valid_log_level("debug"));
  EXPECT_TRUE(is_valid_log_level("error"));
  EXPECT_FALSE(is_valid_log_level(""));
  EXPECT_FALSE(is_valid_log_level("loud"));
  EXPECT_FALSE(is_valid_log_level("info "));
}

TEST(ValidateProbedTest, ValidOptionsAccepted) {
  const auto error = validate(ValidProbed());
  EXPECT_FALSE(error.has_value()) << error->to_string();
  ProbedOptions one = ValidProbed();
  one.targets = {"8.8.8.8"};
  one.quorum = 1;
  EXPECT_FALSE(validate(one).has_value());
  ProbedOptions all = ValidProbed();
  all.quorum = 2;  // equal to the number of targets
  EXPECT_FALSE(validate(all).has_value());
}

TEST(ValidateProbedTest, QuorumAboveTargets) {
  ProbedOptions options = ValidProbed();
  options.quorum = 3;
  EXPECT_TRUE(ProbedFailsOn(options, "--quorum"));
}

TEST(ValidateProbedTest, ZeroInterval) {
  ProbedOptions options = ValidProbed();
  options.interval = Duration::zero();
  EXPECT_TRUE(ProbedFailsOn(options, "--interval"));
}

TEST(ValidateProbedTest, ZeroTimeout) {
  ProbedOptions options = ValidProbed();
  options.timeout = Duration::zero();
  EXPECT_TRUE(ProbedFailsOn(options, "--timeout"));
}

TEST(ValidateProbedTest, ZeroDownAfter) {
  ProbedOptions options = ValidProbed();
  options.down_after = 0;
  EXPECT_TRUE(ProbedFailsOn(options, "--down-after"));
}

TEST(ValidateProbedTest, ZeroUpAfter) {
  ProbedOptions options = ValidProbed();
  options.up_after = 0;
  EXPECT_TRUE(ProbedFailsOn(options, "--up-after"));
}

TEST(ValidateProbedTest, BadTargetAddress) {
  for (const char* bad : {"8.8.8", "dns.google", "", "300.1.1.1"}) {
    ProbedOptions options = ValidProbed();
    options.targets = {"8.8.8.8", bad};
    EXPECT_TRUE(ProbedFailsOn(options, "--target")) << bad;
  }
}

TEST(ValidateProbedTest, GlobalIpv6TargetsAccepted) {
  ProbedOptions options = ValidProbed();
  options.targets = {"8.8.8.8", "2001:db8::1", "2606:4700:4700::1111"};
  EXPECT_FALSE(validate(options).has_value());
}

TEST(ValidateProbedTest, Ipv6TargetsThatNeverCrossTheIspRefusedByName) {
  for (const char* bad :
       {"fe80::1", "ff02::1", "::1", "::", "::ffff:192.0.2.1", "fe80::1%eth0", "[2001:db8::1]"}) {
    ProbedOptions options = ValidProbed();
    options.targets = {"8.8.8.8", bad};
    auto refused = validate(options);
    ASSERT_TRUE(refused.has_value()) << bad;
    EXPECT_EQ(refused->option, "--target") << bad;
    EXPECT_NE(refused->message.find(bad), std::string::npos) << refused->message;
    EXPECT_EQ(refused->message.find('\n'), std::string::npos) << refused->message;
  }
}

TEST(ValidateProbedTest, Ipv6TargetGivenTwiceInAnotherSpelling) {
  ProbedOptions options = ValidProbed();
  options.targets = {"2001:db8::1", "2001:DB8:0::1"};
  EXPECT_TRUE(ProbedFailsOn(options, "--target"));
}

// state= is the IPv4 verdict and the only one an older failoverd reads: without an IPv4 target
// it would be a verdict on nothing.
TEST(ValidateProbedTest, Ipv6OnlyTargetsRefusedWithTheFix) {
  ProbedOptions options = ValidProbed();
  options.targets = {"2001:db8::1", "2606:4700:4700::1111"};
  auto refused = validate(options);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->option, "--target");
  EXPECT_NE(refused->message.find("add an IPv4 target"), std::string::npos) << refused->message;
  EXPECT_EQ(refused->message.find('\n'), std::string::npos) << refused->message;
}

TEST(ValidateProbedTest, Prefix6Checked) {
  ProbedOptions options = ValidProbed();
  for (const char* good : {"2001:db8:1:1::/64", "2001:db8::/32", "2001:db8::1/128"}) {
    options.prefix6 = good;
    EXPECT_FALSE(validate(options).has_value()) << good;
  }
  for (const char* bad : {"2001:db8::1/64", "2001:db8::/7", "fe80::/64", "ff02::/16", "::/0",
                          "2001:db8::", "10.0.0.0/8", "2001:db8::/129", "prefix"}) {
    options.prefix6 = bad;
    auto refused = validate(options);
    ASSERT_TRUE(refused.has_value()) << bad;
    EXPECT_EQ(refused->option, "--prefix6") << bad;
    EXPECT_NE(refused->message.find(bad), std::string::npos) << refused->message;
    EXPECT_EQ(refused->message.find('\n'), std::string::npos) << refused->message;
  }
}

TEST(ValidateProbedTest, DnsResolversChecked) {
  ProbedOptions options = ValidProbed();
  options.dns = {"192.168.56.101", "192.168.56.1"};
  EXPECT_FALSE(validate(options).has_value());
  // IPv6 resolvers beside them (announced as dns6=), global or ULA.
  options.dns = {"192.168.56.101", "2001:db8:1::53", "fd56:1::101"};
  EXPECT_FALSE(validate(options).has_value());
  for (const char* bad :
       {"", "router", "192.168.56", "fe80::1", "ff02::1", "::1", "2001:db8::1%lan0"}) {
    options.dns = {bad};
    EXPECT_TRUE(ProbedFailsOn(options, "--dns")) << bad;
  }
  options.dns = {"10.0.0.1", "10.0.0.1"};
  EXPECT_TRUE(ProbedFailsOn(options, "--dns"));
  options.dns = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"};
  EXPECT_TRUE(ProbedFailsOn(options, "--dns"));
  options.dns = {"2001:db8::1", "2001:db8:0::1"};
  EXPECT_TRUE(ProbedFailsOn(options, "--dns")) << "the same address twice, written two ways";
  options.dns = {"2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::4"};
  EXPECT_TRUE(ProbedFailsOn(options, "--dns")) << "4 IPv6 resolvers: at most 3";
  options.dns = {"10.0.0.1",    "10.0.0.2",    "10.0.0.3",   "10.0.0.4",
                 "2001:db8::1", "2001:db8::2", "2001:db8::3"};
  EXPECT_FALSE(validate(options).has_value()) << "each family has its own limit";
}

TEST(ValidateProbedTest, NoTargets) {
  ProbedOptions options = ValidProbed();
  options.targets.clear();
  options.quorum = 1;
  EXPECT_TRUE(ProbedFailsOn(options, "--target"));
}

TEST(ValidateProbedTest, MoreTargetsThanADatagramCanReport) {
  ProbedOptions options = ValidProbed();
  options.targets.clear();
  for (int i = 1; i <= 17; ++i) options.targets.push_back("10.9.9." + std::to_string(i));
  EXPECT_TRUE(ProbedFailsOn(options, "--target"));
  options.targets.pop_back();
  EXPECT_FALSE(validate(options).has_value());
}

TEST(ValidateProbedTest, BadName) {
  for (const std::string& bad :
       {std::string(""), std::string("isp 1"), std::string("isp/1"), std::string(33, 'n')}) {
    ProbedOptions options = ValidProbed();
    options.name = bad;
    EXPECT_TRUE(ProbedFailsOn(options, "--name")) << "\"" << bad << "\"";
  }
}

TEST(ValidateProbedTest, BadLogLevel) {
  ProbedOptions options = ValidProbed();
  options.log_level = "loud";
  EXPECT_TRUE(ProbedFailsOn(options, "--log-level"));
}

TEST(ValidateProbedTest, ZeroHeartbeat) {
  ProbedOptions options = ValidProbed();
  options.heartbeat = Duration::zero();
  EXPECT_TRUE(ProbedFailsOn(options, "--heartbeat"));
  // Under a millisecond it would go out as heartbeat_ms=0, which every client rejects.
  options.heartbeat = microseconds(500);
  EXPECT_TRUE(ProbedFailsOn(options, "--heartbeat"));
  // Longer than clients believe.
  options.heartbeat = milliseconds(kMaxHeartbeatMs + 1);
  EXPECT_TRUE(ProbedFailsOn(options, "--heartbeat"));
}

TEST(ValidateFailoverTest, ValidOptionsGiveSettings) {
  FailoverOptions options = ValidFailover();
  options.failback_after = seconds(5);
  options.max_loss_pct = 12.5;
  options.when_all_down = "remove";
  options.startup_grace = milliseconds(2500);
  options.table = "100";
  options.metric = 42;
  options.replace_gateways = {"192.168.0.254"};
  const auto settings = validate(options);
  ASSERT_TRUE(settings.has_value()) << settings.error().to_string();
  ASSERT_EQ(settings->isps.size(), 2u);
  EXPECT_EQ(settings->isps[0].name, "alpha");
  EXPECT_EQ(settings->isps[0].gateway, 0x0a000101u);
  EXPECT_EQ(settings->isps[1].name, "bravo");
  EXPECT_EQ(settings->isps[1].gateway, 0x0a000201u);
  EXPECT_LT(settings->isps[0].priority, settings->isps[1].priority);
  EXPECT_EQ(settings->policy.failback_after, seconds(5));
  EXPECT_EQ(settings->policy.max_loss_permille, 125u);
  EXPECT_EQ(settings->policy.when_all_down, AllDownPolicy::kRemove);
  EXPECT_EQ(settings->policy.startup_grace, milliseconds(2500));
  EXPECT_EQ(settings->table, 100u);
  EXPECT_EQ(settings->metric, 42u);
  EXPECT_EQ(settings->replace_gateways, std::vector<std::uint32_t>{0xc0a800feu});
}

TEST(ValidateFailoverTest, Metric6StaysBelowTheRouterAdvertisementsMetric) {
  FailoverOptions options = ValidFailover();
  auto settings = validate(options);
  ASSERT_TRUE(settings.has_value());
  EXPECT_EQ(settings->metric6, 1u);
  options.metric6 = 1023;
  settings = validate(options);
  ASSERT_TRUE(settings.has_value());
  EXPECT_EQ(settings->metric6, 1023u);
  for (std::uint32_t bad : {0u, 1024u, 5000u}) {
    options.metric6 = bad;
    EXPECT_TRUE(FailoverFailsOn(options, "--metric6")) << bad;
  }
}

TEST(ValidateFailoverTest, DnsManagerDefaultFollowsResolved) {
  FailoverOptions options = ValidFailover();
  auto settings = validate(options);
  ASSERT_TRUE(settings.has_value());
  EXPECT_EQ(settings->dns_manager, DnsManager::kNone);
  options.resolved_usable = true;
  settings = validate(options);
  ASSERT_TRUE(settings.has_value());
  EXPECT_EQ(settings->dns_manager, DnsManager::kResolved);
  options.dns_manager = "resolved";
  settings = validate(options);
  ASSERT_TRUE(settings.has_value());
  EXPECT_EQ(settings->dns_manager, DnsManager::kResolved);
  options.dns_manager = "none";
  settings = validate(options);
  ASSERT_TRUE(settings.has_value());
  EXPECT_EQ(settings->dns_manager, DnsManager::kNone);
  options.dns_manager = "file";
  settings = validate(options);
  ASSERT_TRUE(settings.has_value());
  EXPECT_EQ(settings->dns_manager, DnsManager::kFile);
}

TEST(ValidateFailoverTest, DnsOptionsChecked) {
  FailoverOptions options = ValidFailover();
  for (const char* bad : {"dnsmasq", "File", " file"}) {
    options.dns_manager = bad;
    EXPECT_TRUE(FailoverFailsOn(options, "--dns-manager")) << bad;
  }
  options.dns_manager = "file";
  for (const char* bad : {"", "resolv.conf", "/run/failoverd/"}) {
    options.resolv_conf = bad;
    EXPECT_TRUE(FailoverFailsOn(options, "--resolv-conf")) << bad;
  }
  // Only file mode writes it, so the path is not checked otherwise.
  options.dns_manager = "none";
  EXPECT_TRUE(validate(options).has_value());
}

TEST(ValidateFailoverTest, Defaults) {
  const auto settings = validate(ValidFailover());
  ASSERT_TRUE(settings.has_value()) << settings.error().to_string();
  EXPECT_EQ(settings->table, 254u);
  EXPECT_EQ(settings->policy.max_loss_permille, 200u);
  EXPECT_EQ(settings->policy.when_all_down, AllDownPolicy::kKeep);
  EXPECT_EQ(settings->policy.failback_after, seconds(3));
  EXPECT_EQ(settings->policy.startup_grace, milliseconds(1500));
  EXPECT_EQ(settings->policy.stale_heartbeats, 4u);
  EXPECT_EQ(settings->policy.stale_floor, Duration::zero());
}

TEST(ValidateFailoverTest, StaleFloorChecked) {
  FailoverOptions options = ValidFailover();
  options.stale_floor = milliseconds(800);
  const auto settings = validate(options);
  ASSERT_TRUE(settings.has_value()) << settings.error().to_string();
  EXPECT_EQ(settings->policy.stale_floor, milliseconds(800));
  options.stale_floor = kMaxStaleFloor;
  EXPECT_TRUE(validate(options).has_value());
  options.stale_floor = kMaxStaleFloor + milliseconds(1);
  EXPECT_TRUE(FailoverFailsOn(options, "--stale-floor"));
  options.stale_floor = -milliseconds(1);
  EXPECT_TRUE(FailoverFailsOn(options, "--stale-floor"));
}

TEST(ValidateFailoverTest, IspsSortedByPreference) {
  FailoverOptions options;
  options.isp_specs = {"alpha=10.0.1.1,priority=50", "bravo=10.0.2.1",
                       "charlie=10.0.3.1,priority=10"};
  const auto settings = validate(options);
  ASSERT_TRUE(settings.has_value()) << settings.error().to_string();
  ASSERT_EQ(settings->isps.size(), 3u);
  EXPECT_EQ(settings->isps[0].name, "bravo");
  EXPECT_EQ(settings->isps[1].name, "charlie");
  EXPECT_EQ(settings->isps[2].name, "alpha");
}

TEST(ValidateFailoverTest, EqualPrioritiesKeepConfigurationOrder) {
  FailoverOptions options;
  options.isp_specs = {"zulu=10.0.1.1,priority=5", "alpha=10.0.2.1,priority=5"};
  const auto settings = validate(options);
  ASSERT_TRUE(settings.has_value()) << settings.error().to_string();
  ASSERT_EQ(settings->isps.size(), 2u);
  EXPECT_EQ(settings->isps[0].name, "zulu");
  EXPECT_EQ(settings->isps[1].name, "alpha");
}

TEST(ValidateFailoverTest, NoIsp) {
  FailoverOptions options = ValidFailover();
  options.isp_specs.clear();
  EXPECT_TRUE(FailoverFailsOn(options, "--isp"));
}

TEST(ValidateFailoverTest, MalformedIsp) {
  FailoverOptions options = ValidFailover();
  options.isp_specs.push_back("charlie");
  EXPECT_TRUE(FailoverFailsOn(options, "--isp"));
}

TEST(ValidateFailoverTest, DuplicateName) {
  FailoverOptions options = ValidFailover();
  options.isp_specs.push_back("alpha=10.0.3.1");
  EXPECT_TRUE(FailoverFailsOn(options, "--isp"));
}

TEST(ValidateFailoverTest, DuplicateGateway) {
  FailoverOptions options = ValidFailover();
  options.isp_specs.push_back("charlie=10.0.2.1");
  EXPECT_TRUE(FailoverFailsOn(options, "--isp"));
}

TEST(ValidateFailoverTest, MaxLossOutOfRange) {
  for (const double bad : {-0.1, -5.0, 100.1, 1000.0, std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::infinity()}) {
    FailoverOptions options = ValidFailover();
    options.max_loss_pct = bad;
    EXPECT_TRUE(FailoverFailsOn(options, "--max-loss")) << bad;
  }
  for (const double good : {0.0, 100.0}) {
    FailoverOptions options = ValidFailover();
    options.max_loss_pct = good;
    const auto settings = validate(options);
    ASSERT_TRUE(settings.has_value()) << good << ": " << settings.error().to_string();
    EXPECT_EQ(settings->policy.max_loss_permille, static_cast<std::uint32_t>(good * 10));
  }
}

TEST(ValidateFailoverTest, WhenAllDown) {
  FailoverOptions options = ValidFailover();
  options.when_all_down = "drop";
  EXPECT_TRUE(FailoverFailsOn(options, "--when-all-down"));
  options.when_all_down = "";
  EXPECT_TRUE(FailoverFailsOn(options, "--when-all-down"));
  options.when_all_down = "keep";
  const auto settings = validate(options);
  ASSERT_TRUE(settings.has_value());
  EXPECT_EQ(settings->policy.when_all_down, AllDownPolicy::kKeep);
}

TEST(ValidateFailoverTest, BadTable) {
  FailoverOptions options = ValidFailover();
  options.table = "nope";
  EXPECT_TRUE(FailoverFailsOn(options, "--table"));
  options.table = "default";
  const auto settings = validate(options);
  ASSERT_TRUE(settings.has_value());
  EXPECT_EQ(settings->table, 253u);
}

TEST(ValidateFailoverTest, BadReplaceGateway) {
  FailoverOptions options = ValidFailover();
  options.replace_gateways = {"192.168.0.254", "router"};
  EXPECT_TRUE(FailoverFailsOn(options, "--replace-gateway"));
}

TEST(ValidateFailoverTest, BadLogLevel) {
  FailoverOptions options = ValidFailover();
  options.log_level = "chatty";
  EXPECT_TRUE(FailoverFailsOn(options, "--log-level"));
}

TEST(ConfigErrorTest, ToStringJoinsOptionAndMessage) {
  const ConfigError error{"--quorum", "too high"};
  EXPECT_EQ(error.to_string(), "--quorum: too high");
}

TEST(MetricsFileTest, EmptyOrAbsoluteOnBothDaemons) {
  ProbedOptions probed = ValidProbed();
  EXPECT_FALSE(validate(probed).has_value());  // empty: none, the default
  probed.metrics_file = "/run/ispprobed/ispprobed.prom";
  EXPECT_FALSE(validate(probed).has_value());
  probed.metrics_file = "ispprobed.prom";
  EXPECT_TRUE(ProbedFailsOn(probed, "--metrics-file"));

  FailoverOptions failover = ValidFailover();
  EXPECT_TRUE(validate(failover).has_value());
  failover.metrics_file = "/run/failoverd/failoverd.prom";
  EXPECT_TRUE(validate(failover).has_value());
  failover.metrics_file = "run/failoverd.prom";
  EXPECT_TRUE(FailoverFailsOn(failover, "--metrics-file"));
}

TEST(HookOptionsTest, DirEmptyOrAbsoluteAndTimeoutPositive) {
  FailoverOptions failover = ValidFailover();
  EXPECT_EQ(failover.hook_dir, "/etc/ispfailover/hooks.d");
  EXPECT_EQ(failover.hook_timeout, std::chrono::seconds(10));
  failover.hook_dir = "";
  EXPECT_TRUE(validate(failover).has_value());
  failover.hook_dir = "hooks.d";
  EXPECT_TRUE(FailoverFailsOn(failover, "--hook-dir"));
  failover = ValidFailover();
  failover.hook_timeout = Duration::zero();
  EXPECT_TRUE(FailoverFailsOn(failover, "--hook-timeout"));
}

}  // namespace
}  // namespace ispf

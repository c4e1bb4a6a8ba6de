// Status datagram wire format v1: encode/decode round trips and the rejection table.
#include "ispfailover/core/status_message.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "ispfailover/core/auth.h"
#include "support/sample_status.h"

namespace ispf {
namespace {

using test::SampleStatus;

// A valid datagram written by hand; every field is required, so every proper prefix is invalid.
constexpr std::string_view kRequiredOnly =
    "ISPF 1\n"
    "name=isp1\n"
    "instance=9f86d081884c7d65\n"
    "seq=42\n"
    "time_ms=1795000000000\n"
    "state=up\n"
    "reason=probe-ok\n"
    "heartbeat_ms=300\n"
    "targets_up=2\n"
    "targets=2\n"
    "loss_pct=4.5\n"
    "window_ms=30000\n";

Result<Status, DecodeFailure> Decode(std::string_view text) {
  return decode(std::span<const char>(text.data(), text.size()));
}

// Replaces the line of `key` in kRequiredOnly with `replacement` (which ends with "\n" or is
// empty to drop the line).
std::string WithLine(std::string_view key, std::string_view replacement) {
  std::string text(kRequiredOnly);
  const std::string needle = "\n" + std::string(key) + "=";
  const std::size_t at = text.find(needle);
  if (at == std::string::npos) {
    ADD_FAILURE() << "no key " << key;
    return text;
  }
  const std::size_t end = text.find('\n', at + 1);
  text.replace(at + 1, end - at, replacement);
  return text;
}

std::string WithValue(std::string_view key, std::string_view value) {
  return WithLine(key, std::string(key) + "=" + std::string(value) + "\n");
}

testing::AssertionResult FailsWith(std::string_view text, DecodeError expected) {
  const auto result = Decode(text);
  if (result.has_value()) {
    return testing::AssertionFailure() << "accepted: \"" << text << "\"";
  }
  if (result.error().error != expected) {
    return testing::AssertionFailure()
           << "got " << to_string(result.error().error) << " (" << result.error().detail
           << "), want " << to_string(expected);
  }
  return testing::AssertionSuccess();
}

TEST(StatusMessageTest, HandWrittenDatagramDecodes) {
  const auto result = Decode(kRequiredOnly);
  ASSERT_TRUE(result.has_value()) << to_string(result.error().error);
  const Status& status = *result;
  EXPECT_EQ(status.name, "isp1");
  EXPECT_EQ(status.instance, 0x9f86d081884c7d65ULL);
  EXPECT_EQ(status.seq, 42u);
  EXPECT_EQ(status.time_ms, 1795000000000ULL);
  EXPECT_EQ(status.state, LinkState::kUp);
  EXPECT_EQ(status.reason, "probe-ok");
  EXPECT_EQ(status.heartbeat_ms, 300u);
  EXPECT_EQ(status.targets_up, 2u);
  EXPECT_EQ(status.targets, 2u);
  EXPECT_FALSE(status.rtt_last_us.has_value());
  EXPECT_FALSE(status.rtt_avg_us.has_value());
  EXPECT_EQ(status.loss_permille, 45u);
  EXPECT_EQ(status.window_ms, 30000u);
}

TEST(StatusMessageTest, EncodeStartsWithMagicAndEndsWithNewline) {
  const std::string text = encode(SampleStatus());
  ASSERT_GE(text.size(), 7u);
  EXPECT_EQ(text.substr(0, 7), "ISPF 1\n");
  EXPECT_EQ(text.back(), '\n');
  EXPECT_LE(text.size(), kMaxDatagramBytes);
}

TEST(StatusMessageTest, EncodeWritesLossWithOneDecimal) {
  Status status = SampleStatus();
  status.loss_permille = 45;
  EXPECT_NE(encode(status).find("\nloss_pct=4.5\n"), std::string::npos) << encode(status);
  status.loss_permille = 7;
  EXPECT_NE(encode(status).find("\nloss_pct=0.7\n"), std::string::npos) << encode(status);
}

TEST(StatusMessageTest, EncodeWritesInstanceAsSixteenLowerHexDigits) {
  Status status = SampleStatus();
  status.instance = 0xabcULL;
  EXPECT_NE(encode(status).find("\ninstance=0000000000000abc\n"), std::string::npos)
      << encode(status);
}

TEST(StatusMessageTest, EncodeWritesStateAndOmitsAbsentRtt) {
  Status status = SampleStatus();
  status.state = LinkState::kDown;
  status.rtt_last_us.reset();
  status.rtt_avg_us.reset();
  const std::string text = encode(status);
  EXPECT_NE(text.find("\nstate=down\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("rtt_last_us"), std::string::npos) << text;
  EXPECT_EQ(text.find("rtt_avg_us"), std::string::npos) << text;
}

TEST(StatusMessageTest, RoundTripFull) {
  const Status status = SampleStatus();
  const std::string text = encode(status);
  const auto decoded = Decode(text);
  ASSERT_TRUE(decoded.has_value()) << to_string(decoded.error().error) << " in " << text;
  EXPECT_EQ(*decoded, status);
}

TEST(StatusMessageTest, RoundTripAbsentRtt) {
  Status status = SampleStatus();
  status.rtt_last_us.reset();
  status.rtt_avg_us.reset();
  status.state = LinkState::kDown;
  status.reason = "starting";
  status.targets_up = 0;
  const auto decoded = Decode(encode(status));
  ASSERT_TRUE(decoded.has_value()) << to_string(decoded.error().error);
  EXPECT_EQ(*decoded, status);
  EXPECT_FALSE(decoded->rtt_last_us.has_value());
  EXPECT_FALSE(decoded->rtt_avg_us.has_value());
}

TEST(StatusMessageTest, RoundTripOnlyOneRtt) {
  Status status = SampleStatus();
  status.rtt_avg_us.reset();
  status.rtt_last_us = 0;
  const auto decoded = Decode(encode(status));
  ASSERT_TRUE(decoded.has_value()) << to_string(decoded.error().error);
  EXPECT_EQ(*decoded, status);
}

TEST(StatusMessageTest, RoundTripEveryLossValue) {
  Status status = SampleStatus();
  for (std::uint32_t permille = 0; permille <= 1000; ++permille) {
    status.loss_permille = permille;
    const auto decoded = Decode(encode(status));
    ASSERT_TRUE(decoded.has_value()) << permille << ": " << to_string(decoded.error().error);
    EXPECT_EQ(decoded->loss_permille, permille);
  }
}

// Every field at its maximum: the IPv4 part with every figure fits in a signed datagram, as
// before the IPv6 keys existed.
Status MaximumIpv4Status() {
  Status status;
  status.name = std::string(kMaxNameLength, 'Z');
  status.instance = std::numeric_limits<std::uint64_t>::max();
  status.seq = std::numeric_limits<std::uint64_t>::max();
  status.time_ms = std::numeric_limits<std::uint64_t>::max();
  status.state = LinkState::kUp;
  status.reason = std::string(32, 'r');
  status.heartbeat_ms = 3600000;  // the u32 maximum has its own test below
  status.targets_up = kMaxTargets;
  status.targets = kMaxTargets;
  status.rtt_last_us = std::numeric_limits<std::uint32_t>::max();
  status.rtt_avg_us = std::numeric_limits<std::uint32_t>::max();
  status.loss_permille = 1000;
  status.window_ms = std::numeric_limits<std::uint32_t>::max();
  status.epoch = std::numeric_limits<std::uint64_t>::max();
  status.dns.assign(kMaxDnsServers, 0xfffffff0u);
  for (std::size_t i = 0; i < status.dns.size(); ++i)
    status.dns[i] += static_cast<std::uint32_t>(i);
  return status;
}

TEST(StatusMessageTest, RoundTripMaximumValues) {
  const Status status = MaximumIpv4Status();
  const std::string text = encode(status, kMaxSignedBodyBytes);
  EXPECT_LE(sign_datagram(text, "key").size(), kMaxDatagramBytes);
  const auto decoded = Decode(text);
  ASSERT_TRUE(decoded.has_value()) << to_string(decoded.error().error) << " in " << text;
  EXPECT_EQ(*decoded, status);
}

// With the IPv6 keys at their maximum too the datagram would not fit: the figures go first, then
// the IPv6 part, and the IPv4 verdict always gets through.
TEST(StatusMessageTest, OverBudgetDropsFiguresThenIpv6NeverTheIpv4Verdict) {
  Status status = MaximumIpv4Status();
  status.ipv6 = Status::Ipv6Line{LinkState::kDown,
                                 std::string(32, 's'),
                                 kMaxTargets,
                                 kMaxTargets,
                                 std::numeric_limits<std::uint32_t>::max(),
                                 1000};
  status.prefix6 = parse_ipv6_prefix("2001:db8:ffff:ffff:ffff:ffff:ffff:fff0/124");
  ASSERT_TRUE(status.prefix6);
  for (const char* resolver :
       {"2001:db8:ffff:ffff:ffff:ffff:ffff:fff1", "2001:db8:ffff:ffff:ffff:ffff:ffff:fff2",
        "2001:db8:ffff:ffff:ffff:ffff:ffff:fff3"}) {
    status.dns6.push_back(*parse_ipv6(resolver));
  }
  const std::string text = encode(status, kMaxSignedBodyBytes);
  EXPECT_LE(sign_datagram(text, "key").size(), kMaxDatagramBytes);
  const auto decoded = Decode(text);
  ASSERT_TRUE(decoded.has_value()) << to_string(decoded.error().error);
  EXPECT_EQ(decoded->state, status.state);
  EXPECT_EQ(decoded->reason, status.reason);
  EXPECT_EQ(decoded->dns, status.dns);
  EXPECT_EQ(decoded->epoch, status.epoch);
  EXPECT_FALSE(decoded->rtt_last_us);
  EXPECT_FALSE(decoded->ipv6);
  EXPECT_TRUE(decoded->dns6.empty()) << "dns6= goes with the IPv6 part";

  // A realistic dual-stack router (a 16-byte name, reasons of our own, today's numbers, four
  // IPv4 resolvers or two of each family, the longest prefix text) keeps every key, signed.
  Status real = status;
  real.name = "branch-office-01";
  real.reason = "probe-loss";
  real.ipv6->reason = "unreachable";
  real.seq = 99'999'999'999;
  real.time_ms = 9'999'999'999'999;
  real.epoch = 9'999'999'999;
  real.rtt_last_us = real.rtt_avg_us = real.ipv6->rtt_avg_us = 9'999'999;
  real.window_ms = 300'000;
  real.dns6.clear();
  const std::string full = encode(real, kMaxSignedBodyBytes);
  EXPECT_LE(sign_datagram(full, "key").size(), kMaxDatagramBytes);
  const auto all = Decode(full);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(*all, real);

  real.dns = {0x08080808u, 0x08080404u};
  real.dns6 = {*parse_ipv6("2001:4860:4860::8888"), *parse_ipv6("2001:4860:4860::8844")};
  const std::string both = encode(real, kMaxSignedBodyBytes);
  EXPECT_LE(sign_datagram(both, "key").size(), kMaxDatagramBytes);
  const auto all_both = Decode(both);
  ASSERT_TRUE(all_both.has_value());
  EXPECT_EQ(*all_both, real) << both.size() << " bytes: " << both;
}

// The grammar allows any unsigned decimal for heartbeat_ms; only 0 is out of range.
// The grammar bounds heartbeat_ms to 1..3600000: a promise of silence longer than an hour
// would let a dead router look alive for hours.
TEST(StatusMessageTest, HeartbeatIsBoundedToAnHour) {
  Status status = SampleStatus();
  status.heartbeat_ms = 3'600'000;
  const auto decoded = Decode(encode(status));
  ASSERT_TRUE(decoded.has_value()) << to_string(decoded.error().error);
  EXPECT_EQ(*decoded, status);
  const auto too_long = Decode(WithValue("heartbeat_ms", "3600001"));
  ASSERT_FALSE(too_long.has_value());
  EXPECT_EQ(too_long.error().error, DecodeError::kOutOfRange);
}

TEST(StatusMessageTest, RoundTripMinimumValues) {
  Status status;
  status.name = "a";
  status.instance = 0;
  status.seq = 0;
  status.time_ms = 0;
  status.state = LinkState::kDown;
  status.reason = "x";
  status.heartbeat_ms = 1;
  status.targets_up = 0;
  status.targets = 1;
  status.loss_permille = 0;
  status.window_ms = 0;
  const auto decoded = Decode(encode(status));
  ASSERT_TRUE(decoded.has_value()) << to_string(decoded.error().error);
  EXPECT_EQ(*decoded, status);
}

TEST(StatusMessageTest, FieldsInAnyOrder) {
  const std::string text =
      "ISPF 1\n"
      "window_ms=30000\n"
      "loss_pct=0.0\n"
      "targets=1\n"
      "targets_up=1\n"
      "heartbeat_ms=300\n"
      "reason=probe-ok\n"
      "state=up\n"
      "time_ms=5\n"
      "seq=0\n"
      "instance=0123456789abcdef\n"
      "name=isp-2.b_c\n";
  const auto decoded = Decode(text);
  ASSERT_TRUE(decoded.has_value()) << to_string(decoded.error().error);
  EXPECT_EQ(decoded->name, "isp-2.b_c");
  EXPECT_EQ(decoded->instance, 0x0123456789abcdefULL);
  EXPECT_EQ(decoded->seq, 0u);
}

TEST(StatusMessageTest, RttFieldsDecoded) {
  const auto decoded = Decode(std::string(kRequiredOnly) + "rtt_last_us=11800\nrtt_avg_us=0\n");
  ASSERT_TRUE(decoded.has_value()) << to_string(decoded.error().error);
  EXPECT_EQ(decoded->rtt_last_us, std::optional<std::uint32_t>(11800));
  EXPECT_EQ(decoded->rtt_avg_us, std::optional<std::uint32_t>(0));
}

TEST(StatusMessageTest, LossWithoutDecimalAccepted) {
  const auto decoded = Decode(WithValue("loss_pct", "4"));
  ASSERT_TRUE(decoded.has_value()) << to_string(decoded.error().error);
  EXPECT_EQ(decoded->loss_permille, 40u);
  const auto full = Decode(WithValue("loss_pct", "100"));
  ASSERT_TRUE(full.has_value()) << to_string(full.error().error);
  EXPECT_EQ(full->loss_permille, 1000u);
  const auto small = Decode(WithValue("loss_pct", "0.1"));
  ASSERT_TRUE(small.has_value()) << to_string(small.error().error);
  EXPECT_EQ(small->loss_permille, 1u);
}

TEST(StatusMessageTest, StateDownDecoded) {
  const auto decoded = Decode(WithValue("state", "down"));
  ASSERT_TRUE(decoded.has_value()) << to_string(decoded.error().error);
  EXPECT_EQ(decoded->state, LinkState::kDown);
}

TEST(StatusMessageTest, UnknownKeysIgnored) {
  const std::string text = std::string(kRequiredOnly) + "future_key=whatever\nx=\nk9_=a=b\n";
  const auto decoded = Decode(text);
  ASSERT_TRUE(decoded.has_value()) << to_string(decoded.error().error);
  const auto plain = Decode(kRequiredOnly);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(*decoded, *plain);
}

TEST(StatusMessageTest, HmacKeyIgnored) {
  const std::string text =
      "ISPF 1\nhmac=0123456789abcdef0123456789abcdef\n" + std::string(kRequiredOnly.substr(7));
  const auto decoded = Decode(text);
  ASSERT_TRUE(decoded.has_value()) << to_string(decoded.error().error);
  const auto plain = Decode(kRequiredOnly);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(*decoded, *plain);
}

TEST(StatusMessageTest, ExactlyMaxBytesAccepted) {
  std::string text(kRequiredOnly);
  const std::string prefix = "padding=";
  const std::size_t fill = kMaxDatagramBytes - text.size() - prefix.size() - 1;
  text += prefix + std::string(fill, 'p') + "\n";
  ASSERT_EQ(text.size(), kMaxDatagramBytes);
  const auto decoded = Decode(text);
  EXPECT_TRUE(decoded.has_value()) << to_string(decoded.error().error);
}

TEST(StatusMessageTest, OversizeRejected) {
  std::string text(kRequiredOnly);
  const std::string prefix = "padding=";
  const std::size_t fill = kMaxDatagramBytes + 1 - text.size() - prefix.size() - 1;
  text += prefix + std::string(fill, 'p') + "\n";
  ASSERT_EQ(text.size(), kMaxDatagramBytes + 1);
  EXPECT_TRUE(FailsWith(text, DecodeError::kOversize));
  EXPECT_TRUE(FailsWith(std::string(4096, 'a'), DecodeError::kOversize));
}

TEST(StatusMessageTest, EmptyRejected) {
  EXPECT_TRUE(FailsWith("", DecodeError::kEmpty));
  EXPECT_FALSE(decode(std::span<const char>()).has_value());
}

TEST(StatusMessageTest, WrongMagicRejected) {
  EXPECT_TRUE(FailsWith("XSPF 1" + std::string(kRequiredOnly.substr(6)), DecodeError::kBadMagic));
  EXPECT_TRUE(FailsWith("ispf 1" + std::string(kRequiredOnly.substr(6)), DecodeError::kBadMagic));
  EXPECT_TRUE(FailsWith("HELLO\nname=isp1\n", DecodeError::kBadMagic));
}

TEST(StatusMessageTest, WrongVersionRejected) {
  EXPECT_TRUE(FailsWith("ISPF 2" + std::string(kRequiredOnly.substr(6)), DecodeError::kBadVersion));
  EXPECT_TRUE(FailsWith("ISPF 0" + std::string(kRequiredOnly.substr(6)), DecodeError::kBadVersion));
  EXPECT_TRUE(
      FailsWith("ISPF 10" + std::string(kRequiredOnly.substr(6)), DecodeError::kBadVersion));
}

TEST(StatusMessageTest, FirstLineMustBeExactlyTheMagicLine) {
  for (const std::string first : {"ISPF 1 ", "ISPF  1", " ISPF 1", "ISPF1", "ISPF 1x"}) {
    EXPECT_FALSE(Decode(first + std::string(kRequiredOnly.substr(6))).has_value()) << first;
  }
}

TEST(StatusMessageTest, MissingEachRequiredKeyRejected) {
  for (const char* key : {"name", "instance", "seq", "state", "reason", "heartbeat_ms",
                          "targets_up", "targets", "loss_pct", "window_ms", "time_ms"}) {
    const std::string text = WithLine(key, "");
    ASSERT_EQ(text.find(std::string("\n") + key + "="), std::string::npos);
    const auto result = Decode(text);
    ASSERT_FALSE(result.has_value()) << key;
    EXPECT_EQ(result.error().error, DecodeError::kMissingKey) << key;
    EXPECT_NE(result.error().detail.find(key), std::string::npos)
        << key << " not in detail \"" << result.error().detail << "\"";
  }
}

TEST(StatusMessageTest, MagicLineAloneIsMissingKeys) {
  EXPECT_TRUE(FailsWith("ISPF 1\n", DecodeError::kMissingKey));
}

TEST(StatusMessageTest, DuplicateKeyRejected) {
  EXPECT_TRUE(FailsWith(std::string(kRequiredOnly) + "name=isp1\n", DecodeError::kDuplicateKey));
  EXPECT_TRUE(FailsWith(std::string(kRequiredOnly) + "seq=43\n", DecodeError::kDuplicateKey));
  EXPECT_TRUE(FailsWith(std::string(kRequiredOnly) + "rtt_avg_us=1\nrtt_avg_us=1\n",
                        DecodeError::kDuplicateKey));
}

TEST(StatusMessageTest, DuplicateUnknownOrHmacKeyRejected) {
  EXPECT_TRUE(
      FailsWith(std::string(kRequiredOnly) + "extra=1\nextra=2\n", DecodeError::kDuplicateKey));
  EXPECT_TRUE(
      FailsWith(std::string(kRequiredOnly) + "hmac=aa\nhmac=aa\n", DecodeError::kDuplicateKey));
}

TEST(StatusMessageTest, OutOfRangeNumbersRejected) {
  struct Case {
    const char* key;
    const char* value;
  };
  const std::vector<Case> cases = {
      {"heartbeat_ms", "4294967296"},
      {"heartbeat_ms", "0"},
      {"window_ms", "4294967296"},
      {"targets_up", "4294967296"},
      {"targets", "4294967296"},
      {"targets", "17"},
      {"targets", "0"},
      {"targets_up", "3"},
      {"loss_pct", "100.1"},
      {"loss_pct", "101"},
      {"loss_pct", "1000"},
  };
  for (const Case& c : cases) {
    EXPECT_TRUE(FailsWith(WithValue(c.key, c.value), DecodeError::kOutOfRange))
        << c.key << "=" << c.value;
  }
  EXPECT_TRUE(
      FailsWith(std::string(kRequiredOnly) + "rtt_last_us=4294967296\n", DecodeError::kOutOfRange));
  EXPECT_TRUE(
      FailsWith(std::string(kRequiredOnly) + "rtt_avg_us=4294967296\n", DecodeError::kOutOfRange));
}

// A well-formed decimal too large for its field is out of range, not a bad number.
TEST(StatusMessageTest, HugeNumbersAreOutOfRange) {
  EXPECT_TRUE(FailsWith(WithValue("seq", "18446744073709551616"), DecodeError::kOutOfRange));
  EXPECT_TRUE(FailsWith(WithValue("time_ms", "18446744073709551616"), DecodeError::kOutOfRange));
  EXPECT_TRUE(
      FailsWith(WithValue("window_ms", "99999999999999999999999"), DecodeError::kOutOfRange));
}

TEST(StatusMessageTest, LimitValuesAccepted) {
  EXPECT_TRUE(Decode(WithValue("heartbeat_ms", "1")).has_value());
  EXPECT_TRUE(Decode(WithValue("window_ms", "4294967295")).has_value());
  EXPECT_TRUE(Decode(WithValue("seq", "18446744073709551615")).has_value());
  EXPECT_TRUE(Decode(WithValue("loss_pct", "100.0")).has_value());
  EXPECT_TRUE(Decode(WithValue("loss_pct", "0")).has_value());
  EXPECT_TRUE(Decode(WithValue("targets_up", "0")).has_value());
  EXPECT_TRUE(Decode(WithValue("targets", "16")).has_value());
  EXPECT_TRUE(Decode(WithValue("window_ms", "0")).has_value());
}

TEST(StatusMessageTest, BadNumberSyntaxRejected) {
  for (const char* value : {"+1", "-1", "007", "00", "01", "", "1a", "0x10", "1.0", "1e3", "１"}) {
    EXPECT_TRUE(FailsWith(WithValue("seq", value), DecodeError::kBadNumber) ||
                FailsWith(WithValue("seq", value), DecodeError::kNotPrintable))
        << "seq=" << value;
  }
  for (const char* value : {"+1", "-1", "007", "", "3x"}) {
    EXPECT_TRUE(FailsWith(WithValue("heartbeat_ms", value), DecodeError::kBadNumber))
        << "heartbeat_ms=" << value;
  }
  for (const char* value : {"+1", "-5", "01", "007"}) {
    EXPECT_TRUE(FailsWith(WithValue("targets", value), DecodeError::kBadNumber))
        << "targets=" << value;
  }
}

TEST(StatusMessageTest, SpacesInNumbersRejected) {
  for (const char* value : {" 1", "1 ", "1 2"}) {
    EXPECT_FALSE(Decode(WithValue("seq", value)).has_value()) << "seq=" << value;
  }
  EXPECT_FALSE(Decode(WithLine("seq", "seq =42\n")).has_value());
}

TEST(StatusMessageTest, BadLossSyntaxRejected) {
  for (const char* value :
       {"4.55", "4.", ".5", "04.5", "00.5", "+4.5", "-4.5", "4,5", "", "x", "4.5.1", "1e1"}) {
    EXPECT_TRUE(FailsWith(WithValue("loss_pct", value), DecodeError::kBadNumber))
        << "loss_pct=" << value;
  }
}

TEST(StatusMessageTest, InstanceMustBeSixteenLowerHexDigits) {
  for (const char* value :
       {"9F86D081884C7D65", "9f86d081884c7d6", "9f86d081884c7d655", "", "9f86d081884c7d6g",
        "+f86d081884c7d65", "0x86d081884c7d65", "9f86d081 84c7d65"}) {
    const auto result = Decode(WithValue("instance", value));
    ASSERT_FALSE(result.has_value()) << "instance=" << value;
    EXPECT_TRUE(result.error().error == DecodeError::kBadNumber ||
                result.error().error == DecodeError::kOutOfRange ||
                result.error().error == DecodeError::kMalformedLine)
        << "instance=" << value << ": " << to_string(result.error().error);
  }
  const auto zero = Decode(WithValue("instance", "0000000000000000"));
  ASSERT_TRUE(zero.has_value());
  EXPECT_EQ(zero->instance, 0u);
}

TEST(StatusMessageTest, NonPrintableBytesRejected) {
  const std::string base(kRequiredOnly);
  for (const char bad : {'\0', '\r', '\t', '\x01', '\x7f', '\x80', '\xc3', '\xff'}) {
    std::string text = base;
    text.insert(text.find("isp1") + 2, 1, bad);  // inside the name value
    EXPECT_TRUE(FailsWith(text, DecodeError::kNotPrintable)) << static_cast<int>(bad);
    std::string in_unknown = base + "extra=a";
    in_unknown += bad;
    in_unknown += "b\n";
    EXPECT_TRUE(FailsWith(in_unknown, DecodeError::kNotPrintable)) << static_cast<int>(bad);
  }
  std::string crlf = base;
  crlf.insert(crlf.find('\n'), 1, '\r');  // "ISPF 1\r\n"
  EXPECT_TRUE(FailsWith(crlf, DecodeError::kNotPrintable));
}

TEST(StatusMessageTest, LastLineWithoutLineFeedRejected) {
  std::string text(kRequiredOnly);
  text.pop_back();
  EXPECT_TRUE(FailsWith(text, DecodeError::kTruncated));
  EXPECT_TRUE(FailsWith(std::string(kRequiredOnly) + "extra=1", DecodeError::kTruncated));
}

TEST(StatusMessageTest, EveryPrefixOfValidDatagramRejected) {
  const std::string text(kRequiredOnly);
  ASSERT_TRUE(Decode(text).has_value());
  for (std::size_t length = 0; length < text.size(); ++length) {
    // A copy of exactly `length` bytes, so that any read past the end is caught by ASan.
    const std::vector<char> prefix(text.begin(), text.begin() + length);
    const auto result = decode(std::span<const char>(prefix.data(), prefix.size()));
    ASSERT_FALSE(result.has_value()) << "length " << length;
    if (length > 7 && text[length - 1] != '\n') {
      EXPECT_EQ(result.error().error, DecodeError::kTruncated)
          << "length " << length << ": " << to_string(result.error().error);
    } else if (length > 7) {
      EXPECT_EQ(result.error().error, DecodeError::kMissingKey)
          << "length " << length << ": " << to_string(result.error().error);
    }
  }
}

TEST(StatusMessageTest, EveryPrefixOfEncodedDatagramHandled) {
  const std::string text = encode(SampleStatus());
  for (std::size_t length = 0; length < text.size(); ++length) {
    const std::vector<char> prefix(text.begin(), text.begin() + length);
    const auto result = decode(std::span<const char>(prefix.data(), prefix.size()));
    if (length == 0 || text[length - 1] != '\n') {
      EXPECT_FALSE(result.has_value()) << "length " << length;
    }
  }
}

TEST(StatusMessageTest, BadStateRejected) {
  for (const char* value : {"UP", "Up", "unknown", "", "upp", "down ", "1"}) {
    const auto result = Decode(WithValue("state", value));
    ASSERT_FALSE(result.has_value()) << "state=" << value;
    if (std::string_view(value).find(' ') == std::string_view::npos) {
      EXPECT_EQ(result.error().error, DecodeError::kBadState)
          << "state=" << value << ": " << to_string(result.error().error);
    }
  }
}

TEST(StatusMessageTest, BadNameRejected) {
  for (const std::string& value :
       {std::string(""), std::string("isp/1"), std::string("isp:1"), std::string("isp@home"),
        std::string("\"isp\""), std::string(kMaxNameLength + 1, 'a'), std::string("is=p")}) {
    EXPECT_TRUE(FailsWith(WithValue("name", value), DecodeError::kBadName)) << "name=" << value;
  }
  EXPECT_TRUE(Decode(WithValue("name", std::string(kMaxNameLength, 'a'))).has_value());
}

TEST(StatusMessageTest, BadReasonRejected) {
  for (const std::string& value :
       {std::string(""), std::string("Probe-ok"), std::string("probe_ok"), std::string("probe.ok"),
        std::string(33, 'a')}) {
    EXPECT_TRUE(FailsWith(WithValue("reason", value), DecodeError::kBadReason))
        << "reason=" << value;
  }
  EXPECT_TRUE(Decode(WithValue("reason", std::string(32, 'a'))).has_value());
  EXPECT_TRUE(Decode(WithValue("reason", "some-new-reason-2")).has_value());
}

TEST(StatusMessageTest, MalformedLinesRejected) {
  const std::string body(kRequiredOnly);
  for (const char* line :
       {"noequals\n", "=value\n", "Name=isp2\n", "bad-key=1\n", "\n", "key with space=1\n"}) {
    EXPECT_TRUE(FailsWith(body + line, DecodeError::kMalformedLine)) << line;
  }
  // An empty line between fields is malformed too.
  EXPECT_TRUE(FailsWith("ISPF 1\n\n" + body.substr(7), DecodeError::kMalformedLine));
}

TEST(StatusMessageTest, ValueWithSpaceRejected) {
  EXPECT_FALSE(Decode(WithValue("reason", "probe ok")).has_value());
  EXPECT_FALSE(Decode(std::string(kRequiredOnly) + "extra=a b\n").has_value());
}

TEST(StatusMessageTest, NameValidation) {
  EXPECT_TRUE(is_valid_isp_name("isp1"));
  EXPECT_TRUE(is_valid_isp_name("A.b-c_9"));
  EXPECT_TRUE(is_valid_isp_name(std::string(kMaxNameLength, 'x')));
  EXPECT_FALSE(is_valid_isp_name(""));
  EXPECT_FALSE(is_valid_isp_name(std::string(kMaxNameLength + 1, 'x')));
  EXPECT_FALSE(is_valid_isp_name("isp 1"));
  EXPECT_FALSE(is_valid_isp_name("isp/1"));
  EXPECT_FALSE(is_valid_isp_name("isp=1"));
  EXPECT_FALSE(is_valid_isp_name("isp\n"));
  EXPECT_FALSE(is_valid_isp_name("\xc3\xa9t\xc3\xa9"));
}

TEST(StatusMessageTest, ReasonValidation) {
  EXPECT_TRUE(is_valid_reason("probe-ok"));
  EXPECT_TRUE(is_valid_reason("no-route"));
  EXPECT_TRUE(is_valid_reason("a"));
  EXPECT_TRUE(is_valid_reason(std::string(32, 'a')));
  EXPECT_FALSE(is_valid_reason(""));
  EXPECT_FALSE(is_valid_reason(std::string(33, 'a')));
  EXPECT_FALSE(is_valid_reason("Probe-ok"));
  EXPECT_FALSE(is_valid_reason("probe_ok"));
  EXPECT_FALSE(is_valid_reason("probe ok"));
}

TEST(StatusMessageTest, ErrorTokensAreStableAndDistinct) {
  EXPECT_EQ(to_string(DecodeError::kDuplicateKey), "duplicate-key");
  EXPECT_EQ(to_string(LinkState::kUp), "up");
  EXPECT_EQ(to_string(LinkState::kDown), "down");
  const std::vector<DecodeError> all = {
      DecodeError::kEmpty,         DecodeError::kOversize,     DecodeError::kNotPrintable,
      DecodeError::kBadMagic,      DecodeError::kBadVersion,   DecodeError::kTruncated,
      DecodeError::kMalformedLine, DecodeError::kDuplicateKey, DecodeError::kMissingKey,
      DecodeError::kBadNumber,     DecodeError::kOutOfRange,   DecodeError::kBadName,
      DecodeError::kBadState,      DecodeError::kBadReason};
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_FALSE(to_string(all[i]).empty()) << i;
    for (std::size_t j = i + 1; j < all.size(); ++j) {
      EXPECT_NE(to_string(all[i]), to_string(all[j])) << i << " vs " << j;
    }
  }
}

TEST(StatusMessageTest, DetailIsPrintable) {
  std::string text(kRequiredOnly);
  text += "bad\x01key\n";
  const auto result = Decode(text);
  ASSERT_FALSE(result.has_value());
  for (const char c : result.error().detail) {
    EXPECT_TRUE(c >= 0x20 && c <= 0x7e) << static_cast<int>(static_cast<unsigned char>(c));
  }
}

}  // namespace
}  // namespace ispf

namespace ispf {
namespace {

TEST(StatusMessageDnsTest, RoundTripWithResolvers) {
  Status status = SampleStatus();
  status.dns = {0xc0a83865u, 0x0a000001u};  // 192.168.56.101, 10.0.0.1
  const std::string text = encode(status);
  EXPECT_NE(text.find("\ndns=192.168.56.101,10.0.0.1\n"), std::string::npos) << text;
  const auto decoded = Decode(text);
  ASSERT_TRUE(decoded.has_value()) << to_string(decoded.error().error);
  EXPECT_EQ(*decoded, status);
}

TEST(StatusMessageDnsTest, NoResolversNoKey) {
  const std::string text = encode(SampleStatus());
  EXPECT_EQ(text.find("dns="), std::string::npos) << text;
  const auto decoded = Decode(kRequiredOnly);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_TRUE(decoded->dns.empty());
  EXPECT_FALSE(decoded->dns_refused);
}

TEST(StatusMessageDnsTest, SingleAndMaximumListsAccepted) {
  auto one = Decode(std::string(kRequiredOnly) + "dns=192.168.56.101\n");
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->dns, std::vector<std::uint32_t>{0xc0a83865u});
  auto four = Decode(std::string(kRequiredOnly) + "dns=1.1.1.1,0.0.0.0,255.255.255.255,10.0.0.1\n");
  ASSERT_TRUE(four.has_value());
  EXPECT_EQ(four->dns.size(), 4u);
  EXPECT_FALSE(four->dns_refused);
}

// A bad dns= refuses that key only: the report still counts (a later sender may put IPv6
// resolvers there), and the receiver sees no resolvers plus the refusal.
TEST(StatusMessageDnsTest, BadListRefusesOnlyTheKey) {
  for (std::string_view bad :
       {"", ",", "1.1.1.1,", ",1.1.1.1", "1.1.1", "1.1.1.1.1", "256.1.1.1", "01.1.1.1", "1.1.1.a",
        "-1.1.1.1", "1.1.1.1,1.1.1.1", "1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4,5.5.5.5", "2001:db8::1",
        "1.1.1.1,2001:db8::1", "1..1.1", "99999999999999999999.1.1.1"}) {
    const auto decoded = Decode(std::string(kRequiredOnly) + "dns=" + std::string(bad) + "\n");
    ASSERT_TRUE(decoded.has_value()) << bad << ": " << to_string(decoded.error().error);
    EXPECT_TRUE(decoded->dns.empty()) << bad;
    EXPECT_TRUE(decoded->dns_refused) << bad;
    EXPECT_EQ(decoded->name, "isp1");
  }
}

TEST(StatusMessageDnsTest, Dns6RoundTripsAndIsAKeyOfItsOwn) {
  Status status = SampleStatus();
  status.dns = {0xc0a83865u};
  status.dns6 = {*parse_ipv6("2001:db8:1::53"), *parse_ipv6("fd56:1::101")};
  const std::string text = encode(status);
  EXPECT_NE(text.find("\ndns=192.168.56.101\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\ndns6=2001:db8:1::53,fd56:1::101\n"), std::string::npos) << text;
  const auto decoded = Decode(text);
  ASSERT_TRUE(decoded.has_value()) << to_string(decoded.error().error);
  EXPECT_EQ(*decoded, status);
  auto three = Decode(std::string(kRequiredOnly) + "dns6=2001:db8::1,2001:db8::2,2001:DB8::3\n");
  ASSERT_TRUE(three.has_value());
  EXPECT_EQ(three->dns6.size(), 3u);
  EXPECT_FALSE(three->dns6_refused);
}

// A bad dns6= refuses that key only; dns= and the verdict stand.
TEST(StatusMessageDnsTest, BadDns6ListRefusesOnlyTheKey) {
  for (std::string_view bad :
       {"", ",", "2001:db8::1,", "1.1.1.1", "fe80::1", "fe80::1%lan0", "ff02::1", "::1",
        "::", "::ffff:1.2.3.4", "2001:db8::1,2001:db8::1",
        "2001:db8::1,2001:db8::2,2001:db8::3,2001:db8::4", "[2001:db8::1]", "2001:db8::g"}) {
    const auto decoded =
        Decode(std::string(kRequiredOnly) + "dns=1.1.1.1\ndns6=" + std::string(bad) + "\n");
    ASSERT_TRUE(decoded.has_value()) << bad << ": " << to_string(decoded.error().error);
    EXPECT_TRUE(decoded->dns6.empty()) << bad;
    EXPECT_TRUE(decoded->dns6_refused) << bad;
    EXPECT_EQ(decoded->dns, std::vector<std::uint32_t>{0x01010101u}) << bad;
    EXPECT_FALSE(decoded->dns_refused) << bad;
  }
}

TEST(StatusMessageDnsTest, DuplicateDnsKeyRejected) {
  EXPECT_TRUE(FailsWith(std::string(kRequiredOnly) + "dns=1.1.1.1\ndns=2.2.2.2\n",
                        DecodeError::kDuplicateKey));
}

}  // namespace
}  // namespace ispf

namespace ispf {
namespace {

// What ispprobed sends when it probes IPv6 targets and announces its LAN prefix.
Status DualStackStatus() {
  Status status = SampleStatus();
  status.ipv6 = Status::Ipv6Line{LinkState::kUp, "probe-ok", 1, 2, 12000, 45};
  status.prefix6 = parse_ipv6_prefix("2001:db8:1:1::/64");
  return status;
}

TEST(StatusMessageIpv6Test, RoundTrip) {
  const Status status = DualStackStatus();
  const std::string text = encode(status);
  for (std::string_view line :
       {"\nipv6=up,probe-ok,1/2,4.5,12000\n", "\nprefix6=2001:db8:1:1::/64\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << " in " << text;
  }
  const auto decoded = Decode(text);
  ASSERT_TRUE(decoded.has_value()) << to_string(decoded.error().error);
  EXPECT_EQ(*decoded, status);
  EXPECT_FALSE(decoded->ipv6_refused);
}

TEST(StatusMessageIpv6Test, IPv4OnlySenderHasNoIpv6Keys) {
  const std::string text = encode(SampleStatus());
  EXPECT_EQ(text.find("6="), std::string::npos) << text;
  const auto decoded = Decode(kRequiredOnly);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_FALSE(decoded->ipv6);
  EXPECT_FALSE(decoded->prefix6);
  EXPECT_FALSE(decoded->ipv6_refused);
}

// The prefix alone is fine: a router that does not probe IPv6 may still say what it routes.
TEST(StatusMessageIpv6Test, PrefixWithoutIpv6Line) {
  const auto decoded = Decode(std::string(kRequiredOnly) + "prefix6=2001:db8:2:1::/64\n");
  ASSERT_TRUE(decoded.has_value());
  EXPECT_FALSE(decoded->ipv6);
  ASSERT_TRUE(decoded->prefix6);
  EXPECT_EQ(format_ipv6_prefix(*decoded->prefix6), "2001:db8:2:1::/64");
}

// Each IPv6 key wrong, or the group incomplete: the IPv6 part is refused as a whole, the
// datagram still counts for IPv4 (a later sender must not lose its older peers' IPv4 failover).
TEST(StatusMessageIpv6Test, BadIpv6KeysRefuseOnlyTheIpv6Part) {
  const std::string good = "ipv6=up,probe-ok,1/2,0\n";
  const std::vector<std::string> bad = {
      "ipv6=maybe,probe-ok,1/2,0\n",
      "ipv6=up,Probe_OK,1/2,0\n",
      "ipv6=up,probe-ok,3/2,0\n",
      "ipv6=up,probe-ok,0/0,0\n",
      "ipv6=up,probe-ok,1/17,0\n",
      "ipv6=up,probe-ok,12,0\n",
      "ipv6=up,probe-ok,1/2,100.1\n",
      "ipv6=up,probe-ok,1/2,0,-1\n",
      "ipv6=up,probe-ok,1/2,0,1,2\n",
      "ipv6=up,probe-ok,1/2\n",
      "ipv6=up,probe-ok,1/2,0,\n",
      "ipv6=\n",
      "ipv6=,,,\n",
      good + "prefix6=2001:db8:1:1::1/64\n",  // host bits
      good + "prefix6=2001:db8:1:1::/129\n",
      good + "prefix6=2001:db8::/7\n",  // wider than one LAN
      good + "prefix6=ff00::/8\n",
      good + "prefix6=fe80::/64\n",  // link-local: ispprobed's --prefix6 refuses it too
      good + "prefix6=192.0.2.0/24\n",
      good + "prefix6=2001:db8:1:1::\n",
  };
  for (const auto& keys : bad) {
    const auto decoded = Decode(std::string(kRequiredOnly) + keys);
    ASSERT_TRUE(decoded.has_value()) << keys << ": " << to_string(decoded.error().error);
    EXPECT_TRUE(decoded->ipv6_refused) << keys;
    EXPECT_FALSE(decoded->ipv6) << keys;
    EXPECT_FALSE(decoded->prefix6) << keys;
    EXPECT_EQ(decoded->state, LinkState::kUp) << keys;
  }
  const auto decoded = Decode(std::string(kRequiredOnly) + good);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_FALSE(decoded->ipv6_refused);
  ASSERT_TRUE(decoded->ipv6);
  EXPECT_EQ(decoded->ipv6->state, LinkState::kUp);
  EXPECT_FALSE(decoded->ipv6->rtt_avg_us);
}

TEST(StatusMessageIpv6Test, DuplicateIpv6KeyRejectsTheDatagram) {
  // A key twice is malformed whatever the key: a tag check must never see two readings.
  EXPECT_TRUE(FailsWith(std::string(kRequiredOnly) + "ipv6=up,a,1/1,0\nipv6=down,a,0/1,0\n",
                        DecodeError::kDuplicateKey));
  EXPECT_TRUE(
      FailsWith(std::string(kRequiredOnly) + "prefix6=2001:db8:1::/48\nprefix6=2001:db8:2::/48\n",
                DecodeError::kDuplicateKey));
}

// An older failoverd saw these keys as unknown; a signed dual-stack datagram still verifies.
TEST(StatusMessageIpv6Test, SignedDualStackDatagramVerifies) {
  const std::string signed_text = sign_datagram(encode(DualStackStatus()), "key");
  EXPECT_LE(signed_text.size(), kMaxDatagramBytes);
  const auto verified =
      verify_datagram(std::span<const char>(signed_text.data(), signed_text.size()), {"key"});
  EXPECT_TRUE(verified.has_value());
  const auto decoded = Decode(signed_text);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->prefix6, DualStackStatus().prefix6);
}

}  // namespace
}  // namespace ispf

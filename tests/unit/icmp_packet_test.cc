// ICMP(v6) echo encoding, the Internet checksum and parsing of what raw ICMP(v6) sockets read.
#include "ispfailover/core/icmp_packet.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace ispf {
namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr std::uint32_t kReplier = 0x08080808;  // 8.8.8.8
constexpr std::uint32_t kUs = 0xc0a80102;       // 192.168.1.2
constexpr std::uint32_t kRouter = 0x0a000001;   // 10.0.0.1
constexpr std::uint8_t kProtoIcmp = 1;
constexpr std::uint8_t kProtoUdp = 17;

void Put16(Bytes& bytes, std::size_t at, std::uint16_t value) {
  bytes[at] = static_cast<std::uint8_t>(value >> 8);
  bytes[at + 1] = static_cast<std::uint8_t>(value & 0xff);
}

void Put32(Bytes& bytes, std::size_t at, std::uint32_t value) {
  Put16(bytes, at, static_cast<std::uint16_t>(value >> 16));
  Put16(bytes, at + 2, static_cast<std::uint16_t>(value & 0xffff));
}

std::uint16_t Get16(const Bytes& bytes, std::size_t at) {
  return static_cast<std::uint16_t>((bytes[at] << 8) | bytes[at + 1]);
}

// Reference checksum, written independently of the code under test.
std::uint16_t ReferenceChecksum(const Bytes& bytes) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < bytes.size(); i += 2) {
    std::uint32_t word = static_cast<std::uint32_t>(bytes[i]) << 8;
    if (i + 1 < bytes.size()) word |= bytes[i + 1];
    sum += word;
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

// An ICMP message with a correct checksum: type, code, 4 bytes of rest-of-header, payload.
Bytes IcmpMessage(std::uint8_t type, std::uint8_t code, std::uint16_t word1, std::uint16_t word2,
                  const Bytes& payload) {
  Bytes message(kIcmpHeaderBytes, 0);
  message[0] = type;
  message[1] = code;
  Put16(message, 4, word1);
  Put16(message, 6, word2);
  message.insert(message.end(), payload.begin(), payload.end());
  Put16(message, 2, ReferenceChecksum(message));
  return message;
}

// An IPv4 packet around `body`, with `option_words` 4-byte words of NOP options (IHL = 5 + n).
Bytes Ipv4(std::uint32_t source, std::uint32_t destination, std::uint8_t protocol,
           const Bytes& body, std::size_t option_words = 0) {
  const std::size_t header = 20 + option_words * 4;
  Bytes packet(header, 0);
  packet[0] = static_cast<std::uint8_t>(0x40 | (header / 4));
  Put16(packet, 2, static_cast<std::uint16_t>(header + body.size()));
  Put16(packet, 4, 0x1234);
  packet[8] = 64;
  packet[9] = protocol;
  Put32(packet, 12, source);
  Put32(packet, 16, destination);
  for (std::size_t i = 20; i < header; ++i) packet[i] = 1;  // NOP
  Put16(packet, 10, ReferenceChecksum(packet));
  packet.insert(packet.end(), body.begin(), body.end());
  return packet;
}

const Bytes kPayload = {'i',  's',  'p',  'f',  0x11, 0x22, 0x33, 0x44,
                        0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcd};

Bytes EchoReplyPacket(std::uint16_t id, std::uint16_t seq, std::size_t option_words = 0) {
  return Ipv4(kReplier, kUs, kProtoIcmp, IcmpMessage(kIcmpEchoReply, 0, id, seq, kPayload),
              option_words);
}

// What a router sends back when our echo request to `target` cannot be delivered.
Bytes ErrorAboutOurRequest(std::uint8_t type, std::uint8_t code, std::uint32_t target,
                           std::uint16_t id, std::uint16_t seq,
                           std::size_t inner_option_words = 0) {
  const Bytes request = IcmpMessage(kIcmpEchoRequest, 0, id, seq, kPayload);
  Bytes inner = Ipv4(kUs, target, kProtoIcmp, request, inner_option_words);
  // RFC 792: the IP header plus the first 8 bytes of the original datagram.
  inner.resize(inner.size() - kPayload.size());
  return Ipv4(kRouter, kUs, kProtoIcmp, IcmpMessage(type, code, 0, 0, inner));
}

std::optional<IcmpReceived> Parse(const Bytes& packet) {
  return parse_icmp_packet(std::span<const std::uint8_t>(packet.data(), packet.size()));
}

TEST(IcmpChecksumTest, Rfc1071Example) {
  // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2; the checksum is ~ddf2.
  const Bytes bytes = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(internet_checksum(bytes), 0x220d);
}

TEST(IcmpChecksumTest, KnownVectors) {
  EXPECT_EQ(internet_checksum(Bytes{}), 0xffff);
  EXPECT_EQ(internet_checksum(Bytes{0x00, 0x00}), 0xffff);
  EXPECT_EQ(internet_checksum(Bytes{0xff, 0xff}), 0x0000);
  // Odd length: the last byte is padded with a zero byte on the right.
  EXPECT_EQ(internet_checksum(Bytes{0x01}), 0xfeff);
  EXPECT_EQ(internet_checksum(Bytes{0x00, 0x01, 0xf2}), static_cast<std::uint16_t>(~0xf201));
  // Carries wrap around: ffff + 0001 = 0001 (end-around carry), checksum fffe.
  EXPECT_EQ(internet_checksum(Bytes{0xff, 0xff, 0x00, 0x01}), 0xfffe);
  // A classic IPv4 header (checksum field zeroed) whose checksum is b861.
  const Bytes header = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                        0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(internet_checksum(header), 0xb861);
}

TEST(IcmpChecksumTest, MatchesReferenceOnManyInputs) {
  Bytes bytes;
  std::uint32_t state = 12345;
  for (int length = 0; length < 300; ++length) {
    ASSERT_EQ(internet_checksum(bytes), ReferenceChecksum(bytes)) << "length " << length;
    state = state * 1103515245u + 12345u;
    bytes.push_back(static_cast<std::uint8_t>(state >> 16));
  }
}

TEST(IcmpChecksumTest, PacketWithItsChecksumSumsToZero) {
  Bytes message = IcmpMessage(kIcmpEchoReply, 0, 7, 9, kPayload);
  EXPECT_EQ(internet_checksum(message), 0);
  message[9] ^= 0x40;
  EXPECT_NE(internet_checksum(message), 0);
}

TEST(IcmpEchoRequestTest, EncodesHeaderAndPayload) {
  const Bytes payload = {1, 2, 3, 4, 5, 6, 7, 8};
  const Bytes packet = encode_echo_request(0xbeef, 0x0102, payload);
  ASSERT_EQ(packet.size(), kIcmpHeaderBytes + payload.size());
  EXPECT_EQ(packet[0], kIcmpEchoRequest);
  EXPECT_EQ(packet[1], 0);
  EXPECT_EQ(Get16(packet, 4), 0xbeef);
  EXPECT_EQ(Get16(packet, 6), 0x0102);
  EXPECT_EQ(Bytes(packet.begin() + 8, packet.end()), payload);
  EXPECT_EQ(internet_checksum(packet), 0);
  Bytes zeroed = packet;
  zeroed[2] = zeroed[3] = 0;
  EXPECT_EQ(Get16(packet, 2), ReferenceChecksum(zeroed));
}

TEST(IcmpEchoRequestTest, OddAndEmptyPayloads) {
  for (const Bytes& payload : {Bytes{}, Bytes{0xab}, Bytes{0xff, 0xff, 0xff}, kPayload}) {
    const Bytes packet = encode_echo_request(0xffff, 0xffff, payload);
    ASSERT_EQ(packet.size(), kIcmpHeaderBytes + payload.size());
    EXPECT_EQ(packet[0], kIcmpEchoRequest);
    EXPECT_EQ(internet_checksum(packet), 0) << "payload size " << payload.size();
  }
}

TEST(IcmpParseTest, EchoReply) {
  const auto received = Parse(EchoReplyPacket(0x1234, 0xabcd));
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->kind, IcmpKind::kEchoReply);
  EXPECT_EQ(received->source, kReplier);
  EXPECT_EQ(received->about, kReplier);
  EXPECT_EQ(received->type, kIcmpEchoReply);
  EXPECT_EQ(received->code, 0);
  EXPECT_EQ(received->identifier, 0x1234);
  EXPECT_EQ(received->sequence, 0xabcd);
}

TEST(IcmpParseTest, EchoReplyWithoutPayload) {
  const auto received =
      Parse(Ipv4(kReplier, kUs, kProtoIcmp, IcmpMessage(kIcmpEchoReply, 0, 3, 4, {})));
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->kind, IcmpKind::kEchoReply);
  EXPECT_EQ(received->identifier, 3);
  EXPECT_EQ(received->sequence, 4);
}

TEST(IcmpParseTest, ReplyToOurOwnEncodedRequest) {
  Bytes message = encode_echo_request(0x4242, 17, kPayload);
  message[0] = kIcmpEchoReply;
  message[2] = message[3] = 0;
  Put16(message, 2, ReferenceChecksum(message));
  const auto received = Parse(Ipv4(kReplier, kUs, kProtoIcmp, message));
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->kind, IcmpKind::kEchoReply);
  EXPECT_EQ(received->identifier, 0x4242);
  EXPECT_EQ(received->sequence, 17);
}

TEST(IcmpParseTest, HeaderWithOptions) {
  for (std::size_t words : {1u, 2u, 10u}) {
    const Bytes packet = EchoReplyPacket(0x0a0b, 0x0c0d, words);
    ASSERT_EQ(packet[0] & 0x0f, 5 + words);
    const auto received = Parse(packet);
    ASSERT_TRUE(received.has_value()) << "IHL " << 5 + words;
    EXPECT_EQ(received->kind, IcmpKind::kEchoReply);
    EXPECT_EQ(received->source, kReplier);
    EXPECT_EQ(received->identifier, 0x0a0b);
    EXPECT_EQ(received->sequence, 0x0c0d);
  }
}

TEST(IcmpParseTest, TruncatedAtEveryLength) {
  const Bytes full = EchoReplyPacket(1, 2, 2);
  ASSERT_TRUE(Parse(full).has_value());
  for (std::size_t length = 0; length < full.size(); ++length) {
    // An exact-size copy so that a read past the span is caught by ASan.
    const Bytes prefix(full.begin(), full.begin() + length);
    EXPECT_FALSE(Parse(prefix).has_value()) << "length " << length;
  }
}

TEST(IcmpParseTest, TruncatedErrorAtEveryLength) {
  const Bytes full = ErrorAboutOurRequest(kIcmpDestUnreachable, 1, kReplier, 5, 6);
  ASSERT_TRUE(Parse(full).has_value());
  for (std::size_t length = 0; length < full.size(); ++length) {
    const Bytes prefix(full.begin(), full.begin() + length);
    EXPECT_FALSE(Parse(prefix).has_value()) << "length " << length;
  }
}

// Cutting trailing zero bytes leaves the ICMP checksum valid; the IPv4 total length still shows
// the packet is truncated.
TEST(IcmpParseTest, TruncatedZeroPaddedPayloadRejected) {
  const Bytes zeros(16, 0);
  const Bytes full =
      Ipv4(kReplier, kUs, kProtoIcmp, IcmpMessage(kIcmpEchoReply, 0, 0x0101, 0x0202, zeros));
  ASSERT_TRUE(Parse(full).has_value());
  for (std::size_t cut = 1; cut <= zeros.size(); ++cut) {
    const Bytes prefix(full.begin(), full.end() - static_cast<std::ptrdiff_t>(cut));
    EXPECT_FALSE(Parse(prefix).has_value()) << "cut " << cut << " bytes";
  }
}

TEST(IcmpParseTest, IhlPastEndOfPacket) {
  Bytes packet = EchoReplyPacket(1, 2);
  packet[0] = 0x4f;  // claims a 60-byte header, the packet has 20 + 24
  EXPECT_FALSE(Parse(packet).has_value());
}

TEST(IcmpParseTest, BadChecksum) {
  Bytes packet = EchoReplyPacket(1, 2);
  packet[20 + 10] ^= 0x01;  // a payload byte
  EXPECT_FALSE(Parse(packet).has_value());
  Bytes bad_sum = EchoReplyPacket(1, 2);
  bad_sum[20 + 2] ^= 0x80;  // the checksum itself
  EXPECT_FALSE(Parse(bad_sum).has_value());
  Bytes bad_id = EchoReplyPacket(1, 2);
  bad_id[20 + 5] ^= 0x02;  // the identifier
  EXPECT_FALSE(Parse(bad_id).has_value());
}

TEST(IcmpParseTest, NotIcmp) {
  const Bytes udp = Ipv4(kReplier, kUs, kProtoUdp, IcmpMessage(kIcmpEchoReply, 0, 1, 2, kPayload));
  EXPECT_FALSE(Parse(udp).has_value());
  const Bytes tcp = Ipv4(kReplier, kUs, 6, IcmpMessage(kIcmpEchoReply, 0, 1, 2, kPayload));
  EXPECT_FALSE(Parse(tcp).has_value());
}

TEST(IcmpParseTest, DestinationUnreachableAboutOurRequest) {
  const auto received = Parse(ErrorAboutOurRequest(kIcmpDestUnreachable, 1, kReplier, 0x7777, 99));
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->kind, IcmpKind::kUnreachable);
  EXPECT_EQ(received->source, kRouter);
  EXPECT_EQ(received->about, kReplier);
  EXPECT_EQ(received->type, kIcmpDestUnreachable);
  EXPECT_EQ(received->code, 1);
  EXPECT_EQ(received->identifier, 0x7777);
  EXPECT_EQ(received->sequence, 99);
}

TEST(IcmpParseTest, ErrorWhoseInnerHeaderHasOptions) {
  const auto received =
      Parse(ErrorAboutOurRequest(kIcmpDestUnreachable, 3, 0x01010101, 0x0102, 0x0304, 3));
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->kind, IcmpKind::kUnreachable);
  EXPECT_EQ(received->about, 0x01010101u);
  EXPECT_EQ(received->identifier, 0x0102);
  EXPECT_EQ(received->sequence, 0x0304);
}

TEST(IcmpParseTest, TimeExceededAboutOurRequest) {
  const auto received = Parse(ErrorAboutOurRequest(kIcmpTimeExceeded, 0, kReplier, 11, 12));
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->kind, IcmpKind::kUnreachable);
  EXPECT_EQ(received->type, kIcmpTimeExceeded);
  EXPECT_EQ(received->about, kReplier);
  EXPECT_EQ(received->identifier, 11);
  EXPECT_EQ(received->sequence, 12);
}

TEST(IcmpParseTest, SomeoneElsesEchoRequestIsOther) {
  const auto received =
      Parse(Ipv4(kRouter, kUs, kProtoIcmp, IcmpMessage(kIcmpEchoRequest, 0, 1, 2, kPayload)));
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->kind, IcmpKind::kOther);
  EXPECT_EQ(received->type, kIcmpEchoRequest);
  EXPECT_EQ(received->source, kRouter);
}

TEST(IcmpParseTest, RedirectIsOther) {
  const auto received =
      Parse(Ipv4(kRouter, kUs, kProtoIcmp, IcmpMessage(5, 1, 0x0a00, 0x0002, kPayload)));
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->kind, IcmpKind::kOther);
  EXPECT_EQ(received->type, 5);
}

TEST(IcmpParseTest, UnreachableAboutUdpIsNotAboutOurRequest) {
  Bytes inner = Ipv4(kUs, kReplier, kProtoUdp, Bytes{0x30, 0x39, 0x05, 0xdc, 0x00, 0x10, 0, 0});
  const auto received =
      Parse(Ipv4(kRouter, kUs, kProtoIcmp, IcmpMessage(kIcmpDestUnreachable, 3, 0, 0, inner)));
  if (received.has_value()) {
    EXPECT_EQ(received->kind, IcmpKind::kOther);
  }
}

// ICMPv6: what a raw IPPROTO_ICMPV6 socket reads is the message alone.

Ipv6Address V6(const char* text) { return *parse_ipv6(text); }

// An ICMPv6 error about an echo request from `from` to `to`: header, IPv6 header, echo request.
Bytes Icmpv6ErrorAbout(std::uint8_t type, std::uint8_t code, const Ipv6Address& from,
                       const Ipv6Address& to, std::uint8_t next_header, std::uint8_t inner_type,
                       std::uint16_t id, std::uint16_t seq) {
  Bytes message(8 + 40 + 8, 0);
  message[0] = type;
  message[1] = code;
  message[8] = 0x60;
  Put16(message, 8 + 4, 8);  // payload length: the echo request
  message[8 + 6] = next_header;
  message[8 + 7] = 64;
  std::copy(from.bytes.begin(), from.bytes.end(), message.begin() + 8 + 8);
  std::copy(to.bytes.begin(), to.bytes.end(), message.begin() + 8 + 24);
  message[48] = inner_type;
  Put16(message, 48 + 4, id);
  Put16(message, 48 + 6, seq);
  return message;
}

TEST(Icmpv6EchoRequestTest, EncodesHeaderAndPayloadWithChecksumLeftToTheKernel) {
  const Bytes payload = {'a', 'b', 'c'};
  Bytes packet = encode_echo6_request(0x1234, 0xbeef, payload);
  ASSERT_EQ(packet.size(), 8u + payload.size());
  EXPECT_EQ(packet[0], 128);
  EXPECT_EQ(packet[1], 0);
  EXPECT_EQ(Get16(packet, 2), 0);
  EXPECT_EQ(Get16(packet, 4), 0x1234);
  EXPECT_EQ(Get16(packet, 6), 0xbeef);
  EXPECT_EQ(Bytes(packet.begin() + 8, packet.end()), payload);
}

TEST(Icmpv6ParseTest, EchoReplyToOurOwnEncodedRequest) {
  Bytes message = encode_echo6_request(0x4242, 7, Bytes{'x', 'y'});
  message[0] = 129;  // the replier turns the request around
  auto parsed = parse_icmpv6_message(message, V6("2001:db8::1"));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->kind, IcmpKind::kEchoReply);
  EXPECT_EQ(parsed->source, V6("2001:db8::1"));
  EXPECT_EQ(parsed->about, V6("2001:db8::1"));
  EXPECT_EQ(parsed->identifier, 0x4242);
  EXPECT_EQ(parsed->sequence, 7);
}

TEST(Icmpv6ParseTest, TruncatedHeaderRejected) {
  Bytes message = encode_echo6_request(1, 2, {});
  message[0] = 129;
  for (std::size_t length = 0; length < 8; ++length) {
    EXPECT_FALSE(parse_icmpv6_message(std::span(message.data(), length), V6("2001:db8::1")))
        << length;
  }
}

TEST(Icmpv6ParseTest, DestinationUnreachableAboutOurRequest) {
  Bytes message =
      Icmpv6ErrorAbout(1, 0, V6("2001:db8:1::2"), V6("2001:db8:ff::9"), 58, 128, 0x4242, 9);
  auto parsed = parse_icmpv6_message(message, V6("2001:db8:1::1"));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->kind, IcmpKind::kUnreachable);
  EXPECT_EQ(parsed->source, V6("2001:db8:1::1"));
  EXPECT_EQ(parsed->about, V6("2001:db8:ff::9"));
  EXPECT_EQ(parsed->identifier, 0x4242);
  EXPECT_EQ(parsed->sequence, 9);
}

TEST(Icmpv6ParseTest, TimeExceededAboutOurRequest) {
  Bytes message = Icmpv6ErrorAbout(3, 0, V6("2001:db8:1::2"), V6("2001:db8:ff::9"), 58, 128, 1, 2);
  auto parsed = parse_icmpv6_message(message, V6("2001:db8:1::1"));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->kind, IcmpKind::kUnreachable);
  EXPECT_EQ(parsed->type, 3);
}

TEST(Icmpv6ParseTest, ErrorsNotAboutAnEchoRequestAreOther) {
  const auto from = V6("2001:db8:1::2");
  const auto to = V6("2001:db8:ff::9");
  // About UDP, about someone's echo reply, with an extension header we never send.
  for (const Bytes& message : {Icmpv6ErrorAbout(1, 4, from, to, 17, 128, 1, 2),
                               Icmpv6ErrorAbout(1, 0, from, to, 58, 129, 1, 2),
                               Icmpv6ErrorAbout(1, 0, from, to, 0, 128, 1, 2)}) {
    auto parsed = parse_icmpv6_message(message, from);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->kind, IcmpKind::kOther);
  }
}

TEST(Icmpv6ParseTest, TruncatedErrorAtEveryLengthIsNeverAboutUs) {
  Bytes message = Icmpv6ErrorAbout(1, 0, V6("2001:db8:1::2"), V6("2001:db8:ff::9"), 58, 128, 1, 2);
  for (std::size_t length = 8; length < message.size(); ++length) {
    auto parsed = parse_icmpv6_message(std::span(message.data(), length), V6("2001:db8:1::1"));
    ASSERT_TRUE(parsed) << length;
    EXPECT_EQ(parsed->kind, IcmpKind::kOther) << length;
  }
}

TEST(Icmpv6ParseTest, SomeoneElsesEchoRequestIsOther) {
  Bytes message = encode_echo6_request(1, 2, {});
  auto parsed = parse_icmpv6_message(message, V6("2001:db8::5"));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->kind, IcmpKind::kOther);
  EXPECT_EQ(parsed->type, 128);
}

}  // namespace
}  // namespace ispf

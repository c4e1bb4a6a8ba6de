// libFuzzer target: ispf::parse_icmp_packet and parse_icmpv6_message on arbitrary bytes, and
// echo reply round trips.
// trips.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_check.h"
#include "ispfailover/core/icmp_packet.h"

namespace {

std::uint16_t Read16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}
std::uint32_t Read32(std::span<const std::uint8_t> b, std::size_t at) {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) |
         (std::uint32_t{b[at + 2]} << 8) | b[at + 3];
}

// Whatever parses must be a complete IPv4 ICMP packet with a good checksum, reported faithfully.
void ParseArbitrary(std::span<const std::uint8_t> packet) {
  auto parsed = ispf::parse_icmp_packet(packet);
  if (!parsed) return;
  FUZZ_CHECK(packet.size() >= 20 + ispf::kIcmpHeaderBytes);
  FUZZ_CHECK((packet[0] >> 4) == 4);
  std::size_t ihl = static_cast<std::size_t>(packet[0] & 0x0f) * 4;
  FUZZ_CHECK(ihl >= 20);
  FUZZ_CHECK(packet[9] == 1);
  std::size_t total = Read16(packet, 2);
  FUZZ_CHECK(total <= packet.size() && total >= ihl + ispf::kIcmpHeaderBytes);
  auto icmp = packet.subspan(ihl, total - ihl);
  FUZZ_CHECK(ispf::internet_checksum(icmp) == 0);
  FUZZ_CHECK(parsed->source == Read32(packet, 12));
  FUZZ_CHECK(parsed->type == icmp[0] && parsed->code == icmp[1]);
  switch (parsed->kind) {
    case ispf::IcmpKind::kEchoReply:
      FUZZ_CHECK(parsed->type == ispf::kIcmpEchoReply);
      FUZZ_CHECK(parsed->about == parsed->source);
      FUZZ_CHECK(parsed->identifier == Read16(icmp, 4) && parsed->sequence == Read16(icmp, 6));
      break;
    case ispf::IcmpKind::kUnreachable:
      FUZZ_CHECK(parsed->type == ispf::kIcmpDestUnreachable ||
                 parsed->type == ispf::kIcmpTimeExceeded);
      FUZZ_CHECK(icmp.size() >= 2 * ispf::kIcmpHeaderBytes + 20);
      break;
    case ispf::IcmpKind::kOther:
      FUZZ_CHECK(parsed->type != ispf::kIcmpEchoReply);
      break;
  }
}

// The input's first 4 bytes as identifier and sequence, the rest as payload: our own echo
// request, turned into the reply a host would send and wrapped in IPv4, parses back to them.
void EchoRoundTrip(std::span<const std::uint8_t> input) {
  if (input.size() < 4) return;
  auto identifier = Read16(input, 0);
  auto sequence = Read16(input, 2);
  auto payload = input.subspan(4);
  if (payload.size() > 1400) payload = payload.first(1400);
  std::vector<std::uint8_t> request = ispf::encode_echo_request(identifier, sequence, payload);
  FUZZ_CHECK(ispf::internet_checksum(request) == 0);

  std::vector<std::uint8_t> packet(20, 0);
  packet[0] = 0x45;
  std::size_t total = packet.size() + request.size();
  packet[2] = static_cast<std::uint8_t>(total >> 8);
  packet[3] = static_cast<std::uint8_t>(total);
  packet[8] = 64;
  packet[9] = 1;
  packet[12] = 8;  // source 8.8.4.4
  packet[13] = 8;
  packet[14] = 4;
  packet[15] = 4;
  packet.insert(packet.end(), request.begin(), request.end());
  std::span<std::uint8_t> icmp(packet.data() + 20, request.size());

  // As a request (someone else's echo request) it is kOther.
  auto as_request = ispf::parse_icmp_packet(packet);
  FUZZ_CHECK(as_request && as_request->kind == ispf::IcmpKind::kOther);

  icmp[0] = ispf::kIcmpEchoReply;
  icmp[2] = icmp[3] = 0;
  std::uint16_t checksum = ispf::internet_checksum(icmp);
  icmp[2] = static_cast<std::uint8_t>(checksum >> 8);
  icmp[3] = static_cast<std::uint8_t>(checksum);
  auto reply = ispf::parse_icmp_packet(packet);
  FUZZ_CHECK(reply.has_value());
  FUZZ_CHECK(reply->kind == ispf::IcmpKind::kEchoReply);
  FUZZ_CHECK(reply->identifier == identifier && reply->sequence == sequence);
  FUZZ_CHECK(reply->source == 0x08080404u && reply->about == 0x08080404u);

  // One bit flipped in the ICMP part (outside a checksum-neutral change) is refused.
  icmp[4] ^= 0x01;
  FUZZ_CHECK(!ispf::parse_icmp_packet(packet).has_value());
}

// Whatever an ICMPv6 message parses to is reported faithfully; an error is about our echo
// request only when it carries a whole IPv6 header and the request's header after it.
void ParseArbitrary6(std::span<const std::uint8_t> message) {
  const ispf::Ipv6Address source{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
  auto parsed = ispf::parse_icmpv6_message(message, source);
  if (!parsed) {
    FUZZ_CHECK(message.size() < ispf::kIcmpHeaderBytes);
    return;
  }
  FUZZ_CHECK(parsed->source == source);
  FUZZ_CHECK(parsed->type == message[0] && parsed->code == message[1]);
  switch (parsed->kind) {
    case ispf::IcmpKind::kEchoReply:
      FUZZ_CHECK(parsed->type == ispf::kIcmpv6EchoReply && parsed->about == source);
      FUZZ_CHECK(parsed->identifier == Read16(message, 4) &&
                 parsed->sequence == Read16(message, 6));
      break;
    case ispf::IcmpKind::kUnreachable:
      FUZZ_CHECK(parsed->type == ispf::kIcmpv6DestUnreachable ||
                 parsed->type == ispf::kIcmpv6TimeExceeded);
      FUZZ_CHECK(message.size() >= 2 * ispf::kIcmpHeaderBytes + 40);
      FUZZ_CHECK(message[8 + 40] == ispf::kIcmpv6EchoRequest);
      break;
    case ispf::IcmpKind::kOther:
      FUZZ_CHECK(parsed->type != ispf::kIcmpv6EchoReply);
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> input(data, size);
  ParseArbitrary(input);
  ParseArbitrary6(input);
  EchoRoundTrip(input);
  return 0;
}

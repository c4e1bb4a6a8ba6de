// ICMPv4/ICMPv6 echo encoding and defensive parsing of what a raw ICMP(v6) socket receives.
#include "ispfailover/core/icmp_packet.h"

namespace ispf {
namespace {

constexpr std::size_t kMinIpv4Header = 20;
constexpr std::uint8_t kProtocolIcmp = 1;
constexpr std::size_t kIpv6Header = 40;
constexpr std::uint8_t kNextHeaderIcmpv6 = 58;

std::uint16_t read16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}
std::uint32_t read32(std::span<const std::uint8_t> b, std::size_t at) {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) |
         (std::uint32_t{b[at + 2]} << 8) | b[at + 3];
}

// The IPv4 header length if `packet` starts with a plausible IPv4 header, else 0.
std::size_t ipv4_header_length(std::span<const std::uint8_t> packet) {
  if (packet.size() < kMinIpv4Header || (packet[0] >> 4) != 4) return 0;
  std::size_t length = static_cast<std::size_t>(packet[0] & 0x0f) * 4;
  if (length < kMinIpv4Header || length > packet.size()) return 0;
  return length;
}

// True if the IPv4 total length says the packet is all there (an embedded packet in an ICMP
// error may be cut short on purpose, so this is checked only for the outer packet).
bool ipv4_complete(std::span<const std::uint8_t> packet) {
  return read16(packet, 2) <= packet.size() && read16(packet, 2) >= ipv4_header_length(packet);
}

}  // namespace

std::uint16_t internet_checksum(std::span<const std::uint8_t> bytes) {
  std::uint32_t sum = 0;
  std::size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) sum += read16(bytes, i);
  if (i < bytes.size()) sum += static_cast<std::uint32_t>(bytes[i]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

namespace {

std::vector<std::uint8_t> echo_without_checksum(std::uint8_t type, std::uint16_t identifier,
                                                std::uint16_t sequence,
                                                std::span<const std::uint8_t> payload) {
  std::vector<std::uint8_t> packet(kIcmpHeaderBytes + payload.size());
  packet[0] = type;
  packet[1] = 0;
  packet[4] = static_cast<std::uint8_t>(identifier >> 8);
  packet[5] = static_cast<std::uint8_t>(identifier);
  packet[6] = static_cast<std::uint8_t>(sequence >> 8);
  packet[7] = static_cast<std::uint8_t>(sequence);
  std::copy(payload.begin(), payload.end(), packet.begin() + kIcmpHeaderBytes);
  return packet;
}

Ipv6Address read_ipv6(std::span<const std::uint8_t> b, std::size_t at) {
  Ipv6Address out;
  std::copy(b.begin() + static_cast<std::ptrdiff_t>(at),
            b.begin() + static_cast<std::ptrdiff_t>(at + 16), out.bytes.begin());
  return out;
}

}  // namespace

std::vector<std::uint8_t> encode_echo_request(std::uint16_t identifier, std::uint16_t sequence,
                                              std::span<const std::uint8_t> payload) {
  std::vector<std::uint8_t> packet =
      echo_without_checksum(kIcmpEchoRequest, identifier, sequence, payload);
  std::uint16_t checksum = internet_checksum(packet);
  packet[2] = static_cast<std::uint8_t>(checksum >> 8);
  packet[3] = static_cast<std::uint8_t>(checksum);
  return packet;
}

std::optional<IcmpReceived> parse_icmp_packet(std::span<const std::uint8_t> packet) {
  std::size_t ip_length = ipv4_header_length(packet);
  if (ip_length == 0 || packet[9] != kProtocolIcmp || !ipv4_complete(packet)) return std::nullopt;
  auto icmp = packet.subspan(ip_length, read16(packet, 2) - ip_length);
  if (icmp.size() < kIcmpHeaderBytes || internet_checksum(icmp) != 0) return std::nullopt;

  IcmpReceived out;
  out.source = read32(packet, 12);
  out.type = icmp[0];
  out.code = icmp[1];
  if (out.type == kIcmpEchoReply) {
    out.kind = IcmpKind::kEchoReply;
    out.about = out.source;
    out.identifier = read16(icmp, 4);
    out.sequence = read16(icmp, 6);
    return out;
  }
  if (out.type == kIcmpDestUnreachable || out.type == kIcmpTimeExceeded) {
    // The offending packet: its IPv4 header, then at least 8 bytes of our echo request.
    auto inner = icmp.subspan(kIcmpHeaderBytes);
    std::size_t inner_ip_length = ipv4_header_length(inner);
    if (inner_ip_length == 0 || inner[9] != kProtocolIcmp) return out;
    auto inner_icmp = inner.subspan(inner_ip_length);
    if (inner_icmp.size() < kIcmpHeaderBytes || inner_icmp[0] != kIcmpEchoRequest) return out;
    out.kind = IcmpKind::kUnreachable;
    out.about = read32(inner, 16);
    out.identifier = read16(inner_icmp, 4);
    out.sequence = read16(inner_icmp, 6);
    return out;
  }
  return out;
}

std::vector<std::uint8_t> encode_echo6_request(std::uint16_t identifier, std::uint16_t sequence,
                                               std::span<const std::uint8_t> payload) {
  return echo_without_checksum(kIcmpv6EchoRequest, identifier, sequence, payload);
}

std::optional<Icmpv6Received> parse_icmpv6_message(std::span<const std::uint8_t> message,
                                                   const Ipv6Address& source) {
  if (message.size() < kIcmpHeaderBytes) return std::nullopt;
  Icmpv6Received out;
  out.source = source;
  out.type = message[0];
  out.code = message[1];
  if (out.type == kIcmpv6EchoReply) {
    out.kind = IcmpKind::kEchoReply;
    out.about = source;
    out.identifier = read16(message, 4);
    out.sequence = read16(message, 6);
    return out;
  }
  if (out.type == kIcmpv6DestUnreachable || out.type == kIcmpv6TimeExceeded) {
    // The offending packet: its IPv6 header, then (no extension headers) our echo request.
    auto inner = message.subspan(kIcmpHeaderBytes);
    if (inner.size() < kIpv6Header + kIcmpHeaderBytes || (inner[0] >> 4) != 6 ||
        inner[6] != kNextHeaderIcmpv6) {
      return out;
    }
    auto inner_icmp = inner.subspan(kIpv6Header);
    if (inner_icmp[0] != kIcmpv6EchoRequest) return out;
    out.kind = IcmpKind::kUnreachable;
    out.about = read_ipv6(inner, 24);
    out.identifier = read16(inner_icmp, 4);
    out.sequence = read16(inner_icmp, 6);
    return out;
  }
  return out;
}

}  // namespace ispf

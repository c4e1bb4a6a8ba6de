// ICMPv4 echo encoding and defensive parsing of what a raw ICMP socket receives.
#include "ispfailover/core/icmp_packet.h"

namespace ispf {
namespace {

constexpr std::size_t kMinIpv4Header = 20;
constexpr std::uint8_t kProtocolIcmp = 1;

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

std::vector<std::uint8_t> encode_echo_request(std::uint16_t identifier, std::uint16_t sequence,
                                              std::span<const std::uint8_t> payload) {
  std::vector<std::uint8_t> packet(kIcmpHeaderBytes + payload.size());
  packet[0] = kIcmpEchoRequest;
  packet[1] = 0;
  packet[4] = static_cast<std::uint8_t>(identifier >> 8);
  packet[5] = static_cast<std::uint8_t>(identifier);
  packet[6] = static_cast<std::uint8_t>(sequence >> 8);
  packet[7] = static_cast<std::uint8_t>(sequence);
  std::copy(payload.begin(), payload.end(), packet.begin() + kIcmpHeaderBytes);
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

}  // namespace ispf

// ICMPv4 echo request/reply and error messages as values, with the Internet checksum.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace ispf {

// ICMP header (RFC 792), as sent in an echo request and received in a reply:
//
//   0               8               16                              31
//  +---------------+---------------+-------------------------------+
//  |     type      |     code      |          checksum             |
//  +---------------+---------------+-------------------------------+
//  |          identifier           |       sequence number         |
//  +-------------------------------+-------------------------------+
//  |                      payload ...                              |
//
// A raw IPv4 ICMP socket hands us the whole IPv4 packet: a header of IHL*4 bytes (20..60), then
// the ICMP message. An error message (destination unreachable, time exceeded) carries, after its
// own 8-byte header, the offending packet's IPv4 header and at least its first 8 bytes: for our
// echo requests that is enough to recover the identifier and sequence it is about.

inline constexpr std::uint8_t kIcmpEchoReply = 0;
inline constexpr std::uint8_t kIcmpDestUnreachable = 3;
inline constexpr std::uint8_t kIcmpEchoRequest = 8;
inline constexpr std::uint8_t kIcmpTimeExceeded = 11;
inline constexpr std::size_t kIcmpHeaderBytes = 8;

// One's complement sum of 16-bit words (RFC 1071).
std::uint16_t internet_checksum(std::span<const std::uint8_t> bytes);

std::vector<std::uint8_t> encode_echo_request(std::uint16_t identifier, std::uint16_t sequence,
                                              std::span<const std::uint8_t> payload);

enum class IcmpKind {
  kEchoReply,    // an answer: identifier/sequence are the reply's
  kUnreachable,  // an error about one of our requests: identifier/sequence are the request's
  kOther,        // anything else (someone else's echo request, redirects, ...)
};

struct IcmpReceived {
  IcmpKind kind = IcmpKind::kOther;
  std::uint32_t source = 0;  // IPv4 source of the packet, host byte order
  std::uint32_t about = 0;   // for kEchoReply the replier, for errors the original dest
  std::uint8_t type = 0;
  std::uint8_t code = 0;
  std::uint16_t identifier = 0;
  std::uint16_t sequence = 0;
};

// Parses an IPv4 packet as read from a raw ICMP socket. Returns nullopt for anything truncated,
// not ICMP, or with a bad ICMP checksum; never reads past the span.
std::optional<IcmpReceived> parse_icmp_packet(std::span<const std::uint8_t> ipv4_packet);

}  // namespace ispf

// ICMPv4 and ICMPv6 echo request/reply and error messages as values, with the Internet checksum.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "ispfailover/core/ip_address.h"

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

// ICMPv6 (RFC 4443) has the same echo layout with other type numbers. A raw IPPROTO_ICMPV6
// socket differs from the IPv4 one in what crosses it: we send and receive the ICMPv6 message
// alone (no IPv6 header; the source comes from recvfrom), and the kernel computes the checksum
// on send and verifies it on receive, since it covers a pseudo-header only the kernel knows.
// An error message carries, after its 8-byte header, as much of the offending packet as fits:
// its 40-byte IPv6 header, then (we send no extension headers) our echo request.

inline constexpr std::uint8_t kIcmpv6DestUnreachable = 1;
inline constexpr std::uint8_t kIcmpv6TimeExceeded = 3;
inline constexpr std::uint8_t kIcmpv6EchoRequest = 128;
inline constexpr std::uint8_t kIcmpv6EchoReply = 129;

// Checksum left 0: the kernel fills it in for raw ICMPv6 sockets.
std::vector<std::uint8_t> encode_echo6_request(std::uint16_t identifier, std::uint16_t sequence,
                                               std::span<const std::uint8_t> payload);

struct Icmpv6Received {
  IcmpKind kind = IcmpKind::kOther;
  Ipv6Address source;  // who sent the message (recvfrom's address)
  Ipv6Address about;   // for kEchoReply the replier, for errors the original destination
  std::uint8_t type = 0;
  std::uint8_t code = 0;
  std::uint16_t identifier = 0;
  std::uint16_t sequence = 0;
};

// Parses an ICMPv6 message as read from a raw ICMPv6 socket, sent by `source`. Returns nullopt
// for anything shorter than an ICMPv6 header; never reads past the span.
std::optional<Icmpv6Received> parse_icmpv6_message(std::span<const std::uint8_t> message,
                                                   const Ipv6Address& source);

}  // namespace ispf

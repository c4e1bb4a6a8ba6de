// Addresses of either family as values: what a target, a gateway or a prefix is in dual stack.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ispf {

enum class Family : std::uint8_t { kIpv4, kIpv6 };

// "IPv4" or "IPv6", for people.
std::string_view to_string(Family family);

// One IPv6 address, network byte order, as in struct in6_addr.
struct Ipv6Address {
  std::array<std::uint8_t, 16> bytes{};

  bool is_link_local() const { return bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80; }
  bool is_unspecified() const { return *this == Ipv6Address{}; }
  // Multicast (ff00::/8), loopback (::1), unspecified and IPv4-mapped: never a probe target
  // or a gateway.
  bool is_unicast() const;
  // Unicast and not link-local: an address that means the same on every host, so it can be
  // announced to peers, routed to, or probed across an ISP (a link-local one needs a zone).
  bool is_routable_unicast() const { return is_unicast() && !is_link_local(); }
  auto operator<=>(const Ipv6Address&) const = default;
};

// Textual IPv6 (RFC 4291 forms, no zone, no brackets); nullopt for anything else.
std::optional<Ipv6Address> parse_ipv6(std::string_view text);
// The RFC 5952 form: lower case, longest zero run as "::".
std::string format_ipv6(const Ipv6Address& address);

// Either family: a probe target, a reply's source.
struct IpAddress {
  Family family = Family::kIpv4;
  std::uint32_t v4 = 0;  // host order, when family is kIpv4
  Ipv6Address v6;        // when family is kIpv6

  static IpAddress ipv4(std::uint32_t host_order) { return {Family::kIpv4, host_order, {}}; }
  static IpAddress ipv6(const Ipv6Address& address) { return {Family::kIpv6, 0, address}; }
  auto operator<=>(const IpAddress&) const = default;
};

// Dotted quad or IPv6 text.
std::optional<IpAddress> parse_ip(std::string_view text);
std::string format_ip(const IpAddress& address);

// An IPv6 prefix, "2001:db8:1::/64": the bits past the length are zero once parsed.
struct Ipv6Prefix {
  Ipv6Address address;
  int length = 0;  // 0..128
  // The prefix of `length` bits that holds `address` (the host bits cleared).
  static Ipv6Prefix of(const Ipv6Address& address, int length);
  bool contains(const Ipv6Address& other) const;
  auto operator<=>(const Ipv6Prefix&) const = default;
};

// "ADDR/LEN" with LEN 0..128; host bits must be zero unless `allow_host_bits` (an interface's
// own address with its prefix length), in which case they are cleared.
std::optional<Ipv6Prefix> parse_ipv6_prefix(std::string_view text, bool allow_host_bits = false);
std::string format_ipv6_prefix(const Ipv6Prefix& prefix);

}  // namespace ispf

// Parsing and printing of IPv6 addresses and prefixes, and the either-family address.
#include "ispfailover/core/ip_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <string>

#include "ispfailover/core/format.h"

namespace ispf {

std::string_view to_string(Family family) { return family == Family::kIpv4 ? "IPv4" : "IPv6"; }

bool Ipv6Address::is_unicast() const {
  if (is_unspecified() || bytes[0] == 0xff) return false;
  Ipv6Address loopback;
  loopback.bytes[15] = 1;
  if (*this == loopback) return false;
  // ::ffff:a.b.c.d is an IPv4 address in disguise: probing or routing it as IPv6 is a mistake.
  for (int i = 0; i < 10; ++i) {
    if (bytes[i] != 0) return true;
  }
  return !(bytes[10] == 0xff && bytes[11] == 0xff);
}

std::optional<Ipv6Address> parse_ipv6(std::string_view text) {
  // inet_pton is the reference parser; it wants a terminated string and rejects zones ("%eth0"),
  // brackets and prefixes, which is what we want here.
  if (text.empty() || text.size() > 45) return std::nullopt;
  std::string copy(text);
  Ipv6Address out;
  if (inet_pton(AF_INET6, copy.c_str(), out.bytes.data()) != 1) return std::nullopt;
  return out;
}

std::string format_ipv6(const Ipv6Address& address) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, address.bytes.data(), text, sizeof text);  // glibc prints RFC 5952
  return text;
}

std::optional<IpAddress> parse_ip(std::string_view text) {
  if (auto v4 = parse_ipv4(text)) return IpAddress::ipv4(*v4);
  if (auto v6 = parse_ipv6(text)) return IpAddress::ipv6(*v6);
  return std::nullopt;
}

std::string format_ip(const IpAddress& address) {
  return address.family == Family::kIpv4 ? format_ipv4(address.v4) : format_ipv6(address.v6);
}

namespace {

Ipv6Address masked(Ipv6Address address, int length) {
  for (int i = 0; i < 16; ++i) {
    int keep = std::max(0, std::min(8, length - i * 8));
    address.bytes[i] &= static_cast<std::uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
  }
  return address;
}

}  // namespace

Ipv6Prefix Ipv6Prefix::of(const Ipv6Address& address, int length) {
  length = std::clamp(length, 0, 128);
  return Ipv6Prefix{masked(address, length), length};
}

bool Ipv6Prefix::contains(const Ipv6Address& other) const {
  return masked(other, length) == address;
}

std::optional<Ipv6Prefix> parse_ipv6_prefix(std::string_view text, bool allow_host_bits) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto address = parse_ipv6(text.substr(0, slash));
  std::string_view digits = text.substr(slash + 1);
  if (!address || digits.empty() || digits.size() > 3) return std::nullopt;
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
  int length = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    length = length * 10 + (c - '0');
  }
  if (length > 128) return std::nullopt;
  Ipv6Address net = masked(*address, length);
  if (net != *address && !allow_host_bits) return std::nullopt;
  return Ipv6Prefix{net, length};
}

std::string format_ipv6_prefix(const Ipv6Prefix& prefix) {
  return format_ipv6(prefix.address) + "/" + std::to_string(prefix.length);
}

}  // namespace ispf

// Interface lookups through the C library (if_nametoindex, getifaddrs).
#include "interfaces.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

namespace ispf {

std::optional<std::uint32_t> ipv4_broadcast_of(const std::string& name) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return std::nullopt;
  std::unique_ptr<ifaddrs, decltype(&freeifaddrs)> guard(list, freeifaddrs);
  for (ifaddrs* entry = list; entry; entry = entry->ifa_next) {
    if (!entry->ifa_addr || entry->ifa_addr->sa_family != AF_INET || name != entry->ifa_name) {
      continue;
    }
    if (!(entry->ifa_flags & IFF_BROADCAST) || !entry->ifa_netmask) continue;
    std::uint32_t address = ntohl(reinterpret_cast<sockaddr_in*>(entry->ifa_addr)->sin_addr.s_addr);
    std::uint32_t mask = ntohl(reinterpret_cast<sockaddr_in*>(entry->ifa_netmask)->sin_addr.s_addr);
    if (entry->ifa_broadaddr) {
      std::uint32_t broadcast =
          ntohl(reinterpret_cast<sockaddr_in*>(entry->ifa_broadaddr)->sin_addr.s_addr);
      // An address added without "brd" reports itself as its broadcast address: sending there
      // would only loop back. Such an address gets the broadcast its prefix implies.
      if (broadcast != address && broadcast != 0) return broadcast;
    }
    if (~mask > 1) return address | ~mask;  // /31 and /32 have no broadcast address
  }
  return std::nullopt;
}

namespace {

// Calls visit(entry, address, prefix length) for every IPv4 address of a link that is up and
// running (carrier): a link without either has lost its routes already.
template <class Visit>
std::error_code for_each_usable_address(Visit visit) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return std::error_code(errno, std::system_category());
  std::unique_ptr<ifaddrs, decltype(&freeifaddrs)> guard(list, freeifaddrs);
  for (ifaddrs* entry = list; entry; entry = entry->ifa_next) {
    if (!entry->ifa_addr || entry->ifa_addr->sa_family != AF_INET || !entry->ifa_netmask) continue;
    if (!(entry->ifa_flags & IFF_UP) || !(entry->ifa_flags & IFF_RUNNING)) continue;
    std::uint32_t address = ntohl(reinterpret_cast<sockaddr_in*>(entry->ifa_addr)->sin_addr.s_addr);
    std::uint32_t mask = ntohl(reinterpret_cast<sockaddr_in*>(entry->ifa_netmask)->sin_addr.s_addr);
    if (visit(*entry, Ipv4Prefix{address, __builtin_popcount(mask)})) break;
  }
  return {};
}

}  // namespace

Result<std::vector<Ipv4Prefix>, std::error_code> usable_prefixes() {
  std::vector<Ipv4Prefix> out;
  auto ec = for_each_usable_address([&](const ifaddrs&, Ipv4Prefix prefix) {
    out.push_back(prefix);
    return false;
  });
  if (ec) return fail(ec);
  return out;
}

Result<int, std::error_code> link_reaching(std::uint32_t address) {
  int found = 0;
  auto ec = for_each_usable_address([&](const ifaddrs& entry, Ipv4Prefix prefix) {
    if (!prefix.contains(address)) return false;
    found = static_cast<int>(if_nametoindex(entry.ifa_name));
    return found > 0;
  });
  if (ec) return fail(ec);
  if (found <= 0) return fail(std::make_error_code(std::errc::no_such_device_or_address));
  return found;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "isp";
  std::string name(buf);
  return name.substr(0, name.find('.'));
}

}  // namespace ispf

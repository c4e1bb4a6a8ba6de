// Interface lookups through the C library: existence, IPv4 broadcast address, host name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "ispfailover/core/result.h"
#include "ispfailover/core/route.h"

namespace ispf {

// The IPv4 broadcast address of `name` (host byte order): the configured one, or the one its
// prefix implies when the address was added without one; none for /31, /32 or no address.
std::optional<std::uint32_t> ipv4_broadcast_of(const std::string& name);
std::string host_name();
// The IPv4 prefixes of the addresses on links that are up and running.
Result<std::vector<Ipv4Prefix>, std::error_code> usable_prefixes();
// The index of a link that is up and running with an address whose prefix holds `address`
// (host order); ENXIO when there is none.
Result<int, std::error_code> link_reaching(std::uint32_t address);

}  // namespace ispf

// Interface lookups the daemons need at start: index, existence, IPv4 broadcast address.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ispf {

std::optional<unsigned> interface_index(const std::string& name);
// The IPv4 broadcast address configured on `name` (host byte order), if it has one.
std::optional<std::uint32_t> ipv4_broadcast_of(const std::string& name);
std::string host_name();

}  // namespace ispf

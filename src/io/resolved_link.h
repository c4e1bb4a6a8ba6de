// systemd-resolved's per-link DNS over D-Bus (org.freedesktop.resolve1), with sd-bus.
#pragma once

#include <cstdint>
#include <system_error>
#include <vector>

#include "ispfailover/core/ip_address.h"

namespace ispf {

// Makes `servers` (IPv4, host order) the DNS servers of link `ifindex` in systemd-resolved, with
// "~." as its routing domain so that every lookup prefers them. Synchronous, with a short timeout.
std::error_code resolved_set_link_dns(int ifindex, const std::vector<IpAddress>& servers);
// Hands link `ifindex` back to whatever configured it before (RevertLink).
std::error_code resolved_revert_link(int ifindex);

}  // namespace ispf

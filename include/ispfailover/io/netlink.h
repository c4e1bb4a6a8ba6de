// RAII for libnl objects and sockets, and libnl's error numbers as std::error_code.
#pragma once

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include <memory>
#include <system_error>

#include "ispfailover/core/result.h"

namespace ispf {

struct NlSocketFree {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct NlObjectPut {
  void operator()(void* o) const { nl_object_put(static_cast<nl_object*>(o)); }
};
struct NlAddrPut {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
struct NlCacheFree {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};

using NlSocket = std::unique_ptr<nl_sock, NlSocketFree>;
using NlRoute = std::unique_ptr<rtnl_route, NlObjectPut>;
using NlLink = std::unique_ptr<rtnl_link, NlObjectPut>;
using NlAddr = std::unique_ptr<nl_addr, NlAddrPut>;
using NlCache = std::unique_ptr<nl_cache, NlCacheFree>;

// libnl returns negative NLE_* codes; this category gives them nl_geterror()'s text.
const std::error_category& netlink_category();
inline std::error_code netlink_error(int nle) { return {nle < 0 ? -nle : nle, netlink_category()}; }

// A NETLINK_ROUTE socket, connected; with `groups`, subscribed and non-blocking for event use.
Result<NlSocket, std::error_code> open_route_socket(std::initializer_list<int> groups = {});

// An IPv4 address (host byte order) as a libnl address object.
NlAddr make_ipv4_addr(std::uint32_t address, int prefix_length);

}  // namespace ispf

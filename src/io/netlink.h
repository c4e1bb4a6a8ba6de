// RAII for libnl objects and sockets; libnl's and the kernel's errors as std::error_code.
#pragma once

#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <system_error>

#include "ispfailover/io/env.h"

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
struct NlMsgFree {
  void operator()(nl_msg* m) const { nlmsg_free(m); }
};
struct NlCbPut {
  void operator()(nl_cb* c) const { nl_cb_put(c); }
};

using NlSocket = std::unique_ptr<nl_sock, NlSocketFree>;
using NlRoute = std::unique_ptr<rtnl_route, NlObjectPut>;
using NlLink = std::unique_ptr<rtnl_link, NlObjectPut>;
using NlAddr = std::unique_ptr<nl_addr, NlAddrPut>;
using NlCache = std::unique_ptr<nl_cache, NlCacheFree>;
using NlMsg = std::unique_ptr<nl_msg, NlMsgFree>;
using NlCb = std::unique_ptr<nl_cb, NlCbPut>;

// libnl's negative NLE_* code as the errno it most likely came from (std::system_category).
// libnl folds many kernel errors into NLE_FAILURE, so requests whose errno matters go through
// netlink_request() instead, which keeps the kernel's own errno.
std::error_code from_nle(int nle);

// A netlink socket of `protocol` (NETLINK_ROUTE, NETLINK_NETFILTER), connected; with `groups`,
// subscribed and non-blocking for event use.
IoResult<NlSocket> open_netlink_socket(int protocol, std::initializer_list<int> groups = {});

// A NETLINK_ROUTE socket, connected; with `groups`, subscribed and non-blocking for event use.
inline IoResult<NlSocket> open_route_socket(std::initializer_list<int> groups = {}) {
  return open_netlink_socket(NETLINK_ROUTE, groups);
}

// Sends `msg` and waits for the kernel's answer: the kernel's errno exactly (ENETUNREACH stays
// ENETUNREACH, where libnl would say NLE_FAILURE), or success on its ACK.
std::error_code netlink_request(nl_sock* socket, nl_msg* msg);

// An IPv4 address (host byte order) as a libnl address object.
NlAddr make_ipv4_addr(std::uint32_t address, int prefix_length);
// An IPv6 address as a libnl address object.
NlAddr make_ipv6_addr(const Ipv6Address& address, int prefix_length);

}  // namespace ispf

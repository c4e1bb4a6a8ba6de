// NetlinkRouteTable and NetlinkTableWatch: default routes read, replaced and deleted through
// libnl, with the kernel's errno kept (libnl would turn ENETUNREACH into NLE_FAILURE).
#include "route_table.h"

#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/route/nexthop.h>

#include <cerrno>
#include <cstring>

namespace ispf {
namespace {

bool is_ipv4_default_in(rtnl_route* route, std::uint32_t table) {
  nl_addr* dst = rtnl_route_get_dst(route);
  return rtnl_route_get_family(route) == AF_INET && rtnl_route_get_table(route) == table &&
         rtnl_route_get_type(route) == RTN_UNICAST && (!dst || nl_addr_get_prefixlen(dst) == 0);
}

DefaultRoute describe(rtnl_route* route) {
  DefaultRoute out;
  out.metric = rtnl_route_get_priority(route);
  out.protocol = rtnl_route_get_protocol(route);
  out.table = rtnl_route_get_table(route);
  if (rtnl_route_get_nnexthops(route) > 0) {
    rtnl_nexthop* nh = rtnl_route_nexthop_n(route, 0);
    out.ifindex = rtnl_route_nh_get_ifindex(nh);
    if (nl_addr* gw = rtnl_route_nh_get_gateway(nh); gw && nl_addr_get_len(gw) == 4) {
      std::uint32_t network_order = 0;
      std::memcpy(&network_order, nl_addr_get_binary_addr(gw), 4);
      out.gateway = ntohl(network_order);
    }
  }
  return out;
}

// An IPv4 default route as libnl builds it; 0 leaves gateway, ifindex out (the kernel's "any"
// when deleting). Metric and protocol are always sent: 0 is "any" to the kernel's delete too.
NlRoute make_default(const DefaultRoute& r) {
  NlRoute route(rtnl_route_alloc());
  if (!route) return route;
  rtnl_route_set_family(route.get(), AF_INET);
  rtnl_route_set_table(route.get(), r.table);
  NlAddr dst = make_ipv4_addr(0, 0);
  rtnl_route_set_dst(route.get(), dst.get());
  rtnl_route_set_priority(route.get(), r.metric);
  rtnl_route_set_protocol(route.get(), r.protocol);
  rtnl_route_set_scope(route.get(), RT_SCOPE_UNIVERSE);
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  if (r.gateway != 0 || r.ifindex != 0) {
    rtnl_nexthop* nh = rtnl_route_nh_alloc();
    if (r.gateway != 0) {
      NlAddr gw = make_ipv4_addr(r.gateway, 32);
      rtnl_route_nh_set_gateway(nh, gw.get());
    }
    if (r.ifindex != 0) rtnl_route_nh_set_ifindex(nh, r.ifindex);
    rtnl_route_add_nexthop(route.get(), nh);  // the route owns nh from here
  }
  return route;
}

// Deleting what is already gone is success: someone else, or the kernel, got there first.
std::error_code ignore_missing(std::error_code ec) {
  if (ec == std::errc::no_such_process || ec == std::errc::no_such_file_or_directory) return {};
  return ec;
}

}  // namespace

IoResult<std::unique_ptr<NetlinkRouteTable>> NetlinkRouteTable::open() {
  auto socket = open_route_socket();
  if (!socket) return fail(socket.error());
  return std::unique_ptr<NetlinkRouteTable>(new NetlinkRouteTable(std::move(*socket)));
}

std::error_code NetlinkRouteTable::request(const DefaultRoute& r, int type, int flags) {
  NlRoute route = make_default(r);
  if (!route) return {ENOMEM, std::system_category()};
  nl_msg* raw = nullptr;
  int err = type == RTM_NEWROUTE ? rtnl_route_build_add_request(route.get(), flags, &raw)
                                 : rtnl_route_build_del_request(route.get(), flags, &raw);
  if (err < 0) return from_nle(err);
  NlMsg msg(raw);
  return netlink_request(socket_.get(), msg.get());
}

std::error_code NetlinkRouteTable::replace_default(const RouteSlot& slot, std::uint32_t gateway) {
  // rtnl_route_build_add_request adds NLM_F_CREATE; with NLM_F_REPLACE it is one atomic swap.
  return request(DefaultRoute{gateway, slot.metric, slot.protocol, 0, slot.table}, RTM_NEWROUTE,
                 NLM_F_REPLACE);
}

std::error_code NetlinkRouteTable::remove_default(const RouteSlot& slot) {
  // The kernel matches the protocol too, so a foreign route with our metric stays.
  return ignore_missing(
      request(DefaultRoute{0, slot.metric, slot.protocol, 0, slot.table}, RTM_DELROUTE, 0));
}

std::error_code NetlinkRouteTable::delete_route(const DefaultRoute& route) {
  return ignore_missing(request(route, RTM_DELROUTE, 0));
}

IoResult<std::vector<DefaultRoute>> NetlinkRouteTable::default_routes(std::uint32_t table) {
  // A plain dump, not rtnl_route_alloc_cache: the cache keys routes by table, destination, tos
  // and metric, so two default routes of one metric (ours and an appended foreign one) would
  // merge into one entry and the foreign one would never be seen.
  if (int err = nl_rtgen_request(socket_.get(), RTM_GETROUTE, AF_INET, NLM_F_DUMP); err < 0) {
    return fail(from_nle(err));
  }
  NlCb cb(nl_cb_alloc(NL_CB_DEFAULT));
  if (!cb) return fail(std::error_code(ENOMEM, std::system_category()));
  struct Dump {
    std::uint32_t table;
    std::vector<DefaultRoute> routes;
  } dump{table, {}};
  nl_cb_set(
      cb.get(), NL_CB_VALID, NL_CB_CUSTOM,
      [](nl_msg* msg, void* arg) {
        nl_msg_parse(
            msg,
            [](nl_object* object, void* d) {
              auto* out = static_cast<Dump*>(d);
              auto* route = reinterpret_cast<rtnl_route*>(object);
              if (is_ipv4_default_in(route, out->table)) out->routes.push_back(describe(route));
            },
            arg);
        return static_cast<int>(NL_OK);
      },
      &dump);
  if (int err = nl_recvmsgs(socket_.get(), cb.get()); err < 0) return fail(from_nle(err));
  return std::move(dump.routes);
}

IoResult<std::unique_ptr<NetlinkTableWatch>> NetlinkTableWatch::open(asio::io_context& io,
                                                                     Handler handler) {
  std::unique_ptr<NetlinkTableWatch> watch(new NetlinkTableWatch(std::move(handler)));
  NetlinkTableWatch* self = watch.get();
  auto events = NetlinkEventSocket::open(
      io, {RTNLGRP_IPV4_ROUTE, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_RULE},
      [self](nl_msg*) { self->pending_ = true; },
      [self](bool lost) {
        // One call for a burst; the handler re-reads the table itself. A lost event could have
        // been the one that mattered, so it counts as a change.
        if (!self->pending_ && !lost) return;
        self->pending_ = false;
        self->handler_();
      });
  if (!events) return fail(events.error());
  watch->events_ = std::move(*events);
  return watch;
}

IoResult<bool> fib_routes_via(nl_sock* socket, int ifindex, const IpAddress& destination) {
  NlMsg msg(nlmsg_alloc_simple(RTM_GETROUTE, 0));
  if (!msg) return fail(std::error_code(ENOMEM, std::system_category()));
  const bool v6 = destination.family == Family::kIpv6;
  rtmsg header{};
  header.rtm_family = v6 ? AF_INET6 : AF_INET;
  header.rtm_dst_len = v6 ? 128 : 32;
  header.rtm_flags = RTM_F_FIB_MATCH;
  std::uint32_t v4_be = htonl(destination.v4);
  const void* address = v6 ? static_cast<const void*>(destination.v6.bytes.data()) : &v4_be;
  const int address_size = v6 ? 16 : 4;
  if (nlmsg_append(msg.get(), &header, sizeof header, NLMSG_ALIGNTO) < 0 ||
      nla_put(msg.get(), RTA_DST, address_size, address) < 0 ||
      nla_put_u32(msg.get(), RTA_OIF, static_cast<std::uint32_t>(ifindex)) < 0) {
    return fail(std::error_code(ENOBUFS, std::system_category()));
  }
  std::error_code error = netlink_request(socket, msg.get());
  if (!error) return true;
  if (error.value() == ENETUNREACH || error.value() == EHOSTUNREACH || error.value() == ENODEV ||
      error.value() == ESRCH) {
    return false;
  }
  return fail(error);
}

}  // namespace ispf

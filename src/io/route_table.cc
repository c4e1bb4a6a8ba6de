// NetlinkRouteTable and NetlinkTableWatch: default routes of both families read, replaced and
// deleted through libnl, with the kernel's errno kept (libnl would turn ENETUNREACH into
// NLE_FAILURE); and the IPv6 addresses of usable links.
#include "route_table.h"

#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/route/addr.h>
#include <netlink/route/nexthop.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

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

bool is_ipv6_default_in(rtnl_route* route, std::uint32_t table) {
  nl_addr* dst = rtnl_route_get_dst(route);
  return rtnl_route_get_family(route) == AF_INET6 && rtnl_route_get_table(route) == table &&
         rtnl_route_get_type(route) == RTN_UNICAST && (!dst || nl_addr_get_prefixlen(dst) == 0);
}

std::optional<Ipv6Address> ipv6_of(nl_addr* addr) {
  if (!addr || nl_addr_get_family(addr) != AF_INET6 || nl_addr_get_len(addr) != 16) {
    return std::nullopt;
  }
  Ipv6Address out;
  std::memcpy(out.bytes.data(), nl_addr_get_binary_addr(addr), 16);
  return out;
}

// One entry per nexthop: an IPv6 route appended with the metric of another one that has a
// gateway joins it as a multipath route, and each of its nexthops can be deleted alone.
void describe6(rtnl_route* route, std::vector<DefaultRoute6>& out) {
  DefaultRoute6 base;
  base.metric = rtnl_route_get_priority(route);
  base.protocol = rtnl_route_get_protocol(route);
  base.table = rtnl_route_get_table(route);
  base.preferred_source = ipv6_of(rtnl_route_get_pref_src(route));
  int count = rtnl_route_get_nnexthops(route);
  if (count == 0) out.push_back(base);
  for (int i = 0; i < count; ++i) {
    rtnl_nexthop* nh = rtnl_route_nexthop_n(route, i);
    DefaultRoute6 one = base;
    one.ifindex = rtnl_route_nh_get_ifindex(nh);
    if (auto gateway = ipv6_of(rtnl_route_nh_get_gateway(nh))) one.gateway = *gateway;
    out.push_back(one);
  }
}

// An IPv6 default route as libnl builds it; an unspecified gateway, ifindex 0 and no source
// leave those out (the kernel's "any" when deleting; metric 0 and protocol 0 are "any" too).
NlRoute make_default6(const DefaultRoute6& r) {
  NlRoute route(rtnl_route_alloc());
  if (!route) return route;
  rtnl_route_set_family(route.get(), AF_INET6);
  rtnl_route_set_table(route.get(), r.table);
  NlAddr dst = make_ipv6_addr(Ipv6Address{}, 0);
  if (!dst) return NlRoute();
  rtnl_route_set_dst(route.get(), dst.get());
  rtnl_route_set_priority(route.get(), r.metric);
  rtnl_route_set_protocol(route.get(), r.protocol);
  rtnl_route_set_scope(route.get(), RT_SCOPE_UNIVERSE);
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  if (r.preferred_source) {
    NlAddr source = make_ipv6_addr(*r.preferred_source, 128);
    if (!source) return NlRoute();
    rtnl_route_set_pref_src(route.get(), source.get());
  }
  if (!r.gateway.is_unspecified() || r.ifindex != 0) {
    std::unique_ptr<rtnl_nexthop, decltype(&rtnl_route_nh_free)> nh(rtnl_route_nh_alloc(),
                                                                    rtnl_route_nh_free);
    if (!nh) return NlRoute();
    if (!r.gateway.is_unspecified()) {
      NlAddr gw = make_ipv6_addr(r.gateway, 128);
      if (!gw) return NlRoute();
      rtnl_route_nh_set_gateway(nh.get(), gw.get());
    }
    if (r.ifindex != 0) rtnl_route_nh_set_ifindex(nh.get(), r.ifindex);
    rtnl_route_add_nexthop(route.get(), nh.release());  // the route owns it from here
  }
  return route;
}

// Runs one RTM_GETROUTE dump of `family` and hands every route to `visit`. A plain dump, not
// rtnl_route_alloc_cache: the cache keys routes by table, destination, tos and metric, so two
// default routes of one metric (ours and an appended foreign one) would merge into one entry
// and the foreign one would never be seen.
template <class Visit>
std::error_code dump_routes(nl_sock* socket, int family, Visit visit) {
  if (int err = nl_rtgen_request(socket, RTM_GETROUTE, family, NLM_F_DUMP); err < 0) {
    return from_nle(err);
  }
  NlCb cb(nl_cb_alloc(NL_CB_DEFAULT));
  if (!cb) return std::error_code(ENOMEM, std::system_category());
  nl_cb_set(
      cb.get(), NL_CB_VALID, NL_CB_CUSTOM,
      [](nl_msg* msg, void* arg) {
        nl_msg_parse(
            msg,
            [](nl_object* object, void* v) {
              (*static_cast<Visit*>(v))(reinterpret_cast<rtnl_route*>(object));
            },
            arg);
        return static_cast<int>(NL_OK);
      },
      &visit);
  if (int err = nl_recvmsgs(socket, cb.get()); err < 0) return from_nle(err);
  return {};
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

std::error_code NetlinkRouteTable::request(rtnl_route* route, int type, int flags) {
  if (!route) return {ENOMEM, std::system_category()};
  nl_msg* raw = nullptr;
  int err = type == RTM_NEWROUTE ? rtnl_route_build_add_request(route, flags, &raw)
                                 : rtnl_route_build_del_request(route, flags, &raw);
  if (err < 0) return from_nle(err);
  NlMsg msg(raw);
  return netlink_request(socket_.get(), msg.get());
}

std::error_code NetlinkRouteTable::replace_default(const RouteSlot& slot, std::uint32_t gateway) {
  // rtnl_route_build_add_request adds NLM_F_CREATE; with NLM_F_REPLACE it is one atomic swap.
  NlRoute route = make_default(DefaultRoute{gateway, slot.metric, slot.protocol, 0, slot.table});
  return request(route.get(), RTM_NEWROUTE, NLM_F_REPLACE);
}

std::error_code NetlinkRouteTable::remove_default(const RouteSlot& slot) {
  // The kernel matches the protocol too, so a foreign route with our metric stays.
  NlRoute route = make_default(DefaultRoute{0, slot.metric, slot.protocol, 0, slot.table});
  return ignore_missing(request(route.get(), RTM_DELROUTE, 0));
}

std::error_code NetlinkRouteTable::delete_route(const DefaultRoute& route) {
  NlRoute message = make_default(route);
  return ignore_missing(request(message.get(), RTM_DELROUTE, 0));
}

IoResult<std::vector<DefaultRoute>> NetlinkRouteTable::default_routes(std::uint32_t table) {
  std::vector<DefaultRoute> routes;
  auto error = dump_routes(socket_.get(), AF_INET, [&](rtnl_route* route) {
    if (is_ipv4_default_in(route, table)) routes.push_back(describe(route));
  });
  if (error) return fail(error);
  return routes;
}

IoResult<std::vector<DefaultRoute6>> NetlinkRouteTable::default_routes6(std::uint32_t table) {
  std::vector<DefaultRoute6> routes;
  auto error = dump_routes(socket_.get(), AF_INET6, [&](rtnl_route* route) {
    if (is_ipv6_default_in(route, table)) describe6(route, routes);
  });
  if (error) return fail(error);
  return routes;
}

std::error_code NetlinkRouteTable::replace_default6(const RouteSlot& slot, const Route6Via& via) {
  DefaultRoute6 wanted{via.gateway,   via.ifindex, slot.metric,
                       slot.protocol, slot.table,  via.preferred_source};
  NlRoute route = make_default6(wanted);
  return request(route.get(), RTM_NEWROUTE, NLM_F_REPLACE);
}

std::error_code NetlinkRouteTable::remove_default6(const RouteSlot& slot) {
  // Table, metric and protocol: the kernel's IPv6 delete matches each one given, so a foreign
  // route of our metric (an RA route never has it) stays.
  DefaultRoute6 ours{{}, 0, slot.metric, slot.protocol, slot.table, std::nullopt};
  NlRoute route = make_default6(ours);
  return ignore_missing(request(route.get(), RTM_DELROUTE, 0));
}

std::error_code NetlinkRouteTable::delete_route6(const DefaultRoute6& route) {
  // Without the source: the kernel does not match it, and one removed meanwhile would only
  // make the request look different from the listed route.
  DefaultRoute6 exact = route;
  exact.preferred_source.reset();
  NlRoute message = make_default6(exact);
  return ignore_missing(request(message.get(), RTM_DELROUTE, 0));
}

IoResult<std::unique_ptr<NetlinkTableWatch>> NetlinkTableWatch::open(asio::io_context& io,
                                                                     Handler handler) {
  std::unique_ptr<NetlinkTableWatch> watch(new NetlinkTableWatch(std::move(handler)));
  NetlinkTableWatch* self = watch.get();
  auto events = NetlinkEventSocket::open(
      io,
      // Rules of both families: sticky connections' fwmark rules someone deleted are put back.
      {RTNLGRP_IPV4_ROUTE, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_RULE, RTNLGRP_IPV6_ROUTE,
       RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV6_RULE},
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

IoResult<std::vector<Ipv6InterfaceAddress>> list_ipv6_addresses(nl_sock* socket) {
  // Links first: an address says nothing about whether its link is up and has carrier.
  nl_cache* raw_links = nullptr;
  if (int err = rtnl_link_alloc_cache(socket, AF_UNSPEC, &raw_links); err < 0) {
    return fail(from_nle(err));
  }
  NlCache links(raw_links);
  nl_cache* raw_addresses = nullptr;
  if (int err = rtnl_addr_alloc_cache(socket, &raw_addresses); err < 0) {
    return fail(from_nle(err));
  }
  NlCache addresses(raw_addresses);
  std::vector<Ipv6InterfaceAddress> out;
  for (nl_object* object = nl_cache_get_first(addresses.get()); object;
       object = nl_cache_get_next(object)) {
    auto* addr = reinterpret_cast<rtnl_addr*>(object);
    if (rtnl_addr_get_family(addr) != AF_INET6) continue;
    unsigned flags = rtnl_addr_get_flags(addr);
    // Not yet (or never) the host's: the kernel would not use it as a source either.
    if (flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) continue;
    auto local = ipv6_of(rtnl_addr_get_local(addr));
    if (!local) continue;
    int ifindex = rtnl_addr_get_ifindex(addr);
    NlLink link(rtnl_link_get(links.get(), ifindex));
    if (!link) continue;
    unsigned link_flags = rtnl_link_get_flags(link.get());
    if (!(link_flags & IFF_UP) || !(link_flags & IFF_RUNNING)) continue;
    const char* name = rtnl_link_get_name(link.get());
    Ipv6InterfaceAddress entry;
    entry.address = *local;
    entry.prefix_length = rtnl_addr_get_prefixlen(addr);
    entry.ifindex = ifindex;
    entry.ifname = name ? name : "";
    entry.deprecated = (flags & IFA_F_DEPRECATED) != 0;
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace ispf

// failoverd's default route through libnl-route-3: replace, remove, list, delete, watch.
#include "ispfailover/io/route_writer.h"

#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/route/nexthop.h>
#include <unistd.h>

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

// Deleting what is already gone is success: someone else got there first.
std::error_code ignore_missing(int err) {
  if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NOADDR) return {};
  return err < 0 ? netlink_error(err) : std::error_code{};
}

}  // namespace

Result<std::unique_ptr<NetlinkRouteWriter>, std::error_code> NetlinkRouteWriter::open(
    RouteSlot slot) {
  auto socket = open_route_socket();
  if (!socket) return fail(socket.error());
  return std::unique_ptr<NetlinkRouteWriter>(new NetlinkRouteWriter(std::move(*socket), slot));
}

NetlinkRouteWriter::NetlinkRouteWriter(NlSocket socket, RouteSlot slot)
    : socket_(std::move(socket)), slot_(slot) {}

NlRoute NetlinkRouteWriter::make_default(std::uint32_t gateway, std::uint32_t metric,
                                         std::uint8_t protocol, int ifindex) {
  NlRoute route(rtnl_route_alloc());
  rtnl_route_set_family(route.get(), AF_INET);
  rtnl_route_set_table(route.get(), slot_.table);
  NlAddr dst = make_ipv4_addr(0, 0);
  rtnl_route_set_dst(route.get(), dst.get());
  rtnl_route_set_priority(route.get(), metric);
  rtnl_route_set_protocol(route.get(), protocol);
  rtnl_route_set_scope(route.get(), RT_SCOPE_UNIVERSE);
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  if (gateway != 0 || ifindex != 0) {
    rtnl_nexthop* nh = rtnl_route_nh_alloc();
    if (gateway != 0) {
      NlAddr gw = make_ipv4_addr(gateway, 32);
      rtnl_route_nh_set_gateway(nh, gw.get());
    }
    if (ifindex != 0) rtnl_route_nh_set_ifindex(nh, ifindex);
    rtnl_route_add_nexthop(route.get(), nh);  // the route owns nh from here
  }
  return route;
}

std::error_code NetlinkRouteWriter::replace_default(std::uint32_t gateway) {
  NlRoute route = make_default(gateway, slot_.metric, slot_.protocol, 0);
  int err = rtnl_route_add(socket_.get(), route.get(), NLM_F_REPLACE);
  return err < 0 ? netlink_error(err) : std::error_code{};
}

std::error_code NetlinkRouteWriter::remove_default() {
  // The kernel matches the protocol too, so a foreign route with our metric stays.
  NlRoute route = make_default(0, slot_.metric, slot_.protocol, 0);
  return ignore_missing(rtnl_route_delete(socket_.get(), route.get(), 0));
}

Result<std::vector<DefaultRoute>, std::error_code> NetlinkRouteWriter::default_routes() {
  nl_cache* raw = nullptr;
  if (int err = rtnl_route_alloc_cache(socket_.get(), AF_INET, 0, &raw); err < 0) {
    return fail(netlink_error(err));
  }
  NlCache cache(raw);
  std::vector<DefaultRoute> routes;
  for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
    auto* route = reinterpret_cast<rtnl_route*>(o);
    if (is_ipv4_default_in(route, slot_.table)) routes.push_back(describe(route));
  }
  return routes;
}

std::error_code NetlinkRouteWriter::delete_route(const DefaultRoute& victim) {
  NlRoute route = make_default(victim.gateway, victim.metric, victim.protocol, victim.ifindex);
  return ignore_missing(rtnl_route_delete(socket_.get(), route.get(), 0));
}

Result<std::unique_ptr<RouteWatch>, std::error_code> RouteWatch::open(asio::io_context& io,
                                                                      std::uint32_t table,
                                                                      Handler on_change) {
  auto socket = open_route_socket({RTNLGRP_IPV4_ROUTE});
  if (!socket) return fail(socket.error());
  std::unique_ptr<RouteWatch> watch(
      new RouteWatch(io, std::move(*socket), table, std::move(on_change)));
  watch->wait();
  return watch;
}

RouteWatch::RouteWatch(asio::io_context& io, NlSocket socket, std::uint32_t table,
                       Handler on_change)
    : socket_(std::move(socket)),
      descriptor_(io, ::dup(nl_socket_get_fd(socket_.get()))),
      table_(table),
      on_change_(std::move(on_change)) {
  nl_socket_modify_cb(socket_.get(), NL_CB_VALID, NL_CB_CUSTOM, &RouteWatch::on_message, this);
}

RouteWatch::~RouteWatch() {
  std::error_code ignored;
  descriptor_.cancel(ignored);
}

void RouteWatch::wait() {
  descriptor_.async_wait(asio::posix::stream_descriptor::wait_read, [this](std::error_code ec) {
    if (ec == asio::error::operation_aborted) return;
    pending_ = false;
    int err = 0;
    while ((err = nl_recvmsgs_default(socket_.get())) >= 0) {
    }
    // A lost event (buffer overrun) could have been about our route: look again to be sure.
    if (err != -NLE_AGAIN) pending_ = true;
    // One callback for a burst of events; the handler re-reads the table itself.
    if (pending_) on_change_();
    wait();
  });
}

int RouteWatch::on_message(nl_msg* msg, void* self_ptr) {
  auto* self = static_cast<RouteWatch*>(self_ptr);
  nl_msg_parse(
      msg,
      [](nl_object* object, void* arg) {
        auto* watch = static_cast<RouteWatch*>(arg);
        if (is_ipv4_default_in(reinterpret_cast<rtnl_route*>(object), watch->table_)) {
          watch->pending_ = true;
        }
      },
      self);
  return NL_OK;
}

}  // namespace ispf

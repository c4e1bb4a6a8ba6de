// The kernel's IPv4 and IPv6 default routes through libnl-route-3, and the watch that says "look
// again".
#pragma once

#include <asio/io_context.hpp>
#include <memory>

#include "ispfailover/io/env.h"
#include "netlink.h"
#include "netlink_event_socket.h"

namespace ispf {

class NetlinkRouteTable final : public RouteTable {
 public:
  static IoResult<std::unique_ptr<NetlinkRouteTable>> open();
  IoResult<std::vector<DefaultRoute>> default_routes(std::uint32_t table) override;
  std::error_code replace_default(const RouteSlot& slot, std::uint32_t gateway) override;
  std::error_code remove_default(const RouteSlot& slot) override;
  std::error_code delete_route(const DefaultRoute& route) override;
  IoResult<std::vector<DefaultRoute6>> default_routes6(std::uint32_t table) override;
  std::error_code replace_default6(const RouteSlot& slot, const Route6Via& via) override;
  std::error_code remove_default6(const RouteSlot& slot) override;
  std::error_code delete_route6(const DefaultRoute6& route) override;

 private:
  explicit NetlinkRouteTable(NlSocket socket) : socket_(std::move(socket)) {}
  // Sends one route request and returns the kernel's own errno.
  std::error_code request(rtnl_route* route, int type, int flags);
  NlSocket socket_;
};

// Whether the FIB has a route to `destination` (either family) out of `ifindex`: RTM_GETROUTE
// with RTM_F_FIB_MATCH answers with the matching table entry, or fails (ENETUNREACH,
// EHOSTUNREACH) where a plain lookup bound to a device would invent an on-link route.
IoResult<bool> fib_routes_via(nl_sock* socket, int ifindex, const IpAddress& destination);

// The IPv6 addresses of links that are up and running, as Env::ipv6_addresses() promises.
IoResult<std::vector<Ipv6InterfaceAddress>> list_ipv6_addresses(nl_sock* socket);

// One subscription to routes and addresses of both families, links and IPv4 rules (ours among
// them); the handler runs at most once per drain of the socket, and after a lost event too.
class NetlinkTableWatch final : public TableWatch {
 public:
  static IoResult<std::unique_ptr<NetlinkTableWatch>> open(asio::io_context& io, Handler handler);

 private:
  explicit NetlinkTableWatch(Handler handler) : handler_(std::move(handler)) {}
  Handler handler_;
  bool pending_ = false;
  std::unique_ptr<NetlinkEventSocket> events_;
};

}  // namespace ispf

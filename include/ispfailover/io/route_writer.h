// The default route failoverd owns: written and watched through libnl (NETLINK_ROUTE).
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <system_error>
#include <vector>

#include "ispfailover/core/result.h"
#include "ispfailover/io/netlink.h"

namespace ispf {

struct RouteSlot {
  std::uint32_t table = 254;  // main
  std::uint32_t metric = 0;
  std::uint8_t protocol = 150;  // ours: see kRouteProtocol
};

struct DefaultRoute {
  std::uint32_t gateway = 0;  // host order; 0 for a route without a gateway
  std::uint32_t metric = 0;
  std::uint8_t protocol = 0;
  int ifindex = 0;
};

// The seam between the daemon and the kernel's routing table. Real: NetlinkRouteWriter.
class RouteWriter {
 public:
  virtual ~RouteWriter() = default;
  // Our default route via `gateway`, in one NLM_F_REPLACE: never a moment without a route.
  virtual std::error_code replace_default(std::uint32_t gateway) = 0;
  // Removes our default route (our protocol, our metric) if it is there.
  virtual std::error_code remove_default() = 0;
  // Every IPv4 default route in our table, ours and foreign.
  virtual Result<std::vector<DefaultRoute>, std::error_code> default_routes() = 0;
  // Deletes one foreign default route exactly as listed.
  virtual std::error_code delete_route(const DefaultRoute& route) = 0;
  virtual const RouteSlot& slot() const = 0;
};

class NetlinkRouteWriter final : public RouteWriter {
 public:
  static Result<std::unique_ptr<NetlinkRouteWriter>, std::error_code> open(RouteSlot slot);
  std::error_code replace_default(std::uint32_t gateway) override;
  std::error_code remove_default() override;
  Result<std::vector<DefaultRoute>, std::error_code> default_routes() override;
  std::error_code delete_route(const DefaultRoute& route) override;
  const RouteSlot& slot() const override { return slot_; }

 private:
  NetlinkRouteWriter(NlSocket socket, RouteSlot slot);
  NlRoute make_default(std::uint32_t gateway, std::uint32_t metric, std::uint8_t protocol,
                       int ifindex);
  NlSocket socket_;
  RouteSlot slot_;
};

// Calls `on_change` whenever an IPv4 default route in `table` is added, changed or deleted, by
// anyone (us included). Joins the io_context as a descriptor.
class RouteWatch {
 public:
  using Handler = std::function<void()>;
  static Result<std::unique_ptr<RouteWatch>, std::error_code> open(asio::io_context& io,
                                                                   std::uint32_t table,
                                                                   Handler on_change);
  ~RouteWatch();

 private:
  RouteWatch(asio::io_context& io, NlSocket socket, std::uint32_t table, Handler on_change);
  void wait();
  static int on_message(nl_msg* msg, void* self);
  NlSocket socket_;
  asio::posix::stream_descriptor descriptor_;
  std::uint32_t table_;
  Handler on_change_;
  bool pending_ = false;
};

}  // namespace ispf

// The uplink's state from netlink link events, on the daemon's io_context (no thread).
#pragma once

#include <asio.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include "ispfailover/core/result.h"
#include "ispfailover/io/netlink.h"

namespace ispf {

struct LinkStatus {
  bool exists = false;
  bool admin_up = false;  // IFF_UP: `ip link set X up`
  bool carrier = false;   // IFF_LOWER_UP: the cable (or veth peer) is there
  bool usable() const { return exists && admin_up && carrier; }
};

class LinkWatch {
 public:
  using Handler = std::function<void(const LinkStatus&)>;
  // Reads the link's current state, then reports every change of it through `on_change`.
  static Result<std::unique_ptr<LinkWatch>, std::error_code> open(asio::io_context& io,
                                                                  const std::string& ifname,
                                                                  Handler on_change);
  ~LinkWatch();
  const LinkStatus& status() const { return status_; }

 private:
  LinkWatch(asio::io_context& io, NlSocket socket, std::string ifname, Handler on_change);
  void wait();
  void on_readable();
  void apply(const LinkStatus& status);
  static int on_message(nl_msg* msg, void* self);

  NlSocket socket_;
  asio::posix::stream_descriptor descriptor_;
  std::string ifname_;
  int ifindex_ = 0;
  Handler on_change_;
  LinkStatus status_;
};

// Reads one link's state now (RTM_GETLINK).
Result<LinkStatus, std::error_code> query_link(const std::string& ifname);

}  // namespace ispf

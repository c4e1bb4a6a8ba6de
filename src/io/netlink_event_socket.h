// A subscribed netlink socket on the io_context (no thread): the one reader of kernel events
// behind the link watch, the table watch (NETLINK_ROUTE) and the nftables watch
// (NETLINK_NETFILTER).
#pragma once

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <functional>
#include <initializer_list>
#include <memory>
#include <utility>

#include "netlink.h"

namespace ispf {

class NetlinkEventSocket {
 public:
  // Called for every event message, in the kernel's order, from inside libnl: it must only take
  // notes, never call code that could destroy this socket.
  using MessageHandler = std::function<void(nl_msg* msg)>;
  // Called once after each drain of the socket; `lost` when events were lost (ENOBUFS: the
  // kernel overran our buffer) or could not be read, so the caller must re-query the kernel.
  // The place to call the owner's handlers: it may destroy this socket.
  using DrainHandler = std::function<void(bool lost)>;

  // A NETLINK_ROUTE socket subscribed to `groups` (RTNLGRP_*).
  static IoResult<std::unique_ptr<NetlinkEventSocket>> open(asio::io_context& io,
                                                            std::initializer_list<int> groups,
                                                            MessageHandler on_message,
                                                            DrainHandler on_drained) {
    return open(io, NETLINK_ROUTE, groups, std::move(on_message), std::move(on_drained));
  }
  // A socket of netlink `protocol` subscribed to `groups` of that protocol.
  static IoResult<std::unique_ptr<NetlinkEventSocket>> open(asio::io_context& io, int protocol,
                                                            std::initializer_list<int> groups,
                                                            MessageHandler on_message,
                                                            DrainHandler on_drained);
  ~NetlinkEventSocket();
  NetlinkEventSocket(const NetlinkEventSocket&) = delete;
  NetlinkEventSocket& operator=(const NetlinkEventSocket&) = delete;

 private:
  NetlinkEventSocket(asio::io_context& io, NlSocket socket, int descriptor,
                     MessageHandler on_message, DrainHandler on_drained);
  void wait();
  void drain();

  NlSocket socket_;
  asio::posix::stream_descriptor descriptor_;
  MessageHandler on_message_;
  DrainHandler on_drained_;
  // A handler already queued when we are destroyed must not touch us.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace ispf

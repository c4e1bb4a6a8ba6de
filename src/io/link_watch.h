// One interface followed by name through netlink link events: it may appear, vanish, be made
// anew with another ifindex, or be renamed away and back.
#pragma once

#include <asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "ispfailover/io/env.h"
#include "netlink_event_socket.h"

namespace ispf {

class NetlinkLinkWatch final : public LinkWatch {
 public:
  // Reads the link's state now (a missing link is a state, not an error), then reports every
  // change of it.
  static IoResult<std::unique_ptr<NetlinkLinkWatch>> open(asio::io_context& io,
                                                          const std::string& ifname,
                                                          Handler on_change);
  ~NetlinkLinkWatch() override;
  LinkStatus status() const override { return status_; }

 private:
  NetlinkLinkWatch(std::string ifname, Handler on_change, NlSocket query_socket);
  void on_message(nl_msg* msg);
  void on_drained(bool lost);
  void note(const LinkStatus& status);

  std::string ifname_;
  Handler on_change_;
  // Opened with the watch, so a re-query asks the namespace the watch was opened in.
  NlSocket query_socket_;
  std::unique_ptr<NetlinkEventSocket> events_;
  int ifindex_ = 0;                // of the link now called ifname_, 0 while there is none
  LinkStatus status_;              // as last reported
  std::vector<LinkStatus> noted_;  // changes seen in this drain, reported after it
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Reads one link's state and ifindex now (RTM_GETLINK); a missing link is {exists=false}, 0.
IoResult<std::pair<LinkStatus, int>> query_link(nl_sock* socket, const std::string& ifname);

}  // namespace ispf

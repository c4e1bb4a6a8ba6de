// LinuxSteering: sticky connections and resets, both families, on the real kernel (libnftables for
// our table, libnl for the per-ISP routing tables and fwmark rules, conntrack and inet_diag for
// resets).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "conntrack.h"
#include "ispfailover/io/env.h"
#include "netlink.h"
#include "nftables.h"

namespace ispf {

class LinuxSteering final : public ConnectionSteering {
 public:
  static IoResult<std::unique_ptr<LinuxSteering>> open();
  ~LinuxSteering() override;

  IoResult<std::vector<std::string>> apply(const SteeringState& state) override;
  std::string last_error_detail() const override { return last_nft_error_; }
  std::error_code remove() override;
  ResetOutcome reset(const ConnectionReset& reset) override;
  IoResult<std::map<std::string, ConnectionCounts>> count(const SteeringState& state) override;

 private:
  LinuxSteering(NlSocket socket, std::unique_ptr<RouteTable> routes, Nftables nft,
                MarkedConnections connections);
  // Our nftables table as `state` wants it, unless it is already exactly what we last wrote.
  IoResult<bool> apply_table(const SteeringState& state);
  // Our fwmark rules (rtm_protocol ours): the wanted ones added, any other of ours deleted.
  IoResult<std::vector<std::string>> apply_rules(const SteeringState& state);
  // Each ISP's table: a default route via its gateway while it is routed, none otherwise.
  IoResult<std::vector<std::string>> apply_routes(const SteeringState& state);
  // The same tables' IPv6 side: a default route via gateway6 while routed6, none otherwise.
  IoResult<std::vector<std::string>> apply_routes6(const SteeringState& state);

  NlSocket socket_;
  std::unique_ptr<RouteTable> routes_;
  Nftables nft_;
  MarkedConnections connections_;
  std::optional<SteeringState> applied_;  // the last state put in place whole
  std::string listing_;                   // our table as the kernel listed it after that
  std::string last_nft_error_;
};

}  // namespace ispf

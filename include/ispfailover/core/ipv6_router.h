// failoverd's IPv6 side: which ISP carries the IPv6 default route, decided apart from IPv4 from
// each ISP's IPv6 verdict, and that route (gateway, interface, preferred source) in the table.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "ispfailover/core/clock.h"
#include "ispfailover/core/config.h"
#include "ispfailover/core/failover_policy.h"
#include "ispfailover/core/hooks.h"
#include "ispfailover/core/log_event.h"
#include "ispfailover/core/route.h"
#include "ispfailover/core/status_message.h"
#include "ispfailover/core/status_report.h"
#include "ispfailover/core/steering.h"

namespace ispf {

class Ipv6Router {
 public:
  // The ISPs of `settings` that have a gateway6; none: the router is idle (enabled() false).
  Ipv6Router(const FailoverSettings& settings, TimePoint now);
  bool enabled() const { return !isps_.empty(); }
  const RouteSlot& slot() const { return slot_; }

  // Our own route from before a restart is taken as the choice, like the IPv4 one.
  std::vector<LogEvent> adopt(const std::vector<DefaultRoute6>& table);
  // A datagram the IPv4 side accepted (decoded, verified, not a replay): its IPv6 verdict, or
  // the IPv4 one where the router sends none.
  void on_status(const Status& status, std::uint32_t source, TimePoint now);
  // Our table's IPv6 default routes as they are now.
  void set_table(std::vector<DefaultRoute6> table);
  // The IPv6 addresses of our usable links: which gateways we reach, and our sources. Returns
  // whether anything the decision or the route depends on changed.
  bool set_addresses(std::vector<Ipv6InterfaceAddress> addresses, TimePoint now);

  struct Step {
    std::vector<LogEvent> log;
    std::vector<HookEvent> hooks;  // switch and isp-state, with ISPF_FAMILY=ipv6
    bool changed = false;          // the IPv6 route moved to another ISP (or went)
    bool health_changed = false;   // some ISP's IPv6 health changed
  };
  Step evaluate(Now now);
  // The edits that make the table hold what we want: our route (replaced when its gateway,
  // interface or source differ) and no route from a router advertisement in our table.
  std::vector<RouteEdit> reconcile() const;
  // One edit's outcome (the table as it now is, and a line for people).
  void on_edit_done(const RouteEdit& edit, std::error_code result, std::vector<LogEvent>& log);
  std::optional<TimePoint> next_deadline(TimePoint now) const;
  // The route we want now (nullopt: none).
  std::optional<Route6Via> desired() const;
  // The ISP the IPv6 route goes through now (nullopt: none).
  std::optional<std::string> active_name() const;
  Ipv6Report report(TimePoint now) const;
  // New settings (already checked): the ISP list and policy; the active ISP stays if kept.
  void reconfigure(const FailoverSettings& settings);
  // The IPv6 part of the steering, by the IPv6 verdicts alone: routed6 of each ISP of `state`
  // with a gateway6, and the IPv6 resets (added to `resets`) with `reset` on; the same rules
  // as IPv4's (steer_family), with a memory of their own.
  void steer(SteeringState& state, bool reset, std::vector<ConnectionReset>& resets, TimePoint now);
  // SIGTERM with --cleanup-on-exit: our route goes.
  std::optional<RouteEdit> cleanup() const;

 private:
  const IspConfig* isp(const std::string& name) const;
  // The address of ours to leave by through `isp`: one in the prefix it announces, else one in
  // the on-link prefix that holds its global gateway6; nullopt if neither.
  std::optional<Ipv6Address> source_for(const IspConfig& isp) const;
  // The link `isp`'s gateway6 is on (0: not reachable on any usable link now).
  int ifindex_for(const IspConfig& isp) const;

  std::vector<IspConfig> isps_;  // with gateway6, preference order
  RouteSlot slot_;
  FailoverPolicy policy_;
  std::vector<DefaultRoute6> table_;
  bool table_known_ = false;
  std::vector<Ipv6InterfaceAddress> addresses_;
  bool addresses_known_ = false;
  std::map<std::string, Ipv6Prefix> announced_prefix_;
  std::map<std::string, bool> own_verdict_;
  std::map<std::string, Ipv6Address> adopted_source_;  // from before a restart, until a report
  std::vector<IspHealth> last_health_;
  std::string last_switch_;
  ResetMemory steering_memory_;
};

}  // namespace ispf

// LinuxSteering: our nftables table, per-ISP routing tables and fwmark rules, and resets.
#include "steering.h"

#include <linux/fib_rules.h>
#include <net/if.h>
#include <netlink/route/rule.h>

#include <algorithm>
#include <set>

#include "ispfailover/core/config.h"
#include "ispfailover/core/format.h"
#include "route_table.h"

namespace ispf {
namespace {

struct RulePut {
  void operator()(rtnl_rule* r) const { rtnl_rule_put(r); }
};
using NlRule = std::unique_ptr<rtnl_rule, RulePut>;

// One fwmark rule as we want it or found it: `priority: fwmark mark/mask lookup table`.
struct MarkRule {
  std::uint32_t priority = 0;
  std::uint32_t mark = 0;
  std::uint32_t mask = 0;
  std::uint32_t table = 0;
  bool operator==(const MarkRule&) const = default;
};

NlRule make_rule(const MarkRule& wanted, std::uint8_t protocol, int family) {
  NlRule rule(rtnl_rule_alloc());
  if (!rule) return rule;
  rtnl_rule_set_family(rule.get(), family);
  rtnl_rule_set_prio(rule.get(), wanted.priority);
  rtnl_rule_set_mark(rule.get(), wanted.mark);
  rtnl_rule_set_mask(rule.get(), wanted.mask);
  rtnl_rule_set_table(rule.get(), wanted.table);
  rtnl_rule_set_action(rule.get(), FR_ACT_TO_TBL);
  rtnl_rule_set_protocol(rule.get(), protocol);
  return rule;
}

std::string describe(const MarkRule& rule, int family) {
  return std::string(family == AF_INET6 ? "IPv6 " : "") + "rule " + std::to_string(rule.priority) +
         " (fwmark " + format_hex32(rule.mark) + "/" + format_hex32(rule.mask) + " lookup " +
         std::to_string(rule.table) + ")";
}

// Our rules of one family as the kernel lists them: those whose rtm_protocol is ours. (IPv4 and
// IPv6 rules live apart in the kernel: the same numbers in both are two rules.)
IoResult<std::vector<MarkRule>> our_rules(nl_sock* socket, std::uint8_t protocol, int family) {
  nl_cache* raw = nullptr;
  if (int err = rtnl_rule_alloc_cache(socket, family, &raw); err < 0) return fail(from_nle(err));
  NlCache cache(raw);
  std::vector<MarkRule> found;
  for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o)) {
    auto* rule = reinterpret_cast<rtnl_rule*>(o);
    // The dump may hold the other family's rules too (libnl's cache does not filter them): the
    // same numbers there are another rule.
    if (rtnl_rule_get_family(rule) != family) continue;
    std::uint8_t its = 0;
    if (rtnl_rule_get_protocol(rule, &its) < 0 || its != protocol) continue;
    found.push_back(MarkRule{rtnl_rule_get_prio(rule), rtnl_rule_get_mark(rule),
                             rtnl_rule_get_mask(rule), rtnl_rule_get_table(rule)});
  }
  return found;
}

std::error_code rule_request(nl_sock* socket, const MarkRule& rule, std::uint8_t protocol,
                             int family, bool add) {
  NlRule object = make_rule(rule, protocol, family);
  if (!object) return std::make_error_code(std::errc::not_enough_memory);
  nl_msg* raw = nullptr;
  int err = add ? rtnl_rule_build_add_request(object.get(), NLM_F_CREATE | NLM_F_EXCL, &raw)
                : rtnl_rule_build_delete_request(object.get(), 0, &raw);
  if (err < 0) return from_nle(err);
  NlMsg msg(raw);
  return netlink_request(socket, msg.get());
}

// The IPv6 routes' metric in the ISP tables: the kernel stores a metric of 0 as 1024 for IPv6,
// and our slot must be what it lists.
constexpr std::uint32_t kMetric6 = 1;

// A kernel without IPv6 (ipv6.disable=1) refuses IPv6 route requests: it can hold none of ours,
// and an IPv4-only configuration must not fail over it.
bool without_ipv6(std::error_code ec) {
  return ec == std::errc::operation_not_supported || ec == std::errc::address_family_not_supported;
}

}  // namespace

LinuxSteering::LinuxSteering(NlSocket socket, std::unique_ptr<RouteTable> routes, Nftables nft,
                             MarkedConnections connections)
    : socket_(std::move(socket)),
      routes_(std::move(routes)),
      nft_(std::move(nft)),
      connections_(std::move(connections)) {}

LinuxSteering::~LinuxSteering() = default;

IoResult<std::unique_ptr<LinuxSteering>> LinuxSteering::open() {
  auto socket = open_route_socket();
  if (!socket) return fail(socket.error());
  auto routes = NetlinkRouteTable::open();
  if (!routes) return fail(routes.error());
  auto nft = Nftables::open();
  if (!nft) return fail(nft.error());
  auto connections = MarkedConnections::open();
  if (!connections) return fail(connections.error());
  return std::unique_ptr<LinuxSteering>(new LinuxSteering(
      std::move(*socket), std::move(*routes), std::move(*nft), std::move(*connections)));
}

IoResult<bool> LinuxSteering::apply_table(const SteeringState& state) {
  // The structure of the table changes only with a reload; the routed flags live elsewhere.
  auto structure = [](SteeringState s) {
    for (auto& isp : s.isps) isp.routed = isp.routed6 = false;
    return s;
  };
  if (applied_ && structure(*applied_) == structure(state)) {
    auto listing = nft_.list_table("inet", kNftTable);
    if (listing && *listing == listing_) return false;
  }
  if (auto ec = nft_.run(nft_script(state))) {
    last_nft_error_ = nft_.last_error();
    return fail(ec);
  }
  auto listing = nft_.list_table("inet", kNftTable);
  if (!listing) return fail(listing.error());
  listing_ = *listing;
  return true;
}

IoResult<std::vector<std::string>> LinuxSteering::apply_rules(const SteeringState& state) {
  std::vector<std::string> wrote;
  for (int family : {AF_INET, AF_INET6}) {
    std::vector<MarkRule> wanted;
    if (state.sticky) {
      for (const auto& isp : state.isps) {
        // An ISP without gateway6 marks no IPv6 connection: no IPv6 rule to send one anywhere.
        if (family == AF_INET6 && !isp.gateway6) continue;
        wanted.push_back(MarkRule{isp.rule_priority, isp.mark, state.mark_mask, isp.table});
      }
    }
    auto found = our_rules(socket_.get(), state.route_protocol, family);
    if (!found && family == AF_INET6 && wanted.empty() && without_ipv6(found.error())) continue;
    if (!found) return fail(found.error());
    for (const auto& rule : *found) {
      if (std::find(wanted.begin(), wanted.end(), rule) != wanted.end()) continue;
      if (auto ec = rule_request(socket_.get(), rule, state.route_protocol, family, false);
          ec && ec != std::errc::no_such_file_or_directory) {
        return fail(ec);
      }
      wrote.push_back("deleted " + describe(rule, family));
    }
    for (const auto& rule : wanted) {
      if (std::find(found->begin(), found->end(), rule) != found->end()) continue;
      if (auto ec = rule_request(socket_.get(), rule, state.route_protocol, family, true);
          ec && ec != std::errc::file_exists) {
        return fail(ec);
      }
      wrote.push_back(describe(rule, family));
    }
  }
  return wrote;
}

IoResult<std::vector<std::string>> LinuxSteering::apply_routes(const SteeringState& state) {
  std::vector<std::string> wrote;
  for (const auto& isp : state.isps) {
    RouteSlot slot{isp.table, 0, state.route_protocol};
    bool wanted = state.sticky && isp.routed;
    auto routes = routes_->default_routes(isp.table);
    if (!routes) return fail(routes.error());
    bool present = false;
    bool correct = false;
    for (const auto& route : *routes) {
      if (!is_own(route, slot)) continue;
      present = true;
      correct = route.gateway == isp.gateway;
    }
    if (wanted && !correct) {
      auto ec = routes_->replace_default(slot, isp.gateway);
      // The gateway's link went away with the ISP's health still up: the engine hears of it
      // from the table watch and marks the ISP down; nothing to force meanwhile.
      if (ec == std::errc::network_unreachable) continue;
      if (ec) return fail(ec);
      wrote.push_back("route via " + format_ipv4(isp.gateway) + " in table " +
                      std::to_string(isp.table));
    } else if (!wanted && present) {
      if (auto ec = routes_->remove_default(slot)) return fail(ec);
      wrote.push_back("removed the route of table " + std::to_string(isp.table));
    }
  }
  return wrote;
}

IoResult<std::vector<std::string>> LinuxSteering::apply_routes6(const SteeringState& state) {
  std::vector<std::string> wrote;
  for (const auto& isp : state.isps) {
    RouteSlot slot{isp.table, kMetric6, state.route_protocol};
    auto routes = routes_->default_routes6(isp.table);
    if (!routes && without_ipv6(routes.error()) && !isp.gateway6) continue;
    if (!routes) return fail(routes.error());
    bool present = false;
    bool correct = false;
    // A link-local gateway means nothing without its interface; a global one the kernel resolves.
    int ifindex = 0;
    if (isp.gateway6 && isp.gateway6->is_link_local()) {
      ifindex = static_cast<int>(::if_nametoindex(isp.gateway6_device.c_str()));
    }
    for (const auto& route : *routes) {
      if (!is_own(route, slot)) continue;
      present = true;
      correct = isp.gateway6 && route.gateway == *isp.gateway6 &&
                (ifindex == 0 || route.ifindex == ifindex);
    }
    bool wanted = state.sticky && isp.gateway6 && isp.routed6;
    bool unplaceable = wanted && isp.gateway6->is_link_local() && ifindex == 0;
    if (wanted && !correct && !unplaceable) {
      auto ec = routes_->replace_default6(slot, Route6Via{*isp.gateway6, ifindex, std::nullopt});
      // As for IPv4: the gateway's link is gone while the ISP's IPv6 health is still up; the
      // engine hears of it from its IPv6 side. Nothing to force meanwhile.
      if (ec == std::errc::network_unreachable || ec == std::errc::host_unreachable ||
          ec == std::errc::no_such_device) {
        continue;
      }
      if (ec) return fail(ec);
      wrote.push_back("IPv6 route via " + format_ipv6(*isp.gateway6) +
                      (ifindex != 0 ? " dev " + isp.gateway6_device : "") + " in table " +
                      std::to_string(isp.table));
    } else if (!wanted && present) {
      if (auto ec = routes_->remove_default6(slot)) return fail(ec);
      wrote.push_back("removed the IPv6 route of table " + std::to_string(isp.table));
    }
  }
  return wrote;
}

IoResult<std::vector<std::string>> LinuxSteering::apply(const SteeringState& state) {
  last_nft_error_.clear();
  std::vector<std::string> wrote;
  // Rules last on the way in: a rule never points at a table that is not ready.
  auto table = apply_table(state);
  if (!table) return fail(table.error());
  if (*table) wrote.push_back("nftables table inet " + std::string(kNftTable));
  auto routes = apply_routes(state);
  if (!routes) return fail(routes.error());
  auto routes6 = apply_routes6(state);
  if (!routes6) return fail(routes6.error());
  auto rules = apply_rules(state);
  if (!rules) return fail(rules.error());
  for (auto* part : {&*routes, &*routes6, &*rules}) {
    wrote.insert(wrote.end(), part->begin(), part->end());
  }
  // Tables and rules of ISPs a reload removed.
  if (applied_) {
    for (const auto& old : applied_->isps) {
      bool kept = std::any_of(state.isps.begin(), state.isps.end(),
                              [&](const SteeredIsp& isp) { return isp.table == old.table; });
      if (kept) continue;
      if (auto ec = routes_->remove_default(RouteSlot{old.table, 0, state.route_protocol})) {
        return fail(ec);
      }
      if (auto ec = routes_->remove_default6(RouteSlot{old.table, kMetric6, state.route_protocol});
          ec && !without_ipv6(ec)) {
        return fail(ec);
      }
    }
  }
  applied_ = state;
  return wrote;
}

std::error_code LinuxSteering::remove() {
  std::error_code first;
  auto keep_first = [&](std::error_code ec) {
    if (ec && !first) first = ec;
  };
  std::uint8_t protocol = applied_ ? applied_->route_protocol : kRouteProtocol;
  // What is ours is known by the kernel's own marks: our rules' protocol, and through them our
  // tables; so what an earlier run left goes too.
  std::set<std::uint32_t> tables;
  if (applied_) {
    for (const auto& isp : applied_->isps) tables.insert(isp.table);
  }
  for (int family : {AF_INET, AF_INET6}) {
    if (auto rules = our_rules(socket_.get(), protocol, family)) {
      for (const auto& rule : *rules) {
        tables.insert(rule.table);
        if (auto ec = rule_request(socket_.get(), rule, protocol, family, false);
            ec != std::errc::no_such_file_or_directory) {
          keep_first(ec);
        }
      }
    } else if (family == AF_INET || !without_ipv6(rules.error())) {
      keep_first(rules.error());
    }
  }
  for (auto table : tables) {
    keep_first(routes_->remove_default(RouteSlot{table, 0, protocol}));
    if (auto ec = routes_->remove_default6(RouteSlot{table, kMetric6, protocol});
        !without_ipv6(ec)) {
      keep_first(ec);
    }
  }
  keep_first(nft_.run(nft_delete_script()));
  applied_.reset();
  listing_.clear();
  return first;
}

ResetOutcome LinuxSteering::reset(const ConnectionReset& reset) {
  ResetOutcome outcome;
  int family = reset.family == Family::kIpv6 ? AF_INET6 : AF_INET;
  auto connections = connections_.tcp_connections(reset.mark, reset.mask, family);
  if (!connections) {
    outcome.problem = "cannot list the connections: " + connections.error().message();
    return outcome;
  }
  auto report = connections_.destroy_local_sockets(*connections);
  outcome.matched = report.matched;
  outcome.destroyed = report.destroyed;
  outcome.failed = report.failed;
  if (report.first_error) {
    outcome.problem =
        std::to_string(report.failed) + " could not be ended: " + report.first_error.message();
  }
  // The dead ISP's entries of every protocol go too: the next packet of a UDP or ICMP flow
  // starts a new entry, marked for the route it takes now, instead of returning to the dead
  // ISP's table the moment that ISP is back.
  if (auto ec = connections_.forget(reset.mark, reset.mask, family)) {
    outcome.problem += std::string(outcome.problem.empty() ? "" : "; ") +
                       "cannot forget its conntrack entries: " + ec.message();
  }
  return outcome;
}

IoResult<std::map<std::string, ConnectionCounts>> LinuxSteering::count(const SteeringState& state) {
  std::map<std::string, ConnectionCounts> counts;
  for (const auto& isp : state.isps) {
    auto n = connections_.count(isp.mark, state.mark_mask);
    if (!n) return fail(n.error());
    counts[isp.name] = *n;
  }
  return counts;
}

}  // namespace ispf

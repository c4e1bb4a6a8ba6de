// failoverd's IPv6 side: a FailoverPolicy of its own fed with each ISP's IPv6 verdict, and the
// IPv6 default route with the source address the chosen ISP routes back.
#include "ispfailover/core/ipv6_router.h"

#include <algorithm>

#include "ispfailover/core/format.h"

namespace ispf {
namespace {

std::vector<IspConfig> with_gateway6(const std::vector<IspConfig>& isps) {
  std::vector<IspConfig> out;
  for (const auto& isp : isps) {
    if (isp.gateway6) out.push_back(isp);
  }
  return out;
}

LogEvent event(LogLevel level, EventKind kind, std::string text,
               std::vector<std::pair<std::string, std::string>> fields = {}) {
  fields.emplace_back("ISPF_FAMILY", "ipv6");
  return LogEvent{level, kind, std::move(text), std::move(fields)};
}

std::string describe(const Route6Via& via) {
  std::string text = "via " + format_ipv6(via.gateway);
  if (via.ifindex != 0) text += " dev ifindex " + std::to_string(via.ifindex);
  if (via.preferred_source) text += " src " + format_ipv6(*via.preferred_source);
  return text;
}

std::string gateway_text(const IspConfig& isp) {
  std::string text = format_ipv6(*isp.gateway6);
  if (!isp.gateway6_device.empty()) text += "%" + isp.gateway6_device;
  return text;
}

}  // namespace

Ipv6Router::Ipv6Router(const FailoverSettings& settings, TimePoint now)
    : isps_(with_gateway6(settings.isps)),
      slot_{settings.table, settings.metric6, kRouteProtocol},
      policy_(settings.policy, isps_, now) {}

const IspConfig* Ipv6Router::isp(const std::string& name) const {
  auto it = std::find_if(isps_.begin(), isps_.end(),
                         [&](const IspConfig& candidate) { return candidate.name == name; });
  return it == isps_.end() ? nullptr : &*it;
}

std::vector<LogEvent> Ipv6Router::adopt(const std::vector<DefaultRoute6>& table) {
  std::vector<LogEvent> log;
  table_ = table;
  table_known_ = true;
  for (const auto& route : table_) {
    if (!is_own(route, slot_)) continue;
    for (const auto& candidate : isps_) {
      if (*candidate.gateway6 != route.gateway) continue;
      policy_.adopt_route(candidate.gateway);  // the policy knows ISPs by their IPv4 gateway
      // Until the router's first report says which prefix is its own, the source the route
      // already has stays: rewriting it without one would only churn.
      if (route.preferred_source) adopted_source_[candidate.name] = *route.preferred_source;
      log.push_back(event(LogLevel::kInfo, EventKind::kRouteAdopted,
                          "found our IPv6 default route via " + format_ipv6(route.gateway) + " (" +
                              candidate.name + "): keeping it while the ISPs report in",
                          {{"ISPF_ISP", candidate.name}}));
      break;
    }
  }
  return log;
}

void Ipv6Router::on_status(const Status& status, std::uint32_t source, TimePoint now) {
  if (!isp(status.name)) return;
  // The IPv6 verdict stands in for the report's own; where the router sends none (it probes no
  // IPv6 target, or predates ipv6=) the IPv4 verdict stands for both: a dead uplink takes both.
  Status six = status;
  if (status.ipv6) {
    six.state = status.ipv6->state;
    six.reason = status.ipv6->reason;
    six.targets_up = status.ipv6->targets_up;
    six.targets = status.ipv6->targets;
    six.rtt_avg_us = status.ipv6->rtt_avg_us;
    six.rtt_last_us.reset();
    six.loss_permille = status.ipv6->loss_permille;
  }
  own_verdict_[status.name] = status.ipv6.has_value();
  adopted_source_.erase(status.name);
  if (status.prefix6) {
    announced_prefix_[status.name] = *status.prefix6;
  } else if (!status.ipv6_refused) {
    announced_prefix_.erase(status.name);
  }
  // The IPv4 side has already checked source, tag and replay; wall_ms 0 skips the clock check
  // it made too.
  policy_.on_status(six, source, now, 0);
}

void Ipv6Router::set_table(std::vector<DefaultRoute6> table) {
  table_ = std::move(table);
  table_known_ = true;
}

int Ipv6Router::ifindex_for(const IspConfig& config) const {
  for (const auto& address : addresses_) {
    if (config.gateway6->is_link_local()) {
      if (address.ifname == config.gateway6_device) return address.ifindex;
    } else if (!address.address.is_link_local() && address.prefix().contains(*config.gateway6)) {
      return address.ifindex;
    }
  }
  return 0;
}

std::optional<Ipv6Address> Ipv6Router::source_for(const IspConfig& config) const {
  int link = ifindex_for(config);
  auto announced = announced_prefix_.find(config.name);
  auto adopted = adopted_source_.find(config.name);
  std::optional<Ipv6Address> best;
  for (const auto& address : addresses_) {
    // A deprecated address is kept for the connections it has, never picked for new ones.
    if (address.deprecated || address.address.is_link_local()) continue;
    if (adopted != adopted_source_.end()) {
      if (address.address == adopted->second) return address.address;
      continue;
    }
    bool mine =
        announced != announced_prefix_.end()
            ? announced->second.contains(address.address)
            : !config.gateway6->is_link_local() && address.prefix().contains(*config.gateway6);
    if (!mine) continue;
    if (address.ifindex == link) return address.address;  // on the gateway's own link
    if (!best) best = address.address;
  }
  return best;
}

bool Ipv6Router::set_addresses(std::vector<Ipv6InterfaceAddress> addresses, TimePoint now) {
  bool changed = !addresses_known_ || addresses != addresses_;
  addresses_ = std::move(addresses);
  addresses_known_ = true;
  std::vector<bool> reachable;
  for (const auto& config : policy_.isps()) reachable.push_back(ifindex_for(config) != 0);
  bool reach_changed = policy_.set_local_reachability(reachable, now);
  return changed || reach_changed;
}

Ipv6Router::Step Ipv6Router::evaluate(Now now) {
  Step step;
  Decision d = policy_.evaluate(now.steady);
  auto views = policy_.view(now.steady);
  for (std::size_t i = 0; i < views.size(); ++i) {
    IspHealth previous = i < last_health_.size() ? last_health_[i] : IspHealth::kStale;
    if (i < last_health_.size() && previous == views[i].health) continue;
    step.health_changed = true;
    if (i < last_health_.size() || views[i].health != IspHealth::kStale) {
      LogEvent line =
          event(LogLevel::kInfo, EventKind::kIspHealth,
                views[i].config.name + "'s IPv6 is " + std::string(to_string(views[i].health)) +
                    " (" + views[i].reason + ")",
                {{"ISPF_ISP", views[i].config.name},
                 {"ISPF_STATE", std::string(to_string(views[i].health))},
                 {"ISPF_REASON", views[i].reason}});
      step.hooks.push_back(HookEvent{"isp-state", line.fields});
      step.log.push_back(std::move(line));
    }
  }
  last_health_.clear();
  for (const auto& v : views) last_health_.push_back(v.health);
  if (d.changed) {
    step.changed = true;
    if (!d.why.empty()) {
      last_switch_ = "IPv6: " + d.why;
      auto name_of = [&](std::optional<std::size_t> i) {
        return i ? views[*i].config.name : std::string();
      };
      LogEvent line = event(LogLevel::kWarning, EventKind::kSwitch, last_switch_,
                            {{"ISPF_FROM", name_of(d.previous)},
                             {"ISPF_TO", name_of(d.active)},
                             {"ISPF_REASON", d.reason}});
      step.hooks.push_back(HookEvent{"switch", line.fields});
      step.log.push_back(std::move(line));
    }
  }
  return step;
}

std::optional<Route6Via> Ipv6Router::desired() const {
  if (!policy_.active()) return std::nullopt;
  const IspConfig config = policy_.isps()[*policy_.active()];
  return Route6Via{*config.gateway6, ifindex_for(config), source_for(config)};
}

std::vector<RouteEdit> Ipv6Router::reconcile() const {
  std::vector<RouteEdit> edits;
  if (!table_known_ || !addresses_known_) return edits;
  auto want = desired();
  bool own_present = false;
  bool own_correct = false;
  for (const auto& route : table_) {
    if (is_own(route, slot_)) {
      own_present = true;
      own_correct = want && route.gateway == want->gateway &&
                    (want->ifindex == 0 || route.ifindex == want->ifindex) &&
                    route.preferred_source == want->preferred_source;
      continue;
    }
    // Taken over and kept away: a router advertisement's default route would carry traffic to a
    // router whatever its ISP's state (its lifetime is 30 minutes by default).
    if (route.table == slot_.table && route.protocol == kRouteProtocolRa) {
      edits.push_back(RouteEdit::delete_foreign6(slot_, route));
    }
  }
  // A link-local gateway means nothing without its link; with our own links gone the kernel
  // refuses the route: it is put back when they return (as for IPv4).
  bool routable =
      want && !policy_.all_local_down() && (want->ifindex != 0 || !want->gateway.is_link_local());
  if (want && !own_correct && routable) {
    edits.push_back(RouteEdit::replace_own6(slot_, *want));
  } else if (!want && own_present) {
    edits.push_back(RouteEdit::remove_own(slot_, Family::kIpv6));
  }
  return edits;
}

void Ipv6Router::on_edit_done(const RouteEdit& edit, std::error_code result,
                              std::vector<LogEvent>& log) {
  if (result) return;
  switch (edit.kind) {
    case RouteEdit::Kind::kDeleteForeign:
      std::erase(table_, edit.route6);
      log.push_back(event(LogLevel::kInfo, EventKind::kForeignRouteDeleted,
                          "deleted the IPv6 default route from a router advertisement via " +
                              format_ipv6(edit.route6.gateway) + " (metric " +
                              std::to_string(edit.route6.metric) + "): failoverd carries IPv6"));
      break;
    case RouteEdit::Kind::kReplaceOwn: {
      std::erase_if(table_, [&](const DefaultRoute6& r) { return is_own(r, edit.slot); });
      table_.push_back(DefaultRoute6{edit.via6.gateway, edit.via6.ifindex, edit.slot.metric,
                                     edit.slot.protocol, edit.slot.table,
                                     edit.via6.preferred_source});
      log.push_back(event(LogLevel::kInfo, EventKind::kRouteRestored,
                          "IPv6 default route now " + describe(edit.via6)));
      break;
    }
    case RouteEdit::Kind::kRemoveOwn:
      std::erase_if(table_, [&](const DefaultRoute6& r) { return is_own(r, edit.slot); });
      log.push_back(
          event(LogLevel::kWarning, EventKind::kAllDown, "withdrew our IPv6 default route"));
      break;
  }
}

std::optional<TimePoint> Ipv6Router::next_deadline(TimePoint now) const {
  return policy_.next_deadline(now);
}

Ipv6Report Ipv6Router::report(TimePoint now) const {
  Ipv6Report r;
  r.isps = policy_.view(now);
  r.active = policy_.active();
  r.route = desired();
  if (r.route) r.route_text = describe(*r.route);
  r.switches = policy_.switches();
  r.last_switch = last_switch_;
  r.own_verdict = own_verdict_;
  if (r.active) {
    const IspConfig config = policy_.isps()[*r.active];
    if (r.route && !r.route->preferred_source) {
      r.warnings.push_back(config.name + "'s IPv6 route (via " + gateway_text(config) +
                           ") has no source address of its prefix: announce --prefix6 on the "
                           "router, or give gateway6 a global address in the LAN prefix");
    }
  }
  return r;
}

void Ipv6Router::reconfigure(const FailoverSettings& settings) {
  isps_ = with_gateway6(settings.isps);
  slot_ = RouteSlot{settings.table, settings.metric6, kRouteProtocol};
  policy_.reconfigure(settings.policy, isps_);
}

void Ipv6Router::steer(SteeringState& state, bool reset, std::vector<ConnectionReset>& resets,
                       TimePoint now) {
  auto views = policy_.view(now);
  FamilySteering six = steer_family(views, reset, steering_memory_);
  auto steered = [&](const std::string& name) -> SteeredIsp* {
    for (auto& isp : state.isps) {
      if (isp.name == name && isp.gateway6) return &isp;
    }
    return nullptr;
  };
  for (std::size_t i = 0; i < views.size(); ++i) {
    if (SteeredIsp* isp = steered(views[i].config.name)) isp->routed6 = six.routed[i];
  }
  for (std::size_t i : six.resets) {
    SteeredIsp* isp = steered(views[i].config.name);
    if (!isp) continue;
    resets.push_back(reset_of(views[i], *isp, state.mark_mask, Family::kIpv6));
  }
}

std::optional<RouteEdit> Ipv6Router::cleanup() const {
  bool present = std::any_of(table_.begin(), table_.end(),
                             [&](const DefaultRoute6& r) { return is_own(r, slot_); });
  if (!present) return std::nullopt;
  return RouteEdit::remove_own(slot_, Family::kIpv6);
}

std::optional<std::string> Ipv6Router::active_name() const {
  if (!policy_.active()) return std::nullopt;
  return policy_.isps()[*policy_.active()].name;
}

}  // namespace ispf

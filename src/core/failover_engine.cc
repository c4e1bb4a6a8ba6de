// failoverd's decisions as a pure state machine: trust, health, the route and its upkeep.
#include "ispfailover/core/failover_engine.h"

#include <algorithm>

#include "ispfailover/core/auth.h"
#include "ispfailover/core/format.h"
#include "ispfailover/core/status_message.h"

namespace ispf {
namespace {

std::string protocol_name(std::uint8_t protocol) {
  switch (protocol) {
    case 2:
      return "kernel";
    case 3:
      return "boot";
    case 4:
      return "static";
    case 16:
      return "dhcp";
    default:
      return std::to_string(protocol);
  }
}

LogEvent event(LogLevel level, EventKind kind, std::string text,
               std::vector<std::pair<std::string, std::string>> fields = {}) {
  return LogEvent{level, kind, std::move(text), std::move(fields)};
}

RouteSlot slot_of(const FailoverSettings& settings) {
  return RouteSlot{settings.table, settings.metric, kRouteProtocol};
}

}  // namespace

void FailoverActions::append(FailoverActions&& later) {
  if (later.persist) persist = std::move(later.persist);
  for (auto& edit : later.route_edits) route_edits.push_back(edit);
  read_table = read_table || later.read_table;
  for (auto& e : later.log) log.push_back(std::move(e));
  for (auto& h : later.hooks) hooks.push_back(std::move(h));
  if (later.publish) {
    publish = std::move(later.publish);
    service_status = std::move(later.service_status);
  }
  if (later.dns) dns = std::move(later.dns);
  dns_revert = dns_revert || later.dns_revert;
  if (later.steering) steering = std::move(later.steering);
  for (auto& r : later.resets) resets.push_back(std::move(r));
  steering_remove = steering_remove || later.steering_remove;
  if (later.wake_at) wake_at = later.wake_at;
}

FailoverEngine::FailoverEngine(FailoverSettings settings, Now now)
    : settings_(std::move(settings)),
      slot_(slot_of(settings_)),
      policy_(settings_.policy, settings_.isps, now.steady),
      ipv6_(settings_, now.steady) {}

std::optional<std::string> FailoverEngine::restore(std::string_view state) {
  if (state.empty()) return std::nullopt;
  auto floors = decode_replay_floors(state);
  if (!floors) return std::string("not a replay-floor file; starting without one");
  policy_.restore_replay_floors(*floors);
  persisted_ = *floors;
  return std::nullopt;
}

void FailoverEngine::persist_if_due(FailoverActions& out, Now now, bool force) {
  // Only a key makes floors mean anything: without one, nothing is written.
  if (settings_.keys.empty()) return;
  // Floors move only with an accepted report: a flood of refused ones costs nothing here.
  if (!force && accepted_ == floors_checked_at_ && now.steady < next_persist_) return;
  floors_checked_at_ = accepted_;
  ReplayFloors floors = policy_.replay_floors();
  floors_dirty_ = floors != persisted_;
  if (!floors_dirty_) return;
  bool new_epoch = false;
  for (const auto& [name, floor] : floors) {
    auto old = persisted_.find(name);
    if (old == persisted_.end() || old->second.epoch != floor.epoch) new_epoch = true;
  }
  if (!force && !new_epoch && now.steady < next_persist_) return;
  out.persist = encode_replay_floors(floors);
  persisted_ = std::move(floors);
  floors_dirty_ = false;
  next_persist_ = now.steady + kPersistPeriod;
}

FailoverActions FailoverEngine::start(const std::vector<DefaultRoute>& table, Now now,
                                      const std::vector<DefaultRoute6>& table6) {
  FailoverActions out;
  if (ipv6_.enabled()) {
    for (auto& e : ipv6_.adopt(table6)) out.log.push_back(std::move(e));
  }
  table_ = table;
  table_known_ = true;
  for (const auto& route : table_) {
    if (!is_own(route, slot_)) continue;
    policy_.adopt_route(route.gateway);
    if (policy_.active()) {
      active_since_ = now.steady;
      IspConfig isp = policy_.isps()[*policy_.active()];
      out.log.push_back(event(LogLevel::kInfo, EventKind::kRouteAdopted,
                              "found our default route via " + format_ipv4(route.gateway) + " (" +
                                  isp.name + "): keeping it while the ISPs report in",
                              {{"ISPF_ISP", isp.name}}));
    }
  }
  std::string isps;
  for (const auto& isp : policy_.isps()) {
    isps += (isps.empty() ? "" : ", ") + isp.name + "=" + format_ipv4(isp.gateway);
    if (isp.gateway6) {
      isps += "," + format_ipv6(*isp.gateway6) +
              (isp.gateway6_device.empty() ? "" : "%" + isp.gateway6_device);
    }
  }
  out.log.push_back(event(
      LogLevel::kInfo, EventKind::kStarted,
      "watching " + isps + "; failback after " + format_duration(settings_.policy.failback_after) +
          ", max loss " + format_percent(settings_.policy.max_loss_permille) + ", when all down: " +
          (settings_.policy.when_all_down == AllDownPolicy::kKeep ? "keep" : "remove")));
  // Steering off: whatever an earlier run with it on left behind goes.
  out.steering_remove = !settings_.steering.enabled();
  // Takes the table over: foreign routes named by --replace-gateway go now.
  reconcile(out, /*after_decision=*/true);
  evaluate(out, now);
  publish_wanted_ = true;
  finish(out, now);
  return out;
}

FailoverActions FailoverEngine::on_datagram(std::span<const char> bytes, std::uint32_t source,
                                            Now now) {
  FailoverActions out;
  if (stopped_) return out;
  auto status = decode(bytes);
  if (!status) {
    policy_.note_rejected(source, DropReason::kUndecodable, now.steady);
    count_drop(
        out, DropReason::kUndecodable, source,
        [&] { return std::string(to_string(status.error().error)) + " " + status.error().detail; },
        now);
    finish(out, now);
    return out;
  }
  bool signed_datagram =
      std::string_view(bytes.data(), bytes.size()).find("\nhmac=") != std::string_view::npos;
  if (!settings_.keys.empty()) {
    if (auto verified = verify_datagram(bytes, settings_.keys); !verified) {
      // Costs counters and nothing else: a flood of bad tags must not buy publishes or logs.
      policy_.note_rejected(source, DropReason::kUnauthenticated, now.steady);
      count_drop(
          out, DropReason::kUnauthenticated, source,
          [&] {
            return "claims " + status->name + ", " + std::string(to_string(verified.error())) +
                   (verified.error() == AuthError::kMissingTag
                        ? "; is --key-file set on that ISP router too?"
                        : "; do both sides have the same key?");
          },
          now);
      finish(out, now);
      return out;
    }
  }
  if (auto drop = policy_.on_status(*status, source, now.steady, now.wall_ms)) {
    auto detail = [&] {
      std::string text = "claims " + status->name;
      if (*drop == DropReason::kWrongSource) {
        for (const auto& isp : policy_.isps()) {
          if (isp.name == status->name) text += ", expected from " + format_ipv4(isp.gateway);
        }
      }
      return text;
    };
    count_drop(out, *drop, source, detail, now);
    finish(out, now);
    return out;
  }
  ++accepted_;
  if (ipv6_.enabled()) {
    ipv6_.on_status(*status, source, now.steady);
    if (status->ipv6_refused && ipv6_refused_logged_.insert(status->name).second) {
      out.log.push_back(event(LogLevel::kWarning, EventKind::kDatagramRefused,
                              status->name + " sends IPv6 keys (ipv6=, prefix6=) this failoverd "
                                             "cannot read: its IPv4 verdict stands for IPv6; "
                                             "logged once",
                              {{"ISPF_ISP", status->name}}));
    }
  }
  announced_dns_[status->name] = status->dns;
  announced_dns6_[status->name] = status->dns6;
  if ((status->dns_refused || status->dns6_refused) &&
      dns_refused_logged_.insert(status->name).second) {
    std::string keys = status->dns_refused && status->dns6_refused ? "dns=, dns6="
                       : status->dns_refused                       ? "dns="
                                                                   : "dns6=";
    out.log.push_back(event(LogLevel::kWarning, EventKind::kDatagramRefused,
                            status->name + " announces resolvers (" + keys +
                                ") this failoverd cannot read: taken as none; logged once",
                            {{"ISPF_ISP", status->name}}));
  }
  if (signed_datagram && settings_.keys.empty() && unverified_.insert(status->name).second) {
    std::string warning = status->name +
                          " signs its datagrams but failoverd has no --key-file: "
                          "its reports are NOT authenticated";
    out.log.push_back(event(LogLevel::kWarning, EventKind::kUnverifiedSender, warning,
                            {{"ISPF_ISP", status->name}}));
    warnings_.push_back(warning);
  }
  out.log.push_back(event(LogLevel::kDebug, EventKind::kDatagramAccepted,
                          status->name + " from " + format_ipv4(source) + ": " +
                              std::string(to_string(status->state)) + " (" + status->reason +
                              ") seq " + std::to_string(status->seq)));
  evaluate(out, now);
  finish(out, now);
  return out;
}

template <class Detail>
void FailoverEngine::count_drop(FailoverActions& out, DropReason reason, std::uint32_t source,
                                const Detail& detail, Now now) {
  ++drops_[static_cast<std::size_t>(reason)];
  // Refusals of a configured ISP's own datagrams are news about that ISP (a key on one side
  // only, a restart refused as a replay): a warning that names it, once a minute per ISP.
  if (auto isp = policy_.refusals_of(source)) {
    if (!drop_log_.allow(source, now.steady)) return;
    out.log.push_back(event(
        LogLevel::kWarning, EventKind::kDatagramRefused,
        std::string(isp->first) + "'s reports are refused: " + std::string(to_string(reason)) +
            " (" + detail() + "); " + std::to_string(isp->second) +
            " refused so far, logged once a minute",
        {{"ISPF_ISP", std::string(isp->first)}, {"ISPF_REASON", std::string(to_string(reason))}}));
    return;
  }
  // From elsewhere: a replay is routine (a duplicated datagram); the rest is news, rate-limited.
  if (reason == DropReason::kReplay) return;
  if (!drop_log_.allow(source, now.steady)) return;
  out.log.push_back(event(
      reason == DropReason::kUnauthenticated ? LogLevel::kWarning : LogLevel::kInfo,
      EventKind::kDatagramRefused,
      "dropped a datagram from " + format_ipv4(source) + ": " + std::string(to_string(reason)) +
          " (" + detail() + "); counted, logged once a minute per source",
      {{"ISPF_REASON", std::string(to_string(reason))}}));
}

FailoverActions FailoverEngine::on_table(const std::vector<DefaultRoute>& table, Now now) {
  FailoverActions out;
  if (stopped_) return out;
  table_ = table;
  table_known_ = true;
  // A read we asked for (retry, reload) carries out a decision; any other is someone's change.
  bool ours = table_read_for_decision_;
  table_read_for_decision_ = false;
  reconcile(out, /*after_decision=*/ours);
  finish(out, now);
  return out;
}

FailoverActions FailoverEngine::on_local_network(const std::vector<Ipv4Prefix>& usable, Now now) {
  FailoverActions out;
  if (stopped_) return out;
  auto isps = policy_.isps();
  std::vector<bool> reachable;
  for (const auto& isp : isps) {
    reachable.push_back(std::any_of(usable.begin(), usable.end(),
                                    [&](const Ipv4Prefix& p) { return p.contains(isp.gateway); }));
  }
  bool was_all_down = policy_.all_local_down();
  if (policy_.set_local_reachability(reachable, now.steady)) {
    bool all_down = policy_.all_local_down();
    if (all_down != was_all_down) {
      out.log.push_back(event(
          all_down ? LogLevel::kWarning : LogLevel::kInfo, EventKind::kLink,
          all_down ? "our own link to every ISP router is gone (link or address down): no ISP's "
                     "fault, nothing switches; the route comes back with the link"
                   : "our own link to the ISP routers is back"));
    }
    publish_wanted_ = true;
    evaluate(out, now);
  }
  finish(out, now);
  return out;
}

FailoverActions FailoverEngine::on_table6(const std::vector<DefaultRoute6>& table, Now now) {
  FailoverActions out;
  if (stopped_ || !ipv6_.enabled()) return out;
  ipv6_.set_table(table);
  reconcile6(out);
  finish(out, now);
  return out;
}

FailoverActions FailoverEngine::on_local_network6(
    const std::vector<Ipv6InterfaceAddress>& addresses, Now now) {
  FailoverActions out;
  if (stopped_ || !ipv6_.enabled()) return out;
  if (ipv6_.set_addresses(addresses, now.steady)) {
    publish_wanted_ = true;
    evaluate(out, now);
    reconcile6(out);  // a source address may have come or gone without a switch
  }
  finish(out, now);
  return out;
}

void FailoverEngine::reconcile6(FailoverActions& out) {
  if (!ipv6_.enabled()) return;
  for (auto& edit : ipv6_.reconcile()) {
    // Not twice in one batch (a decision and a table change in the same input).
    if (std::find(out.route_edits.begin(), out.route_edits.end(), edit) == out.route_edits.end()) {
      out.route_edits.push_back(std::move(edit));
    }
  }
}

FailoverActions FailoverEngine::on_table_error(std::error_code error, Now now) {
  FailoverActions out;
  if (stopped_) return out;
  if (error_log_.allow(0, now.steady)) {
    out.log.push_back(
        event(LogLevel::kError, EventKind::kRouteEditFailed,
              "cannot read the routing table: " + error.message() + "; retrying with backoff"));
  }
  schedule_retry(now);
  finish(out, now);
  return out;
}

void FailoverEngine::reconcile(FailoverActions& out, bool after_decision) {
  if (!table_known_) return;
  auto desired = desired_gateway();
  bool own_correct = false;
  bool own_present = false;
  std::vector<RouteEdit> edits;
  for (const auto& route : table_) {
    if (is_own(route, slot_)) {
      own_present = true;
      own_correct = desired && route.gateway == *desired;
      continue;
    }
    if (route.table != slot_.table) continue;
    bool replaceable =
        std::find(settings_.replace_gateways.begin(), settings_.replace_gateways.end(),
                  route.gateway) != settings_.replace_gateways.end();
    if (replaceable) {
      edits.push_back(RouteEdit::delete_foreign(slot_, route));
    }
  }
  if (desired && !own_correct && !policy_.all_local_down()) {
    // (With our own link gone the kernel refuses the route, ENETUNREACH; it is put back when
    // the link or address returns, so nothing is tried, and nothing logged as an error, meanwhile.)
    edits.push_back(RouteEdit::replace_own(slot_, *desired));
  } else if (!desired && own_present) {
    edits.push_back(RouteEdit::remove_own(slot_));
  }
  if (edits.empty()) return;
  correcting_ = !after_decision;
  own_was_present_ = own_present;
  for (auto& edit : edits) out.route_edits.push_back(edit);
}

FailoverActions FailoverEngine::on_edits_done(const std::vector<RouteEdit>& edits,
                                              const std::vector<std::error_code>& results,
                                              Now now) {
  FailoverActions out;
  std::error_code failure;
  for (std::size_t i = 0; i < edits.size(); ++i) {
    const RouteEdit& edit = edits[i];
    std::error_code result = i < results.size() ? results[i] : std::error_code{};
    if (edit.family == Family::kIpv6) {
      ipv6_.on_edit_done(edit, result, out.log);
      if (result) failure = result;
      if (!result && edit.kind != RouteEdit::Kind::kDeleteForeign) publish_wanted_ = true;
      continue;
    }
    if (result) {
      failure = result;
      continue;
    }
    // The table as it now is, until the watch says otherwise.
    switch (edit.kind) {
      case RouteEdit::Kind::kDeleteForeign: {
        std::erase(table_, edit.route);
        // Routine (a DHCP renewal does it): info, so that -p warning lists switches only.
        out.log.push_back(
            event(LogLevel::kInfo, EventKind::kForeignRouteDeleted,
                  "deleted the foreign default route via " + format_ipv4(edit.route.gateway) +
                      " (proto " + protocol_name(edit.route.protocol) + ", metric " +
                      std::to_string(edit.route.metric) + "): --replace-gateway takes it over"));
        break;
      }
      case RouteEdit::Kind::kReplaceOwn: {
        std::erase_if(table_, [&](const DefaultRoute& r) { return is_own(r, edit.slot); });
        table_.push_back(
            DefaultRoute{edit.gateway, edit.slot.metric, edit.slot.protocol, 0, edit.slot.table});
        if (correcting_) {
          // The decision did not change: someone else deleted or rewrote our route.
          out.log.push_back(event(LogLevel::kWarning, EventKind::kRouteRestored,
                                  std::string(own_was_present_ ? "corrected" : "restored") +
                                      " our default route via " + format_ipv4(edit.gateway)));
        }
        break;
      }
      case RouteEdit::Kind::kRemoveOwn: {
        std::erase_if(table_, [&](const DefaultRoute& r) { return is_own(r, edit.slot); });
        if (stopped_) {
          out.log.push_back(event(LogLevel::kInfo, EventKind::kStopping,
                                  "removed our default route (--cleanup-on-exit)"));
        } else if (edit.slot == slot_) {
          out.log.push_back(event(LogLevel::kWarning, EventKind::kAllDown,
                                  "withdrew our default route (when-all-down remove)"));
        }
        break;
      }
    }
  }
  correcting_ = false;
  if (stopped_) {
    if (failure) {
      out.log.push_back(event(LogLevel::kError, EventKind::kRouteEditFailed,
                              "could not remove the default route on exit: " + failure.message()));
    }
    return out;
  }
  if (failure) {
    if (error_log_.allow(0, now.steady)) {
      out.log.push_back(
          event(LogLevel::kError, EventKind::kRouteEditFailed,
                "routing table update failed: " + failure.message() + "; retrying with backoff"));
    }
    schedule_retry(now);
  } else {
    retry_backoff_ = Duration::zero();
  }
  finish(out, now);
  return out;
}

void FailoverEngine::schedule_retry(Now now) {
  if (retry_at_) return;
  retry_backoff_ = std::clamp(retry_backoff_ * 2, kFirstRetry, kMaxRetry);
  retry_at_ = now.steady + retry_backoff_;
}

FailoverActions FailoverEngine::on_wake(Now now) {
  FailoverActions out;
  if (stopped_) return out;
  if (retry_at_ && now.steady >= *retry_at_) {
    retry_at_.reset();
    table_read_for_decision_ = true;
    out.read_table = true;
  }
  evaluate(out, now);
  finish(out, now);
  return out;
}

HookEvent FailoverEngine::ipv4_hook(std::string name,
                                    std::vector<std::pair<std::string, std::string>> fields) const {
  // With dual stack both families' events reach the hooks: each says which it is. Without it the
  // environment stays as it always was.
  if (ipv6_.enabled()) fields.emplace_back("ISPF_FAMILY", "ipv4");
  return HookEvent{std::move(name), std::move(fields)};
}

void FailoverEngine::evaluate(FailoverActions& out, Now now) {
  Decision d = policy_.evaluate(now.steady);
  auto views = policy_.view(now.steady);
  bool health_changed = false;
  for (std::size_t i = 0; i < views.size(); ++i) {
    IspHealth previous = i < last_health_.size() ? last_health_[i] : IspHealth::kStale;
    if (i < last_health_.size() && previous == views[i].health) continue;
    health_changed = true;
    if (i < last_health_.size() || views[i].health != IspHealth::kStale) {
      std::vector<std::pair<std::string, std::string>> fields{
          {"ISPF_ISP", views[i].config.name},
          {"ISPF_STATE", std::string(to_string(views[i].health))},
          {"ISPF_REASON", views[i].reason}};
      out.hooks.push_back(ipv4_hook("isp-state", fields));
      out.log.push_back(event(LogLevel::kInfo, EventKind::kIspHealth,
                              views[i].config.name + " is " +
                                  std::string(to_string(views[i].health)) + " (" + views[i].reason +
                                  ")",
                              std::move(fields)));
    }
  }
  last_health_.clear();
  for (const auto& v : views) last_health_.push_back(v.health);

  if (d.changed) {
    auto name_of = [&](std::optional<std::size_t> i) {
      return i ? views[*i].config.name : std::string();
    };
    if (!d.why.empty()) {
      std::vector<std::pair<std::string, std::string>> fields{{"ISPF_FROM", name_of(d.previous)},
                                                              {"ISPF_TO", name_of(d.active)},
                                                              {"ISPF_REASON", d.reason}};
      out.hooks.push_back(ipv4_hook("switch", fields));
      out.log.push_back(event(LogLevel::kWarning, EventKind::kSwitch, d.why, std::move(fields)));
    }
    last_switch_ = d.why;
    recent_switches_.push_back(
        SwitchRecord{now.wall_ms, name_of(d.previous), name_of(d.active), d.reason, d.why});
    if (recent_switches_.size() > kSwitchHistoryLength) recent_switches_.pop_front();
    active_since_ = now.steady;
    reconcile(out, /*after_decision=*/true);
  }
  if (d.all_down != all_down_) {
    all_down_ = d.all_down;
    if (all_down_) {
      out.log.push_back(event(LogLevel::kWarning, EventKind::kAllDown, summary_line(report(now))));
    } else {
      out.log.push_back(event(LogLevel::kInfo, EventKind::kIspBack,
                              "an ISP is back: " + summary_line(report(now))));
    }
  }
  if (d.changed || health_changed) publish_wanted_ = true;
  if (ipv6_.enabled()) {
    auto step = ipv6_.evaluate(now);
    for (auto& e : step.log) out.log.push_back(std::move(e));
    for (auto& h : step.hooks) out.hooks.push_back(std::move(h));
    if (step.changed) reconcile6(out);
    if (step.changed || step.health_changed) publish_wanted_ = true;
  }
  steer(out, views, now);
}

void FailoverEngine::steer(FailoverActions& out, const std::vector<IspView>& views, Now now) {
  const SteeringSettings& wanted = settings_.steering;
  if (!wanted.enabled()) {
    if (steering_sent_) out.steering_remove = true;
    steering_sent_.reset();
    return;
  }
  SteeringState state = steering_state(wanted, policy_.isps(), kRouteProtocol);
  FamilySteering four = steer_family(views, wanted.reset, steering4_);
  for (std::size_t i = 0; i < four.routed.size() && i < state.isps.size(); ++i) {
    state.isps[i].routed = four.routed[i];
  }
  std::vector<ConnectionReset> resets;
  for (std::size_t i : four.resets) {
    if (i >= state.isps.size()) continue;
    resets.push_back(reset_of(views[i], state.isps[i], wanted.mark_mask, Family::kIpv4));
  }
  // IPv6 by its own verdicts: an ISP's IPv6 may die while its IPv4 works, and the other way.
  if (ipv6_.enabled()) ipv6_.steer(state, wanted.reset, resets, now.steady);
  bool retry_due = !steering_retry_at_ || now.steady >= *steering_retry_at_;
  if (state != steering_sent_ && retry_due) {
    steering_retry_at_.reset();
    steering_sent_ = state;
    out.steering = state;
  }
  for (auto& reset : resets) out.resets.push_back(std::move(reset));
}

FailoverActions FailoverEngine::on_steering_applied(std::string problem, Now now) {
  FailoverActions out;
  if (stopped_) return out;
  if (problem.empty()) {
    if (!steering_problem_.empty()) {
      out.log.push_back(
          event(LogLevel::kInfo, EventKind::kSteering, "connection steering is in place again"));
      publish_wanted_ = true;
    }
    steering_problem_.clear();
  } else {
    if (error_log_.allow(2, now.steady)) {
      out.log.push_back(event(LogLevel::kError, EventKind::kSteering,
                              "cannot set up sticky connections and resets: " + problem +
                                  "; trying again every " + format_duration(kMaxRetry) +
                                  " (logged once per 10 s)"));
    }
    if (steering_problem_ != problem) publish_wanted_ = true;
    steering_problem_ = std::move(problem);
    steering_sent_.reset();
    steering_retry_at_ = now.steady + kMaxRetry;
  }
  finish(out, now);
  return out;
}

FailoverActions FailoverEngine::on_connections_reset(const ConnectionReset& reset,
                                                     const ResetOutcome& outcome, Now now) {
  FailoverActions out;
  bool six = reset.family == Family::kIpv6;
  (six ? resets6_total_ : resets_total_)[reset.isp] += outcome.destroyed;
  std::string text = "ended " + std::to_string(outcome.destroyed) + (six ? " IPv6" : "") +
                     " TCP connection(s) of " + reset.isp +
                     (six ? ", whose IPv6 is " : ", which is ") + reset.why +
                     ": their applications can reconnect through the new route at once";
  if (outcome.matched != outcome.destroyed) {
    text += " (" + std::to_string(outcome.matched) + " found, " +
            std::to_string(outcome.matched - outcome.destroyed) + " already gone or not ours)";
  }
  if (!outcome.problem.empty()) text += "; " + outcome.problem;
  if (outcome.matched > 0 || !outcome.problem.empty()) {
    // The status says which family died: "IPv6 down (probe-loss)".
    last_reset_ = ResetRecord{now.wall_ms, reset.isp, (six ? "IPv6 " : "") + reset.why,
                              outcome.matched, outcome.destroyed};
    std::vector<std::pair<std::string, std::string>> fields{
        {"ISPF_ISP", reset.isp}, {"ISPF_RESET", std::to_string(outcome.destroyed)}};
    // As the hooks' events: with dual stack each line says its family.
    if (ipv6_.enabled()) fields.emplace_back("ISPF_FAMILY", six ? "ipv6" : "ipv4");
    out.log.push_back(event(outcome.problem.empty() ? LogLevel::kWarning : LogLevel::kError,
                            EventKind::kConnectionsReset, text, std::move(fields)));
    publish_wanted_ = true;
  }
  finish(out, now);
  return out;
}

void FailoverEngine::on_connection_counts(std::map<std::string, ConnectionCounts> counts) {
  connections_ = std::move(counts);
}

std::optional<std::uint32_t> FailoverEngine::desired_gateway() const {
  if (!policy_.active()) return std::nullopt;
  return policy_.isps()[*policy_.active()].gateway;
}

FailoverActions FailoverEngine::reconfigure(FailoverSettings settings, Now now) {
  FailoverActions out;
  RouteSlot new_slot = slot_of(settings);
  if (new_slot != slot_) {
    // The route moves to its new slot: the old one goes first, the new comes with the next read.
    out.route_edits.push_back(RouteEdit::remove_own(slot_));
    slot_ = new_slot;
    table_known_ = false;
    table_read_for_decision_ = true;
    out.read_table = true;
  }
  settings_ = std::move(settings);
  config_problem_.clear();
  // The manager or its file may have changed: the resolvers are applied anew, once.
  dns_.forget();
  policy_.reconfigure(settings_.policy, settings_.isps);
  if (ipv6_.slot() != RouteSlot{settings_.table, settings_.metric6, kRouteProtocol} &&
      ipv6_.enabled()) {
    // Like the IPv4 route: out of its old slot now, into the new one with the next read.
    out.route_edits.push_back(RouteEdit::remove_own(ipv6_.slot(), Family::kIpv6));
    table_read_for_decision_ = true;
    out.read_table = true;
  }
  bool had_ipv6 = ipv6_.enabled();
  ipv6_.reconfigure(settings_);
  if (ipv6_.enabled() && !had_ipv6) {
    // IPv6 just turned on: the shell reads the IPv6 table and addresses only for an engine with
    // IPv6, so ask for a read now rather than wait for the next table event.
    table_read_for_decision_ = true;
    out.read_table = true;
  }
  out.log.push_back(
      event(LogLevel::kInfo, EventKind::kReloaded,
            "configuration reloaded: " + std::to_string(settings_.isps.size()) + " ISP(s)"));
  reconcile(out, /*after_decision=*/true);
  evaluate(out, now);
  reconcile6(out);
  publish_wanted_ = true;
  finish(out, now);
  return out;
}

FailoverActions FailoverEngine::set_config_problem(std::string problem, Now now) {
  FailoverActions out;
  config_problem_ = std::move(problem);
  publish_wanted_ = true;
  finish(out, now);
  return out;
}

FailoverActions FailoverEngine::stop(bool cleanup, Now now) {
  FailoverActions out;
  persist_if_due(out, now, /*force=*/true);
  stopped_ = true;
  if (cleanup) {
    out.route_edits.push_back(RouteEdit::remove_own(slot_));
    if (auto edit = ipv6_.cleanup()) out.route_edits.push_back(*edit);
    out.steering_remove = steering_sent_.has_value();
    out.dns_revert = settings_.dns_manager == DnsManager::kResolved && dns_.applied().has_value();
  } else if (auto gateway = desired_gateway()) {
    out.log.push_back(
        event(LogLevel::kInfo, EventKind::kStopping,
              "leaving the default route via " + format_ipv4(*gateway) + " in place"));
  }
  return out;
}

StatusReport FailoverEngine::report(Now now) const {
  StatusReport r;
  r.isps = policy_.view(now.steady);
  r.active = policy_.active();
  if (active_since_ && r.active) r.active_for = now.steady - *active_since_;
  r.all_down = all_down_;
  r.when_all_down = settings_.policy.when_all_down;
  r.switches = policy_.switches();
  r.switch_counts = policy_.switch_counts();
  r.accepted = accepted_;
  r.drops = drops_;
  r.updated_unix_ms = now.wall_ms;
  r.last_switch = last_switch_;
  r.recent_switches.assign(recent_switches_.begin(), recent_switches_.end());
  r.warnings = warnings_;
  r.dns_manager = std::string(to_string(settings_.dns_manager));
  if (dns_.applied()) {
    r.dns_isp = dns_.applied()->isp;
    r.dns_servers = dns_.applied()->servers;
  }
  r.sticky = settings_.steering.sticky;
  r.reset = settings_.steering.reset;
  for (const auto& [name, counts] : connections_) r.connections[name] = counts.ipv4;
  r.resets_total = resets_total_;
  r.last_reset = last_reset_;
  if (ipv6_.enabled()) {
    r.ipv6 = ipv6_.report(now.steady);
    r.ipv6->resets_total = resets6_total_;
    for (const auto& [name, counts] : connections_) r.ipv6->connections[name] = counts.ipv6;
    for (const auto& w : r.ipv6->warnings) r.warnings.push_back(w);
  }
  if (!steering_problem_.empty()) {
    r.warnings.push_back("no sticky connections or resets: " + steering_problem_);
  }
  return r;
}

void FailoverEngine::publish(FailoverActions& out, Now now) {
  publish_wanted_ = false;
  next_publish_ = now.steady + kPublishPeriod;
  StatusReport r = report(now);
  out.service_status = config_problem_.empty()
                           ? summary_line(r)
                           : "RELOAD REFUSED (" + config_problem_ +
                                 "), running with the previous configuration; " + summary_line(r);
  out.publish = std::move(r);
}

void FailoverEngine::follow_dns(FailoverActions& out) {
  if (settings_.dns_manager == DnsManager::kNone) return;
  std::optional<std::string> active;
  std::uint32_t gateway = 0;
  if (auto index = policy_.active()) {
    IspConfig isp = policy_.isps()[*index];  // isps() returns a copy
    active = isp.name;
    gateway = isp.gateway;
  }
  static const std::vector<std::uint32_t> kNone;
  static const std::vector<Ipv6Address> kNone6;
  auto announced = active ? announced_dns_.find(*active) : announced_dns_.end();
  // The IPv6 resolvers come from the ISP the IPv6 route goes through: only it routes back the
  // source the client's IPv6 queries leave with.
  std::optional<std::string> active6 = ipv6_.enabled() ? ipv6_.active_name() : std::nullopt;
  auto announced6 = active6 ? announced_dns6_.find(*active6) : announced_dns6_.end();
  auto step =
      dns_.step(active, gateway, announced == announced_dns_.end() ? kNone : announced->second,
                active6, announced6 == announced_dns6_.end() ? kNone6 : announced6->second);
  if (step.note) out.log.push_back(event(LogLevel::kInfo, EventKind::kDns, *step.note));
  if (step.update) {
    std::string servers;
    for (const IpAddress& s : step.update->servers) {
      servers += (servers.empty() ? "" : " ") + format_ip(s);
    }
    std::string whose = step.update->isp;
    if (!step.update->isp6.empty() && step.update->isp6 != whose) {
      whose += ", IPv6 ones of " + step.update->isp6;
    }
    out.log.push_back(event(LogLevel::kInfo, EventKind::kDns,
                            "resolvers now " + servers + " (" + whose + ", " +
                                std::string(to_string(settings_.dns_manager)) + ")",
                            {{"ISPF_ISP", step.update->isp}}));
    out.dns = std::move(step.update);
    publish_wanted_ = true;
  }
}

FailoverActions FailoverEngine::on_dns_failed(std::string problem, Now now) {
  FailoverActions out;
  dns_.forget();
  if (error_log_.allow(1, now.steady)) {
    out.log.push_back(event(LogLevel::kError, EventKind::kDns,
                            "cannot point the resolver at the active ISP's: " + problem +
                                "; trying again with the next report"));
  }
  return out;
}

void FailoverEngine::finish(FailoverActions& out, Now now) {
  if (stopped_) return;
  persist_if_due(out, now, /*force=*/false);
  follow_dns(out);
  // Freshness for readers even when nothing happens: the status goes out at least once a period.
  if (publish_wanted_ || now.steady >= next_publish_) publish(out, now);
  std::optional<TimePoint> next = policy_.next_deadline(now.steady);
  auto consider = [&](TimePoint t) {
    if (!next || t < *next) next = t;
  };
  if (ipv6_.enabled()) {
    if (auto t = ipv6_.next_deadline(now.steady)) consider(*t);
  }
  consider(next_publish_);
  if (retry_at_) consider(*retry_at_);
  if (steering_retry_at_) consider(*steering_retry_at_);
  if (floors_dirty_) consider(next_persist_);
  out.wake_at = next;
}

}  // namespace ispf

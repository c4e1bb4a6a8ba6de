// The route decision: trust checks on reports, per-ISP health, failover, failback and all-down.
#include "ispfailover/core/failover_policy.h"

#include <algorithm>

#include "ispfailover/core/format.h"

namespace ispf {

std::string_view to_string(IspHealth health) {
  switch (health) {
    case IspHealth::kUp:
      return "up";
    case IspHealth::kDegraded:
      return "degraded";
    case IspHealth::kDown:
      return "down";
    case IspHealth::kStale:
      return "stale";
  }
  return "unknown";
}

std::string_view to_string(DropReason reason) {
  switch (reason) {
    case DropReason::kUndecodable:
      return "undecodable";
    case DropReason::kUnknownName:
      return "unknown-name";
    case DropReason::kWrongSource:
      return "wrong-source";
    case DropReason::kReplay:
      return "replay";
    case DropReason::kUnauthenticated:
      return "unauthenticated";
    case DropReason::kStaleTime:
      return "stale-time";
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

Duration damped_failback_hold(Duration failback_after, std::size_t recent_failures) {
  std::size_t doublings = recent_failures > 1 ? recent_failures - 1 : 0;
  return failback_after * (1 << std::min<std::size_t>(doublings, kMaxDampingDoublings));
}

FailoverPolicy::FailoverPolicy(PolicyConfig config, std::vector<IspConfig> isps, TimePoint now)
    : config_(config), started_(now) {
  reconfigure(config, std::move(isps));
}

void FailoverPolicy::reconfigure(PolicyConfig config, std::vector<IspConfig> isps) {
  config_ = config;
  std::stable_sort(isps.begin(), isps.end(),
                   [](const IspConfig& a, const IspConfig& b) { return a.priority < b.priority; });
  std::optional<std::string> active_name;
  if (active_) active_name = isps_[*active_].config.name;
  std::vector<Tracked> next;
  for (auto& isp : isps) {
    auto old = std::find_if(isps_.begin(), isps_.end(), [&](const Tracked& t) {
      return t.config.name == isp.name && t.config.gateway == isp.gateway;
    });
    Tracked tracked = old != isps_.end() ? *old : Tracked{};
    tracked.config = isp;
    next.push_back(std::move(tracked));
  }
  isps_ = std::move(next);
  active_.reset();
  for (std::size_t i = 0; i < isps_.size(); ++i) {
    if (active_name && isps_[i].config.name == *active_name) active_ = i;
  }
}

std::vector<IspConfig> FailoverPolicy::isps() const {
  std::vector<IspConfig> out;
  for (const auto& isp : isps_) out.push_back(isp.config);
  return out;
}

std::optional<std::size_t> FailoverPolicy::note_rejected(std::uint32_t source, DropReason reason,
                                                         TimePoint now) {
  for (std::size_t i = 0; i < isps_.size(); ++i) {
    Tracked& isp = isps_[i];
    if (isp.config.gateway != source) continue;
    isp.last_rejection = reason;
    isp.last_rejection_at = now;
    isp.last_refusal = reason;
    ++isp.refused;
    return i;
  }
  return std::nullopt;
}

std::optional<std::pair<std::string_view, std::uint64_t>> FailoverPolicy::refusals_of(
    std::uint32_t source) const {
  for (const auto& isp : isps_) {
    if (isp.config.gateway == source)
      return std::make_pair(std::string_view(isp.config.name), isp.refused);
  }
  return std::nullopt;
}

std::optional<DropReason> FailoverPolicy::on_status(const Status& status, std::uint32_t source,
                                                    TimePoint now, std::uint64_t wall_ms) {
  // Every refusal is noted against the ISP whose gateway sent it, exactly once, here.
  auto drop = accept(status, source, now, wall_ms);
  if (drop) note_rejected(source, *drop, now);
  return drop;
}

std::optional<DropReason> FailoverPolicy::accept(const Status& status, std::uint32_t source,
                                                 TimePoint now, std::uint64_t wall_ms) {
  auto it = std::find_if(isps_.begin(), isps_.end(),
                         [&](const Tracked& t) { return t.config.name == status.name; });
  if (it == isps_.end()) return DropReason::kUnknownName;
  if (source != it->config.gateway) return DropReason::kWrongSource;
  bool keyed = config_.require_fresh_instances;
  if (keyed && (status.epoch || replay_floor(*it))) {
    // A tag vouches for (epoch, seq), and the sender's epoch never goes back: a report is new
    // only above the floor, whatever the clocks say. A report without an epoch after one with
    // is a replay from before the upgrade.
    auto floor = replay_floor(*it);
    if (!status.epoch) return DropReason::kReplay;
    if (floor && ReplayFloor{*status.epoch, status.seq} <= *floor) return DropReason::kReplay;
    return take(*it, status, now);
  }
  bool same_instance = it->last && it->last->instance == status.instance;
  if (same_instance && status.seq <= it->last->seq) {
    // With a key a tag vouches for every seq, so the order is strict. Without one, anyone can
    // send "isp1, this instance, seq 2^64-1": only a near duplicate (our own burst repeats, a
    // reordered datagram) is a replay; a seq far behind means the numbering starts anew.
    bool near = it->last->seq - status.seq < kUnauthenticatedReplayWindow;
    if (config_.require_fresh_instances || near) return DropReason::kReplay;
  }
  if (!same_instance && config_.require_fresh_instances) {
    auto skew = static_cast<std::uint64_t>(to_ms(config_.max_clock_skew));
    std::uint64_t distance =
        status.time_ms > wall_ms ? status.time_ms - wall_ms : wall_ms - status.time_ms;
    if (distance > skew) return DropReason::kStaleTime;
    if (it->last && status.time_ms <= it->last->time_ms) return DropReason::kReplay;
  }
  return take(*it, status, now);
}

std::optional<ReplayFloor> FailoverPolicy::replay_floor(const Tracked& isp) const {
  std::optional<ReplayFloor> floor = isp.restored_floor;
  if (isp.last && isp.last->epoch) {
    ReplayFloor last{*isp.last->epoch, isp.last->seq};
    if (!floor || last > *floor) floor = last;
  }
  return floor;
}

ReplayFloors FailoverPolicy::replay_floors() const {
  ReplayFloors out;
  for (const auto& isp : isps_) {
    if (auto floor = replay_floor(isp)) out[isp.config.name] = *floor;
  }
  return out;
}

void FailoverPolicy::restore_replay_floors(const ReplayFloors& floors) {
  for (auto& isp : isps_) {
    if (auto found = floors.find(isp.config.name); found != floors.end()) {
      isp.restored_floor = found->second;
    }
  }
}

std::optional<DropReason> FailoverPolicy::take(Tracked& isp, const Status& status, TimePoint now) {
  bool fresh = isp.last && isp.last_seen && now - *isp.last_seen < silence_limit(*isp.last);
  isp.awaiting_report = false;
  isp.last_rejection.reset();
  isp.last = status;
  isp.last_seen = now;
  if (status.state == LinkState::kUp) {
    if (status.loss_permille > config_.max_loss_permille) {
      isp.degraded = true;
    } else if (status.loss_permille * 2 < config_.max_loss_permille) {
      isp.degraded = false;
    }
  }
  // A failure, for flap damping, ends a run of good reports: a bad report, or a report after a
  // silence. Counted here, when a report shows it, so a silence is counted once however long.
  bool good = status.state == LinkState::kUp && !isp.degraded;
  if (isp.reported_good && (!good || !fresh)) {
    isp.failures.push_back(now);
    while (isp.failures.size() > 64 || now - isp.failures.front() > kDampingWindow) {
      isp.failures.pop_front();
    }
  }
  isp.reported_good = good;
  // Holds count from the report itself, not from whenever evaluate() next runs.
  refresh(isp, now);
  return std::nullopt;
}

void FailoverPolicy::adopt_route(std::uint32_t gateway) {
  for (std::size_t i = 0; i < isps_.size(); ++i) {
    if (isps_[i].config.gateway == gateway) {
      active_ = i;
      ever_active_ = true;
    }
  }
}

std::size_t FailoverPolicy::recent_failures(const Tracked& isp, TimePoint now) const {
  return static_cast<std::size_t>(
      std::count_if(isp.failures.begin(), isp.failures.end(),
                    [&](TimePoint t) { return now - t <= kDampingWindow; }));
}

Duration FailoverPolicy::failback_hold(const Tracked& isp, TimePoint now) const {
  return damped_failback_hold(config_.failback_after, recent_failures(isp, now));
}

Duration FailoverPolicy::silence_limit(const Status& last) const {
  // A promise longer than the cap is not believed. Half a heartbeat more than the missed ones,
  // so that a report a little late (LAN, a busy client) does not count as one missed.
  Duration heartbeat = milliseconds(std::min(last.heartbeat_ms, kMaxHeartbeatMs));
  return std::max(config_.stale_floor, heartbeat * config_.stale_heartbeats + heartbeat / 2);
}

IspHealth FailoverPolicy::health_of(const Tracked& isp, TimePoint now) const {
  // Our own link to its gateway is gone: it cannot carry our traffic, whatever it says.
  if (isp.local_down) return IspHealth::kDown;
  if (!isp.last_seen || !isp.last) return IspHealth::kStale;
  if (now - *isp.last_seen >= silence_limit(*isp.last)) return IspHealth::kStale;
  if (isp.last->state == LinkState::kDown) return IspHealth::kDown;
  if (isp.degraded) return IspHealth::kDegraded;
  return IspHealth::kUp;
}

std::string FailoverPolicy::reason_of(const Tracked& isp, TimePoint now) const {
  switch (health_of(isp, now)) {
    case IspHealth::kStale:
      return isp.last_seen ? "silent" : "never-heard";
    case IspHealth::kDegraded:
      return "loss";
    default:
      if (isp.local_down) return kReasonLocalLinkDown;
      return isp.last ? isp.last->reason : "";
  }
}

void FailoverPolicy::refresh(Tracked& isp, TimePoint now) {
  if (health_of(isp, now) == IspHealth::kUp) {
    if (!isp.healthy_since && !isp.awaiting_report) isp.healthy_since = now;
    isp.unhealthy_since.reset();
  } else {
    isp.healthy_since.reset();
    if (!isp.unhealthy_since) isp.unhealthy_since = now;
  }
}

std::string FailoverPolicy::describe(std::size_t index, TimePoint now) const {
  const Tracked& isp = isps_[index];
  IspHealth health = health_of(isp, now);
  std::string text = isp.config.name + " " + std::string(to_string(health));
  switch (health) {
    case IspHealth::kStale:
      text += isp.last_seen ? " (silent for " + human_duration(now - *isp.last_seen) + ")"
                            : " (never heard)";
      break;
    case IspHealth::kDown:
      text += " (" + reason_of(isp, now) + ")";
      break;
    case IspHealth::kDegraded:
      text += " (loss " + format_percent(isp.last->loss_permille) + ")";
      break;
    case IspHealth::kUp:
      if (isp.last->rtt_avg_us) {
        text += " (rtt " + format_rtt(*isp.last->rtt_avg_us) + ", loss " +
                format_percent(isp.last->loss_permille) + ")";
      }
      break;
  }
  return text;
}

bool FailoverPolicy::set_local_reachability(const std::vector<bool>& reachable, TimePoint now) {
  bool changed = false;
  for (std::size_t i = 0; i < isps_.size() && i < reachable.size(); ++i) {
    Tracked& isp = isps_[i];
    if (isp.local_down == !reachable[i]) continue;
    changed = true;
    isp.local_down = !reachable[i];
    if (isp.local_down) continue;
    // Back: the silence while our link was gone was not the ISP's, so it is not stale; but
    // nothing was seen meanwhile, so a failback hold counts from its first report from now on.
    if (isp.last_seen) isp.last_seen = std::max(*isp.last_seen, now);
    isp.healthy_since.reset();
    isp.awaiting_report = true;
    isp.reported_good = false;  // nor does that silence count as the ISP's failure
  }
  return changed;
}

bool FailoverPolicy::all_local_down() const {
  return !isps_.empty() &&
         std::all_of(isps_.begin(), isps_.end(), [](const Tracked& isp) { return isp.local_down; });
}

Decision FailoverPolicy::evaluate(TimePoint now) {
  if (all_local_down()) {
    // Our own link is gone: no ISP's fault, so nothing is decided (the kernel has dropped the
    // route with the link; it comes back with the link). Holds and staleness wait.
    Decision d;
    d.active = active_;
    d.previous = active_;
    return d;
  }
  for (auto& isp : isps_) refresh(isp, now);
  Decision d;
  d.previous = active_;
  bool in_grace = now - started_ < config_.startup_grace;
  auto unheard = [&](std::size_t i) { return !isps_[i].last_seen; };
  auto health = [&](std::size_t i) { return health_of(isps_[i], now); };
  // During the grace period an ISP not heard from yet may still be fine: do not act on it.
  auto unheard_before = [&](std::size_t limit) {
    for (std::size_t i = 0; i < limit; ++i) {
      if (unheard(i)) return true;
    }
    return false;
  };
  std::optional<std::size_t> best_up;
  std::optional<std::size_t> best_degraded;
  for (std::size_t i = 0; i < isps_.size(); ++i) {
    if (!best_up && health(i) == IspHealth::kUp) best_up = i;
    if (!best_degraded && health(i) == IspHealth::kDegraded) best_degraded = i;
  }

  d.all_down = !best_up && !best_degraded && !(in_grace && unheard_before(isps_.size()));

  std::optional<std::size_t> choice = active_;
  std::string why;
  std::string reason;
  bool active_fine =
      active_ && (health(*active_) == IspHealth::kUp || (in_grace && unheard(*active_)));
  if (active_fine) {
    // No healthy_since: nothing heard from it since our own link came back, so no hold has
    // begun (reading the empty optional here once failed back at once, with a stale time).
    if (best_up && *best_up < *active_ && isps_[*best_up].healthy_since) {
      auto held = now - *isps_[*best_up].healthy_since;
      auto hold = failback_hold(isps_[*best_up], now);
      if (held >= hold) {
        choice = best_up;
        reason = "failback";
        std::size_t failures = recent_failures(isps_[*best_up], now);
        why = "failback " + isps_[*active_].config.name + " -> " + isps_[*best_up].config.name +
              ": " + describe(*best_up, now) + " for " + human_duration(held) +
              " (failback-after " + human_duration(config_.failback_after) +
              (hold > config_.failback_after
                   ? ", damped to " + human_duration(hold) + " after " + std::to_string(failures) +
                         " failures in " + human_duration(kDampingWindow)
                   : std::string()) +
              ")";
      }
    }
  } else if (best_up) {
    if (!(in_grace && unheard_before(*best_up))) choice = best_up;
  } else if (best_degraded) {
    // Nothing healthy: a lossy line is still the best there is; keep the one in use if lossy.
    if (!active_ || health(*active_) != IspHealth::kDegraded) choice = best_degraded;
  } else if (d.all_down && config_.when_all_down == AllDownPolicy::kRemove) {
    choice.reset();
  }

  if (choice != active_) {
    d.changed = true;
    d.counted = ever_active_;
    ever_active_ = true;
    if (why.empty()) {
      std::string from = active_ ? describe(*active_, now) : "no route";
      if (active_) {
        const Tracked& old = isps_[*active_];
        if (old.last_seen) from += ", last report " + human_duration(now - *old.last_seen) + " ago";
        if (old.unhealthy_since) {
          from += ", fault first signalled " + human_duration(now - *old.unhealthy_since) + " ago";
        }
      }
      if (choice) {
        why =
            (active_ ? "switch " + isps_[*active_].config.name + " -> " : std::string("select ")) +
            isps_[*choice].config.name + ": " + from + "; " + describe(*choice, now);
      } else {
        why = "withdraw the default route: no ISP up (when-all-down remove); " + from;
      }
    }
    if (reason.empty()) {
      reason = active_ ? reason_of(isps_[*active_], now) : std::string("isp-up");
      if (reason.empty()) reason = "other";
    }
    if (d.counted) {
      ++switches_;
      SwitchKind kind{active_ ? isps_[*active_].config.name : "none",
                      choice ? isps_[*choice].config.name : "none", reason};
      if (!switch_counts_.contains(kind) && switch_counts_.size() >= kMaxSwitchKinds) {
        kind.reason = "other";
      }
      ++switch_counts_[kind];
    }
    active_ = choice;
  }
  d.active = active_;
  d.why = std::move(why);
  d.reason = std::move(reason);
  return d;
}

std::optional<TimePoint> FailoverPolicy::next_deadline(TimePoint now) const {
  std::optional<TimePoint> next;
  auto consider = [&](TimePoint t) {
    if (t > now && (!next || t < *next)) next = t;
  };
  consider(started_ + config_.startup_grace);
  for (std::size_t i = 0; i < isps_.size(); ++i) {
    const Tracked& isp = isps_[i];
    if (isp.last_seen && isp.last) {
      consider(*isp.last_seen + silence_limit(*isp.last));
    }
    if (isp.healthy_since && active_ && i < *active_) {
      consider(*isp.healthy_since + failback_hold(isp, now));
      // The hold shrinks as failures age out of the damping window.
      for (TimePoint failure : isp.failures) consider(failure + kDampingWindow + milliseconds(1));
    }
  }
  return next;
}

std::vector<IspView> FailoverPolicy::view(TimePoint now) const {
  std::vector<IspView> out;
  for (const auto& isp : isps_) {
    IspView v;
    v.config = isp.config;
    v.health = health_of(isp, now);
    v.reason = reason_of(isp, now);
    if (isp.last_seen) v.since_last_seen = now - *isp.last_seen;
    if (isp.last) {
      v.rtt_avg_us = isp.last->rtt_avg_us;
      v.loss_permille = isp.last->loss_permille;
    }
    v.healthy_since = isp.healthy_since;
    v.recent_failures = recent_failures(isp, now);
    v.failback_hold = failback_hold(isp, now);
    v.refused = isp.refused;
    if (isp.last_refusal) v.last_refusal = std::string(to_string(*isp.last_refusal));
    if (isp.last_rejection && v.health != IspHealth::kUp) {
      v.rejected = std::string(to_string(*isp.last_rejection));
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace ispf

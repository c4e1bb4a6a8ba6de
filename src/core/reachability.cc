// Probe hysteresis and line quality over a sliding window; time is always a parameter.
#include "ispfailover/core/reachability.h"

#include <algorithm>

namespace ispf {

Reachability::Reachability(ReachabilityConfig config, TimePoint now)
    : config_(config), since_(now) {}

void Reachability::record_probe(TimePoint concluded_at, std::optional<Duration> rtt) {
  if (rtt) rtt_last_ = rtt;
  if (state_ != LinkState::kUp || !link_usable_) return;
  window_.push_back({concluded_at, rtt});
  prune(concluded_at);
}

void Reachability::prune(TimePoint now) {
  while (!window_.empty() && now - window_.front().at > config_.loss_window) window_.pop_front();
}

std::optional<Transition> Reachability::move_to(LinkState to, std::string reason, TimePoint now) {
  if (to == state_ && reason == reason_) return std::nullopt;
  if (to == state_) {
    // Same state, better explanation (e.g. down: starting -> down: link-down): say it, no edge.
    reason_ = std::move(reason);
    return Transition{state_, state_, reason_, now};
  }
  Transition transition{state_, to, reason, now};
  state_ = to;
  reason_ = std::move(reason);
  since_ = now;
  return transition;
}

void Reachability::answered_at(TimePoint round_started) {
  if (!last_answered_start_ || round_started > *last_answered_start_) {
    last_answered_start_ = round_started;
  }
  while (!failed_starts_.empty() && failed_starts_.front() <= *last_answered_start_) {
    failed_starts_.pop_front();
  }
}

bool Reachability::run_is_down() const {
  return failed_starts_.size() >= std::max<std::uint32_t>(config_.down_after, 1) &&
         failed_starts_.back() - failed_starts_.front() >= config_.down_window;
}

std::optional<Transition> Reachability::on_round(const RoundOutcome& round, TimePoint now) {
  targets_up_last_round_ = round.answered;
  bool good = round.answered >= config_.quorum;
  // A caller that does not know when the round started (older tests) gets its conclusion.
  TimePoint started = round.started == TimePoint{} ? now : round.started;
  if (good) {
    answered_at(started);
    ++good_in_row_;
  } else {
    good_in_row_ = 0;
    if (!last_answered_start_ || started > *last_answered_start_) {
      // Rounds conclude nearly in start order; keep the run sorted all the same.
      auto at = std::upper_bound(failed_starts_.begin(), failed_starts_.end(), started);
      failed_starts_.insert(at, started);
      // A line down for hours needs only the run's ends and its length to be known; keep it small.
      constexpr std::size_t kKept = 1024;
      if (failed_starts_.size() > kKept) failed_starts_.erase(failed_starts_.begin() + 1);
    }
  }
  if (!link_usable_) return std::nullopt;  // link-down holds until the link returns
  if (state_ == LinkState::kDown && good && good_in_row_ >= config_.up_after) {
    return move_to(LinkState::kUp, kReasonProbeOk, now);
  }
  bool down_is_news = state_ == LinkState::kUp || reason_ == kReasonStarting;
  if (down_is_news && !good && run_is_down()) {
    return move_to(LinkState::kDown, round.failure_reason, now);
  }
  return std::nullopt;
}

void Reachability::on_late_answer(TimePoint round_started) { answered_at(round_started); }

std::optional<Transition> Reachability::on_link(bool usable, TimePoint now, std::string reason) {
  if (usable == link_usable_) {
    if (usable || reason == reason_) return std::nullopt;
    return move_to(LinkState::kDown, std::move(reason), now);
  }
  link_usable_ = usable;
  good_in_row_ = 0;
  failed_starts_.clear();
  if (!usable) return move_to(LinkState::kDown, std::move(reason), now);
  return std::nullopt;  // the link is back; the line is up once up_after rounds prove it
}

void Reachability::reconfigure(ReachabilityConfig config) {
  if (config.targets != config_.targets) {
    window_.clear();
    rtt_last_.reset();
  }
  config_ = config;
  good_in_row_ = 0;
  failed_starts_.clear();
}

LineQuality Reachability::quality(TimePoint now) {
  prune(now);
  LineQuality q;
  q.probes_in_window = static_cast<std::uint32_t>(window_.size());
  q.targets_up_last_round = targets_up_last_round_;
  if (rtt_last_)
    q.rtt_last_us =
        static_cast<std::uint32_t>(std::chrono::duration_cast<microseconds>(*rtt_last_).count());
  std::size_t lost = 0;
  Duration rtt_sum{};
  std::size_t answered = 0;
  for (const auto& probe : window_) {
    if (probe.rtt) {
      rtt_sum += *probe.rtt;
      ++answered;
    } else {
      ++lost;
    }
  }
  std::size_t denominator = std::max<std::size_t>(window_.size(), config_.loss_min_probes);
  if (denominator > 0) {
    q.loss_permille = static_cast<std::uint32_t>((lost * 1000 + denominator / 2) / denominator);
  }
  if (answered > 0) {
    q.rtt_avg_us = static_cast<std::uint32_t>(
        std::chrono::duration_cast<microseconds>(rtt_sum / answered).count());
  }
  return q;
}

}  // namespace ispf

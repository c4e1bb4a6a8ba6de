// failoverd's shell: datagrams in, FailoverPolicy decides, the route writer makes it so.
#include "failover_daemon.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "ispfailover/core/auth.h"
#include "ispfailover/core/status_message.h"
#include "ispfailover/io/cli_support.h"
#include "ispfailover/io/status_file.h"

namespace ispf {
namespace {

constexpr Duration kPublishPeriod = std::chrono::seconds(1);
constexpr Duration kFirstRetry = milliseconds(100);
constexpr Duration kMaxRetry = std::chrono::seconds(5);

std::uint64_t unix_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

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

}  // namespace

FailoverDaemon::FailoverDaemon(asio::io_context& io, ServiceNotifier& notifier,
                               std::unique_ptr<RouteWriter> writer)
    : io_(io),
      notifier_(notifier),
      writer_(std::move(writer)),
      deadline_timer_(io),
      retry_timer_(io),
      publish_timer_(io) {}

std::optional<std::string> FailoverDaemon::start(const FailoverOptions& options,
                                                 const FailoverSettings& settings) {
  options_ = options;
  settings_ = settings;
  auto now = Clock::now();
  policy_.emplace(settings.policy, settings.isps, now);

  if (auto error = open_listener(options.port)) return error;

  auto routes = writer_->default_routes();
  if (!routes) return "cannot read the routing table: " + routes.error().message();
  for (const auto& route : *routes) {
    if (route.protocol != writer_->slot().protocol || route.metric != writer_->slot().metric) {
      continue;
    }
    policy_->adopt_route(route.gateway);
    if (policy_->active()) {
      active_since_ = now;
      spdlog::info("found our default route via {} ({}): keeping it while the ISPs report in",
                   format_ipv4(route.gateway), policy_->isps()[*policy_->active()].name);
    }
  }
  auto watch =
      RouteWatch::open(io_, writer_->slot().table, [this] { reconcile(/*after_decision=*/false); });
  if (!watch) return "cannot watch the routing table: " + watch.error().message();
  route_watch_ = std::move(*watch);

  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path(options.status_file).parent_path(),
                                      ignored);
  std::string isps;
  for (const auto& isp : policy_->isps()) {
    isps += (isps.empty() ? "" : ", ") + isp.name + "=" + format_ipv4(isp.gateway);
  }
  spdlog::info("listening on UDP {} for {}; failback after {}, max loss {}%, when all down: {}",
               options.port, isps, format_duration(settings.policy.failback_after),
               options.max_loss_pct, options.when_all_down);
  // Takes the table over: foreign routes named by --replace-gateway go now.
  reconcile(/*after_decision=*/true);
  evaluate(now);
  publish(true);
  return std::nullopt;
}

std::optional<std::string> FailoverDaemon::open_listener(std::uint16_t port) {
  auto listener = StatusListener::open(
      io_, port,
      [this](std::span<const char> bytes, std::uint32_t source) { on_datagram(bytes, source); });
  if (!listener) {
    return "cannot listen on UDP port " + std::to_string(port) + ": " + listener.error().message();
  }
  listener_ = std::move(*listener);
  return std::nullopt;
}

std::optional<std::string> FailoverDaemon::reconfigure(const FailoverOptions& options,
                                                       const FailoverSettings& settings) {
  if (options.port != options_.port) {
    if (auto error = open_listener(options.port)) return error;
  }
  if (settings.table != settings_.table || settings.metric != settings_.metric) {
    // The route moves to its new slot: the old one goes first, the new comes with reconcile().
    writer_->remove_default();
    auto writer = NetlinkRouteWriter::open({settings.table, settings.metric, kRouteProtocol});
    if (!writer) return "cannot open netlink: " + writer.error().message();
    writer_ = std::move(*writer);
    auto watch =
        RouteWatch::open(io_, settings.table, [this] { reconcile(/*after_decision=*/false); });
    if (!watch) return "cannot watch the routing table: " + watch.error().message();
    route_watch_ = std::move(*watch);
  }
  options_ = options;
  settings_ = settings;
  config_problem_.clear();
  policy_->reconfigure(settings.policy, settings.isps);
  spdlog::info("configuration reloaded: {} ISP(s)", settings.isps.size());
  reconcile(/*after_decision=*/true);
  evaluate(Clock::now());
  publish(true);
  return std::nullopt;
}

void FailoverDaemon::set_config_problem(std::string problem) {
  config_problem_ = std::move(problem);
  publish(true);
}

void FailoverDaemon::stop() {
  stopped_ = true;
  deadline_timer_.cancel();
  retry_timer_.cancel();
  publish_timer_.cancel();
  listener_.reset();
  route_watch_.reset();
  if (options_.cleanup_on_exit) {
    if (auto ec = writer_->remove_default()) {
      spdlog::error("could not remove the default route on exit: {}", ec.message());
    } else {
      spdlog::info("removed our default route (--cleanup-on-exit)");
    }
  } else if (auto gateway = desired_gateway()) {
    spdlog::info("leaving the default route via {} in place", format_ipv4(*gateway));
  }
}

void FailoverDaemon::on_datagram(std::span<const char> bytes, std::uint32_t source) {
  auto now = Clock::now();
  auto status = decode(bytes);
  if (!status) {
    count_drop(DropReason::kUndecodable, source,
               std::string(to_string(status.error().error)) + " " + status.error().detail);
    return;
  }
  bool signed_datagram =
      std::string_view(bytes.data(), bytes.size()).find("\nhmac=") != std::string_view::npos;
  if (!settings_.keys.empty()) {
    if (auto verified = verify_datagram(bytes, settings_.keys); !verified) {
      policy_->note_rejected(source, DropReason::kUnauthenticated, now);
      count_drop(DropReason::kUnauthenticated, source,
                 "claims " + status->name + ", " + std::string(to_string(verified.error())) +
                     (verified.error() == AuthError::kMissingTag
                          ? "; is --key-file set on that ISP router too?"
                          : "; do both sides have the same key?"));
      publish(true);
      return;
    }
  }
  auto wall_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  if (auto drop = policy_->on_status(*status, source, now, wall_ms)) {
    std::string detail = "claims " + status->name;
    if (*drop == DropReason::kWrongSource) {
      for (const auto& isp : policy_->isps()) {
        if (isp.name == status->name) detail += ", expected from " + format_ipv4(isp.gateway);
      }
    }
    count_drop(*drop, source, detail);
    return;
  }
  ++accepted_;
  if (signed_datagram && settings_.keys.empty() && unverified_.insert(status->name).second) {
    std::string warning = status->name +
                          " signs its datagrams but failoverd has no --key-file: "
                          "its reports are NOT authenticated";
    spdlog::warn("{}", warning);
    warnings_.push_back(warning);
  }
  spdlog::debug("{} from {}: {} ({}) seq {}", status->name, format_ipv4(source),
                to_string(status->state), status->reason, status->seq);
  evaluate(now);
}

void FailoverDaemon::count_drop(DropReason reason, std::uint32_t source,
                                const std::string& detail) {
  ++drops_[static_cast<std::size_t>(reason)];
  // A replay is routine (our own burst repeats can arrive twice); the rest is news, rate-limited.
  // Only a refused tag is a warning: it is how a key on one side only makes itself heard.
  if (reason == DropReason::kReplay) return;
  if (drop_log_.allow(source, Clock::now())) {
    spdlog::log(reason == DropReason::kUnauthenticated ? spdlog::level::warn : spdlog::level::info,
                "dropped a datagram from {}: {} ({}); counted, logged once a minute per source",
                format_ipv4(source), to_string(reason), detail);
  }
}

void FailoverDaemon::evaluate(TimePoint now) {
  Decision d = policy_->evaluate(now);
  auto views = policy_->view(now);
  bool health_changed = false;
  for (std::size_t i = 0; i < views.size(); ++i) {
    IspHealth previous = i < last_health_.size() ? last_health_[i] : IspHealth::kStale;
    if (i < last_health_.size() && previous == views[i].health) continue;
    health_changed = true;
    if (i < last_health_.size() || views[i].health != IspHealth::kStale) {
      spdlog::info("{} is {} ({})", views[i].config.name, to_string(views[i].health),
                   views[i].reason);
    }
  }
  last_health_.clear();
  for (const auto& v : views) last_health_.push_back(v.health);

  if (d.changed) {
    spdlog::warn("{}", d.why);
    last_switch_ = d.why;
    active_since_ = now;
    reconcile(/*after_decision=*/true);
  }
  if (d.all_down != all_down_) {
    all_down_ = d.all_down;
    if (all_down_) {
      spdlog::warn("{}", summary_line(report(now)));
    } else {
      spdlog::info("an ISP is back: {}", summary_line(report(now)));
    }
  }
  schedule_deadline(now);
  publish(d.changed || health_changed);
}

void FailoverDaemon::schedule_deadline(TimePoint now) {
  auto next = policy_->next_deadline(now);
  if (!next) return;
  deadline_timer_.expires_at(*next);
  deadline_timer_.async_wait([this](std::error_code ec) {
    if (ec || stopped_) return;
    evaluate(Clock::now());
  });
}

std::optional<std::uint32_t> FailoverDaemon::desired_gateway() const {
  if (!policy_ || !policy_->active()) return std::nullopt;
  return policy_->isps()[*policy_->active()].gateway;
}

void FailoverDaemon::reconcile(bool after_decision) {
  if (stopped_) return;
  auto routes = writer_->default_routes();
  std::error_code failure = routes ? std::error_code{} : routes.error();
  const RouteSlot& slot = writer_->slot();
  auto desired = desired_gateway();
  bool own_correct = false;
  bool own_present = false;
  if (routes) {
    for (const auto& route : *routes) {
      bool ours = route.protocol == slot.protocol && route.metric == slot.metric;
      if (ours) {
        own_present = true;
        own_correct = desired && route.gateway == *desired;
        continue;
      }
      bool replaceable =
          std::find(settings_.replace_gateways.begin(), settings_.replace_gateways.end(),
                    route.gateway) != settings_.replace_gateways.end();
      if (!replaceable) continue;
      if (auto ec = writer_->delete_route(route)) {
        failure = ec;
      } else {
        // Routine (a DHCP renewal does it): info, so that -p warning lists switches only.
        spdlog::info(
            "deleted the foreign default route via {} (proto {}, metric {}): "
            "--replace-gateway takes it over",
            format_ipv4(route.gateway), protocol_name(route.protocol), route.metric);
      }
    }
  }
  if (routes && desired && !own_correct) {
    if (auto ec = writer_->replace_default(*desired)) {
      failure = ec;
    } else if (!after_decision) {
      // The decision did not change: someone else deleted or rewrote our route.
      spdlog::warn("{} our default route via {}", own_present ? "corrected" : "restored",
                   format_ipv4(*desired));
    }
  } else if (routes && !desired && own_present) {
    if (auto ec = writer_->remove_default()) {
      failure = ec;
    } else {
      spdlog::warn("withdrew our default route (when-all-down remove)");
    }
  }
  if (failure) {
    if (netlink_error_log_.allow(0, Clock::now())) {
      spdlog::error("routing table update failed: {}; retrying with backoff", failure.message());
    }
    schedule_retry();
  } else {
    retry_backoff_ = Duration::zero();
  }
}

void FailoverDaemon::schedule_retry() {
  if (retry_pending_) return;
  retry_backoff_ = std::clamp(retry_backoff_ * 2, kFirstRetry, kMaxRetry);
  retry_pending_ = true;
  retry_timer_.expires_after(retry_backoff_);
  retry_timer_.async_wait([this](std::error_code ec) {
    retry_pending_ = false;
    if (ec || stopped_) return;
    reconcile(/*after_decision=*/true);
  });
}

StatusReport FailoverDaemon::report(TimePoint now) const {
  StatusReport r;
  r.isps = policy_->view(now);
  r.active = policy_->active();
  if (active_since_ && r.active) r.active_for = now - *active_since_;
  r.all_down = all_down_;
  r.when_all_down = settings_.policy.when_all_down;
  r.switches = policy_->switches();
  r.accepted = accepted_;
  r.drops = drops_;
  r.updated_unix_ms = unix_ms();
  r.last_switch = last_switch_;
  r.warnings = warnings_;
  return r;
}

void FailoverDaemon::publish(bool force) {
  auto now = Clock::now();
  if (!force && now - last_publish_ < kPublishPeriod) return;
  last_publish_ = now;
  StatusReport r = report(now);
  notifier_.status(config_problem_.empty()
                       ? summary_line(r)
                       : "RELOAD REFUSED (" + config_problem_ +
                             "), running with the previous configuration; " + summary_line(r));
  if (auto ec = write_file_atomically(options_.status_file, to_json(r));
      ec && netlink_error_log_.allow(1, now)) {
    spdlog::error("cannot write the status file {}: {}", options_.status_file, ec.message());
  }
  // Freshness for readers even when nothing happens.
  publish_timer_.expires_after(kPublishPeriod);
  publish_timer_.async_wait([this](std::error_code ec) {
    if (ec || stopped_) return;
    publish(true);
  });
}

}  // namespace ispf

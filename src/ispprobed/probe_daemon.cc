// ispprobed's shell: rounds on a timer, netlink link events, datagrams on change and heartbeat.
#include "probe_daemon.h"

#include <spdlog/spdlog.h>

#include <ctime>
#include <random>

#include "ispfailover/core/auth.h"
#include "ispfailover/core/status_message.h"
#include "options.h"

namespace ispf {
namespace {

// A change is sent at once and repeated after these delays, so one lost datagram costs nothing.
constexpr std::array<milliseconds, 3> kBurstDelays = {milliseconds(20), milliseconds(40),
                                                      milliseconds(80)};

std::uint64_t unix_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

std::string clock_time_text() {
  std::time_t now = std::time(nullptr);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", std::localtime(&now));
  return buf;
}

std::vector<std::uint32_t> target_addresses(const ProbedOptions& options) {
  std::vector<std::uint32_t> out;
  for (const auto& t : options.targets) out.push_back(*parse_ipv4(t));
  return out;
}

}  // namespace

ProbeDaemon::ProbeDaemon(asio::io_context& io, ServiceNotifier& notifier)
    : io_(io), notifier_(notifier), round_timer_(io), heartbeat_timer_(io), burst_timer_(io) {
  std::random_device random;
  instance_ = (static_cast<std::uint64_t>(random()) << 32) ^ random();
  icmp_identifier_ = static_cast<std::uint16_t>(random());
}

ReachabilityConfig ProbeDaemon::reachability_config() const {
  // Loss counts over at least a tenth of a full window's probes (and at least 20).
  auto full_window = static_cast<std::uint32_t>(options_.targets.size() *
                                                (options_.loss_window / options_.interval));
  return ReachabilityConfig{static_cast<std::uint32_t>(options_.targets.size()),
                            options_.quorum,
                            options_.down_after,
                            options_.up_after,
                            options_.loss_window,
                            std::max<std::uint32_t>(20, full_window / 10)};
}

std::optional<std::string> ProbeDaemon::open_prober() {
  auto prober = IcmpProber::open(io_, options_.uplink, icmp_identifier_, target_addresses(options_),
                                 options_.timeout);
  if (!prober) {
    if (prober.error() == std::errc::operation_not_permitted) {
      return "cannot open a raw ICMP socket: ispprobed needs CAP_NET_RAW (run as root or grant "
             "it, e.g. AmbientCapabilities=CAP_NET_RAW)";
    }
    return "cannot probe through --uplink " + options_.uplink + ": " + prober.error().message();
  }
  prober_ = std::move(*prober);
  return std::nullopt;
}

std::optional<std::string> ProbeDaemon::open_link_watch() {
  auto watch =
      LinkWatch::open(io_, options_.uplink, [this](const LinkStatus& status) { on_link(status); });
  if (!watch) return "cannot watch --uplink " + options_.uplink + ": " + watch.error().message();
  link_watch_ = std::move(*watch);
  return std::nullopt;
}

std::optional<std::string> ProbeDaemon::open_sender() {
  auto destinations = status_destinations(options_);
  if (destinations.empty()) return "no destination for the datagrams: check --lan/--broadcast";
  auto sender = StatusSender::open(io_, destinations, options_.port, options_.lan);
  if (!sender) return "cannot open the status socket: " + sender.error().message();
  sender_ = std::move(*sender);
  return std::nullopt;
}

std::optional<std::string> ProbeDaemon::start(const ProbedOptions& options,
                                              std::vector<std::string> keys) {
  options_ = options;
  keys_ = std::move(keys);
  if (auto error = open_prober()) return error;
  if (auto error = open_sender()) return error;
  reachability_.emplace(reachability_config(), Clock::now());
  if (auto error = open_link_watch()) return error;
  spdlog::info(
      "{}: probing {} target(s) out of {} every {} (timeout {}, down after {}, up after "
      "{}), heartbeat {} to port {}, {}",
      options_.name, options_.targets.size(), options_.uplink, format_duration(options_.interval),
      format_duration(options_.timeout), options_.down_after, options_.up_after,
      format_duration(options_.heartbeat), options_.port,
      keys_.empty() ? "unsigned (no --key-file)" : "signed");
  if (!link_watch_->status().usable()) on_link(link_watch_->status());
  next_round_ = Clock::now();
  schedule_round();
  schedule_heartbeat();
  update_service_status();
  return std::nullopt;
}

std::optional<std::string> ProbeDaemon::reconfigure(const ProbedOptions& options,
                                                    std::vector<std::string> keys) {
  ProbedOptions old = options_;
  options_ = options;
  std::optional<std::string> error;
  if (options.uplink != old.uplink) {
    error = open_prober();
    if (!error) error = open_link_watch();
  } else if (options.targets != old.targets || options.timeout != old.timeout) {
    prober_->set_targets(target_addresses(options_), options_.timeout);
  }
  if (!error &&
      (options.lan != old.lan || options.broadcast != old.broadcast || options.port != old.port)) {
    error = open_sender();
  }
  if (error) {
    options_ = old;
    return error;
  }
  keys_ = std::move(keys);
  config_problem_.clear();
  reachability_->reconfigure(reachability_config());
  if (options.heartbeat != old.heartbeat) schedule_heartbeat();
  spdlog::info("{}: configuration reloaded", options_.name);
  return std::nullopt;
}

void ProbeDaemon::set_config_problem(std::string problem) {
  config_problem_ = std::move(problem);
  update_service_status();
}

void ProbeDaemon::stop() {
  stopped_ = true;
  round_timer_.cancel();
  heartbeat_timer_.cancel();
  burst_timer_.cancel();
  prober_.reset();
  link_watch_.reset();
  sender_.reset();
}

void ProbeDaemon::schedule_round() {
  // Fixed cadence from the first round: a slow handler does not stretch the interval.
  next_round_ += options_.interval;
  auto now = Clock::now();
  if (next_round_ < now) next_round_ = now;
  round_timer_.expires_at(next_round_);
  prober_->start_round(++round_seq_, [this](const RoundReport& report) { on_round(report); });
  round_timer_.async_wait([this](std::error_code ec) {
    if (ec || stopped_) return;
    schedule_round();
  });
}

void ProbeDaemon::on_round(const RoundReport& report) {
  for (const auto& probe : report.probes) {
    reachability_->record_probe(report.concluded, probe.rtt);
    if (probe.rtt) {
      spdlog::debug("probe {} seq {}: {:.2f} ms", format_ipv4(probe.target), report.sequence,
                    std::chrono::duration<double, std::milli>(*probe.rtt).count());
    } else {
      spdlog::debug("probe {} seq {}: {}{}", format_ipv4(probe.target), report.sequence,
                    probe.error == ProbeError::kUnreachable ? "unreachable"
                    : probe.error == ProbeError::kNoRoute   ? "not sent: "
                                                            : "timeout",
                    probe.send_error ? probe.send_error.message() : "");
    }
  }
  RoundOutcome outcome{report.answered(), report.failure_reason()};
  if (auto transition = reachability_->on_round(outcome, report.concluded)) {
    on_transition(*transition);
  }
}

void ProbeDaemon::on_link(const LinkStatus& status) {
  spdlog::info("{}: uplink {} {} (admin {}, carrier {})", options_.name, options_.uplink,
               status.usable() ? "usable" : "unusable", status.admin_up ? "up" : "down",
               status.carrier ? "yes" : "no");
  if (auto transition = reachability_->on_link(status.usable(), Clock::now())) {
    on_transition(*transition);
  }
}

std::string ProbeDaemon::figures() {
  auto q = reachability_->quality(Clock::now());
  std::string text = std::to_string(q.targets_up_last_round) + "/" +
                     std::to_string(options_.targets.size()) + " targets";
  char buf[64];
  if (q.rtt_avg_us) {
    std::snprintf(buf, sizeof buf, ", rtt %.1f ms", *q.rtt_avg_us / 1000.0);
    text += buf;
  }
  std::snprintf(buf, sizeof buf, ", loss %u.%u%%", q.loss_permille / 10, q.loss_permille % 10);
  return text + buf;
}

void ProbeDaemon::on_transition(const Transition& t) {
  announced_ = true;
  if (t.from != t.to) since_text_ = clock_time_text();
  if (t.from != t.to) {
    spdlog::warn("{}: {} -> {} ({}): {}", options_.name, to_string(t.from), to_string(t.to),
                 t.reason, figures());
  } else {
    // Not an edge: the first verdict after start, or a better reason for the same state.
    spdlog::info("{}: {} ({}): {}", options_.name, to_string(t.to), t.reason, figures());
  }
  send_status();
  schedule_burst(0);
  schedule_heartbeat();
  update_service_status();
}

void ProbeDaemon::schedule_burst(std::size_t step) {
  if (step >= kBurstDelays.size()) return;
  burst_timer_.expires_after(kBurstDelays[step] -
                             (step ? kBurstDelays[step - 1] : milliseconds(0)));
  burst_timer_.async_wait([this, step](std::error_code ec) {
    if (ec || stopped_) return;
    send_status();
    schedule_burst(step + 1);
  });
}

void ProbeDaemon::schedule_heartbeat() {
  heartbeat_timer_.expires_after(options_.heartbeat);
  heartbeat_timer_.async_wait([this](std::error_code ec) {
    if (ec || stopped_) return;
    send_status();
    update_service_status();
    schedule_heartbeat();
  });
}

void ProbeDaemon::send_status() {
  // Until the first verdict there is nothing true to say; silence is honest, "down" is not.
  if (!announced_ || !sender_) return;
  auto q = reachability_->quality(Clock::now());
  Status s;
  s.name = options_.name;
  s.instance = instance_;
  s.seq = ++seq_;
  s.time_ms = unix_ms();
  s.state = reachability_->state();
  s.reason = reachability_->reason();
  s.heartbeat_ms = static_cast<std::uint32_t>(to_ms(options_.heartbeat));
  s.targets = static_cast<std::uint32_t>(options_.targets.size());
  s.targets_up = std::min(q.targets_up_last_round, s.targets);
  s.rtt_last_us = q.rtt_last_us;
  s.rtt_avg_us = q.rtt_avg_us;
  s.loss_permille = q.loss_permille;
  s.window_ms = static_cast<std::uint32_t>(to_ms(options_.loss_window));
  std::string datagram = keys_.empty() ? encode(s) : sign_datagram(encode(s), keys_.front());
  if (auto ec = sender_->send(datagram); ec && send_error_log_.allow(0, Clock::now())) {
    spdlog::error("{}: cannot send the status datagram: {} (counted; logged once a minute)",
                  options_.name, ec.message());
  }
}

void ProbeDaemon::update_service_status() {
  std::string line;
  if (!announced_) {
    line = "starting: probing " + std::to_string(options_.targets.size()) + " target(s)";
  } else if (reachability_->state() == LinkState::kUp) {
    line = "up: " + figures();
  } else {
    line = "down since " + since_text_ + ": " + reachability_->reason() + "; " + figures();
  }
  if (!config_problem_.empty()) {
    line = "RELOAD REFUSED (" + config_problem_ + "), running with the previous configuration; " +
           line;
  }
  notifier_.status(line);
}

}  // namespace ispf

// ispprobed's shell: feeds the ProbeEngine from the seam and carries out what it decides.
#include "probe_shell.h"

#include <algorithm>
#include <memory>

#include "ispfailover/core/metrics.h"
#include "ispfailover/core/replay_floor.h"

namespace ispf {

ParseOutcome ProbeShell::configure(const std::vector<std::string>& args) {
  auto command_line = parse_probed_command_line(args, env_);
  options_ = command_line.options;
  keys_ = command_line.keys;
  return command_line.outcome;
}

ProbeEngineConfig ProbeShell::engine_config(const ProbedOptions& options,
                                            const std::vector<std::string>& keys) const {
  ProbeEngineConfig config;
  config.name = options.name;
  for (const auto& target : options.targets) config.targets.push_back(*parse_ip(target));
  for (const auto& resolver : options.dns) {
    IpAddress address = *parse_ip(resolver);
    if (address.family == Family::kIpv6) {
      config.dns6.push_back(address.v6);
    } else {
      config.dns.push_back(address.v4);
    }
  }
  config.quorum = options.quorum;
  if (!options.prefix6.empty()) config.prefix6 = parse_ipv6_prefix(options.prefix6);
  config.interval = options.interval;
  config.timeout = options.timeout;
  config.min_timeout = options.min_timeout;
  config.confirm_interval = options.confirm_interval;
  config.down_after = options.down_after;
  config.down_window = options.down_window;
  config.up_after = options.up_after;
  config.heartbeat = options.heartbeat;
  config.loss_window = options.loss_window;
  config.keys = keys;
  config.uplink = options.uplink;
  return config;
}

namespace {

bool has_ipv6_target(const ProbedOptions& options) {
  return std::any_of(options.targets.begin(), options.targets.end(), [](const std::string& t) {
    auto address = parse_ip(t);
    return address && address->family == Family::kIpv6;
  });
}

}  // namespace

Result<std::unique_ptr<Prober>, std::string> ProbeShell::open_prober(const std::string& uplink,
                                                                     Family family) {
  auto prober = env_.open_prober(uplink, icmp_identifier_, family);
  if (prober) {
    (*prober)->on_late_reply([this](const LateReply& reply) {
      if (engine_) carry_out(engine_->on_late_reply(reply, env_.now()));
    });
    return std::move(*prober);
  }
  if (prober.error() == std::errc::operation_not_permitted) {
    return fail(std::string(family == Family::kIpv6 ? "cannot open a raw ICMPv6 socket:"
                                                    : "cannot open a raw ICMP socket:") +
                std::string(" ispprobed needs CAP_NET_RAW (run as root or grant "
                            "it, e.g. AmbientCapabilities=CAP_NET_RAW)"));
  }
  // Gone between the watch's report and the bind: the watch reports it again when it is back.
  if (prober.error() == std::errc::no_such_device) return std::unique_ptr<Prober>();
  return fail("cannot probe " + std::string(to_string(family)) + " targets through --uplink " +
              uplink + ": " + prober.error().message());
}

std::optional<std::string> ProbeShell::open_probers(const ProbedOptions& options,
                                                    Adapters& adapters) {
  adapters.prober.reset();
  adapters.prober6.reset();
  adapters.prober_ifindex = 0;
  auto prober = open_prober(options.uplink, Family::kIpv4);
  if (!prober) return prober.error();
  if (!*prober) return std::nullopt;  // the uplink is gone
  if (has_ipv6_target(options)) {
    auto prober6 = open_prober(options.uplink, Family::kIpv6);
    if (!prober6) return prober6.error();
    if (!*prober6) return std::nullopt;
    adapters.prober6 = std::move(*prober6);
  }
  adapters.prober = std::move(*prober);
  return std::nullopt;
}

Result<std::unique_ptr<DatagramSender>, std::string> ProbeShell::open_sender(
    const ProbedOptions& options) {
  auto destinations = status_destinations(options, env_);
  if (destinations.empty()) return std::unique_ptr<DatagramSender>();  // the LAN is not ready
  auto sender = env_.open_sender(destinations, options.port, options.lan);
  if (sender) return std::move(*sender);
  if (sender.error() == std::errc::no_such_device) return std::unique_ptr<DatagramSender>();
  return fail("cannot open the status socket: " + sender.error().message());
}

Result<ProbeShell::Adapters, std::string> ProbeShell::open_adapters(const ProbedOptions& next,
                                                                    const ProbedOptions* current) {
  Adapters opened;
  if (!current || next.uplink != current->uplink ||
      has_ipv6_target(next) != has_ipv6_target(*current)) {
    auto link =
        env_.watch_link(next.uplink, [this](const LinkStatus& status) { on_uplink(status); });
    if (!link) return fail("cannot watch --uplink " + next.uplink + ": " + link.error().message());
    opened.link = std::move(*link);
    LinkStatus uplink = opened.link->status();
    if (uplink.exists) {
      if (auto error = open_probers(next, opened)) return fail(*error);
      if (opened.prober) opened.prober_ifindex = uplink.ifindex;
    }
  }
  if (!current || next.lan != current->lan || next.broadcast != current->broadcast ||
      next.port != current->port) {
    if (!next.lan.empty()) {
      auto lan = env_.watch_link(next.lan, [this](const LinkStatus& status) { on_lan(status); });
      if (!lan) return fail("cannot watch --lan " + next.lan + ": " + lan.error().message());
      opened.lan_link = std::move(*lan);
    }
    auto sender = open_sender(next);
    if (!sender) return fail(sender.error());
    opened.sender = std::move(*sender);
    if (opened.sender && opened.lan_link) opened.sender_ifindex = opened.lan_link->status().ifindex;
  }
  return opened;
}

void ProbeShell::on_uplink(const LinkStatus& status) {
  if (!engine_) return;
  if (!status.exists) {
    adapters_.prober.reset();  // bound to an index that is gone
    adapters_.prober6.reset();
    adapters_.prober_ifindex = 0;
  } else if (!adapters_.prober || adapters_.prober_ifindex != status.ifindex) {
    if (auto error = open_probers(options_, adapters_)) {
      warn(*error, Warning::kProber, env_.now());
    } else {
      adapters_.prober_ifindex = adapters_.prober ? status.ifindex : 0;
      if (adapters_.prober) {
        env_.log({LogLevel::kInfo,
                  EventKind::kLink,
                  options_.name + ": probing through " + options_.uplink + " (ifindex " +
                      std::to_string(status.ifindex) + ")",
                  {}});
      }
    }
  }
  carry_out(engine_->on_link(status, env_.now()));
}

void ProbeShell::on_lan(const LinkStatus& status) {
  if (!engine_) return;
  if (!status.exists) {
    if (adapters_.sender) {
      env_.log(
          {LogLevel::kWarning,
           EventKind::kLink,
           options_.name + ": LAN interface " + options_.lan + " is gone; datagrams wait for it",
           {}});
    }
    adapters_.sender.reset();
    adapters_.sender_ifindex = 0;
  } else if (!adapters_.sender || adapters_.sender_ifindex != status.ifindex) {
    reopen_sender(env_.now());
  }
}

void ProbeShell::reopen_sender(Now now) {
  last_sender_attempt_ = now.steady;
  auto sender = open_sender(options_);
  if (!sender) {
    warn(sender.error(), Warning::kSender, now);
    return;
  }
  if (!*sender) {
    warn("no destination for the datagrams yet: --lan " + options_.lan +
             " is missing or has no IPv4 broadcast address; waiting for it",
         Warning::kNoDestination, now);
    return;
  }
  adapters_.sender = std::move(*sender);
  adapters_.sender_ifindex = adapters_.lan_link ? adapters_.lan_link->status().ifindex : 0;
  env_.log({LogLevel::kInfo,
            EventKind::kLink,
            options_.name + ": sending the status datagrams on " +
                (options_.lan.empty() ? std::string("the --broadcast addresses") : options_.lan),
            {}});
}

RoutedTargets ProbeShell::routed_targets(Now now) {
  RoutedTargets routed;
  const auto& targets = engine_->config().targets;
  for (const IpAddress& target : targets) {
    auto answer = env_.routes_via(options_.uplink, target);
    if (!answer) {
      // The kernel could not say: no verdict from a question that failed.
      warn("cannot look up the route to " + format_ip(target) + " out of " + options_.uplink +
               ": " + answer.error().message(),
           Warning::kRouteLookup, now);
      RoutedTargets all;
      for (const IpAddress& t : targets) ++(t.family == Family::kIpv6 ? all.ipv6 : all.ipv4);
      return all;
    }
    if (*answer) ++(target.family == Family::kIpv6 ? routed.ipv6 : routed.ipv4);
  }
  return routed;
}

void ProbeShell::warn(const std::string& text, Warning kind, Now now) {
  if (!warnings_.allow(static_cast<std::uint64_t>(kind), now.steady)) return;
  env_.log({LogLevel::kWarning, EventKind::kLink, options_.name + ": " + text, {}});
}

std::optional<std::string> ProbeShell::start() {
  icmp_identifier_ = static_cast<std::uint16_t>(env_.random64());
  auto adapters = open_adapters(options_, nullptr);
  if (!adapters) return adapters.error();
  adapters_ = std::move(*adapters);
  timer_ = env_.make_timer();
  Now now = env_.now();
  engine_.emplace(engine_config(options_, keys_), env_.random64(), now, take_epoch(now));
  carry_out(engine_->start(adapters_.link->status(), now));
  if (!adapters_.sender) reopen_sender(now);  // says why nothing can be sent yet
  return std::nullopt;
}

std::optional<std::string> ProbeShell::reload(const std::vector<std::string>& args) {
  auto command_line = parse_probed_command_line(args, env_);
  if (!command_line.outcome.run) return command_line.outcome.error;
  auto adapters = open_adapters(command_line.options, &options_);
  if (!adapters) return adapters.error();
  // All new adapters are open: only now does anything of the running configuration change.
  bool uplink_changed = command_line.options.uplink != options_.uplink;
  bool lan_changed = command_line.options.lan != options_.lan ||
                     command_line.options.broadcast != options_.broadcast ||
                     command_line.options.port != options_.port;
  if (uplink_changed) adapters_.link = std::move(adapters->link);
  if (uplink_changed || has_ipv6_target(command_line.options) != has_ipv6_target(options_)) {
    adapters_.prober = std::move(adapters->prober);
    adapters_.prober6 = std::move(adapters->prober6);
    adapters_.prober_ifindex = adapters->prober_ifindex;
  }
  if (lan_changed) {
    adapters_.lan_link = std::move(adapters->lan_link);
    adapters_.sender = std::move(adapters->sender);
    adapters_.sender_ifindex = adapters->sender_ifindex;
  }
  options_ = command_line.options;
  keys_ = command_line.keys;
  env_.set_log_level(options_.log_level);
  Now now = env_.now();
  carry_out(engine_->reconfigure(engine_config(options_, keys_), now));
  if (uplink_changed) carry_out(engine_->on_link(adapters_.link->status(), now));
  return std::nullopt;
}

std::uint64_t ProbeShell::take_epoch(Now now) {
  if (options_.state_dir.empty()) return next_epoch("", now.wall_ms);
  std::string path = options_.state_dir + "/" + options_.name + ".epoch";
  auto stored = env_.read_file(path);
  std::uint64_t epoch = next_epoch(stored ? *stored : std::string(), now.wall_ms);
  if (!stored && stored.error() != std::errc::no_such_file_or_directory) {
    env_.log({LogLevel::kWarning,
              EventKind::kStarted,
              "cannot read " + path + ": " + stored.error().message() + "; epoch from the clock",
              {}});
  }
  if (auto ec = env_.write_file_atomically(path, std::to_string(epoch) + "\n")) {
    env_.log({LogLevel::kWarning,
              EventKind::kStarted,
              "cannot keep the epoch in " + path + ": " + ec.message() +
                  "; with --key-file, clients may refuse this start's reports if the clock is "
                  "behind",
              {}});
  }
  return epoch;
}

void ProbeShell::refuse_reload(const std::string& why) {
  if (engine_) carry_out(engine_->set_config_problem(why, env_.now()));
}

void ProbeShell::stop() {
  timer_.reset();
  adapters_ = Adapters{};
  engine_.reset();
}

void ProbeShell::carry_out(ProbeActions actions) {
  for (const auto& event : actions.log) env_.log(event);
  if (actions.service_status) env_.notifier().status(*actions.service_status);
  if (actions.metrics && !options_.metrics_file.empty()) {
    if (auto ec =
            env_.write_file_atomically(options_.metrics_file, probe_metrics(*actions.metrics));
        ec && metrics_error_log_.allow(0, env_.now().steady)) {
      env_.log({LogLevel::kError,
                EventKind::kStatusWriteFailed,
                options_.name + ": cannot write the metrics file " + options_.metrics_file + ": " +
                    ec.message() + " (logged once per 10 s)",
                {}});
    }
  }
  if (!actions.send.empty() && !adapters_.sender &&
      env_.now().steady - last_sender_attempt_ >= std::chrono::seconds(1)) {
    // The LAN may have come back, or got its address, since: no event says the latter.
    reopen_sender(env_.now());
  }
  for (const auto& datagram : actions.send) {
    if (!adapters_.sender) break;
    if (auto ec = adapters_.sender->send(datagram)) {
      carry_out(engine_->on_send_error(ec, env_.now()));
    }
  }
  if (actions.wake_at && timer_) {
    timer_->wake_at(*actions.wake_at, [this] {
      if (engine_) carry_out(engine_->on_wake(env_.now()));
    });
  }
  if (actions.start_round && adapters_.prober && adapters_.link->status().usable()) {
    // Bound to the uplink, a probe with no route out of it would be sent on-link anyway (and
    // may be answered): ask the routing tables first.
    carry_out(engine_->on_route_check(routed_targets(env_.now()), env_.now()));
  }
  if (actions.start_round && adapters_.prober) start_round(*actions.start_round);
}

void ProbeShell::start_round(const RoundRequest& request) {
  RoundRequest v4{request.sequence, {}, request.timeout};
  RoundRequest v6 = v4;
  for (const IpAddress& target : request.targets) {
    (target.family == Family::kIpv6 ? v6 : v4).targets.push_back(target);
  }
  if (v6.targets.empty() || !adapters_.prober6) {
    // IPv4 only: the round as it is. (open_probers opens the ICMPv6 prober whenever there are
    // IPv6 targets, or neither; were it missing, the ICMP one would refuse them, EAFNOSUPPORT.)
    adapters_.prober->start_round(request, [this](const RoundReport& report) {
      if (engine_) carry_out(engine_->on_round(report, env_.now()));
    });
    return;
  }
  struct Halves {
    std::vector<IpAddress> order;
    int pending = 0;
    std::optional<RoundReport> v4, v6;
  };
  auto halves = std::make_shared<Halves>();
  halves->order = request.targets;
  halves->pending = v4.targets.empty() ? 1 : 2;
  auto merge = [this, halves](bool ipv6, const RoundReport& report) {
    (ipv6 ? halves->v6 : halves->v4) = report;
    if (--halves->pending > 0) return;
    RoundReport merged;
    merged.sequence = report.sequence;
    // The round began with the first half sent and ended with the last half concluded.
    merged.started = halves->v6->started;
    merged.concluded = halves->v6->concluded;
    if (halves->v4) {
      merged.started = std::min(merged.started, halves->v4->started);
      merged.concluded = std::max(merged.concluded, halves->v4->concluded);
    }
    std::size_t next4 = 0, next6 = 0;
    for (const IpAddress& target : halves->order) {
      bool is6 = target.family == Family::kIpv6;
      const RoundReport& half = is6 ? *halves->v6 : *halves->v4;
      std::size_t& next = is6 ? next6 : next4;
      if (next < half.probes.size()) merged.probes.push_back(half.probes[next++]);
    }
    if (engine_) carry_out(engine_->on_round(merged, env_.now()));
  };
  if (!v4.targets.empty()) {
    adapters_.prober->start_round(v4, [merge](const RoundReport& r) { merge(false, r); });
  }
  adapters_.prober6->start_round(v6, [merge](const RoundReport& r) { merge(true, r); });
}

}  // namespace ispf

// ispprobed's shell: feeds the ProbeEngine from the seam and carries out what it decides.
#include "probe_shell.h"

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
  for (const auto& target : options.targets) config.targets.push_back(*parse_ipv4(target));
  config.quorum = options.quorum;
  config.interval = options.interval;
  config.timeout = options.timeout;
  config.down_after = options.down_after;
  config.up_after = options.up_after;
  config.heartbeat = options.heartbeat;
  config.loss_window = options.loss_window;
  config.keys = keys;
  config.uplink = options.uplink;
  return config;
}

Result<ProbeShell::Adapters, std::string> ProbeShell::open_adapters(const ProbedOptions& next,
                                                                    const ProbedOptions* current) {
  Adapters opened;
  if (!current || next.uplink != current->uplink) {
    auto prober = env_.open_prober(next.uplink, icmp_identifier_);
    if (!prober) {
      if (prober.error() == std::errc::operation_not_permitted) {
        return fail(std::string(
            "cannot open a raw ICMP socket: ispprobed needs CAP_NET_RAW (run as root or grant "
            "it, e.g. AmbientCapabilities=CAP_NET_RAW)"));
      }
      return fail("cannot probe through --uplink " + next.uplink + ": " +
                  prober.error().message());
    }
    opened.prober = std::move(*prober);
    auto link = env_.watch_link(next.uplink, [this](const LinkStatus& status) {
      if (engine_) carry_out(engine_->on_link(status, env_.now()));
    });
    if (!link) return fail("cannot watch --uplink " + next.uplink + ": " + link.error().message());
    opened.link = std::move(*link);
  }
  if (!current || next.lan != current->lan || next.broadcast != current->broadcast ||
      next.port != current->port) {
    auto destinations = status_destinations(next, env_);
    if (destinations.empty()) {
      return fail(std::string("no destination for the datagrams: check --lan/--broadcast"));
    }
    auto sender = env_.open_sender(destinations, next.port, next.lan);
    if (!sender) return fail("cannot open the status socket: " + sender.error().message());
    opened.sender = std::move(*sender);
  }
  return opened;
}

std::optional<std::string> ProbeShell::start() {
  icmp_identifier_ = static_cast<std::uint16_t>(env_.random64());
  auto adapters = open_adapters(options_, nullptr);
  if (!adapters) return adapters.error();
  adapters_ = std::move(*adapters);
  timer_ = env_.make_timer();
  Now now = env_.now();
  engine_.emplace(engine_config(options_, keys_), env_.random64(), now);
  carry_out(engine_->start(adapters_.link->status(), now));
  return std::nullopt;
}

std::optional<std::string> ProbeShell::reload(const std::vector<std::string>& args) {
  auto command_line = parse_probed_command_line(args, env_);
  if (!command_line.outcome.run) return command_line.outcome.error;
  auto adapters = open_adapters(command_line.options, &options_);
  if (!adapters) return adapters.error();
  // All new adapters are open: only now does anything of the running configuration change.
  if (adapters->prober) adapters_.prober = std::move(adapters->prober);
  if (adapters->link) adapters_.link = std::move(adapters->link);
  if (adapters->sender) adapters_.sender = std::move(adapters->sender);
  bool uplink_changed = command_line.options.uplink != options_.uplink;
  options_ = command_line.options;
  keys_ = command_line.keys;
  env_.set_log_level(options_.log_level);
  Now now = env_.now();
  carry_out(engine_->reconfigure(engine_config(options_, keys_), now));
  if (uplink_changed) carry_out(engine_->on_link(adapters_.link->status(), now));
  return std::nullopt;
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
  if (actions.start_round && adapters_.prober) {
    adapters_.prober->start_round(*actions.start_round, [this](const RoundReport& report) {
      if (engine_) carry_out(engine_->on_round(report, env_.now()));
    });
  }
}

}  // namespace ispf

// failoverd's shell: feeds the FailoverEngine from the seam and carries out what it decides.
#include "failover_shell.h"

#include "ispfailover/core/metrics.h"

namespace ispf {

ParseOutcome FailoverShell::configure(const std::vector<std::string>& args) {
  auto command_line = parse_failover_command_line(args);
  if (command_line.status_command) {
    return {false,
            run_status_command(env_, command_line.options.status_file, command_line.status_json),
            ""};
  }
  options_ = command_line.options;
  settings_ = command_line.settings;
  return command_line.outcome;
}

IoResult<std::unique_ptr<DatagramListener>> FailoverShell::open_listener(std::uint16_t port) {
  return env_.listen(port, [this](std::span<const char> bytes, std::uint32_t source) {
    if (engine_) carry_out(engine_->on_datagram(bytes, source, env_.now()));
  });
}

std::optional<std::string> FailoverShell::start() {
  auto listener = open_listener(options_.port);
  if (!listener) {
    return "cannot listen on UDP port " + std::to_string(options_.port) + ": " +
           listener.error().message();
  }
  auto table = env_.open_route_table();
  if (!table) return "cannot open netlink: " + table.error().message();
  auto watch = env_.watch_table([this] { on_table_changed(); });
  if (!watch) return "cannot watch the routing table: " + watch.error().message();
  listener_ = std::move(*listener);
  table_ = std::move(*table);
  watch_ = std::move(*watch);
  timer_ = env_.make_timer();
  count_timer_ = env_.make_timer();
  hook_timer_ = env_.make_timer();
  hooks_.emplace(options_.hook_timeout);
  say_hooks_at_start();

  Now now = env_.now();
  engine_.emplace(settings_, now);
  if (!options_.state_dir.empty()) {
    auto state = env_.read_file(state_file());
    if (state) {
      if (auto problem = engine_->restore(*state)) {
        env_.log({LogLevel::kWarning, EventKind::kStarted, state_file() + ": " + *problem, {}});
      }
    } else if (state.error() != std::errc::no_such_file_or_directory) {
      env_.log({LogLevel::kWarning,
                EventKind::kStarted,
                "cannot read " + state_file() + ": " + state.error().message() +
                    "; replays of reports seen before this start are refused only once each "
                    "ISP reports again",
                {}});
    }
  }
  auto routes = table_->default_routes(engine_->slot().table);
  if (!routes) return "cannot read the routing table: " + routes.error().message();
  env_.log({LogLevel::kInfo,
            EventKind::kStarted,
            "listening on UDP " + std::to_string(options_.port),
            {}});
  std::vector<DefaultRoute6> routes6;
  if (engine_->has_ipv6()) {
    auto listed = table_->default_routes6(engine_->slot().table);
    if (!listed) return "cannot read the IPv6 routing table: " + listed.error().message();
    routes6 = std::move(*listed);
  }
  carry_out(engine_->start(*routes, now, routes6));
  if (auto prefixes = env_.usable_prefixes()) {
    carry_out(engine_->on_local_network(*prefixes, env_.now()));
  }
  read_table6();
  count_connections();
  return std::nullopt;
}

std::optional<std::string> FailoverShell::reload(const std::vector<std::string>& args) {
  auto command_line = parse_failover_command_line(args);
  if (!command_line.outcome.run) return command_line.outcome.error;
  // Everything new is opened first; the running configuration is touched only if all succeeded.
  std::unique_ptr<DatagramListener> listener;
  if (command_line.options.port != options_.port) {
    auto opened = open_listener(command_line.options.port);
    if (!opened) {
      return "cannot listen on UDP port " + std::to_string(command_line.options.port) + ": " +
             opened.error().message();
    }
    listener = std::move(*opened);
  }
  if (listener) listener_ = std::move(listener);
  options_ = command_line.options;
  settings_ = command_line.settings;
  env_.set_log_level(options_.log_level);
  if (hooks_) carry_out_hooks(hooks_->set_timeout(options_.hook_timeout, env_.now()));
  carry_out(engine_->reconfigure(settings_, env_.now()));
  return std::nullopt;
}

void FailoverShell::refuse_reload(const std::string& why) {
  if (engine_) carry_out(engine_->set_config_problem(why, env_.now()));
}

void FailoverShell::stop() {
  if (!engine_) return;
  timer_.reset();
  count_timer_.reset();
  listener_.reset();
  watch_.reset();
  nft_watch_.reset();
  // No hook starts from here on, and running ones are killed with their process groups: a
  // stop must not wait up to --hook-timeout (systemd's stop timeout would kill us anyway).
  hooks_.reset();
  pending_hooks_.clear();
  hook_timer_.reset();
  hook_processes_.clear();
  carry_out(engine_->stop(options_.cleanup_on_exit, env_.now()));
  table_.reset();
  steering_.reset();
}

ConnectionSteering* FailoverShell::steering() {
  if (steering_) return steering_.get();
  auto opened = env_.open_steering();
  if (!opened) {
    carry_out(engine_->on_steering_applied(
        "cannot open netlink or nftables: " + opened.error().message(), env_.now()));
    return nullptr;
  }
  steering_ = std::move(*opened);
  // Debian's nftables service runs `flush ruleset` on every reload, deleting our table with
  // everyone's: the watch puts it back within a moment.
  auto watch = env_.watch_nftables([this] {
    if (!busy_) apply_steering(/*repair=*/true);
  });
  if (watch) {
    nft_watch_ = std::move(*watch);
  } else {
    env_.log({LogLevel::kWarning,
              EventKind::kSteering,
              "cannot watch the nftables ruleset (" + watch.error().message() +
                  "); our table is checked again only with route and link changes",
              {}});
  }
  return steering_.get();
}

void FailoverShell::apply_steering(bool repair) {
  if (!steering_state_ || !engine_) return;
  ConnectionSteering* steering = this->steering();
  if (!steering) return;
  auto wrote = steering->apply(*steering_state_);
  if (!wrote) {
    steering_failed_ = true;
    std::string detail = steering->last_error_detail();
    carry_out(engine_->on_steering_applied(
        wrote.error().message() + (detail.empty() ? "" : " (" + detail + ")"), env_.now()));
    return;
  }
  if (repair && !wrote->empty() && !steering_failed_) {
    std::string what;
    for (const auto& item : *wrote) what += (what.empty() ? "" : ", ") + item;
    env_.log({LogLevel::kWarning,
              EventKind::kSteering,
              "put back what someone else changed or removed: " + what,
              {}});
  }
  if (steering_failed_) {
    steering_failed_ = false;
    carry_out(engine_->on_steering_applied("", env_.now()));
  }
}

void FailoverShell::carry_out_resets(const std::vector<ConnectionReset>& resets) {
  for (const auto& reset : resets) {
    ConnectionSteering* steering = this->steering();
    if (!steering) return;
    ResetOutcome outcome = steering->reset(reset);
    carry_out(engine_->on_connections_reset(reset, outcome, env_.now()));
  }
}

void FailoverShell::count_connections() {
  if (!count_timer_ || !engine_) return;
  if (steering_state_ && steering_) {
    if (auto counts = steering_->count(*steering_state_)) {
      engine_->on_connection_counts(std::move(*counts));
    }
  }
  // As often as the status is refreshed: a count is news for the next publish, not a reason
  // for one of its own.
  count_timer_->wake_at(env_.now().steady + FailoverEngine::kPublishPeriod,
                        [this] { count_connections(); });
}

void FailoverShell::apply_dns(const DnsUpdate& update) {
  std::error_code ec;
  std::string where;
  if (settings_.dns_manager == DnsManager::kFile) {
    ec = env_.write_file_atomically(options_.resolv_conf, update.resolv_conf);
    where = options_.resolv_conf;
  } else if (settings_.dns_manager == DnsManager::kResolved) {
    ec = env_.set_link_dns(update.gateway, update.servers);
    where = "systemd-resolved";
    if (!ec) resolved_gateway_ = update.gateway;
  }
  if (!ec) return;
  std::string problem = where + ": " + ec.message();
  // resolved allows root, and asks polkit about anyone else: name the fix.
  if (ec == std::errc::permission_denied && settings_.dns_manager == DnsManager::kResolved) {
    problem +=
        " (failoverd runs as its own user: install polkitd, whose rule "
        "/usr/share/polkit-1/rules.d/50-ispfailover.rules allows it, or use --dns-manager file)";
  }
  carry_out(engine_->on_dns_failed(problem, env_.now()));
}

std::string FailoverShell::state_file() const { return options_.state_dir + "/replay-floors"; }

void FailoverShell::on_table_changed() {
  if (busy_) {
    table_changed_ = true;
    return;
  }
  read_table();
}

void FailoverShell::read_table() {
  if (!engine_ || !table_) return;
  // Which gateways our links reach first (a link or address event changes that, and the kernel
  // drops routes with them silently), then the routes themselves.
  if (auto prefixes = env_.usable_prefixes()) {
    carry_out(engine_->on_local_network(*prefixes, env_.now()));
  }
  auto routes = table_->default_routes(engine_->slot().table);
  carry_out(routes ? engine_->on_table(*routes, env_.now())
                   : engine_->on_table_error(routes.error(), env_.now()));
  read_table6();
  // A route, rule or link change may have been someone deleting one of ours.
  apply_steering(/*repair=*/true);
}

void FailoverShell::read_table6() {
  if (!engine_ || !table_ || !engine_->has_ipv6()) return;
  // As for IPv4: the addresses (which gateways we reach, and our sources), then the routes.
  if (auto addresses = env_.ipv6_addresses()) {
    carry_out(engine_->on_local_network6(*addresses, env_.now()));
  }
  auto routes = table_->default_routes6(engine_->slot().table);
  carry_out(routes ? engine_->on_table6(*routes, env_.now())
                   : engine_->on_table_error(routes.error(), env_.now()));
}

void FailoverShell::carry_out(FailoverActions actions) {
  bool outermost = !busy_;
  busy_ = true;
  for (const auto& event : actions.log) env_.log(event);
  for (auto& hook : actions.hooks) pending_hooks_.push_back(std::move(hook));
  if (actions.publish) {
    env_.notifier().status(actions.service_status.value_or(summary_line(*actions.publish)));
    if (auto ec = env_.write_file_atomically(options_.status_file, to_json(*actions.publish));
        ec && file_error_log_.allow(0, env_.now().steady)) {
      env_.log({LogLevel::kError,
                EventKind::kStatusWriteFailed,
                "cannot write the status file " + options_.status_file + ": " + ec.message(),
                {}});
    }
    // Same moments as the status: at least once a second and on every change.
    if (!options_.metrics_file.empty()) {
      if (auto ec =
              env_.write_file_atomically(options_.metrics_file, failover_metrics(*actions.publish));
          ec && file_error_log_.allow(2, env_.now().steady)) {
        env_.log({LogLevel::kError,
                  EventKind::kStatusWriteFailed,
                  "cannot write the metrics file " + options_.metrics_file + ": " + ec.message() +
                      " (logged once per 10 s)",
                  {}});
      }
    }
  }
  if (actions.persist && !options_.state_dir.empty()) {
    if (auto ec = env_.write_file_atomically(state_file(), *actions.persist);
        ec && file_error_log_.allow(1, env_.now().steady)) {
      env_.log({LogLevel::kError,
                EventKind::kStatusWriteFailed,
                "cannot keep the replay floors in " + state_file() + ": " + ec.message(),
                {}});
    }
  }
  if (actions.wake_at && timer_) {
    timer_->wake_at(*actions.wake_at, [this] {
      // A wake-up judges silence: datagrams already in the socket (behind a flood, or a loop
      // that was busy) are news from before it, and go to the engine first.
      if (listener_) listener_->read_pending();
      if (engine_) carry_out(engine_->on_wake(env_.now()));
    });
  }
  if (!actions.route_edits.empty() && table_) {
    std::vector<std::error_code> results;
    for (const auto& edit : actions.route_edits) results.push_back(table_->apply(edit));
    carry_out(engine_->on_edits_done(actions.route_edits, results, env_.now()));
  }
  // After the route: the per-ISP tables and rules, then the dead ISP's connections end, so that
  // their applications' reconnects already take the new route.
  if (actions.steering_remove && steering()) {
    if (auto ec = steering_->remove()) {
      env_.log({LogLevel::kError,
                EventKind::kSteering,
                "cannot remove the sticky connections' table, rules and routes: " + ec.message(),
                {}});
    } else {
      env_.log({LogLevel::kInfo,
                EventKind::kStopping,
                "removed our nftables table, fwmark rules and per-ISP routes",
                {}});
    }
    steering_state_.reset();
    nft_watch_.reset();
  }
  if (actions.steering) {
    steering_state_ = std::move(actions.steering);
    apply_steering(/*repair=*/false);
  }
  if (!actions.resets.empty()) carry_out_resets(actions.resets);
  // After the route: traffic moves first, then the resolvers that go with it.
  if (actions.dns) apply_dns(*actions.dns);
  if (actions.dns_revert && resolved_gateway_) {
    if (auto ec = env_.revert_link_dns(*resolved_gateway_)) {
      env_.log({LogLevel::kWarning,
                EventKind::kDns,
                "cannot give the link's DNS back to systemd-resolved: " + ec.message(),
                {}});
    }
  }
  if (actions.read_table) read_table();
  if (outermost) {
    dispatch_hooks();
    busy_ = false;
    // A change seen while we were editing (our own edits included) is looked at now.
    if (table_changed_) {
      table_changed_ = false;
      read_table();
    }
  }
}

void FailoverShell::say_hooks_at_start() {
  if (options_.hook_dir.empty()) {
    env_.log({LogLevel::kInfo, EventKind::kHook, "no hooks (--hook-dir is empty)", {}});
    return;
  }
  auto listing = env_.list_hooks(options_.hook_dir);
  if (!listing) {
    bool missing = listing.error() == std::errc::no_such_file_or_directory;
    env_.log({missing ? LogLevel::kInfo : LogLevel::kWarning,
              EventKind::kHook,
              missing ? "no hooks: " + options_.hook_dir + " does not exist"
                      : "cannot read the hook directory " + options_.hook_dir + ": " +
                            listing.error().message() + "; read again at each event",
              {}});
    return;
  }
  auto selection = select_hooks(*listing);
  carry_out_hooks(hooks_->on_scan(selection));
  std::string names;
  for (const auto& name : selection.names) names += " " + name;
  env_.log({LogLevel::kInfo,
            EventKind::kHook,
            "hooks in " + options_.hook_dir + ":" + (names.empty() ? " none" : names) +
                " (read again at each event)",
            {}});
}

HookSelection FailoverShell::current_hooks() {
  // Read at each event: adding or removing a hook needs no reload.
  if (options_.hook_dir.empty()) return {};
  auto listing = env_.list_hooks(options_.hook_dir);
  if (listing) return select_hooks(*listing);
  if (listing.error() != std::errc::no_such_file_or_directory &&
      file_error_log_.allow(3, env_.now().steady)) {
    env_.log({LogLevel::kWarning,
              EventKind::kHook,
              "cannot read the hook directory " + options_.hook_dir + ": " +
                  listing.error().message() + "; no hooks run (logged once per 10 s)",
              {}});
  }
  return {};
}

void FailoverShell::dispatch_hooks() {
  if (pending_hooks_.empty() || !hooks_) {
    pending_hooks_.clear();
    return;
  }
  auto events = std::move(pending_hooks_);
  pending_hooks_.clear();
  for (const auto& event : events) {
    if (!hooks_) return;
    carry_out_hooks(hooks_->on_event(event, current_hooks(), env_.now()));
  }
}

void FailoverShell::carry_out_hooks(HookSteps steps) {
  for (const auto& event : steps.log) env_.log(event);
  for (auto id : steps.kill) {
    if (auto found = hook_processes_.find(id); found != hook_processes_.end()) {
      found->second->kill();
    }
  }
  if (steps.wake_at && hook_timer_) {
    hook_timer_->wake_at(*steps.wake_at, [this] {
      if (hooks_) carry_out_hooks(hooks_->on_wake(env_.now()));
    });
  }
  for (auto& run : steps.start) {
    if (!hooks_) return;
    std::uint64_t id = run.id;
    HookCallbacks callbacks{[this, id](std::string_view line) {
                              if (hooks_) carry_out_hooks(hooks_->on_output(id, line, env_.now()));
                            },
                            [this, id](const HookExit& exit) {
                              hook_processes_.erase(id);
                              if (hooks_) carry_out_hooks(hooks_->on_exit(id, exit, env_.now()));
                            }};
    auto process =
        env_.run_hook(options_.hook_dir + "/" + run.name, run.environment, std::move(callbacks));
    if (process) {
      hook_processes_[id] = std::move(*process);
    } else {
      carry_out_hooks(hooks_->on_start_failed(id, process.error().message(), env_.now()));
    }
  }
}

}  // namespace ispf

// ispprobed's command line and config file (CLI11), shared by start-up and SIGHUP reload.
#include "options.h"

#include "ispfailover/io/key_file.h"

namespace ispf {

ProbedCommandLine parse_probed_command_line(const std::vector<std::string>& args, Env& env) {
  ProbedCommandLine result;
  ProbedOptions& o = result.options;
  o.name = env.host_name();
  CLI::App app{
      "ispprobed: probes the internet through this router's uplink and broadcasts its "
      "status to the LAN (UDP, ispfailover protocol v1)",
      "ispprobed"};
  app.set_version_flag("--version", "ispprobed " ISPF_VERSION);
  app.set_config("--config", "", "Read options from this file (same keys, without the dashes)");
  app.allow_config_extras(false);
  app.add_option("--name", o.name, "ISP name in the datagrams")->capture_default_str();
  app.add_option("--uplink", o.uplink, "Interface the probes must leave by (SO_BINDTODEVICE)");
  app.add_option("--lan", o.lan, "LAN interface: datagrams go to its broadcast address");
  app.add_option("--broadcast", o.broadcast,
                 "Extra destination address for datagrams (repeatable)");
  app.add_option("--target", o.targets, "Internet host to probe, IPv4 or global IPv6 (repeatable)")
      ->capture_default_str();
  app.add_option("--dns", o.dns,
                 "Resolver clients should use while this ISP carries their traffic, e.g. this "
                 "router's LAN address with a DNS forwarder; IPv4 (at most 4) or global IPv6 "
                 "(at most 3, announced as dns6=) (repeatable)");
  app.add_option("--prefix6", o.prefix6,
                 "The LAN's IPv6 prefix this ISP routes back (e.g. 2001:db8:1:1::/64), "
                 "announced so that clients pick their source address in it");
  app.add_option("--quorum", o.quorum,
                 "Targets that must answer for a round to count as good, per family: IPv4 and "
                 "IPv6 each need min(quorum, their targets)")
      ->capture_default_str();
  add_duration_option(app, "--interval", o.interval, "Time between probe rounds");
  add_duration_option(app, "--timeout", o.timeout,
                      "Longest wait for an answer; below it the wait follows each target's "
                      "measured RTT (smoothed RTT + 4 x its deviation), as TCP's timer does");
  add_duration_option(app, "--min-timeout", o.min_timeout,
                      "Shortest wait for an answer, however short the RTT");
  add_duration_option(app, "--confirm-interval", o.confirm_interval,
                      "Time between rounds after a failed one, until one is answered or the "
                      "line is down");
  add_duration_option(app, "--down-window", o.down_window,
                      "How long every round must go unanswered before the line is down (a "
                      "shorter glitch never is)");
  app.add_option("--down-after", o.down_after,
                 "Failed rounds that the down window must also hold, at least")
      ->capture_default_str();
  app.add_option("--up-after", o.up_after, "Good rounds in a row that make the line up")
      ->capture_default_str();
  add_duration_option(app, "--heartbeat", o.heartbeat, "Datagram interval when nothing changes");
  add_duration_option(app, "--loss-window", o.loss_window, "Window of the loss and RTT figures");
  app.add_option("--port", o.port, "UDP port of the datagrams")->capture_default_str();
  app.add_option("--key-file", o.key_file,
                 "Shared keys, one per line (not readable by others); the first signs every "
                 "datagram with HMAC-SHA256");
  app.add_option("--state-dir", o.state_dir,
                 "Directory where the start counter (epoch) is kept, so that with --key-file "
                 "clients refuse replays of earlier starts without trusting clocks; empty: none")
      ->capture_default_str();
  app.add_option("--metrics-file", o.metrics_file,
                 "Prometheus text file for node_exporter's textfile collector, replaced on "
                 "every verdict and at least once a second; empty: none");
  app.add_option("--log-level", o.log_level,
                 "trace, debug (every probe), info, warning, error, critical")
      ->capture_default_str();

  result.outcome = parse_command_line(app, args);
  if (!result.outcome.run) return result;
  o.config_file = app.get_config_ptr()->as<std::string>();
  auto fail_with = [&](const ConfigError& e) {
    result.outcome = {false, kExitUsage, e.to_string()};
    return result;
  };
  if (auto error = validate(o)) return fail_with(*error);
  if (!o.key_file.empty()) {
    auto keys = load_key_file(o.key_file);
    if (!keys) return fail_with({"--key-file", keys.error()});
    result.keys = *keys;
  }
  // A missing --uplink or --lan is not an error: PPPoE, LTE and VLAN interfaces appear after
  // boot and anew on every reconnect. ispprobed reports no-uplink and waits for them.
  return result;
}

std::vector<std::uint32_t> status_destinations(const ProbedOptions& options, Env& env) {
  std::vector<std::uint32_t> out;
  for (const auto& text : options.broadcast) {
    if (auto address = parse_ipv4(text)) out.push_back(*address);
  }
  if (!options.lan.empty()) {
    if (auto broadcast = env.ipv4_broadcast_of(options.lan)) out.push_back(*broadcast);
  }
  return out;
}

}  // namespace ispf

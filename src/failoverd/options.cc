// failoverd's command line, config file and `status` subcommand (CLI11).
#include "options.h"

#include <filesystem>

#include "ispfailover/io/key_file.h"

namespace ispf {
namespace {

// Whether systemd-resolved serves this host, and we are in its network namespace: a link index
// means another link in any other namespace (the lab's, a container's), so there the default
// stays none rather than reconfigure someone else's DNS. Unreadable: not here.
bool resolved_runs_here() {
  std::error_code ec;
  if (!std::filesystem::exists("/run/systemd/resolve/io.systemd.Resolve", ec)) return false;
  auto ours = std::filesystem::read_symlink("/proc/self/ns/net", ec);
  if (ec) return false;
  auto init = std::filesystem::read_symlink("/proc/1/ns/net", ec);
  return !ec && ours == init;
}

// resolved lets root set per-link DNS, and anyone else only when polkit says so (the package's
// rule names user failoverd): without polkitd a default of resolved would fail at every switch.
bool may_set_link_dns() {
  if (geteuid() == 0) return true;
  std::error_code ec;
  return std::filesystem::exists("/usr/lib/polkit-1/polkitd", ec);
}

}  // namespace

FailoverCommandLine parse_failover_command_line(const std::vector<std::string>& args) {
  FailoverCommandLine result;
  FailoverOptions& o = result.options;
  CLI::App app{
      "failoverd: keeps this host's default route on the best ISP router that is up, "
      "from the status datagrams of ispprobed",
      "failoverd"};
  app.set_version_flag("--version", "failoverd " ISPF_VERSION);
  app.set_config("--config", "", "Read options from this file (same keys, without the dashes)");
  app.allow_config_extras(false);
  app.add_option("--isp", o.isp_specs,
                 "Trusted ISP router NAME=GATEWAY[,gateway6=IPV6[%IFACE]][,priority=N] "
                 "(repeatable; first preferred)");
  app.add_option("--port", o.port, "UDP port of the datagrams")->capture_default_str();
  app.add_option("--table", o.table, "Routing table of the default route")->capture_default_str();
  app.add_option("--metric", o.metric, "Metric of the default route")->capture_default_str();
  app.add_option("--metric6", o.metric6,
                 "Metric of the IPv6 default route, 1-1023 (below the 1024 of routes from router "
                 "advertisements)")
      ->capture_default_str();
  app.add_option("--replace-gateway", o.replace_gateways,
                 "Foreign default routes via this gateway are deleted, now and whenever they "
                 "come back (repeatable; e.g. 10.0.2.2, Vagrant's NAT)");
  add_duration_option(app, "--failback-after", o.failback_after,
                      "A more preferred ISP must stay up this long before traffic returns");
  app.add_option("--max-loss", o.max_loss_pct,
                 "Reported loss (percent) above which an ISP is degraded")
      ->capture_default_str();
  app.add_option("--when-all-down", o.when_all_down,
                 "keep: keep the last route; remove: withdraw the default route")
      ->capture_default_str();
  add_duration_option(app, "--startup-grace", o.startup_grace,
                      "After start, how long an ISP not heard yet is given before it is stale");
  add_duration_option(app, "--stale-floor", o.stale_floor,
                      "An ISP is stale after (4 + 1/2) of its heartbeats without a datagram, "
                      "or after this if longer; raise it on Wi-Fi (power save holds broadcasts), "
                      "e.g. 800ms; 0: none");
  app.add_option("--status-file", o.status_file, "Status JSON, replaced on every change")
      ->capture_default_str();
  app.add_option("--metrics-file", o.metrics_file,
                 "Prometheus text file for node_exporter's textfile collector, replaced at "
                 "least once a second and on every change; empty: none");
  app.add_option("--hook-dir", o.hook_dir,
                 "Directory of hooks: executables run on each switch and ISP state change "
                 "(run-parts names, not writable by others); empty: none")
      ->capture_default_str();
  add_duration_option(app, "--hook-timeout", o.hook_timeout,
                      "A hook still running after this is killed with its process group");
  app.add_option("--key-file", o.key_file,
                 "Shared keys, one per line (not readable by others): only datagrams with a "
                 "valid HMAC-SHA256 tag by one of them count");
  add_duration_option(app, "--max-clock-skew", o.max_clock_skew,
                      "Obsolete: only for ISP routers whose ispprobed sends no epoch (older "
                      "versions); with --key-file their restarted daemon's first report must "
                      "carry a time within this of ours");
  app.add_option("--state-dir", o.state_dir,
                 "Directory where, with --key-file, the newest report of each ISP is kept, so "
                 "that a replay is refused after a restart too; empty: none")
      ->capture_default_str();
  app.add_flag("--cleanup-on-exit", o.cleanup_on_exit,
               "Remove the default route on SIGTERM (default: leave it in place); with "
               "--dns-manager resolved, give the link's DNS back to systemd-resolved too");
  app.add_option("--dns-manager", o.dns_manager,
                 "How the client's resolver follows the active ISP's announced resolvers "
                 "(ispprobed --dns): resolved (per-link DNS in systemd-resolved), file (rewrite "
                 "--resolv-conf), none; default: resolved if systemd-resolved runs, else none");
  app.add_option("--resolv-conf", o.resolv_conf,
                 "The resolv.conf --dns-manager file writes; make /etc/resolv.conf a symlink "
                 "to it")
      ->capture_default_str();
  app.add_option("--sticky-connections", o.sticky_connections,
                 "yes: a connection keeps the ISP it started on while that ISP is up, so a "
                 "failback breaks nothing (conntrack marks, a routing table and fwmark rule per "
                 "ISP); no: every packet follows the default route")
      ->capture_default_str();
  app.add_option("--reset-connections", o.reset_connections,
                 "yes: when an ISP is down or silent while another is up, end the client's TCP "
                 "connections that went through it at once (SOCK_DESTROY), so applications "
                 "reconnect now instead of after their timeouts")
      ->capture_default_str();
  app.add_option("--conn-mark-mask", o.conn_mark_mask,
                 "The conntrack and packet mark bits that are ours (one run of bits: ISP k gets "
                 "k in them)")
      ->capture_default_str();
  app.add_option("--sticky-table-base", o.sticky_table_base,
                 "ISP k (in preference order, from 1) gets routing table BASE+k")
      ->capture_default_str();
  app.add_option("--sticky-rule-priority", o.sticky_rule_priority,
                 "ISP k's fwmark rule gets priority PRIORITY+k-1")
      ->capture_default_str();
  app.add_option("--log-level", o.log_level,
                 "trace, debug (every datagram), info, warning (switches), error, critical")
      ->capture_default_str();

  auto* status = app.add_subcommand("status", "Print the running daemon's status and exit");
  status->add_option("--status-file", o.status_file, "Status file to read")->capture_default_str();
  status->add_flag("--json", result.status_json, "Print the status file as it is");

  result.outcome = parse_command_line(app, args);
  if (!result.outcome.run) return result;
  if (status->parsed()) {
    result.status_command = true;
    return result;
  }
  o.config_file = app.get_config_ptr()->as<std::string>();
  o.resolved_usable = resolved_runs_here() && may_set_link_dns();
  auto settings = validate(o);
  if (!settings) {
    result.outcome = {false, kExitUsage, settings.error().to_string()};
    return result;
  }
  result.settings = *settings;
  if (!o.key_file.empty()) {
    auto keys = load_key_file(o.key_file);
    if (!keys) {
      result.outcome = {false, kExitUsage, "--key-file: " + keys.error()};
      return result;
    }
    result.settings.keys = *keys;
  }
  return result;
}

}  // namespace ispf

// Validation of both daemons' options: every error names its option and says what to do.
#include "ispfailover/core/config.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <set>

#include "ispfailover/core/ip_address.h"
#include "ispfailover/core/status_message.h"

namespace ispf {
namespace {

ConfigError error(std::string option, std::string message) {
  return ConfigError{std::move(option), std::move(message)};
}

std::optional<std::uint64_t> parse_decimal(std::string_view text) {
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

// "0x0f000000" or "251658240": a 32-bit mask.
std::optional<std::uint32_t> parse_u32(std::string_view text) {
  int base = 10;
  if (text.starts_with("0x") || text.starts_with("0X")) {
    text.remove_prefix(2);
    base = 16;
  }
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// What the kernel accepts as a link name: 1..15 bytes (IFNAMSIZ - 1), no '/', ':' or space.
bool is_valid_interface_name(std::string_view name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    return c == '/' || c == ':' || c == ',' || c == '%' || c <= ' ' || c > '~';
  });
}

}  // namespace

Result<IspConfig, ConfigError> parse_isp_spec(std::string_view spec, int order) {
  const std::string quoted = "'" + std::string(spec) + "'";
  auto eq = spec.find('=');
  if (eq == std::string_view::npos) {
    return fail(error("--isp", quoted + " is not NAME=GATEWAY; write e.g. isp1=192.168.56.101"));
  }
  IspConfig isp;
  isp.name = std::string(spec.substr(0, eq));
  isp.priority = order;
  if (!is_valid_isp_name(isp.name)) {
    return fail(error("--isp", quoted + ": the name must be 1-32 of A-Z a-z 0-9 . _ -"));
  }
  std::string_view rest = spec.substr(eq + 1);
  auto comma = rest.find(',');
  auto gateway = parse_ipv4(rest.substr(0, comma));
  if (!gateway) {
    return fail(error("--isp", quoted + ": '" + std::string(rest.substr(0, comma)) +
                                   "' is not an IPv4 address; give the ISP router's LAN address"));
  }
  isp.gateway = *gateway;
  bool priority_seen = false;
  while (comma != std::string_view::npos) {
    rest = rest.substr(comma + 1);
    comma = rest.find(',');
    std::string_view option = rest.substr(0, comma);
    constexpr std::string_view kPriority = "priority=";
    constexpr std::string_view kGateway6 = "gateway6=";
    if (option.substr(0, kPriority.size()) == kPriority && !priority_seen) {
      auto value = parse_decimal(option.substr(kPriority.size()));
      if (!value || *value > 1'000'000) {
        return fail(error("--isp", quoted + ": priority must be a number 0-1000000"));
      }
      isp.priority = static_cast<int>(*value);
      priority_seen = true;
    } else if (option.substr(0, kGateway6.size()) == kGateway6 && !isp.gateway6) {
      std::string_view text = option.substr(kGateway6.size());
      auto percent = text.find('%');
      auto address = parse_ipv6(text.substr(0, percent));
      std::string device =
          percent == std::string_view::npos ? "" : std::string(text.substr(percent + 1));
      if (!address || !address->is_unicast()) {
        return fail(error("--isp", quoted + ": '" + std::string(text) +
                                       "' is not an IPv6 unicast address; give the router's "
                                       "IPv6 address on the LAN, e.g. gateway6=2001:db8:1:1::1"));
      }
      if (address->is_link_local() && !is_valid_interface_name(device)) {
        return fail(error("--isp", quoted + ": a link-local gateway6 needs its interface, "
                                            "e.g. gateway6=fe80::1%eth1"));
      }
      if (!address->is_link_local() && percent != std::string_view::npos) {
        return fail(error("--isp", quoted + ": only a link-local gateway6 takes %INTERFACE; "
                                            "drop it from a global address"));
      }
      isp.gateway6 = *address;
      isp.gateway6_device = std::move(device);
    } else {
      return fail(error("--isp", quoted + ": after the gateway only ',gateway6=IPV6' and "
                                          "',priority=N' (each once) are understood"));
    }
  }
  return isp;
}

Result<std::uint32_t, ConfigError> parse_route_table(std::string_view text) {
  if (text == "main") return 254u;
  if (text == "default") return 253u;
  if (text == "local") return 255u;
  auto value = parse_decimal(text);
  if (!value || *value == 0 || *value > 0xffffffffu) {
    return fail(error(
        "--table",
        "'" + std::string(text) + "' is not a routing table; use main or a number 1-4294967295"));
  }
  return static_cast<std::uint32_t>(*value);
}

bool is_valid_log_level(std::string_view level) {
  constexpr std::array<std::string_view, 6> kLevels = {"trace",   "debug", "info",
                                                       "warning", "error", "critical"};
  return std::find(kLevels.begin(), kLevels.end(), level) != kLevels.end();
}

std::optional<ConfigError> validate(const ProbedOptions& o) {
  using std::chrono::hours;
  if (!is_valid_isp_name(o.name)) {
    return error("--name", "'" + o.name + "' must be 1-32 of A-Z a-z 0-9 . _ -");
  }
  if (o.uplink.empty()) {
    return error("--uplink",
                 "missing: name the interface probes must leave by, e.g. --uplink eth1");
  }
  if (o.lan.empty() && o.broadcast.empty()) {
    return error("--lan", "missing: name the LAN interface (or give --broadcast ADDR)");
  }
  for (const auto& address : o.broadcast) {
    if (!parse_ipv4(address)) {
      return error("--broadcast", "'" + address + "' is not an IPv4 address");
    }
  }
  if (o.targets.empty()) return error("--target", "no target: give at least one, e.g. 8.8.8.8");
  if (o.targets.size() > kMaxTargets) {
    return error("--target", std::to_string(o.targets.size()) + " targets; at most " +
                                 std::to_string(kMaxTargets) + " are allowed");
  }
  std::set<std::string> seen;
  for (const auto& target : o.targets) {
    auto address = parse_ip(target);
    if (!address) {
      return error("--target", "'" + target + "' is not an IPv4 or IPv6 address");
    }
    if (address->family == Family::kIpv6) {
      // Probes must cross the ISP: an address that never leaves the link or the host, or that
      // is really IPv4, would say nothing about it.
      const Ipv6Address& v6 = address->v6;
      if (v6.is_link_local()) {
        return error("--target", "'" + target + "' is link-local; give a global IPv6 address");
      }
      if (!v6.is_unicast()) {
        return error("--target", "'" + target +
                                     "' is not a global unicast IPv6 address (multicast, "
                                     "loopback, unspecified or IPv4-mapped)");
      }
    }
    // Canonical text, so "2001:DB8::1" and "2001:db8::1" are one target.
    if (!seen.insert(format_ip(*address)).second) {
      return error("--target", "'" + target + "' is given twice");
    }
  }
  // state= is the IPv4 verdict, and a failoverd that predates ipv6= reads only that: with no
  // IPv4 target it would be a verdict on nothing.
  if (std::ranges::none_of(o.targets, [](const std::string& t) {
        auto address = parse_ip(t);
        return address && address->family == Family::kIpv4;
      })) {
    return error("--target",
                 "IPv6 targets only; add an IPv4 target: state= is the IPv4 verdict, which every "
                 "failoverd reads");
  }
  if (!o.prefix6.empty()) {
    auto prefix = parse_ipv6_prefix(o.prefix6);
    if (!prefix || prefix->length < 8 || !prefix->address.is_routable_unicast()) {
      return error("--prefix6", "'" + o.prefix6 +
                                    "' must be a global unicast IPv6 prefix of length 8-128 "
                                    "with its host bits zero, e.g. 2001:db8:1:1::/64");
    }
  }
  std::set<std::string> seen_dns;
  std::size_t dns4 = 0, dns6 = 0;
  for (const auto& resolver : o.dns) {
    auto address = parse_ip(resolver);
    if (!address) {
      return error("--dns", "'" + resolver +
                                "' is not an IPv4 or IPv6 address; give e.g. this router's "
                                "LAN address where its DNS forwarder listens");
    }
    if (address->family == Family::kIpv6 && !address->v6.is_routable_unicast()) {
      return error("--dns", "'" + resolver +
                                "' is not a global or ULA unicast IPv6 address (a link-local "
                                "one has no zone on another host); give the router's routable "
                                "LAN address");
    }
    if (!seen_dns.insert(format_ip(*address)).second) {
      return error("--dns", "'" + resolver + "' is given twice");
    }
    ++(address->family == Family::kIpv6 ? dns6 : dns4);
  }
  if (dns4 > kMaxDnsServers) {
    return error("--dns", std::to_string(dns4) + " IPv4 resolvers; at most " +
                              std::to_string(kMaxDnsServers) + " are announced");
  }
  if (dns6 > kMaxDns6Servers) {
    return error("--dns", std::to_string(dns6) + " IPv6 resolvers; at most " +
                              std::to_string(kMaxDns6Servers) + " are announced");
  }
  if (o.quorum == 0 || o.quorum > o.targets.size()) {
    return error("--quorum", std::to_string(o.quorum) + " must be between 1 and the " +
                                 std::to_string(o.targets.size()) + " target(s) given");
  }
  if (o.interval <= Duration::zero() || o.interval > hours(1)) {
    return error("--interval", "must be more than 0 and at most 1h, e.g. 150ms");
  }
  if (o.timeout <= Duration::zero() || o.timeout > hours(1)) {
    return error("--timeout", "must be more than 0 and at most 1h, e.g. 1s");
  }
  if (o.min_timeout <= Duration::zero() || o.min_timeout > o.timeout) {
    return error("--min-timeout", "must be more than 0 and at most --timeout (" +
                                      format_duration(o.timeout) + "), e.g. 50ms");
  }
  if (o.confirm_interval < milliseconds(1) || o.confirm_interval > o.interval) {
    return error("--confirm-interval",
                 "must be from 1ms to --interval (" + format_duration(o.interval) + "), e.g. 25ms");
  }
  if (o.down_window < Duration::zero() || o.down_window > hours(1)) {
    return error("--down-window", "must be from 0 to 1h, e.g. 200ms");
  }
  if (o.down_after == 0 || o.down_after > 1000) {
    return error("--down-after", "must be 1-1000 failed rounds");
  }
  if (o.up_after == 0 || o.up_after > 1000) return error("--up-after", "must be 1-1000 rounds");
  if (o.heartbeat < milliseconds(10) || o.heartbeat > milliseconds(kMaxHeartbeatMs)) {
    // Clients do not believe a longer promise (kMaxHeartbeatMs), so none is made.
    return error(
        "--heartbeat",
        "must be from 10ms to " + format_duration(milliseconds(kMaxHeartbeatMs)) + ", e.g. 100ms");
  }
  if (o.loss_window < o.interval) {
    return error("--loss-window", "must be at least one --interval long, e.g. 30s");
  }
  if (o.port == 0) return error("--port", "must be 1-65535");
  if (auto problem = check_metrics_file(o.metrics_file, "/run/ispfailover/ispprobed.prom")) {
    return problem;
  }
  if (!o.state_dir.empty() && o.state_dir.front() != '/') {
    return error("--state-dir",
                 "must be an absolute path (or empty for none), e.g. "
                 "/var/lib/ispprobed");
  }
  if (!is_valid_log_level(o.log_level)) {
    return error("--log-level", "'" + o.log_level +
                                    "' is not one of trace, debug, info, warning, error, critical");
  }
  return std::nullopt;
}

Result<FailoverSettings, ConfigError> validate(const FailoverOptions& o) {
  FailoverSettings settings;
  if (o.isp_specs.empty()) {
    return fail(error("--isp", "no ISP given: add one per router, e.g. --isp isp1=192.168.56.101"));
  }
  std::set<std::string> names;
  std::set<std::uint32_t> gateways;
  for (std::size_t i = 0; i < o.isp_specs.size(); ++i) {
    auto isp = parse_isp_spec(o.isp_specs[i], static_cast<int>(i));
    if (!isp) return fail(isp.error());
    if (!names.insert(isp->name).second) {
      return fail(error("--isp", "the name '" + isp->name + "' is given twice"));
    }
    if (!gateways.insert(isp->gateway).second) {
      return fail(error("--isp", "the gateway " + format_ipv4(isp->gateway) + " is given twice"));
    }
    settings.isps.push_back(*isp);
  }
  std::stable_sort(settings.isps.begin(), settings.isps.end(),
                   [](const IspConfig& a, const IspConfig& b) { return a.priority < b.priority; });
  if (o.port == 0) return fail(error("--port", "must be 1-65535"));
  auto table = parse_route_table(o.table);
  if (!table) return fail(table.error());
  settings.table = *table;
  settings.metric = o.metric;
  if (o.metric6 == 0 || o.metric6 >= kKernelDefaultMetric6) {
    return fail(error("--metric6", std::to_string(o.metric6) +
                                       " is not 1-1023: the kernel stores 0 as 1024, the metric of "
                                       "routes from router advertisements; e.g. --metric6 1"));
  }
  settings.metric6 = o.metric6;
  for (const auto& text : o.replace_gateways) {
    auto gateway = parse_ipv4(text);
    if (!gateway) {
      return fail(error("--replace-gateway", "'" + text + "' is not an IPv4 address"));
    }
    if (gateways.count(*gateway)) {
      return fail(error("--replace-gateway", text + " is also an --isp gateway; remove one"));
    }
    settings.replace_gateways.push_back(*gateway);
  }
  if (o.failback_after < Duration::zero()) {
    return fail(error("--failback-after", "must not be negative"));
  }
  if (!(o.max_loss_pct >= 0.0 && o.max_loss_pct <= 100.0)) {
    return fail(error("--max-loss", "must be a percentage from 0 to 100"));
  }
  if (o.when_all_down != "keep" && o.when_all_down != "remove") {
    return fail(error("--when-all-down", "'" + o.when_all_down + "' must be keep or remove"));
  }
  if (o.startup_grace < Duration::zero()) {
    return fail(error("--startup-grace", "must not be negative"));
  }
  if (o.stale_floor < Duration::zero() || o.stale_floor > kMaxStaleFloor) {
    return fail(error("--stale-floor", "must be from 0 (none) to " +
                                           format_duration(kMaxStaleFloor) +
                                           ", e.g. 800ms for a Wi-Fi client"));
  }
  if (o.max_clock_skew <= Duration::zero()) {
    return fail(error("--max-clock-skew", "must be more than 0, e.g. 30s"));
  }
  if (!o.state_dir.empty() && o.state_dir.front() != '/') {
    return fail(error("--state-dir",
                      "must be an absolute path (or empty for none), e.g. /var/lib/failoverd"));
  }
  if (auto problem = check_metrics_file(o.metrics_file, "/run/ispfailover/failoverd.prom")) {
    return fail(*problem);
  }
  if (!o.hook_dir.empty() && o.hook_dir.front() != '/') {
    return fail(error("--hook-dir",
                      "must be an absolute path (or empty for no hooks), e.g. "
                      "/etc/ispfailover/hooks.d"));
  }
  if (o.hook_timeout <= Duration::zero()) {
    return fail(error("--hook-timeout", "must be more than 0, e.g. 10s"));
  }
  if (o.status_file.empty() || o.status_file.front() != '/') {
    return fail(
        error("--status-file", "must be an absolute path, e.g. /run/failoverd/status.json"));
  }
  if (!is_valid_log_level(o.log_level)) {
    return fail(error("--log-level", "'" + o.log_level +
                                         "' is not one of trace, debug, info, warning, error, "
                                         "critical"));
  }
  if (o.dns_manager.empty()) {
    settings.dns_manager = o.resolved_usable ? DnsManager::kResolved : DnsManager::kNone;
  } else if (o.dns_manager == "resolved") {
    settings.dns_manager = DnsManager::kResolved;
  } else if (o.dns_manager == "file") {
    settings.dns_manager = DnsManager::kFile;
  } else if (o.dns_manager == "none") {
    settings.dns_manager = DnsManager::kNone;
  } else {
    return fail(error("--dns-manager", "'" + o.dns_manager + "' must be resolved, file or none"));
  }
  if (settings.dns_manager == DnsManager::kFile &&
      (o.resolv_conf.empty() || o.resolv_conf.front() != '/' || o.resolv_conf.back() == '/')) {
    return fail(error("--resolv-conf", "'" + o.resolv_conf +
                                           "' must be an absolute file path, e.g. "
                                           "/run/failoverd/resolv.conf"));
  }
  auto yes_no = [](const std::string& text) -> std::optional<bool> {
    if (text == "yes") return true;
    if (text == "no") return false;
    return std::nullopt;
  };
  auto sticky = yes_no(o.sticky_connections);
  if (!sticky) {
    return fail(error("--sticky-connections", "'" + o.sticky_connections + "' must be yes or no"));
  }
  auto reset = yes_no(o.reset_connections);
  if (!reset) {
    return fail(error("--reset-connections", "'" + o.reset_connections + "' must be yes or no"));
  }
  settings.steering.sticky = *sticky;
  settings.steering.reset = *reset;
  auto mask = parse_u32(o.conn_mark_mask);
  if (!mask || mark_capacity(*mask) == 0) {
    return fail(error("--conn-mark-mask",
                      "'" + o.conn_mark_mask + "' must be one run of set bits, e.g. 0x0f000000"));
  }
  if (mark_capacity(*mask) < settings.isps.size()) {
    return fail(error("--conn-mark-mask",
                      o.conn_mark_mask + " tells only " + std::to_string(mark_capacity(*mask)) +
                          " ISPs apart, and " + std::to_string(settings.isps.size()) +
                          " are given; widen it"));
  }
  settings.steering.mark_mask = *mask;
  std::uint64_t n = settings.isps.size();
  std::uint64_t first_table = std::uint64_t{o.sticky_table_base} + 1;
  std::uint64_t last_table = std::uint64_t{o.sticky_table_base} + n;
  if (o.sticky_table_base == 0 || last_table > 0xffffffffULL ||
      (first_table <= 255 && last_table >= 253) ||
      (settings.table >= first_table && settings.table <= last_table)) {
    return fail(error("--sticky-table-base",
                      "tables " + std::to_string(first_table) + "-" + std::to_string(last_table) +
                          " would clash with main, default, local or --table; pick another "
                          "base, e.g. 3150"));
  }
  settings.steering.table_base = o.sticky_table_base;
  // Before the main table's rule (32766), after the local table's (0).
  if (o.sticky_rule_priority == 0 || o.sticky_rule_priority + n - 1 >= 32766) {
    return fail(error("--sticky-rule-priority",
                      "must be from 1 to " + std::to_string(32766 - n) +
                          " so that the rules come before the main table's (32766), e.g. 1500"));
  }
  settings.steering.rule_priority = o.sticky_rule_priority;
  settings.policy.failback_after = o.failback_after;
  settings.policy.max_loss_permille = static_cast<std::uint32_t>(o.max_loss_pct * 10.0 + 0.5);
  settings.policy.when_all_down =
      o.when_all_down == "remove" ? AllDownPolicy::kRemove : AllDownPolicy::kKeep;
  settings.policy.startup_grace = o.startup_grace;
  settings.policy.stale_floor = o.stale_floor;
  settings.policy.require_fresh_instances = !o.key_file.empty();
  settings.policy.max_clock_skew = o.max_clock_skew;
  return settings;
}

std::optional<ConfigError> check_metrics_file(std::string_view path, std::string_view example) {
  if (path.empty() || path.front() == '/') return std::nullopt;
  return ConfigError{"--metrics-file",
                     "must be an absolute path (or empty for none), e.g. " + std::string(example)};
}

}  // namespace ispf

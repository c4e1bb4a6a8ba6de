// Option structs of both daemons and their validation; CLI11 fills them, the checks are pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ispfailover/core/clock.h"
#include "ispfailover/core/dns_follow.h"
#include "ispfailover/core/failover_policy.h"
#include "ispfailover/core/format.h"
#include "ispfailover/core/result.h"
#include "ispfailover/core/route.h"
#include "ispfailover/core/steering.h"

namespace ispf {

inline constexpr std::uint16_t kDefaultPort = 1500;
// Routes failoverd installs carry this rtm_protocol, so a restarted daemon knows its own route.
// Named "ispfailover" in /etc/iproute2/rt_protos.d/ispfailover.conf (where Debian 12's ip reads).
inline constexpr std::uint8_t kRouteProtocol = 150;
// failoverd --stale-floor at most: beyond it a dead router would hold traffic for too long.
inline constexpr Duration kMaxStaleFloor = std::chrono::minutes(1);

// A configuration error: the option at fault and a sentence that says what to do.
struct ConfigError {
  std::string option;   // e.g. "--quorum"
  std::string message;  // e.g. "3 is more than the 2 targets given; lower it or add --target"
  std::string to_string() const { return option + ": " + message; }
};

struct ProbedOptions {
  std::string name;                    // default: the host name (filled by the shell)
  std::string uplink;                  // interface probes must leave by
  std::string lan;                     // interface whose broadcast address gets the datagrams
  std::vector<std::string> broadcast;  // explicit destinations instead of / besides --lan
  std::vector<std::string> targets{"8.8.8.8"};
  // Resolvers clients should use while this ISP carries their traffic (announced in dns=).
  std::vector<std::string> dns;
  // The LAN prefix this ISP routes back, announced in prefix6= (e.g. 2001:db8:1:1::/64); empty:
  // none.
  std::string prefix6;
  std::uint32_t quorum = 1;
  Duration interval = std::chrono::milliseconds(150);
  Duration timeout = std::chrono::seconds(1);  // the ceiling of the RTT-derived timeout
  Duration min_timeout = std::chrono::milliseconds(50);
  Duration confirm_interval = std::chrono::milliseconds(25);
  std::uint32_t down_after = 8;
  Duration down_window = std::chrono::milliseconds(200);
  std::uint32_t up_after = 3;
  Duration heartbeat = std::chrono::milliseconds(100);
  Duration loss_window = std::chrono::seconds(30);
  std::uint16_t port = kDefaultPort;
  std::string key_file;  // with a key, every datagram carries an HMAC tag
  // Where the epoch is kept (NAME.epoch), so that it never goes back; empty: not kept.
  std::string state_dir = "/var/lib/ispprobed";
  // Prometheus text for node_exporter's textfile collector (docs/operations.md); empty: none.
  std::string metrics_file;
  std::string log_level = "info";
  std::string config_file;
};

struct FailoverOptions {
  // NAME=GATEWAY[,gateway6=IPV6[%IFACE]][,priority=N], in preference order
  std::vector<std::string> isp_specs;
  std::uint16_t port = kDefaultPort;
  std::string table = "main";
  std::uint32_t metric = 0;
  // Our IPv6 default route's metric: below 1024 (kKernelDefaultMetric6), so that it never shares
  // a slot with a route from a router advertisement.
  std::uint32_t metric6 = 1;
  std::vector<std::string> replace_gateways;
  Duration failback_after = std::chrono::seconds(3);
  double max_loss_pct = 20.0;
  std::string when_all_down = "keep";
  Duration startup_grace = std::chrono::milliseconds(1500);
  // The least silence that makes an ISP stale, whatever its heartbeat; zero: none.
  Duration stale_floor{};
  std::string status_file = "/run/failoverd/status.json";
  std::string key_file;  // with keys, only datagrams with a valid tag count
  // Obsolete with senders that send epoch=: used only for older ones (docs/security.md).
  Duration max_clock_skew = std::chrono::seconds(30);
  // Where the replay floors are kept across restarts (replay-floors); empty: not kept.
  std::string state_dir = "/var/lib/failoverd";
  // Prometheus text for node_exporter's textfile collector (docs/operations.md); empty: none.
  std::string metrics_file;
  // Executables run on each switch and ISP state change (failoverd(8), HOOKS); empty: none.
  std::string hook_dir = "/etc/ispfailover/hooks.d";
  Duration hook_timeout = std::chrono::seconds(10);  // then the hook's process group is killed
  bool cleanup_on_exit = false;
  // resolved, file or none; empty: resolved if systemd-resolved runs and lets us, else none.
  std::string dns_manager;
  // Filled by the shell before validate: whether systemd-resolved runs on this host and would
  // let us set per-link DNS (as root, or with polkitd there to apply the package's rule).
  bool resolved_usable = false;
  // Where --dns-manager file writes; /etc/resolv.conf is meant to be a symlink to it.
  std::string resolv_conf = "/run/failoverd/resolv.conf";
  // Sticky connections and resets (yes or no), and where their marks, tables and rules live.
  std::string sticky_connections = "yes";
  std::string reset_connections = "yes";
  std::string conn_mark_mask = "0x0f000000";
  std::uint32_t sticky_table_base = SteeringSettings{}.table_base;
  std::uint32_t sticky_rule_priority = SteeringSettings{}.rule_priority;
  std::string log_level = "info";
  std::string config_file;
};

// What failoverd runs with once its options are checked.
struct FailoverSettings {
  std::vector<IspConfig> isps;  // sorted by preference
  PolicyConfig policy;
  std::uint32_t table = 254;
  std::uint32_t metric = 0;
  std::uint32_t metric6 = 1;
  std::vector<std::uint32_t> replace_gateways;
  std::vector<std::string> keys;  // from --key-file, filled by the shell
  DnsManager dns_manager = DnsManager::kNone;
  SteeringSettings steering;
};

// "NAME=GATEWAY" or "NAME=GATEWAY,priority=N"; `order` is the default priority.
Result<IspConfig, ConfigError> parse_isp_spec(std::string_view spec, int order);

// "main", "default", "local" or a number 1..4294967295 (0 and 255+ reserved names aside).
Result<std::uint32_t, ConfigError> parse_route_table(std::string_view text);

std::optional<ConfigError> validate(const ProbedOptions& options);
Result<FailoverSettings, ConfigError> validate(const FailoverOptions& options);

bool is_valid_log_level(std::string_view level);

// --metrics-file: empty (none) or an absolute path; nullopt if fine.
std::optional<ConfigError> check_metrics_file(std::string_view path, std::string_view example);

}  // namespace ispf

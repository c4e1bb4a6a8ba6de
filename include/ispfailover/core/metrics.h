// Both daemons' metrics as Prometheus text (exposition format 0.0.4), for node_exporter's textfile
// collector.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ispfailover/core/status_report.h"

namespace ispf {

// Every per-ISP series carries family="ipv4", so that dual stack adds series without changing
// the identity of the ones dashboards already use.
inline constexpr std::string_view kMetricsFamily = "ipv4";

// A label value as the format wants it: backslash, double quote and newline escaped.
std::string escape_label_value(std::string_view value);

// failoverd's metrics from the report it publishes (docs/operations.md, "Metrics").
std::string failover_metrics(const StatusReport& report);

// What ispprobed's metrics say.
struct ProbeMetrics {
  bool up = false;  // the line's verdict is up (false until the first verdict)
  std::optional<std::uint32_t> rtt_avg_us;
  std::uint32_t loss_permille = 0;
  std::uint64_t probes_sent = 0;
  // Per target (dotted quad or IPv6 text), in configuration order.
  std::vector<std::pair<std::string, std::uint64_t>> probes_answered;
  // The IPv6 verdict and figures, with IPv6 targets; up, rtt_avg_us and loss_permille above are
  // IPv4's. Series of their own (ispfailover_probe_ipv6_*), not a label on the IPv4 ones: those
  // have none, and a second series under the same name would change what every existing query
  // and alert on them means.
  struct Ipv6Figures {
    bool up = false;  // false until IPv6's first verdict
    std::optional<std::uint32_t> rtt_avg_us;
    std::uint32_t loss_permille = 0;

    bool operator==(const Ipv6Figures&) const = default;
  };
  std::optional<Ipv6Figures> ipv6;

  bool operator==(const ProbeMetrics&) const = default;
};

std::string probe_metrics(const ProbeMetrics& metrics);

}  // namespace ispf

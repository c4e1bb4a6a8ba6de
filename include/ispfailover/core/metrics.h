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
  // Per target (dotted quad), in configuration order.
  std::vector<std::pair<std::string, std::uint64_t>> probes_answered;

  bool operator==(const ProbeMetrics&) const = default;
};

std::string probe_metrics(const ProbeMetrics& metrics);

}  // namespace ispf

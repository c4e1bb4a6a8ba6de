// Both daemons' metrics as Prometheus text: HELP and TYPE per family, base units, escaped labels.
#include "ispfailover/core/metrics.h"

#include <array>

namespace ispf {
namespace {

// An exact decimal of value / 10^digits, trailing zeros trimmed: "0.0112", "0.2", "1", never
// the rounding noise of a double.
std::string fixed_point(std::uint64_t value, int digits) {
  std::uint64_t scale = 1;
  for (int i = 0; i < digits; ++i) scale *= 10;
  std::string fraction = std::to_string(value % scale);
  fraction.insert(0, static_cast<std::size_t>(digits) - fraction.size(), '0');
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  std::string text = std::to_string(value / scale);
  return fraction.empty() ? text : text + "." + fraction;
}

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

class Writer {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(std::string_view name, const Labels& labels, std::string_view value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      for (std::size_t i = 0; i < labels.size(); ++i) {
        if (i) out_ += ',';
        out_ += labels[i].first;
        out_ += "=\"";
        out_ += escape_label_value(labels[i].second);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  void sample(std::string_view name, const Labels& labels, std::uint64_t value) {
    sample(name, labels, std::to_string(value));
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string seconds_of(std::uint32_t microseconds) { return fixed_point(microseconds, 6); }
std::string ratio_of(std::uint32_t permille) { return fixed_point(permille, 3); }

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string failover_metrics(const StatusReport& report) {
  Writer w;
  // Each ISP once per family it carries for us: IPv4 always, IPv6 where it has a gateway6
  // (decided on its own, so its state and active flag may differ from IPv4's).
  struct Row {
    const IspView* isp;
    std::string_view family;
    bool active;
  };
  std::vector<Row> rows;
  for (std::size_t i = 0; i < report.isps.size(); ++i) {
    rows.push_back({&report.isps[i], kMetricsFamily, report.active == i});
  }
  if (report.ipv6) {
    for (std::size_t i = 0; i < report.ipv6->isps.size(); ++i) {
      rows.push_back({&report.ipv6->isps[i], "ipv6", report.ipv6->active == i});
    }
  }
  auto per_isp = [&](std::string_view name, std::string_view type, std::string_view help,
                     auto value_of) {
    w.family(name, type, help);
    for (const Row& row : rows) {
      if (std::optional<std::string> value = value_of(row.active, *row.isp)) {
        w.sample(name, {{"isp", row.isp->config.name}, {"family", row.family}}, *value);
      }
    }
  };
  auto flag = [](bool b) { return std::optional<std::string>(b ? "1" : "0"); };

  per_isp("ispfailover_isp_up", "gauge",
          "1 if the ISP can carry traffic (state up or degraded), else 0.",
          [&](bool, const IspView& isp) {
            return flag(isp.health == IspHealth::kUp || isp.health == IspHealth::kDegraded);
          });
  per_isp("ispfailover_isp_active", "gauge", "1 for the ISP that carries the default route.",
          [&](bool active, const IspView&) { return flag(active); });

  w.family("ispfailover_isp_state", "gauge",
           "The ISP's state as failoverd sees it: 1 for the current state, 0 for the others.");
  constexpr std::array kStates = {IspHealth::kUp, IspHealth::kDegraded, IspHealth::kDown,
                                  IspHealth::kStale};
  for (const Row& row : rows) {
    for (IspHealth state : kStates) {
      w.sample("ispfailover_isp_state",
               {{"isp", row.isp->config.name}, {"family", row.family}, {"state", to_string(state)}},
               row.isp->health == state ? "1" : "0");
    }
  }

  per_isp("ispfailover_isp_rtt_seconds", "gauge",
          "Average round-trip time of the ISP's probes over its loss window, as last reported.",
          [](bool, const IspView& isp) -> std::optional<std::string> {
            if (!isp.rtt_avg_us) return std::nullopt;
            return seconds_of(*isp.rtt_avg_us);
          });
  per_isp("ispfailover_isp_loss_ratio", "gauge",
          "Share of the ISP's probes lost over its loss window (0 to 1), as last reported.",
          [](bool, const IspView& isp) -> std::optional<std::string> {
            if (!isp.since_last_seen) return std::nullopt;  // never heard: nothing to say
            return ratio_of(isp.loss_permille);
          });

  if (report.sticky || report.reset) {
    // Each family's own (one mark covers both; the count tells them apart).
    constexpr std::string_view kTracked = "ispfailover_isp_connections";
    w.family(kTracked, "gauge",
             "Tracked connections that went out through the ISP (its conntrack mark), counted "
             "once a second; those of an ISP that does not carry the route are sticky.");
    for (const Row& row : rows) {
      const auto& counts = row.family == kMetricsFamily || !report.ipv6 ? report.connections
                                                                        : report.ipv6->connections;
      auto found = counts.find(row.isp->config.name);
      if (found == counts.end()) continue;
      w.sample(kTracked, {{"isp", row.isp->config.name}, {"family", row.family}},
               std::to_string(found->second));
    }
    // Each family's own: an ISP's IPv6 may die, and its IPv6 connections end, apart from IPv4.
    constexpr std::string_view kEnded = "ispfailover_isp_connections_ended_total";
    w.family(kEnded, "counter",
             "TCP connections ended (SOCK_DESTROY) because the ISP they went through died.");
    for (const Row& row : rows) {
      const auto& totals = row.family == kMetricsFamily || !report.ipv6 ? report.resets_total
                                                                        : report.ipv6->resets_total;
      auto found = totals.find(row.isp->config.name);
      w.sample(kEnded, {{"isp", row.isp->config.name}, {"family", row.family}},
               std::to_string(found == totals.end() ? 0 : found->second));
    }
  }
  w.family("ispfailover_switches_total", "counter",
           "Moves of the default route from one ISP (or none) to another since failoverd started.");
  w.sample("ispfailover_switches_total", {}, report.switches);
  if (report.ipv6) {
    // A series of its own: a family label on ispfailover_switches_total would change the
    // identity of the IPv4 series dashboards already use.
    w.family("ispfailover_ipv6_switches_total", "counter",
             "Moves of the IPv6 default route from one ISP (or none) to another since failoverd "
             "started.");
    w.sample("ispfailover_ipv6_switches_total", {}, report.ipv6->switches);
  }
  w.family("ispfailover_switch_transitions_total", "counter",
           "Moves of the default route by from, to (\"none\": no route) and reason.");
  for (const auto& [kind, count] : report.switch_counts) {
    w.sample("ispfailover_switch_transitions_total",
             {{"from", kind.from}, {"to", kind.to}, {"reason", kind.reason}}, count);
  }

  w.family("ispfailover_datagrams_accepted_total", "counter",
           "Status datagrams accepted from ispprobed.");
  w.sample("ispfailover_datagrams_accepted_total", {}, report.accepted);
  w.family("ispfailover_datagrams_refused_total", "counter",
           "Status datagrams refused, by reason.");
  for (std::size_t i = 0; i < report.drops.size(); ++i) {
    w.sample("ispfailover_datagrams_refused_total",
             {{"reason", to_string(static_cast<DropReason>(i))}}, report.drops[i]);
  }
  return w.take();
}

std::string probe_metrics(const ProbeMetrics& m) {
  Writer w;
  w.family("ispfailover_probe_up", "gauge", "1 if ispprobed's verdict on its line is up, else 0.");
  w.sample("ispfailover_probe_up", {}, m.up ? "1" : "0");
  w.family("ispfailover_probe_rtt_seconds", "gauge",
           "Average round-trip time of the answered probes over the loss window.");
  if (m.rtt_avg_us) w.sample("ispfailover_probe_rtt_seconds", {}, seconds_of(*m.rtt_avg_us));
  w.family("ispfailover_probe_loss_ratio", "gauge",
           "Share of the probes lost over the loss window (0 to 1).");
  w.sample("ispfailover_probe_loss_ratio", {}, ratio_of(m.loss_permille));
  w.family("ispfailover_probes_sent_total", "counter", "Echo requests sent, all targets.");
  w.sample("ispfailover_probes_sent_total", {}, m.probes_sent);
  w.family("ispfailover_probes_answered_total", "counter", "Echo replies received, by target.");
  for (const auto& [target, count] : m.probes_answered) {
    w.sample("ispfailover_probes_answered_total", {{"target", target}}, count);
  }
  if (m.ipv6) {
    w.family("ispfailover_probe_ipv6_up", "gauge",
             "1 if ispprobed's verdict on its line's IPv6 is up, else 0.");
    w.sample("ispfailover_probe_ipv6_up", {}, m.ipv6->up ? "1" : "0");
    w.family("ispfailover_probe_ipv6_rtt_seconds", "gauge",
             "Average round-trip time of the answered IPv6 probes over the loss window.");
    if (m.ipv6->rtt_avg_us) {
      w.sample("ispfailover_probe_ipv6_rtt_seconds", {}, seconds_of(*m.ipv6->rtt_avg_us));
    }
    w.family("ispfailover_probe_ipv6_loss_ratio", "gauge",
             "Share of the IPv6 probes lost over the loss window (0 to 1).");
    w.sample("ispfailover_probe_ipv6_loss_ratio", {}, ratio_of(m.ipv6->loss_permille));
  }
  return w.take();
}

}  // namespace ispf

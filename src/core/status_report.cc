// What failoverd tells people: the STATUS= line, the status file's JSON, the `status` table.
#include "ispfailover/core/status_report.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "ispfailover/core/config.h"

namespace ispf {
namespace {

std::string one_decimal(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", value);
  return buf;
}

// A string field of a status file entry, "?" when missing or of another type.
std::string text_of(const nlohmann::json& entry, const char* key) {
  return entry.contains(key) && entry[key].is_string() ? entry[key].get<std::string>() : "?";
}

std::string isp_state_text(const IspView& isp) {
  switch (isp.health) {
    case IspHealth::kUp:
      return isp.config.name + " standby";
    case IspHealth::kDegraded:
      return isp.config.name + " degraded (loss " + format_percent(isp.loss_permille) + ")";
    case IspHealth::kDown:
      return isp.config.name + " down (" + isp.reason + ")";
    case IspHealth::kStale:
      return isp.config.name + (isp.reason == "never-heard" ? " never heard" : " stale") +
             (isp.rejected ? " (its datagrams are refused: " + *isp.rejected + ")" : "");
  }
  return isp.config.name;
}

// The route's recent moves, newest first: "  2026-12-02 13:40:01Z  isp1 -> isp2  down".
std::string history_lines(const nlohmann::json& j) {
  if (!j.contains("recent_switches") || !j["recent_switches"].is_array() ||
      j["recent_switches"].empty()) {
    return {};
  }
  const auto& history = j["recent_switches"];
  std::string out = "recent switches (newest first):\n";
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    if (!it->is_object()) continue;
    std::string when = it->contains("unix_ms") && (*it)["unix_ms"].is_number_unsigned()
                           ? format_utc_datetime((*it)["unix_ms"].get<std::uint64_t>())
                           : std::string("-");
    auto name = [&](const char* key) {
      return it->contains(key) && (*it)[key].is_string() ? (*it)[key].get<std::string>()
                                                         : std::string("(none)");
    };
    out += "  " + when + "  " + name("from") + " -> " + name("to") + "  " + text_of(*it, "reason") +
           "\n";
  }
  return out;
}

// "connections: isp1 12, isp2 3 sticky" and the last reset, when steering is on.
std::string connection_lines(const nlohmann::json& j, const std::string& active) {
  if (!j.contains("connections") || !j["connections"].is_object()) return "";
  const auto& c = j["connections"];
  std::string out;
  if (c.contains("per_isp") && c["per_isp"].is_object() && !c["per_isp"].empty()) {
    std::string counts;
    bool sticky = c.contains("sticky") && c["sticky"].is_boolean() && c["sticky"].get<bool>();
    for (auto& [name, value] : c["per_isp"].items()) {
      if (!value.is_number_unsigned()) continue;
      counts += (counts.empty() ? " " : ", ") + name + " " +
                std::to_string(value.get<std::uint64_t>()) +
                (sticky && name != active && value.get<std::uint64_t>() > 0 ? " sticky" : "");
    }
    if (!counts.empty()) out += "connections:" + counts + "\n";
  }
  if (c.contains("last_reset") && c["last_reset"].is_object()) {
    const auto& r = c["last_reset"];
    auto count = [&](const char* key) {
      return r.contains(key) && r[key].is_number_unsigned()
                 ? std::to_string(r[key].get<std::uint64_t>())
                 : std::string("-");
    };
    out += "last reset: " + count("ended") + " connection(s) of " + text_of(r, "isp") + " (" +
           text_of(r, "why") + ")";
    if (r.contains("unix_ms") && r["unix_ms"].is_number_unsigned() &&
        j.contains("updated_unix_ms") && j["updated_unix_ms"].is_number_unsigned()) {
      auto at = r["unix_ms"].get<std::uint64_t>();
      auto now = j["updated_unix_ms"].get<std::uint64_t>();
      if (now >= at) out += " " + human_duration(milliseconds(now - at)) + " ago";
    }
    out += "\n";
  }
  return out;
}

}  // namespace

namespace {

// "; IPv6 via isp2 (isp1 down: probe-loss)": the IPv6 side, decided on its own.
std::string ipv6_summary(const Ipv6Report& six) {
  std::string others;
  for (std::size_t i = 0; i < six.isps.size(); ++i) {
    if (six.active && i == *six.active) continue;
    const IspView& v = six.isps[i];
    others += (others.empty() ? "" : ", ") + v.config.name + " " + std::string(to_string(v.health));
    if (v.health != IspHealth::kUp) others += ": " + v.reason;
  }
  std::string line = six.active ? "; IPv6 via " + six.isps[*six.active].config.name
                                : std::string("; IPv6: no route");
  if (six.active && six.isps[*six.active].health != IspHealth::kUp) {
    line += " (" + std::string(to_string(six.isps[*six.active].health)) + ")";
  }
  if (!others.empty()) line += " (" + others + ")";
  return line;
}

std::string summary_line_ipv4(const StatusReport& r);

}  // namespace

std::string summary_line(const StatusReport& r) {
  return summary_line_ipv4(r) + (r.ipv6 ? ipv6_summary(*r.ipv6) : std::string());
}

namespace {

std::string summary_line_ipv4(const StatusReport& r) {
  std::string others;
  for (std::size_t i = 0; i < r.isps.size(); ++i) {
    if (r.active && i == *r.active && !r.all_down) continue;
    if (!others.empty()) others += r.all_down ? ", " : "; ";
    others += isp_state_text(r.isps[i]);
  }
  if (r.all_down) {
    std::string line = "NO ISP UP: " + others;
    if (r.active) {
      line += "; keeping last route via " + r.isps[*r.active].config.name;
    } else {
      line += r.when_all_down == AllDownPolicy::kRemove ? "; default route withdrawn"
                                                        : "; no route installed";
    }
    return line;
  }
  if (!r.active) return "no route yet: " + others;
  const IspView& active = r.isps[*r.active];
  std::string line = "via " + active.config.name + " " + format_ipv4(active.config.gateway) + " (";
  line += std::string(to_string(active.health));
  if (r.active_for) line += " " + human_duration(*r.active_for);
  if (active.rtt_avg_us) line += ", rtt " + format_rtt(*active.rtt_avg_us);
  if (active.health == IspHealth::kDown || active.health == IspHealth::kStale) {
    line += ", " + active.reason;
  }
  line += ")";
  if (!others.empty()) line += "; " + others;
  return line;
}

}  // namespace

std::string to_json(const StatusReport& r) {
  nlohmann::json j;
  j["active"] = r.active ? nlohmann::json(r.isps[*r.active].config.name) : nlohmann::json(nullptr);
  j["active_gateway"] = r.active ? nlohmann::json(format_ipv4(r.isps[*r.active].config.gateway))
                                 : nlohmann::json(nullptr);
  j["active_for_ms"] =
      r.active_for ? nlohmann::json(to_ms(*r.active_for)) : nlohmann::json(nullptr);
  j["switches"] = r.switches;
  j["all_down"] = r.all_down;
  j["summary"] = summary_line(r);
  j["last_switch"] = r.last_switch;
  nlohmann::json history = nlohmann::json::array();
  for (const auto& s : r.recent_switches) {
    auto name_or_null = [](const std::string& name) {
      return name.empty() ? nlohmann::json(nullptr) : nlohmann::json(name);
    };
    history.push_back({{"unix_ms", s.unix_ms},
                       {"from", name_or_null(s.from)},
                       {"to", name_or_null(s.to)},
                       {"reason", s.reason},
                       {"why", s.why}});
  }
  j["recent_switches"] = history;
  j["accepted"] = r.accepted;
  j["updated_unix_ms"] = r.updated_unix_ms;
  nlohmann::json drops = nlohmann::json::object();
  for (std::size_t i = 0; i < r.drops.size(); ++i) {
    drops[std::string(to_string(static_cast<DropReason>(i)))] = r.drops[i];
  }
  j["drops"] = drops;
  j["warnings"] = r.warnings;
  nlohmann::json dns_servers = nlohmann::json::array();
  for (const IpAddress& server : r.dns_servers) dns_servers.push_back(format_ip(server));
  j["dns"] = {{"manager", r.dns_manager},
              {"isp", r.dns_isp.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.dns_isp)},
              {"servers", dns_servers}};
  nlohmann::json connections = nlohmann::json::object();
  // Both families' together, as ended_total (the metrics tell them apart).
  for (const auto& [name, count] : r.connections) connections[name] = count;
  if (r.ipv6) {
    for (const auto& [name, count] : r.ipv6->connections) {
      connections[name] = connections.value(name, std::uint64_t{0}) + count;
    }
  }
  nlohmann::json resets_total = nlohmann::json::object();
  // Both families' together: the sockets each ISP's deaths ended (the metrics tell them apart).
  for (const auto& [name, count] : r.resets_total) resets_total[name] = count;
  if (r.ipv6) {
    for (const auto& [name, count] : r.ipv6->resets_total) {
      resets_total[name] = resets_total.value(name, std::uint64_t{0}) + count;
    }
  }
  nlohmann::json last_reset = nullptr;
  if (r.last_reset) {
    last_reset = {{"unix_ms", r.last_reset->unix_ms},
                  {"isp", r.last_reset->isp},
                  {"why", r.last_reset->why},
                  {"found", r.last_reset->matched},
                  {"ended", r.last_reset->destroyed}};
  }
  j["connections"] = {{"sticky", r.sticky},
                      {"reset", r.reset},
                      {"per_isp", connections},
                      {"ended_total", resets_total},
                      {"last_reset", last_reset}};
  nlohmann::json isps = nlohmann::json::array();
  for (const auto& isp : r.isps) {
    nlohmann::json e;
    e["name"] = isp.config.name;
    e["gateway"] = format_ipv4(isp.config.gateway);
    e["priority"] = isp.config.priority;
    e["state"] = std::string(to_string(isp.health));
    e["reason"] = isp.reason;
    e["last_seen_ms_ago"] =
        isp.since_last_seen ? nlohmann::json(to_ms(*isp.since_last_seen)) : nlohmann::json(nullptr);
    e["rtt_ms"] =
        isp.rtt_avg_us ? nlohmann::json(*isp.rtt_avg_us / 1000.0) : nlohmann::json(nullptr);
    e["loss_pct"] = isp.loss_permille / 10.0;
    e["rejected"] = isp.rejected ? nlohmann::json(*isp.rejected) : nlohmann::json(nullptr);
    e["failures_10min"] = isp.recent_failures;
    e["failback_hold_ms"] = to_ms(isp.failback_hold);
    e["refused"] = isp.refused;
    e["last_refused"] =
        isp.last_refusal ? nlohmann::json(*isp.last_refusal) : nlohmann::json(nullptr);
    isps.push_back(std::move(e));
  }
  j["isps"] = isps;
  if (r.ipv6) {
    const Ipv6Report& six = *r.ipv6;
    nlohmann::json e;
    e["active"] =
        six.active ? nlohmann::json(six.isps[*six.active].config.name) : nlohmann::json(nullptr);
    if (six.route) {
      e["route"] = {{"gateway", format_ipv6(six.route->gateway)},
                    {"ifindex", six.route->ifindex},
                    {"source", six.route->preferred_source
                                   ? nlohmann::json(format_ipv6(*six.route->preferred_source))
                                   : nlohmann::json(nullptr)}};
    } else {
      e["route"] = nullptr;
    }
    e["switches"] = six.switches;
    e["last_switch"] = six.last_switch;
    nlohmann::json list = nlohmann::json::array();
    for (const auto& isp : six.isps) {
      auto own = six.own_verdict.find(isp.config.name);
      list.push_back({{"name", isp.config.name},
                      {"gateway6", isp.config.gateway6 ? format_ipv6(*isp.config.gateway6) : ""},
                      {"state", std::string(to_string(isp.health))},
                      {"reason", isp.reason},
                      // "ipv6": the router's own IPv6 verdict; "ipv4": it sends none, so its
                      // IPv4 verdict stands in; null: not heard yet.
                      {"verdict", own == six.own_verdict.end()
                                      ? nlohmann::json(nullptr)
                                      : nlohmann::json(own->second ? "ipv6" : "ipv4")}});
    }
    e["isps"] = list;
    j["ipv6"] = e;
  } else {
    j["ipv6"] = nullptr;
  }
  return j.dump(2) + "\n";
}

Result<std::string, std::string> render_status_table(std::string_view json_text) {
  auto j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("isps") || !j["isps"].is_array()) {
    return fail(std::string("not a failoverd status file (expected JSON with an \"isps\" list)"));
  }
  // Read every field by its type: a field of the wrong type is shown as missing, never thrown
  // (nlohmann::json::value() throws on a type mismatch).
  std::string out;
  out += (j.contains("summary") && j["summary"].is_string() ? j["summary"].get<std::string>()
                                                            : std::string("(no summary)")) +
         "\n";
  char line[160];
  std::snprintf(line, sizeof line, "%-3s %-12s %-16s %-9s %-12s %10s %9s %7s\n", "", "ISP",
                "GATEWAY", "STATE", "REASON", "LAST SEEN", "RTT", "LOSS");
  out += line;
  std::string active = j["active"].is_string() ? j["active"].get<std::string>() : "";
  for (const auto& isp : j["isps"]) {
    if (!isp.is_object()) continue;
    auto text = [&](const char* key) {
      return isp.contains(key) && isp[key].is_string() ? isp[key].get<std::string>() : "-";
    };
    std::string seen =
        isp.contains("last_seen_ms_ago") && isp["last_seen_ms_ago"].is_number()
            ? human_duration(milliseconds(isp["last_seen_ms_ago"].get<long long>())) + " ago"
            : "never";
    std::string rtt = isp.contains("rtt_ms") && isp["rtt_ms"].is_number()
                          ? one_decimal(isp["rtt_ms"].get<double>()) + " ms"
                          : "-";
    std::string loss = isp.contains("loss_pct") && isp["loss_pct"].is_number()
                           ? one_decimal(isp["loss_pct"].get<double>()) + "%"
                           : "-";
    std::snprintf(line, sizeof line, "%-3s %-12s %-16s %-9s %-12s %10s %9s %7s\n",
                  text("name") == active ? "*" : "", text("name").c_str(), text("gateway").c_str(),
                  text("state").c_str(), text("reason").c_str(), seen.c_str(), rtt.c_str(),
                  loss.c_str());
    out += line;
  }
  // Refused reports, per ISP: how a key on one side only or a refused restart shows.
  std::string refused;
  for (const auto& isp : j["isps"]) {
    if (!isp.is_object() || !isp.contains("refused") || !isp["refused"].is_number_unsigned() ||
        isp["refused"].get<std::uint64_t>() == 0) {
      continue;
    }
    std::string name = text_of(isp, "name");
    std::string last = text_of(isp, "last_refused");
    refused += (refused.empty() ? "" : ", ") + name + " " +
               std::to_string(isp["refused"].get<std::uint64_t>()) + " (last: " + last + ")";
  }
  if (!refused.empty()) out += "refused reports: " + refused + "\n";
  // Flap damping, where it lengthens a failback hold.
  std::string damped;
  for (const auto& isp : j["isps"]) {
    if (!isp.is_object() || !isp.contains("failures_10min") ||
        !isp["failures_10min"].is_number_unsigned() ||
        isp["failures_10min"].get<std::uint64_t>() < 2 || !isp.contains("failback_hold_ms") ||
        !isp["failback_hold_ms"].is_number()) {
      continue;
    }
    damped += (damped.empty() ? "" : ", ") + text_of(isp, "name") + " failback after " +
              human_duration(milliseconds(isp["failback_hold_ms"].get<long long>())) + " (" +
              std::to_string(isp["failures_10min"].get<std::uint64_t>()) + " failures in 10 min)";
  }
  if (!damped.empty()) out += "damped: " + damped + "\n";
  std::string drops;
  if (j.contains("drops") && j["drops"].is_object()) {
    for (auto& [key, value] : j["drops"].items()) {
      if (value.is_number()) drops += " " + key + "=" + std::to_string(value.get<long long>());
    }
  }
  std::string switches = j.contains("switches") && j["switches"].is_number_unsigned()
                             ? std::to_string(j["switches"].get<std::uint64_t>())
                             : "-";
  out += "switches: " + switches + "   dropped:" + (drops.empty() ? std::string(" none") : drops) +
         "\n";
  if (j.contains("dns") && j["dns"].is_object() && j["dns"].contains("servers") &&
      j["dns"]["servers"].is_array() && !j["dns"]["servers"].empty()) {
    std::string servers;
    for (const auto& server : j["dns"]["servers"]) {
      if (server.is_string()) servers += " " + server.get<std::string>();
    }
    out += "dns:" + servers + " (" + text_of(j["dns"], "isp") + ", " +
           text_of(j["dns"], "manager") + ")\n";
  }
  if (j.contains("ipv6") && j["ipv6"].is_object()) {
    const auto& six = j["ipv6"];
    std::string six_line = "ipv6: ";
    if (six.contains("route") && six["route"].is_object()) {
      six_line += "via " + text_of(six, "active") + " " + text_of(six["route"], "gateway");
      if (six["route"].contains("source") && six["route"]["source"].is_string()) {
        six_line += " src " + six["route"]["source"].get<std::string>();
      }
    } else {
      six_line += "no route";
    }
    if (six.contains("isps") && six["isps"].is_array()) {
      std::string states;
      for (const auto& isp : six["isps"]) {
        if (!isp.is_object()) continue;
        states += (states.empty() ? "" : ", ") + text_of(isp, "name") + " " + text_of(isp, "state");
        if (text_of(isp, "state") != "up") states += " (" + text_of(isp, "reason") + ")";
        if (isp.contains("verdict") && isp["verdict"] == "ipv4") states += " [IPv4's verdict]";
      }
      if (!states.empty()) six_line += "; " + states;
    }
    out += six_line + "\n";
  }
  out += connection_lines(j, active);
  out += history_lines(j);
  if (j.contains("warnings") && j["warnings"].is_array()) {
    for (const auto& warning : j["warnings"]) {
      if (warning.is_string()) out += "WARNING: " + warning.get<std::string>() + "\n";
    }
  }
  return out;
}

}  // namespace ispf

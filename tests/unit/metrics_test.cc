// The Prometheus text of both daemons: HELP/TYPE, every series, values in base units, escaping.
#include "ispfailover/core/metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "ispfailover/core/status_report.h"

namespace ispf {
namespace {

bool Has(const std::string& text, std::string_view line) {
  return text.find(std::string(line) + "\n") != std::string::npos;
}

StatusReport TwoIspReport() {
  StatusReport r;
  IspView isp1;
  isp1.config = {"isp1", 0xc0a83865, 0};
  isp1.health = IspHealth::kDown;
  isp1.reason = "link-down";
  isp1.since_last_seen = std::chrono::milliseconds(200);
  isp1.rtt_avg_us = 11200;
  isp1.loss_permille = 45;
  IspView isp2;
  isp2.config = {"isp2", 0xc0a83866, 1};
  isp2.health = IspHealth::kUp;
  isp2.since_last_seen = std::chrono::milliseconds(100);
  isp2.rtt_avg_us = 2000000;
  isp2.loss_permille = 0;
  r.isps = {isp1, isp2};
  r.active = 1;
  r.switches = 3;
  r.switch_counts[{"isp1", "isp2", "link-down"}] = 2;
  r.switch_counts[{"isp2", "isp1", "failback"}] = 1;
  r.accepted = 77;
  r.drops[static_cast<std::size_t>(DropReason::kReplay)] = 5;
  return r;
}

TEST(MetricsTest, EscapesBackslashQuoteAndNewlineInLabelValues) {
  EXPECT_EQ(escape_label_value("plain-name_1"), "plain-name_1");
  EXPECT_EQ(escape_label_value("a\\b"), "a\\\\b");
  EXPECT_EQ(escape_label_value("say \"hi\""), "say \\\"hi\\\"");
  EXPECT_EQ(escape_label_value("two\nlines"), "two\\nlines");
}

TEST(MetricsTest, FailoverdHasHelpAndTypeForEveryFamily) {
  std::string text = failover_metrics(TwoIspReport());
  for (std::string_view family :
       {"ispfailover_isp_up", "ispfailover_isp_active", "ispfailover_isp_state",
        "ispfailover_isp_rtt_seconds", "ispfailover_isp_loss_ratio"}) {
    EXPECT_TRUE(Has(text, "# TYPE " + std::string(family) + " gauge")) << family;
    EXPECT_NE(text.find("# HELP " + std::string(family) + " "), std::string::npos) << family;
  }
  for (std::string_view family :
       {"ispfailover_switches_total", "ispfailover_switch_transitions_total",
        "ispfailover_datagrams_accepted_total", "ispfailover_datagrams_refused_total"}) {
    EXPECT_TRUE(Has(text, "# TYPE " + std::string(family) + " counter")) << family;
    EXPECT_NE(text.find("# HELP " + std::string(family) + " "), std::string::npos) << family;
  }
}

TEST(MetricsTest, ConnectionsPerIspOnlyWithSteeringOn) {
  StatusReport r = TwoIspReport();
  EXPECT_EQ(failover_metrics(r).find("ispfailover_isp_connections"), std::string::npos);
  r.sticky = true;
  r.connections = {{"isp2", 7}};
  r.resets_total = {{"isp1", 2}};
  std::string text = failover_metrics(r);
  EXPECT_TRUE(Has(text, "ispfailover_isp_connections{isp=\"isp2\",family=\"ipv4\"} 7")) << text;
  EXPECT_EQ(text.find("ispfailover_isp_connections{isp=\"isp1\""), std::string::npos)
      << "not counted yet: absent";
  EXPECT_TRUE(Has(text, "ispfailover_isp_connections_ended_total{isp=\"isp1\",family=\"ipv4\"} 2"));
  EXPECT_TRUE(Has(text, "ispfailover_isp_connections_ended_total{isp=\"isp2\",family=\"ipv4\"} 0"));
}

TEST(MetricsTest, FailoverdSeriesAndValues) {
  std::string text = failover_metrics(TwoIspReport());
  EXPECT_TRUE(Has(text, R"(ispfailover_isp_up{isp="isp1",family="ipv4"} 0)")) << text;
  EXPECT_TRUE(Has(text, R"(ispfailover_isp_up{isp="isp2",family="ipv4"} 1)"));
  EXPECT_TRUE(Has(text, R"(ispfailover_isp_active{isp="isp1",family="ipv4"} 0)"));
  EXPECT_TRUE(Has(text, R"(ispfailover_isp_active{isp="isp2",family="ipv4"} 1)"));
  for (std::string_view state : {"up", "degraded", "down", "stale"}) {
    std::string prefix = R"(ispfailover_isp_state{isp="isp1",family="ipv4",state=")";
    EXPECT_TRUE(Has(text, prefix + std::string(state) + "\"} " + (state == "down" ? "1" : "0")))
        << state;
  }
  EXPECT_TRUE(Has(text, R"(ispfailover_isp_state{isp="isp2",family="ipv4",state="up"} 1)"));
  EXPECT_TRUE(Has(text, R"(ispfailover_isp_rtt_seconds{isp="isp1",family="ipv4"} 0.0112)"));
  EXPECT_TRUE(Has(text, R"(ispfailover_isp_rtt_seconds{isp="isp2",family="ipv4"} 2)"));
  EXPECT_TRUE(Has(text, R"(ispfailover_isp_loss_ratio{isp="isp1",family="ipv4"} 0.045)"));
  EXPECT_TRUE(Has(text, R"(ispfailover_isp_loss_ratio{isp="isp2",family="ipv4"} 0)"));
  EXPECT_TRUE(Has(text, "ispfailover_switches_total 3"));
  EXPECT_TRUE(Has(
      text, R"(ispfailover_switch_transitions_total{from="isp1",to="isp2",reason="link-down"} 2)"));
  EXPECT_TRUE(Has(
      text, R"(ispfailover_switch_transitions_total{from="isp2",to="isp1",reason="failback"} 1)"));
  EXPECT_TRUE(Has(text, "ispfailover_datagrams_accepted_total 77"));
  // Every reason, 0 included, so that rate() works from the first refusal on.
  for (std::size_t i = 0; i < static_cast<std::size_t>(DropReason::kCount); ++i) {
    auto reason = static_cast<DropReason>(i);
    std::string line = "ispfailover_datagrams_refused_total{reason=\"" +
                       std::string(to_string(reason)) + "\"} " +
                       (reason == DropReason::kReplay ? "5" : "0");
    EXPECT_TRUE(Has(text, line)) << line;
  }
}

// Dual stack: the IPv6 side's ISPs appear with family="ipv6" in the same series, decided on
// their own (isp1's IPv6 is up and active while its IPv4 is down), and the IPv4 samples are
// exactly as before.
TEST(MetricsTest, FailoverdIpv6SamplesBesideIpv4) {
  StatusReport r = TwoIspReport();
  const std::string ipv4_only = failover_metrics(r);
  EXPECT_EQ(ipv4_only.find("family=\"ipv6\""), std::string::npos);
  EXPECT_EQ(ipv4_only.find("ispfailover_ipv6_switches_total"), std::string::npos);
  Ipv6Report six;
  six.isps = r.isps;
  six.isps[0].health = IspHealth::kUp;
  six.isps[1].health = IspHealth::kDown;
  six.active = 0;
  six.switches = 4;
  r.ipv6 = six;
  std::string text = failover_metrics(r);
  EXPECT_TRUE(Has(text, R"(ispfailover_isp_up{isp="isp1",family="ipv6"} 1)")) << text;
  EXPECT_TRUE(Has(text, R"(ispfailover_isp_active{isp="isp1",family="ipv6"} 1)"));
  EXPECT_TRUE(Has(text, R"(ispfailover_isp_active{isp="isp2",family="ipv6"} 0)"));
  EXPECT_TRUE(Has(text, R"(ispfailover_isp_state{isp="isp2",family="ipv6",state="down"} 1)"));
  EXPECT_TRUE(Has(text, R"(ispfailover_isp_up{isp="isp1",family="ipv4"} 0)"));
  EXPECT_TRUE(Has(text, R"(ispfailover_isp_active{isp="isp2",family="ipv4"} 1)"));
  EXPECT_TRUE(Has(text, "ispfailover_ipv6_switches_total 4"));
  // Connections ended, each family's own.
  r.sticky = true;
  r.resets_total = {{"isp1", 2}};
  r.ipv6->resets_total = {{"isp1", 5}};
  std::string ended = failover_metrics(r);
  EXPECT_TRUE(Has(ended, R"(ispfailover_isp_connections_ended_total{isp="isp1",family="ipv4"} 2)"))
      << ended;
  EXPECT_TRUE(Has(ended, R"(ispfailover_isp_connections_ended_total{isp="isp1",family="ipv6"} 5)"));
  EXPECT_TRUE(Has(ended, R"(ispfailover_isp_connections_ended_total{isp="isp2",family="ipv6"} 0)"));
  // Tracked connections, each family's own count (one mark covers both).
  r.connections = {{"isp1", 3}, {"isp2", 0}};
  r.ipv6->connections = {{"isp1", 4}, {"isp2", 1}};
  std::string tracked = failover_metrics(r);
  EXPECT_TRUE(Has(tracked, R"(ispfailover_isp_connections{isp="isp1",family="ipv4"} 3)"))
      << tracked;
  EXPECT_TRUE(Has(tracked, R"(ispfailover_isp_connections{isp="isp1",family="ipv6"} 4)"));
  EXPECT_TRUE(Has(tracked, R"(ispfailover_isp_connections{isp="isp2",family="ipv6"} 1)"));
  // The status keeps one number per ISP: both families together.
  auto table = render_status_table(to_json(r));
  ASSERT_TRUE(table) << table.error();
  EXPECT_NE(table->find("connections: isp1 7 sticky, isp2 1"), std::string::npos) << *table;
  EXPECT_TRUE(Has(text, "ispfailover_switches_total 3"));
  // One TYPE line per series: the IPv6 samples join the family, they do not start another.
  std::size_t types = 0;
  for (std::size_t at = text.find("# TYPE ispfailover_isp_up "); at != std::string::npos;
       at = text.find("# TYPE ispfailover_isp_up ", at + 1)) {
    ++types;
  }
  EXPECT_EQ(types, 1u);
}

TEST(MetricsTest, UnknownFiguresAreLeftOutAndDegradedCountsAsUp) {
  StatusReport r = TwoIspReport();
  r.isps[0].rtt_avg_us.reset();
  r.isps[0].since_last_seen.reset();  // never heard
  r.isps[1].health = IspHealth::kDegraded;
  r.active.reset();
  std::string text = failover_metrics(r);
  EXPECT_EQ(text.find(R"(ispfailover_isp_rtt_seconds{isp="isp1")"), std::string::npos);
  EXPECT_EQ(text.find(R"(ispfailover_isp_loss_ratio{isp="isp1")"), std::string::npos);
  EXPECT_TRUE(Has(text, R"(ispfailover_isp_up{isp="isp2",family="ipv4"} 1)"));
  EXPECT_TRUE(Has(text, R"(ispfailover_isp_active{isp="isp2",family="ipv4"} 0)"));
  // The family's HELP and TYPE stay even with no sample.
  EXPECT_TRUE(Has(text, "# TYPE ispfailover_isp_rtt_seconds gauge"));
}

TEST(MetricsTest, IspNamesAreEscapedInEverySeries) {
  StatusReport r = TwoIspReport();
  r.isps[0].config.name = "a\"b\\c";
  std::string text = failover_metrics(r);
  EXPECT_TRUE(Has(text, R"(ispfailover_isp_up{isp="a\"b\\c",family="ipv4"} 0)")) << text;
  EXPECT_EQ(text.find("a\"b\\c\""), std::string::npos);
}

TEST(MetricsTest, ProbedSeriesAndValues) {
  ProbeMetrics m;
  m.up = true;
  m.rtt_avg_us = 850;
  m.loss_permille = 200;
  m.probes_sent = 1000;
  m.probes_answered = {{"198.51.100.8", 480}, {"198.51.100.9", 0}};
  std::string text = probe_metrics(m);
  EXPECT_TRUE(Has(text, "# TYPE ispfailover_probe_up gauge"));
  EXPECT_TRUE(Has(text, "# TYPE ispfailover_probe_rtt_seconds gauge"));
  EXPECT_TRUE(Has(text, "# TYPE ispfailover_probe_loss_ratio gauge"));
  EXPECT_TRUE(Has(text, "# TYPE ispfailover_probes_sent_total counter"));
  EXPECT_TRUE(Has(text, "# TYPE ispfailover_probes_answered_total counter"));
  EXPECT_TRUE(Has(text, "ispfailover_probe_up 1"));
  EXPECT_TRUE(Has(text, "ispfailover_probe_rtt_seconds 0.00085"));
  EXPECT_TRUE(Has(text, "ispfailover_probe_loss_ratio 0.2"));
  EXPECT_TRUE(Has(text, "ispfailover_probes_sent_total 1000"));
  EXPECT_TRUE(Has(text, R"(ispfailover_probes_answered_total{target="198.51.100.8"} 480)"));
  EXPECT_TRUE(Has(text, R"(ispfailover_probes_answered_total{target="198.51.100.9"} 0)"));
  m.up = false;
  m.rtt_avg_us.reset();
  text = probe_metrics(m);
  EXPECT_TRUE(Has(text, "ispfailover_probe_up 0"));
  EXPECT_EQ(text.find("\nispfailover_probe_rtt_seconds "), std::string::npos);
}

// IPv6's verdict and figures are series of their own: the IPv4 ones keep their identity.
TEST(MetricsTest, ProbedIpv6SeriesOnlyWithIpv6Targets) {
  ProbeMetrics m;
  m.up = true;
  m.loss_permille = 0;
  EXPECT_EQ(probe_metrics(m).find("ipv6"), std::string::npos);
  m.ipv6 = ProbeMetrics::Ipv6Figures{false, 12000, 30};
  m.probes_answered = {{"198.51.100.8", 5}, {"2001:db8::8", 0}};
  std::string text = probe_metrics(m);
  EXPECT_TRUE(Has(text, "ispfailover_probe_up 1"));
  EXPECT_TRUE(Has(text, "# TYPE ispfailover_probe_ipv6_up gauge"));
  EXPECT_TRUE(Has(text, "ispfailover_probe_ipv6_up 0"));
  EXPECT_TRUE(Has(text, "ispfailover_probe_ipv6_rtt_seconds 0.012"));
  EXPECT_TRUE(Has(text, "ispfailover_probe_ipv6_loss_ratio 0.03"));
  EXPECT_TRUE(Has(text, R"(ispfailover_probes_answered_total{target="2001:db8::8"} 0)"));
}

}  // namespace
}  // namespace ispf

// ispprobed's shell: feeds the ProbeEngine from the seam and carries out what it decides.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ispfailover/core/config.h"
#include "ispfailover/core/probe_engine.h"
#include "ispfailover/core/rate_limit.h"
#include "ispfailover/io/env.h"
#include "ispfailover/io/run_daemon.h"
#include "options.h"

namespace ispf {

class ProbeShell final : public DaemonShell {
 public:
  explicit ProbeShell(Env& env) : env_(env) {}

  ParseOutcome configure(const std::vector<std::string>& args) override;
  std::string log_level() const override { return options_.log_level; }
  std::optional<std::string> start() override;
  std::optional<std::string> reload(const std::vector<std::string>& args) override;
  void refuse_reload(const std::string& why) override;
  void stop() override;

 private:
  // The adapters one configuration needs; a reload opens a full new set before it swaps any.
  // The watches always open; the prober and the sender only while their interface is there
  // (PPPoE, LTE and VLAN links come and go), and again whenever it comes back with a new index.
  struct Adapters {
    std::unique_ptr<LinkWatch> link;      // the uplink, by name
    std::unique_ptr<LinkWatch> lan_link;  // the LAN interface, by name (with --lan)
    std::unique_ptr<Prober> prober;       // ICMP, for the IPv4 targets
    std::unique_ptr<Prober> prober6;      // ICMPv6, only while there are IPv6 targets
    int prober_ifindex = 0;
    std::unique_ptr<DatagramSender> sender;
    int sender_ifindex = 0;
  };
  // Opens what `next` needs that `current` cannot serve (all of it when `current` is null).
  Result<Adapters, std::string> open_adapters(const ProbedOptions& next,
                                              const ProbedOptions* current);
  ProbeEngineConfig engine_config(const ProbedOptions& options,
                                  const std::vector<std::string>& keys) const;
  void carry_out(ProbeActions actions);
  // Opens the prober of `family` on the uplink as it is now; an uplink that is not there is no
  // error.
  Result<std::unique_ptr<Prober>, std::string> open_prober(const std::string& uplink,
                                                           Family family);
  // Both probers `options` needs (the ICMPv6 one only with IPv6 targets) into `adapters`; none
  // of them while the uplink is missing.
  std::optional<std::string> open_probers(const ProbedOptions& options, Adapters& adapters);
  // One round of the engine's, its targets split between the probers by family; the engine
  // gets one report, in its target order, once both halves are in.
  void start_round(const RoundRequest& request);
  // Opens the status socket for `options`' destinations; none yet (LAN missing or without an
  // address) is no error.
  Result<std::unique_ptr<DatagramSender>, std::string> open_sender(const ProbedOptions& options);
  void on_uplink(const LinkStatus& status);
  void on_lan(const LinkStatus& status);
  void reopen_sender(Now now);
  // How many targets the kernel routes out of the uplink now (all of them if it cannot say).
  RoutedTargets routed_targets(Now now);
  // Warnings about the adapters, each kind at most once a minute.
  enum class Warning { kProber, kSender, kNoDestination, kRouteLookup };
  void warn(const std::string& text, Warning kind, Now now);
  // This start's epoch: one more than the kept one (and never behind the clock), kept again.
  std::uint64_t take_epoch(Now now);

  Env& env_;
  ProbedOptions options_;
  std::vector<std::string> keys_;
  std::optional<ProbeEngine> engine_;
  Adapters adapters_;
  std::unique_ptr<Timer> timer_;
  std::uint16_t icmp_identifier_ = 0;
  TimePoint last_sender_attempt_{};
  PerKeyRateLimiter warnings_{std::chrono::minutes(1), 8};
  PerKeyRateLimiter metrics_error_log_{std::chrono::seconds(10), 1};
};

}  // namespace ispf

// ispprobed's shell: wires the prober, the link watch and the broadcaster to the Reachability core.
#pragma once

#include <asio.hpp>
#include <memory>
#include <optional>

#include "ispfailover/core/config.h"
#include "ispfailover/core/rate_limit.h"
#include "ispfailover/core/reachability.h"
#include "ispfailover/io/icmp_prober.h"
#include "ispfailover/io/link_watch.h"
#include "ispfailover/io/service_notifier.h"
#include "ispfailover/io/status_socket.h"

namespace ispf {

class ProbeDaemon {
 public:
  ProbeDaemon(asio::io_context& io, ServiceNotifier& notifier);
  // Opens the sockets; the error says which and why (EPERM: no CAP_NET_RAW).
  // With `keys`, every datagram is signed with the first.
  std::optional<std::string> start(const ProbedOptions& options, std::vector<std::string> keys);
  // A reloaded configuration; sockets are reopened only where their settings changed.
  std::optional<std::string> reconfigure(const ProbedOptions& options,
                                         std::vector<std::string> keys);
  void stop();
  // A refused reload: shown in front of STATUS= (and logged) until a reload succeeds.
  void set_config_problem(std::string problem);

 private:
  std::optional<std::string> open_prober();
  std::optional<std::string> open_link_watch();
  std::optional<std::string> open_sender();
  ReachabilityConfig reachability_config() const;
  void schedule_round();
  void on_round(const RoundReport& report);
  void on_link(const LinkStatus& status);
  void on_transition(const Transition& transition);
  void send_status();
  void schedule_heartbeat();
  void schedule_burst(std::size_t step);
  void update_service_status();
  std::string figures();

  asio::io_context& io_;
  ServiceNotifier& notifier_;
  ProbedOptions options_;
  std::vector<std::string> keys_;
  std::optional<Reachability> reachability_;
  std::unique_ptr<Prober> prober_;
  std::unique_ptr<LinkWatch> link_watch_;
  std::unique_ptr<StatusSender> sender_;
  asio::steady_timer round_timer_;
  asio::steady_timer heartbeat_timer_;
  asio::steady_timer burst_timer_;
  TimePoint next_round_{};
  std::uint64_t instance_ = 0;
  std::uint64_t seq_ = 0;
  std::uint16_t round_seq_ = 0;
  std::uint16_t icmp_identifier_ = 0;
  bool announced_ = false;  // nothing is broadcast until the first verdict
  bool stopped_ = false;
  std::string config_problem_;
  std::string since_text_ = "start";  // wall-clock time of the last up/down edge
  PerKeyRateLimiter send_error_log_{std::chrono::minutes(1), 4};
};

}  // namespace ispf

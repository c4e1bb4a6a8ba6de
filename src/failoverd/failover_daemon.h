// failoverd's shell: datagrams in, FailoverPolicy decides, the route writer makes it so.
#pragma once

#include <asio.hpp>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ispfailover/core/config.h"
#include "ispfailover/core/failover_policy.h"
#include "ispfailover/core/rate_limit.h"
#include "ispfailover/core/status_report.h"
#include "ispfailover/io/route_writer.h"
#include "ispfailover/io/service_notifier.h"
#include "ispfailover/io/status_socket.h"

namespace ispf {

class FailoverDaemon {
 public:
  FailoverDaemon(asio::io_context& io, ServiceNotifier& notifier,
                 std::unique_ptr<RouteWriter> writer);
  // Binds the port, reads the table (adopting our own route after a restart), deletes the
  // foreign routes it was told to replace and starts watching the table.
  std::optional<std::string> start(const FailoverOptions& options,
                                   const FailoverSettings& settings);
  std::optional<std::string> reconfigure(const FailoverOptions& options,
                                         const FailoverSettings& settings);
  void stop();
  // A refused reload: shown in front of STATUS= (and logged) until a reload succeeds.
  void set_config_problem(std::string problem);

 private:
  std::optional<std::string> open_listener(std::uint16_t port);
  void on_datagram(std::span<const char> bytes, std::uint32_t source);
  void count_drop(DropReason reason, std::uint32_t source, const std::string& detail);
  void evaluate(TimePoint now);
  void schedule_deadline(TimePoint now);
  // Makes the table match the decision: our route via the active gateway, foreign routes named
  // by --replace-gateway gone. `after_decision`: we changed it (else someone else did).
  void reconcile(bool after_decision);
  void schedule_retry();
  void publish(bool force);
  StatusReport report(TimePoint now) const;
  std::optional<std::uint32_t> desired_gateway() const;

  asio::io_context& io_;
  ServiceNotifier& notifier_;
  std::unique_ptr<RouteWriter> writer_;
  FailoverOptions options_;
  FailoverSettings settings_;
  std::optional<FailoverPolicy> policy_;
  std::unique_ptr<StatusListener> listener_;
  std::unique_ptr<RouteWatch> route_watch_;
  asio::steady_timer deadline_timer_;
  asio::steady_timer retry_timer_;
  asio::steady_timer publish_timer_;
  Duration retry_backoff_{};
  bool retry_pending_ = false;
  bool stopped_ = false;
  bool all_down_ = false;
  std::vector<IspHealth> last_health_;
  std::optional<TimePoint> active_since_;
  std::string last_switch_;
  std::string config_problem_;
  std::set<std::string> unverified_;   // ISPs that sign while we have no key
  std::vector<std::string> warnings_;  // configuration problems for people, in the status
  std::uint64_t accepted_ = 0;
  DropCounters drops_{};
  PerKeyRateLimiter drop_log_{std::chrono::minutes(1), 256};
  PerKeyRateLimiter netlink_error_log_{std::chrono::seconds(10), 4};
  TimePoint last_publish_{};
};

}  // namespace ispf

// failoverd's shell: feeds the FailoverEngine from the seam and carries out what it decides.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ispfailover/core/config.h"
#include "ispfailover/core/failover_engine.h"
#include "ispfailover/core/hooks.h"
#include "ispfailover/core/rate_limit.h"
#include "ispfailover/io/env.h"
#include "ispfailover/io/run_daemon.h"
#include "options.h"

namespace ispf {

class FailoverShell final : public DaemonShell {
 public:
  explicit FailoverShell(Env& env) : env_(env) {}

  ParseOutcome configure(const std::vector<std::string>& args) override;
  std::string log_level() const override { return options_.log_level; }
  std::optional<std::string> start() override;
  std::optional<std::string> reload(const std::vector<std::string>& args) override;
  void refuse_reload(const std::string& why) override;
  void stop() override;

  const FailoverEngine* engine() const { return engine_ ? &*engine_ : nullptr; }

 private:
  // Opens a listener whose datagrams go to the engine (not yet the running one: a reload
  // swaps it in only once everything new is open).
  IoResult<std::unique_ptr<DatagramListener>> open_listener(std::uint16_t port);
  void carry_out(FailoverActions actions);
  void read_table();
  void read_table6();
  void on_table_changed();
  std::string state_file() const;
  // Points the client's resolver at the engine's choice (--dns-manager).
  void apply_dns(const DnsUpdate& update);
  // Sticky connections and resets: the engine's wanted state put in place (again, after anyone
  // changed the ruleset, a rule or a route: `repair` logs what had to be put back), the
  // connections of dead ISPs ended, and the connections counted once a second for the status.
  ConnectionSteering* steering();
  void apply_steering(bool repair);
  void carry_out_resets(const std::vector<ConnectionReset>& resets);
  void count_connections();
  // Hooks: the events of one outermost carry_out go to the scheduler once its route edits are
  // done, so no fork comes before a route change; the scheduler's steps are carried out here.
  void say_hooks_at_start();
  HookSelection current_hooks();
  void dispatch_hooks();
  void carry_out_hooks(HookSteps steps);

  Env& env_;
  FailoverOptions options_;
  FailoverSettings settings_;
  std::optional<FailoverEngine> engine_;
  std::unique_ptr<DatagramListener> listener_;
  std::unique_ptr<RouteTable> table_;
  std::unique_ptr<TableWatch> watch_;
  std::unique_ptr<Timer> timer_;
  std::unique_ptr<ConnectionSteering> steering_;  // opened when the engine first asks for it
  std::unique_ptr<NftablesWatch> nft_watch_;
  std::optional<SteeringState> steering_state_;  // what the engine last asked for
  bool steering_failed_ = false;
  std::unique_ptr<Timer> count_timer_;
  std::optional<std::uint32_t> resolved_gateway_;  // where resolved mode last set per-link DNS
  bool busy_ = false;  // inside carry_out: a table change waits for it to finish
  bool table_changed_ = false;
  PerKeyRateLimiter file_error_log_{std::chrono::seconds(10), 4};
  std::optional<HookScheduler> hooks_;  // none before start and after stop
  std::vector<HookEvent> pending_hooks_;
  std::unique_ptr<Timer> hook_timer_;
  std::map<std::uint64_t, std::unique_ptr<HookProcess>> hook_processes_;  // by run id
};

}  // namespace ispf

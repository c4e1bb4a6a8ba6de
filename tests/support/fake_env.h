// The fake side of the seam: Env on virtual time, a FakeKernel, an in-process LAN and scripted
// probes. Pure C++ (no asio, no syscalls), for unit tests and the simulator.
//
// Nothing happens by itself: time moves only through FakeLoop::advance/run_until, and every
// event (a datagram, a link or table change, a probe round ending) is a task on the loop, run at
// its virtual time, never inside the call that caused it (as with a real event loop).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ispfailover/io/env.h"
#include "support/fake_kernel.h"

namespace ispf {

// Virtual time and the tasks waiting for it; one loop may be shared by many FakeEnvs (hosts).
class FakeLoop {
 public:
  using TaskId = std::uint64_t;
  // Steady time starts at an hour (not 0, so "long ago" exists); wall time at `wall_ms`.
  explicit FakeLoop(std::uint64_t wall_ms = 1'795'000'000'000ULL);

  TimePoint now() const { return now_; }
  std::uint64_t wall_ms() const;
  // Steps the wall clock only, as NTP or an admin may (the steady clock never jumps).
  void step_wall(std::int64_t ms) { wall_offset_ms_ += ms; }

  // Runs `task` at `when` (at once if that passed), after the tasks already due then.
  TaskId schedule(TimePoint when, std::function<void()> task);
  // Runs `task` at the current time, on the loop's next turn.
  TaskId post(std::function<void()> task) { return schedule(now_, std::move(task)); }
  void cancel(TaskId id);

  // Runs every task due up to `until` in time order (time moves to each task's time), then sets
  // the time to `until`. Tasks scheduled meanwhile run too if they are due by then.
  void run_until(TimePoint until);
  void advance(Duration d) { run_until(now_ + d); }
  // Runs the tasks due now (posted events), without moving time.
  void run_ready() { run_until(now_); }
  std::size_t pending() const { return tasks_.size(); }
  // When the next task is due, if any.
  std::optional<TimePoint> next_due() const;

 private:
  TimePoint now_;
  std::uint64_t wall_start_ms_;
  std::int64_t wall_offset_ms_ = 0;
  TaskId next_id_ = 1;
  std::map<std::pair<TimePoint, TaskId>, std::function<void()>> tasks_;
  std::map<TaskId, TimePoint> due_;
};

// One broadcast domain: a datagram sent to a port reaches every listener of that port on the
// LAN (any host, the sender's own included), with the sender's address, after `latency`.
class FakeLan {
 public:
  struct Datagram {
    std::uint16_t port = 0;
    std::uint32_t source = 0;
    std::uint32_t destination = 0;
    std::string bytes;
  };
  using Receiver = std::function<void(const Datagram&)>;

  explicit FakeLan(FakeLoop& loop) : loop_(loop) {}

  // Everything sent so far, in order (dropped ones too).
  const std::vector<Datagram>& sent() const { return sent_; }
  // Decides which datagrams arrive (return false to drop one); none set: all arrive.
  void set_filter(std::function<bool(const Datagram&)> filter) { filter_ = std::move(filter); }
  void set_latency(Duration latency) { latency_ = latency; }
  // A datagram from anywhere (a forger, a flood), delivered like a sent one.
  void inject(std::uint16_t port, std::uint32_t source, std::string bytes);

  // For FakeEnv.
  void send(const Datagram& datagram);
  int add_listener(std::uint16_t port, Receiver receiver);
  void remove_listener(int id);

 private:
  FakeLoop& loop_;
  std::vector<Datagram> sent_;
  std::function<bool(const Datagram&)> filter_;
  Duration latency_{};
  int next_id_ = 1;
  std::map<int, std::pair<std::uint16_t, Receiver>> listeners_;
};

// What sd_notify would have been told, in order ("READY=1", "STATUS=...", "WATCHDOG=1", ...).
class FakeNotifier final : public ServiceNotifier {
 public:
  void ready() override { events.push_back("READY=1"); }
  void status(std::string_view line) override { events.push_back("STATUS=" + std::string(line)); }
  void reloading() override { events.push_back("RELOADING=1"); }
  void reloaded() override { events.push_back("READY=1"); }
  void stopping() override { events.push_back("STOPPING=1"); }
  void watchdog() override { events.push_back("WATCHDOG=1"); }
  std::optional<Duration> watchdog_period() const override { return period; }

  std::vector<std::string> events;
  std::optional<Duration> period;
};

// Scripted ICMP: the test says how each target answers. The default script answers in 10 ms
// while the uplink is usable in the FakeKernel, and fails at once with ENETDOWN ("no-route")
// otherwise, as the real socket bound to a down device does.
struct ScriptedProbe {
  std::optional<Duration> rtt;              // an answer after rtt (if within the round's timeout)
  ProbeError error = ProbeError::kTimeout;  // without rtt: kTimeout (silence), kNoRoute (send
                                            // error, at once), kUnreachable (ICMP error, at once)
  std::error_code send_error;               // with kNoRoute
};
using ProbeScript = std::function<ScriptedProbe(const std::string& uplink, const IpAddress& target,
                                                std::uint16_t seq)>;

class FakeEnv final : public Env {
 public:
  // One host on a shared loop, kernel and LAN; `address` is its datagrams' source (host order).
  FakeEnv(FakeLoop& loop, FakeKernel& kernel, FakeLan& lan, std::uint32_t address);
  // A host on its own loop, kernel and LAN, at 192.168.56.10.
  FakeEnv();
  ~FakeEnv() override;

  FakeLoop& loop() { return *loop_; }
  FakeKernel& kernel() { return *kernel_; }
  FakeLan& lan() { return *lan_; }
  void advance(Duration d) { loop_->advance(d); }
  void run_until(TimePoint t) { loop_->run_until(t); }

  // --- Env ---
  Now now() override { return Now{loop_->now(), loop_->wall_ms()}; }
  std::uint64_t random64() override;
  std::unique_ptr<Timer> make_timer() override;
  IoResult<std::unique_ptr<DatagramListener>> listen(std::uint16_t port,
                                                     DatagramListener::Handler handler) override;
  IoResult<std::unique_ptr<DatagramSender>> open_sender(std::vector<std::uint32_t> destinations,
                                                        std::uint16_t port,
                                                        const std::string& device) override;
  IoResult<std::unique_ptr<Prober>> open_prober(const std::string& uplink, std::uint16_t identifier,
                                                Family family) override;
  IoResult<std::unique_ptr<LinkWatch>> watch_link(const std::string& ifname,
                                                  LinkWatch::Handler on_change) override;
  IoResult<std::unique_ptr<RouteTable>> open_route_table() override;
  IoResult<std::unique_ptr<TableWatch>> watch_table(TableWatch::Handler on_change) override;
  IoResult<std::unique_ptr<NftablesWatch>> watch_nftables(
      NftablesWatch::Handler on_change) override;
  IoResult<std::unique_ptr<ConnectionSteering>> open_steering() override;
  std::optional<std::uint32_t> ipv4_broadcast_of(const std::string& ifname) override;
  IoResult<bool> routes_via(const std::string& ifname, const IpAddress& destination) override {
    return kernel_->routes_via(ifname, destination);
  }
  IoResult<std::vector<Ipv4Prefix>> usable_prefixes() override {
    return kernel_->usable_prefixes();
  }
  IoResult<std::vector<Ipv6InterfaceAddress>> ipv6_addresses() override {
    return kernel_->ipv6_addresses();
  }
  IoResult<std::string> read_file(const std::string& path) override;
  std::string host_name() override { return host_name_; }
  std::error_code write_file_atomically(const std::string& path, std::string_view content) override;
  std::error_code set_link_dns(std::uint32_t gateway,
                               const std::vector<IpAddress>& servers) override;
  std::error_code revert_link_dns(std::uint32_t gateway) override;
  IoResult<HookListing> list_hooks(const std::string& dir) override;
  IoResult<std::unique_ptr<HookProcess>> run_hook(const std::string& path,
                                                  const std::vector<std::string>& environment,
                                                  HookCallbacks callbacks) override;
  bool has_capability(int capability) override;
  std::error_code keep_only_capability(int capability) override;
  ServiceNotifier& notifier() override { return notifier_; }
  void log(const LogEvent& event) override { logged_.push_back(event); }
  void set_log_level(std::string_view level) override { log_level_ = std::string(level); }

  // --- test hooks ---
  std::uint32_t address() const { return address_; }
  void set_host_name(std::string name) { host_name_ = std::move(name); }
  void set_random_seed(std::uint64_t seed) { random_state_ = seed; }
  // The next open (listen, open_sender, open_prober, watch_link, open_route_table, watch_table,
  // watch_nftables) fails with `error`.
  void fail_next_open(std::errc error) { open_failure_ = error; }
  // The next `count` sends (per destination) fail with `error` and send nothing.
  void fail_sends(std::errc error, int count = 1) {
    send_failure_ = error;
    send_failures_ = count;
  }
  // Every listener of this host counts `n` more datagrams dropped for lack of buffer.
  void add_overflows(std::uint64_t n) { overflows_ += n; }
  // While held, datagrams that arrive wait in their listener's socket and the loop does not
  // hand them over (a daemon busy elsewhere); read_pending() still takes them. Released, the
  // loop hands over what waits on its next turn.
  void hold_datagrams(bool held);
  void set_probe_script(ProbeScript script) { probe_script_ = std::move(script); }
  // Rounds started by any prober of this host, in order (uplink, request).
  const std::vector<std::pair<std::string, RoundRequest>>& rounds() const { return rounds_; }
  // Without a capability, open_prober fails with EPERM. All are held at first (root).
  void set_capability(int capability, bool held);
  // The files written, by path; a write failure for the next `count` writes.
  const std::map<std::string, std::string>& files() const { return files_; }
  void fail_writes(std::errc error, int count = 1) {
    write_failure_ = error;
    write_failures_ = count;
  }
  // systemd-resolved's per-link DNS as set_link_dns left it, by the gateway the link reaches.
  const std::map<std::uint32_t, std::vector<IpAddress>>& link_dns() const { return link_dns_; }
  // Hook directories that exist (list_hooks says ENOENT for any other), and every hook run:
  // a run ends when the test calls finish_hook (or, once killed, on the loop with SIGKILL).
  void set_hook_dir(const HookListing& listing) { hook_dirs_[listing.dir] = listing; }
  struct HookRunRecord {
    std::string path;
    std::vector<std::string> environment;
    HookCallbacks callbacks;
    bool killed = false;
    bool done = false;
  };
  const std::vector<std::shared_ptr<HookRunRecord>>& hook_runs() const { return hook_runs_; }
  void finish_hook(std::size_t index, const HookExit& exit);
  // The nftables ruleset changed (by the daemon or anyone): every live nftables watch is called
  // on the loop's next turn, once for changes made in the same turn (as one socket drain).
  void nftables_changed();
  // Connection steering: every state applied, every reset asked for (with what the next ones
  // report), the counts count() returns, and a failure for the next `count` applies.
  const std::vector<SteeringState>& steering_applied() const { return steering_applied_; }
  const std::vector<ConnectionReset>& resets() const { return resets_; }
  bool steering_removed() const { return steering_removed_; }
  // Someone else deleted what apply() put in place (`nft flush ruleset`): the next apply
  // writes it again.
  void lose_steering() { steering_removed_ = true; }
  // Our default route's gateway in the main table at each reset, in order: what the
  // applications' reconnects would have taken.
  const std::vector<std::optional<std::uint32_t>>& routes_at_resets() const {
    return routes_at_resets_;
  }
  // The same for our IPv6 default route: an IPv6 reset must come after the IPv6 route moved.
  const std::vector<std::optional<Ipv6Address>>& routes6_at_resets() const {
    return routes6_at_resets_;
  }
  void set_reset_outcome(const ResetOutcome& outcome) { reset_outcome_ = outcome; }
  void set_connection_counts(std::map<std::string, ConnectionCounts> counts) {
    connection_counts_ = std::move(counts);
  }
  void fail_steering(std::errc error, int count = 1) {
    steering_failure_ = error;
    steering_failures_ = count;
  }
  FakeNotifier& fake_notifier() { return notifier_; }
  const std::vector<LogEvent>& logged() const { return logged_; }
  const std::string& log_level() const { return log_level_; }

 private:
  class Listener;
  class Sender;
  class FakeProber;
  class FakeLinkWatch;
  class FakeRouteTable;
  class FakeTableWatch;
  class FakeNftablesWatch;
  class FakeTimer;
  class FakeHookProcess;
  class FakeSteering;
  std::optional<std::error_code> take_open_failure();

  std::unique_ptr<FakeLoop> own_loop_;
  std::unique_ptr<FakeKernel> own_kernel_;
  std::unique_ptr<FakeLan> own_lan_;
  FakeLoop* loop_;
  FakeKernel* kernel_;
  FakeLan* lan_;
  std::uint32_t address_;

  std::string host_name_ = "fakehost";
  std::uint64_t random_state_ = 0x9e3779b97f4a7c15ULL;
  std::optional<std::errc> open_failure_;
  std::errc send_failure_{};
  int send_failures_ = 0;
  std::uint64_t overflows_ = 0;
  bool datagrams_held_ = false;
  std::set<Listener*> listeners_;
  std::set<FakeNftablesWatch*> nftables_watches_;
  ProbeScript probe_script_;
  std::vector<std::pair<std::string, RoundRequest>> rounds_;
  std::set<int> missing_capabilities_;
  std::optional<int> kept_capability_;
  std::map<std::string, std::string> files_;
  std::map<std::uint32_t, std::vector<IpAddress>> link_dns_;
  std::errc write_failure_{};
  int write_failures_ = 0;
  std::map<std::string, HookListing> hook_dirs_;
  std::vector<std::shared_ptr<HookRunRecord>> hook_runs_;
  std::vector<SteeringState> steering_applied_;
  std::vector<ConnectionReset> resets_;
  std::vector<std::optional<std::uint32_t>> routes_at_resets_;
  std::vector<std::optional<Ipv6Address>> routes6_at_resets_;
  bool steering_removed_ = false;
  ResetOutcome reset_outcome_;
  std::map<std::string, ConnectionCounts> connection_counts_;
  std::errc steering_failure_{};
  int steering_failures_ = 0;
  FakeNotifier notifier_;
  std::vector<LogEvent> logged_;
  std::string log_level_ = "info";
};

}  // namespace ispf

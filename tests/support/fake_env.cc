// FakeEnv, FakeLoop and FakeLan: the seam on virtual time, every event a task on the loop.
#include "support/fake_env.h"

#include <algorithm>
#include <utility>

#include "ispfailover/core/config.h"

namespace ispf {
namespace {

constexpr int kCapNetRaw = 13;  // linux/capability.h, without including the kernel's header

std::error_code errc(std::errc e) { return std::make_error_code(e); }

// Destroyed adapters must never be called back: tasks hold a weak token of their owner.
using Token = std::shared_ptr<bool>;
Token make_token() { return std::make_shared<bool>(true); }

// A watch's handler, called once on the loop's next turn however often it was poked in this
// one (as one drain of a netlink socket), and never once the watch is gone.
class CoalescedCall {
 public:
  CoalescedCall(FakeLoop& loop, std::function<void()> handler)
      : loop_(loop), handler_(std::move(handler)) {}
  void poke() {
    if (pending_) return;
    pending_ = true;
    loop_.post([this, token = std::weak_ptr<bool>(token_)] {
      if (!token.lock()) return;
      pending_ = false;
      handler_();
    });
  }

 private:
  FakeLoop& loop_;
  std::function<void()> handler_;
  bool pending_ = false;
  Token token_ = make_token();
};

}  // namespace

// ---------------------------------------------------------------------------------- FakeLoop

FakeLoop::FakeLoop(std::uint64_t wall_ms)
    : now_(TimePoint(std::chrono::hours(1))), wall_start_ms_(wall_ms) {}

std::uint64_t FakeLoop::wall_ms() const {
  auto elapsed = std::chrono::duration_cast<milliseconds>(now_ - TimePoint(std::chrono::hours(1)));
  return static_cast<std::uint64_t>(static_cast<std::int64_t>(wall_start_ms_) + elapsed.count() +
                                    wall_offset_ms_);
}

FakeLoop::TaskId FakeLoop::schedule(TimePoint when, std::function<void()> task) {
  TaskId id = next_id_++;
  when = std::max(when, now_);
  tasks_.emplace(std::make_pair(when, id), std::move(task));
  due_[id] = when;
  return id;
}

void FakeLoop::cancel(TaskId id) {
  auto it = due_.find(id);
  if (it == due_.end()) return;
  tasks_.erase({it->second, id});
  due_.erase(it);
}

void FakeLoop::run_until(TimePoint until) {
  while (!tasks_.empty() && tasks_.begin()->first.first <= until) {
    auto it = tasks_.begin();
    now_ = std::max(now_, it->first.first);
    std::function<void()> task = std::move(it->second);
    due_.erase(it->first.second);
    tasks_.erase(it);
    task();
  }
  now_ = std::max(now_, until);
}

std::optional<TimePoint> FakeLoop::next_due() const {
  if (tasks_.empty()) return std::nullopt;
  return tasks_.begin()->first.first;
}

// ----------------------------------------------------------------------------------- FakeLan

void FakeLan::inject(std::uint16_t port, std::uint32_t source, std::string bytes) {
  send(Datagram{port, source, 0xffffffff, std::move(bytes)});
}

void FakeLan::send(const Datagram& datagram) {
  sent_.push_back(datagram);
  if (filter_ && !filter_(datagram)) return;
  loop_.schedule(loop_.now() + latency_, [this, datagram] {
    std::vector<int> ids;
    for (const auto& [id, listener] : listeners_) {
      if (listener.first == datagram.port) ids.push_back(id);
    }
    for (int id : ids) {
      auto it = listeners_.find(id);
      if (it == listeners_.end()) continue;  // closed by an earlier receiver
      Receiver receiver = it->second.second;
      receiver(datagram);
    }
  });
}

int FakeLan::add_listener(std::uint16_t port, Receiver receiver) {
  int id = next_id_++;
  listeners_[id] = {port, std::move(receiver)};
  return id;
}

void FakeLan::remove_listener(int id) { listeners_.erase(id); }

// ---------------------------------------------------------------------------------- adapters

class FakeEnv::FakeTimer final : public Timer {
 public:
  explicit FakeTimer(FakeLoop& loop) : loop_(loop) {}
  ~FakeTimer() override { cancel(); }
  void wake_at(TimePoint when, std::function<void()> fire) override {
    cancel();
    task_ = loop_.schedule(when, [this, fire = std::move(fire)] {
      task_.reset();
      fire();
    });
  }
  void cancel() override {
    if (task_) loop_.cancel(*task_);
    task_.reset();
  }

 private:
  FakeLoop& loop_;
  std::optional<FakeLoop::TaskId> task_;
};

// Arrivals queue as in a socket; the loop hands them over at once unless the test holds them.
class FakeEnv::Listener final : public DatagramListener {
 public:
  Listener(FakeEnv& env, std::uint16_t port, Handler handler)
      : env_(env), handler_(std::move(handler)) {
    id_ = env.lan().add_listener(port, [this](const FakeLan::Datagram& d) {
      queue_.push_back(d);
      if (!env_.datagrams_held_) deliver();
    });
    env_.listeners_.insert(this);
  }
  ~Listener() override {
    *alive_ = false;
    env_.lan().remove_listener(id_);
    env_.listeners_.erase(this);
  }
  std::uint64_t overflows() const override { return env_.overflows_; }
  void read_pending() override { deliver(); }

  void deliver() {
    auto alive = alive_;
    while (!queue_.empty()) {
      FakeLan::Datagram d = std::move(queue_.front());
      queue_.pop_front();
      // A copy: the handler may close this listener (a reload to another port).
      Handler handler = handler_;
      handler(std::span<const char>(d.bytes.data(), d.bytes.size()), d.source);
      if (!*alive) return;
    }
  }

 private:
  FakeEnv& env_;
  Handler handler_;
  int id_ = 0;
  std::deque<FakeLan::Datagram> queue_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

void FakeEnv::hold_datagrams(bool held) {
  datagrams_held_ = held;
  if (held) return;
  loop_->post([this] {
    std::vector<Listener*> listeners(listeners_.begin(), listeners_.end());
    for (Listener* listener : listeners) {
      if (listeners_.count(listener) && !datagrams_held_) listener->deliver();
    }
  });
}

class FakeEnv::Sender final : public DatagramSender {
 public:
  Sender(FakeEnv& env, std::vector<std::uint32_t> destinations, std::uint16_t port)
      : env_(env), destinations_(std::move(destinations)), port_(port) {}
  std::error_code send(std::string_view datagram) override {
    std::error_code first;
    for (std::uint32_t destination : destinations_) {
      if (env_.send_failures_ > 0) {
        --env_.send_failures_;
        if (!first) first = errc(env_.send_failure_);
        continue;
      }
      env_.lan().send(FakeLan::Datagram{port_, env_.address_, destination, std::string(datagram)});
    }
    return first;
  }

 private:
  FakeEnv& env_;
  std::vector<std::uint32_t> destinations_;
  std::uint16_t port_;
};

class FakeEnv::FakeProber final : public Prober {
 public:
  FakeProber(FakeEnv& env, std::string uplink, Family family)
      : env_(env), uplink_(std::move(uplink)), family_(family) {}
  ~FakeProber() override {
    for (FakeLoop::TaskId task : tasks_) env_.loop().cancel(task);
  }

  void start_round(const RoundRequest& request, RoundHandler done) override {
    env_.rounds_.emplace_back(uplink_, request);
    RoundReport report;
    report.sequence = request.sequence;
    report.started = env_.loop().now();
    Duration last{};
    bool waits_for_timeout = false;
    std::vector<LateReply> late;
    for (const IpAddress& target : request.targets) {
      ScriptedProbe scripted = script(target, request.sequence);
      ProbeOutcome outcome;
      outcome.target = target;
      if (target.family != family_) {
        // As the real prober: a socket of one family cannot send to the other.
        outcome.send_error = errc(std::errc::address_family_not_supported);
      } else if (scripted.rtt && *scripted.rtt < request.timeout) {
        outcome.rtt = scripted.rtt;
        outcome.error = ProbeError::kNone;
        last = std::max(last, *scripted.rtt);
      } else if (!scripted.rtt && scripted.error != ProbeError::kTimeout) {
        outcome.error = scripted.error;
        outcome.send_error = scripted.send_error;
      } else {
        outcome.error = ProbeError::kTimeout;
        waits_for_timeout = true;
        if (scripted.rtt) late.push_back(LateReply{request.sequence, target, *scripted.rtt});
      }
      report.probes.push_back(outcome);
    }
    // An answer slower than the timeout arrives after the round, as a late reply.
    for (const LateReply& reply : late) {
      auto late_cell = std::make_shared<FakeLoop::TaskId>(0);
      *late_cell = env_.loop().schedule(report.started + reply.rtt, [this, late_cell, reply] {
        tasks_.erase(*late_cell);
        if (late_handler_) late_handler_(reply);
      });
      tasks_.insert(*late_cell);
    }
    TimePoint at = report.started + (waits_for_timeout ? request.timeout : last);
    report.concluded = at;
    // The task's id is known only after scheduling; the task finds itself through a cell.
    auto id_cell = std::make_shared<FakeLoop::TaskId>(0);
    *id_cell = env_.loop().schedule(at, [this, id_cell, report, done = std::move(done)] {
      tasks_.erase(*id_cell);
      done(report);
    });
    tasks_.insert(*id_cell);
  }
  std::uint64_t ignored_packets() const override { return 0; }
  void on_late_reply(LateReplyHandler handler) override { late_handler_ = std::move(handler); }

 private:
  ScriptedProbe script(const IpAddress& target, std::uint16_t seq) {
    if (env_.probe_script_) return env_.probe_script_(uplink_, target, seq);
    ScriptedProbe probe;
    if (env_.kernel().link_status(uplink_).usable()) {
      probe.rtt = milliseconds(10);
    } else {
      probe.error = ProbeError::kNoRoute;
      probe.send_error = errc(std::errc::network_down);
    }
    return probe;
  }

  FakeEnv& env_;
  std::string uplink_;
  Family family_;
  std::set<FakeLoop::TaskId> tasks_;
  LateReplyHandler late_handler_;
};

class FakeEnv::FakeLinkWatch final : public LinkWatch {
 public:
  FakeLinkWatch(FakeEnv& env, std::string ifname, Handler handler)
      : env_(env), ifname_(std::move(ifname)), handler_(std::move(handler)) {
    status_ = env.kernel().link_status(ifname_);
    callback_ = env.kernel().on_link([this](const std::string& name, const LinkStatus& status) {
      if (name != ifname_) return;
      // Netlink delivers on the loop's next turn, every change in order.
      env_.loop().post([this, token = std::weak_ptr<bool>(token_), status] {
        if (!token.lock()) return;
        if (status == status_) return;
        status_ = status;
        handler_(status);
      });
    });
  }
  ~FakeLinkWatch() override { env_.kernel().remove_callback(callback_); }
  LinkStatus status() const override { return status_; }

 private:
  FakeEnv& env_;
  std::string ifname_;
  Handler handler_;
  LinkStatus status_;
  int callback_ = 0;
  Token token_ = make_token();
};

class FakeEnv::FakeRouteTable final : public RouteTable {
 public:
  explicit FakeRouteTable(FakeKernel& kernel) : kernel_(kernel) {}
  IoResult<std::vector<DefaultRoute>> default_routes(std::uint32_t table) override {
    return kernel_.default_routes(table);
  }
  std::error_code replace_default(const RouteSlot& slot, std::uint32_t gateway) override {
    return kernel_.replace_default(slot, gateway);
  }
  std::error_code remove_default(const RouteSlot& slot) override {
    return kernel_.remove_default(slot);
  }
  std::error_code delete_route(const DefaultRoute& route) override {
    return kernel_.delete_route(route);
  }
  IoResult<std::vector<DefaultRoute6>> default_routes6(std::uint32_t table) override {
    return kernel_.default_routes6(table);
  }
  std::error_code replace_default6(const RouteSlot& slot, const Route6Via& via) override {
    return kernel_.replace_default6(slot, via);
  }
  std::error_code remove_default6(const RouteSlot& slot) override {
    return kernel_.remove_default6(slot);
  }
  std::error_code delete_route6(const DefaultRoute6& route) override {
    return kernel_.delete_route6(route);
  }

 private:
  FakeKernel& kernel_;
};

class FakeEnv::FakeTableWatch final : public TableWatch {
 public:
  FakeTableWatch(FakeEnv& env, Handler handler) : env_(env), call_(env.loop(), std::move(handler)) {
    callback_ = env.kernel().on_change([this] { call_.poke(); });
  }
  ~FakeTableWatch() override { env_.kernel().remove_callback(callback_); }

 private:
  FakeEnv& env_;
  CoalescedCall call_;
  int callback_ = 0;
};

class FakeEnv::FakeNftablesWatch final : public NftablesWatch {
 public:
  FakeNftablesWatch(FakeEnv& env, Handler handler)
      : env_(env), call_(env.loop(), std::move(handler)) {
    env_.nftables_watches_.insert(this);
  }
  ~FakeNftablesWatch() override { env_.nftables_watches_.erase(this); }

  void changed() { call_.poke(); }

 private:
  FakeEnv& env_;
  CoalescedCall call_;
};

// ----------------------------------------------------------------------------------- FakeEnv

FakeEnv::FakeEnv(FakeLoop& loop, FakeKernel& kernel, FakeLan& lan, std::uint32_t address)
    : loop_(&loop), kernel_(&kernel), lan_(&lan), address_(address) {}

FakeEnv::FakeEnv()
    : own_loop_(std::make_unique<FakeLoop>()),
      own_kernel_(std::make_unique<FakeKernel>()),
      own_lan_(std::make_unique<FakeLan>(*own_loop_)),
      loop_(own_loop_.get()),
      kernel_(own_kernel_.get()),
      lan_(own_lan_.get()),
      address_(0xc0a8380a) {}

FakeEnv::~FakeEnv() = default;

std::uint64_t FakeEnv::random64() {
  // splitmix64: deterministic, so a failing simulation replays exactly.
  std::uint64_t z = (random_state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::unique_ptr<Timer> FakeEnv::make_timer() { return std::make_unique<FakeTimer>(*loop_); }

std::optional<std::error_code> FakeEnv::take_open_failure() {
  if (!open_failure_) return std::nullopt;
  auto e = errc(*open_failure_);
  open_failure_.reset();
  return e;
}

IoResult<std::unique_ptr<DatagramListener>> FakeEnv::listen(std::uint16_t port,
                                                            DatagramListener::Handler handler) {
  if (auto e = take_open_failure()) return fail(*e);
  return std::unique_ptr<DatagramListener>(new Listener(*this, port, std::move(handler)));
}

IoResult<std::unique_ptr<DatagramSender>> FakeEnv::open_sender(
    std::vector<std::uint32_t> destinations, std::uint16_t port, const std::string& device) {
  if (auto e = take_open_failure()) return fail(*e);
  if (!device.empty() && !kernel_->ifindex(device)) return fail(errc(std::errc::no_such_device));
  return std::unique_ptr<DatagramSender>(new Sender(*this, std::move(destinations), port));
}

IoResult<std::unique_ptr<Prober>> FakeEnv::open_prober(const std::string& uplink,
                                                       std::uint16_t /*identifier*/,
                                                       Family family) {
  if (auto e = take_open_failure()) return fail(*e);
  if (!has_capability(kCapNetRaw)) return fail(errc(std::errc::operation_not_permitted));
  if (!kernel_->ifindex(uplink)) return fail(errc(std::errc::no_such_device));
  return std::unique_ptr<Prober>(new FakeProber(*this, uplink, family));
}

IoResult<std::unique_ptr<LinkWatch>> FakeEnv::watch_link(const std::string& ifname,
                                                         LinkWatch::Handler on_change) {
  if (auto e = take_open_failure()) return fail(*e);
  return std::unique_ptr<LinkWatch>(new FakeLinkWatch(*this, ifname, std::move(on_change)));
}

IoResult<std::unique_ptr<RouteTable>> FakeEnv::open_route_table() {
  if (auto e = take_open_failure()) return fail(*e);
  return std::unique_ptr<RouteTable>(new FakeRouteTable(*kernel_));
}

// Records what the shell asks for; applying the state it already holds writes nothing.
class FakeEnv::FakeSteering final : public ConnectionSteering {
 public:
  explicit FakeSteering(FakeEnv& env) : env_(env) {}
  IoResult<std::vector<std::string>> apply(const SteeringState& state) override {
    if (env_.steering_failures_ > 0) {
      --env_.steering_failures_;
      return fail(errc(env_.steering_failure_));
    }
    if (!env_.steering_applied_.empty() && env_.steering_applied_.back() == state &&
        !env_.steering_removed_) {
      return std::vector<std::string>{};
    }
    env_.steering_applied_.push_back(state);
    env_.steering_removed_ = false;
    return std::vector<std::string>{"nftables table inet failoverd"};
  }
  std::string last_error_detail() const override { return ""; }
  std::error_code remove() override {
    env_.steering_removed_ = true;
    return {};
  }
  ResetOutcome reset(const ConnectionReset& reset) override {
    env_.resets_.push_back(reset);
    std::optional<std::uint32_t> gateway;
    if (auto routes = env_.kernel_->default_routes(254)) {
      for (const auto& route : *routes) {
        if (route.protocol == kRouteProtocol) gateway = route.gateway;
      }
    }
    env_.routes_at_resets_.push_back(gateway);
    std::optional<Ipv6Address> gateway6;
    if (auto routes = env_.kernel_->default_routes6(254)) {
      for (const auto& route : *routes) {
        if (route.protocol == kRouteProtocol) gateway6 = route.gateway;
      }
    }
    env_.routes6_at_resets_.push_back(gateway6);
    return env_.reset_outcome_;
  }
  IoResult<std::map<std::string, ConnectionCounts>> count(const SteeringState&) override {
    return env_.connection_counts_;
  }

 private:
  FakeEnv& env_;
};

IoResult<std::unique_ptr<ConnectionSteering>> FakeEnv::open_steering() {
  if (auto e = take_open_failure()) return fail(*e);
  return std::unique_ptr<ConnectionSteering>(new FakeSteering(*this));
}

IoResult<std::unique_ptr<TableWatch>> FakeEnv::watch_table(TableWatch::Handler on_change) {
  if (auto e = take_open_failure()) return fail(*e);
  return std::unique_ptr<TableWatch>(new FakeTableWatch(*this, std::move(on_change)));
}

IoResult<std::unique_ptr<NftablesWatch>> FakeEnv::watch_nftables(NftablesWatch::Handler on_change) {
  if (auto e = take_open_failure()) return fail(*e);
  return std::unique_ptr<NftablesWatch>(new FakeNftablesWatch(*this, std::move(on_change)));
}

void FakeEnv::nftables_changed() {
  for (FakeNftablesWatch* watch : nftables_watches_) watch->changed();
}

std::optional<std::uint32_t> FakeEnv::ipv4_broadcast_of(const std::string& ifname) {
  auto address = kernel_->address_of(ifname);
  if (!address || address->second >= 31) return std::nullopt;
  std::uint32_t mask = address->second == 0 ? 0 : ~std::uint32_t{0} << (32 - address->second);
  return address->first | ~mask;
}

IoResult<std::string> FakeEnv::read_file(const std::string& path) {
  auto found = files_.find(path);
  if (found == files_.end())
    return fail(std::make_error_code(std::errc::no_such_file_or_directory));
  return found->second;
}

std::error_code FakeEnv::write_file_atomically(const std::string& path, std::string_view content) {
  if (write_failures_ > 0) {
    --write_failures_;
    return errc(write_failure_);
  }
  files_[path] = std::string(content);
  return {};
}

namespace {

// Like the real side: only a link that is up with an address in the gateway's prefix will do.
bool reaches(FakeKernel& kernel, std::uint32_t gateway) {
  auto prefixes = kernel.usable_prefixes();
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](const Ipv4Prefix& p) { return p.contains(gateway); });
}

}  // namespace

std::error_code FakeEnv::set_link_dns(std::uint32_t gateway,
                                      const std::vector<IpAddress>& servers) {
  if (!reaches(*kernel_, gateway)) return errc(std::errc::no_such_device_or_address);
  link_dns_[gateway] = servers;
  return {};
}

std::error_code FakeEnv::revert_link_dns(std::uint32_t gateway) {
  if (!reaches(*kernel_, gateway)) return errc(std::errc::no_such_device_or_address);
  link_dns_.erase(gateway);
  return {};
}

class FakeEnv::FakeHookProcess final : public HookProcess {
 public:
  FakeHookProcess(FakeLoop& loop, std::shared_ptr<HookRunRecord> run)
      : loop_(loop), run_(std::move(run)) {}
  // Like the real one: the exit of a killed run comes later, on the loop.
  ~FakeHookProcess() override {
    run_->callbacks = {};
    kill();
  }
  void kill() override {
    if (run_->done || run_->killed) return;
    run_->killed = true;
    loop_.post([run = run_] {
      if (run->done) return;
      run->done = true;
      auto on_exit = std::move(run->callbacks.on_exit);
      run->callbacks = {};
      if (on_exit) on_exit(HookExit{true, 9});
    });
  }

 private:
  FakeLoop& loop_;
  std::shared_ptr<HookRunRecord> run_;
};

IoResult<HookListing> FakeEnv::list_hooks(const std::string& dir) {
  auto found = hook_dirs_.find(dir);
  if (found == hook_dirs_.end()) return fail(errc(std::errc::no_such_file_or_directory));
  return found->second;
}

IoResult<std::unique_ptr<HookProcess>> FakeEnv::run_hook(
    const std::string& path, const std::vector<std::string>& environment, HookCallbacks callbacks) {
  auto run = std::make_shared<HookRunRecord>();
  run->path = path;
  run->environment = environment;
  run->callbacks = std::move(callbacks);
  hook_runs_.push_back(run);
  return std::unique_ptr<HookProcess>(std::make_unique<FakeHookProcess>(*loop_, run));
}

void FakeEnv::finish_hook(std::size_t index, const HookExit& exit) {
  auto& run = *hook_runs_.at(index);
  if (run.done) return;
  run.done = true;
  auto on_exit = std::move(run.callbacks.on_exit);
  run.callbacks = {};
  if (on_exit) on_exit(exit);
}

bool FakeEnv::has_capability(int capability) {
  if (kept_capability_ && *kept_capability_ != capability) return false;
  return !missing_capabilities_.count(capability);
}

std::error_code FakeEnv::keep_only_capability(int capability) {
  // As the real one: a no-op without the capability itself.
  if (has_capability(capability)) kept_capability_ = capability;
  return {};
}

void FakeEnv::set_capability(int capability, bool held) {
  if (held) {
    missing_capabilities_.erase(capability);
  } else {
    missing_capabilities_.insert(capability);
  }
}

}  // namespace ispf

// LinuxEnv: each Env method handed to its adapter in src/io; timers are asio steady timers.
#include "ispfailover/io/linux_env.h"

#include <fcntl.h>
#include <net/if.h>
#include <sys/random.h>
#include <unistd.h>

#include <asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <random>

#include "hook_runner.h"
#include "icmp_prober.h"
#include "interfaces.h"
#include "link_watch.h"
#include "logging.h"
#include "nftables.h"
#include "privileges.h"
#include "resolved_link.h"
#include "route_table.h"
#include "service_notifier.h"
#include "status_file.h"
#include "status_socket.h"
#include "steering.h"

namespace ispf {
namespace {

class AsioTimer final : public Timer {
 public:
  explicit AsioTimer(asio::io_context& io) : timer_(io) {}
  ~AsioTimer() override { state_->generation = 0; }

  void wake_at(TimePoint when, std::function<void()> fire) override {
    // A handler that already completed cannot be cancelled: the generation tells it it is stale.
    std::uint64_t generation = ++next_generation_;
    state_->generation = generation;
    state_->fire = std::move(fire);
    timer_.expires_at(when);
    timer_.async_wait([state = std::weak_ptr<State>(state_), generation](std::error_code ec) {
      auto s = state.lock();
      if (ec || !s || s->generation != generation) return;
      s->generation = 0;
      auto callback = std::move(s->fire);
      callback();  // may re-arm or destroy the timer: nothing of it is touched after this
    });
  }

  void cancel() override {
    state_->generation = 0;
    state_->fire = nullptr;
    timer_.cancel();
  }

 private:
  struct State {
    std::uint64_t generation = 0;  // of the wait that may fire; 0 for none
    std::function<void()> fire;
  };
  asio::steady_timer timer_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
  std::uint64_t next_generation_ = 0;
};

template <class Base, class T>
IoResult<std::unique_ptr<Base>> upcast(IoResult<std::unique_ptr<T>> result) {
  if (!result) return fail(result.error());
  return std::unique_ptr<Base>(std::move(*result));
}

}  // namespace

LinuxEnv::LinuxEnv(asio::io_context& io, std::string program_name)
    : io_(io),
      notifier_(std::make_unique<SystemdNotifier>()),
      log_(std::make_unique<EventLog>(std::move(program_name))) {}

struct LinuxEnv::RouteQuery {
  NlSocket socket;
};

LinuxEnv::~LinuxEnv() = default;

Now LinuxEnv::now() {
  auto wall = std::chrono::system_clock::now().time_since_epoch();
  return Now{Clock::now(),
             static_cast<std::uint64_t>(
                 std::chrono::duration_cast<std::chrono::milliseconds>(wall).count())};
}

std::uint64_t LinuxEnv::random64() {
  std::uint64_t value = 0;
  if (::getrandom(&value, sizeof value, 0) == static_cast<ssize_t>(sizeof value)) return value;
  std::random_device device;  // getrandom cannot fail after boot, but never return a constant
  return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

std::unique_ptr<Timer> LinuxEnv::make_timer() { return std::make_unique<AsioTimer>(io_); }

IoResult<std::unique_ptr<DatagramListener>> LinuxEnv::listen(std::uint16_t port,
                                                             DatagramListener::Handler handler) {
  return upcast<DatagramListener>(UdpListener::open(io_, port, std::move(handler)));
}

IoResult<std::unique_ptr<DatagramSender>> LinuxEnv::open_sender(
    std::vector<std::uint32_t> destinations, std::uint16_t port, const std::string& device) {
  return upcast<DatagramSender>(UdpSender::open(io_, std::move(destinations), port, device));
}

IoResult<std::unique_ptr<Prober>> LinuxEnv::open_prober(const std::string& uplink,
                                                        std::uint16_t identifier, Family family) {
  return upcast<Prober>(IcmpProber::open(io_, uplink, identifier, family));
}

IoResult<std::unique_ptr<LinkWatch>> LinuxEnv::watch_link(const std::string& ifname,
                                                          LinkWatch::Handler on_change) {
  return upcast<LinkWatch>(NetlinkLinkWatch::open(io_, ifname, std::move(on_change)));
}

IoResult<std::unique_ptr<RouteTable>> LinuxEnv::open_route_table() {
  return upcast<RouteTable>(NetlinkRouteTable::open());
}

IoResult<std::unique_ptr<TableWatch>> LinuxEnv::watch_table(TableWatch::Handler on_change) {
  return upcast<TableWatch>(NetlinkTableWatch::open(io_, std::move(on_change)));
}

IoResult<std::unique_ptr<NftablesWatch>> LinuxEnv::watch_nftables(
    NftablesWatch::Handler on_change) {
  return upcast<NftablesWatch>(LinuxNftablesWatch::open(io_, std::move(on_change)));
}

IoResult<std::unique_ptr<ConnectionSteering>> LinuxEnv::open_steering() {
  return upcast<ConnectionSteering>(LinuxSteering::open());
}

std::optional<std::uint32_t> LinuxEnv::ipv4_broadcast_of(const std::string& ifname) {
  return ispf::ipv4_broadcast_of(ifname);
}

IoResult<bool> LinuxEnv::routes_via(const std::string& ifname, const IpAddress& destination) {
  unsigned ifindex = if_nametoindex(ifname.c_str());
  if (ifindex == 0) return false;
  if (!route_query_) {
    auto socket = open_route_socket();
    if (!socket) return fail(socket.error());
    route_query_ = std::make_unique<RouteQuery>(RouteQuery{std::move(*socket)});
  }
  auto routed = fib_routes_via(route_query_->socket.get(), static_cast<int>(ifindex), destination);
  // A socket that failed once may hold a half-read answer: the next question gets a new one.
  if (!routed) route_query_.reset();
  return routed;
}

std::string LinuxEnv::host_name() { return ispf::host_name(); }

IoResult<std::vector<Ipv4Prefix>> LinuxEnv::usable_prefixes() { return ispf::usable_prefixes(); }

IoResult<std::vector<Ipv6InterfaceAddress>> LinuxEnv::ipv6_addresses() {
  // A socket of its own each time: two cache dumps, rare enough (after a table event).
  auto socket = open_route_socket();
  if (!socket) return fail(socket.error());
  return list_ipv6_addresses(socket->get());
}

IoResult<std::string> LinuxEnv::read_file(const std::string& path) {
  // Small files only (state, keys): a larger one is not ours.
  constexpr std::size_t kMaxBytes = 1 << 20;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return fail(std::error_code(errno, std::system_category()));
  std::string content;
  char buffer[4096];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::error_code error(errno, std::system_category());
      ::close(fd);
      return fail(error);
    }
    if (n == 0) break;
    content.append(buffer, static_cast<std::size_t>(n));
    if (content.size() > kMaxBytes) {
      ::close(fd);
      return fail(std::make_error_code(std::errc::file_too_large));
    }
  }
  ::close(fd);
  return content;
}

std::error_code LinuxEnv::write_file_atomically(const std::string& path, std::string_view content) {
  return ispf::write_file_atomically(path, content);
}

std::error_code LinuxEnv::set_link_dns(std::uint32_t gateway,
                                       const std::vector<IpAddress>& servers) {
  auto link = link_reaching(gateway);
  if (!link) return link.error();
  return resolved_set_link_dns(*link, servers);
}

std::error_code LinuxEnv::revert_link_dns(std::uint32_t gateway) {
  auto link = link_reaching(gateway);
  if (!link) return link.error();
  return resolved_revert_link(*link);
}

IoResult<HookListing> LinuxEnv::list_hooks(const std::string& dir) { return list_hook_dir(dir); }

IoResult<std::unique_ptr<HookProcess>> LinuxEnv::run_hook(
    const std::string& path, const std::vector<std::string>& environment, HookCallbacks callbacks) {
  return start_hook(io_, path, environment, std::move(callbacks));
}

bool LinuxEnv::has_capability(int capability) { return ispf::has_capability(capability); }

std::error_code LinuxEnv::keep_only_capability(int capability) {
  return ispf::keep_only_capability(capability);
}

ServiceNotifier& LinuxEnv::notifier() { return *notifier_; }

void LinuxEnv::log(const LogEvent& event) { log_->log(event); }

void LinuxEnv::set_log_level(std::string_view level) { log_->set_level(level); }

}  // namespace ispf

// The seam's contract against LinuxEnv: real links, addresses and routes in a namespace.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>

#include "contract/env_contract.h"
#include "ispfailover/core/config.h"
#include "ispfailover/io/linux_env.h"
#include "support/netns.h"

namespace ispf::contract {
namespace {

using std::chrono::milliseconds;

// The host namespace (where the Env lives, entered for the World's whole life, so that sockets
// the Env opens late, e.g. to re-query a link, are opened there too) and a peer namespace that
// holds the far end of each link.
class RealWorld {
 public:
  RealWorld() : entered_(std::make_unique<test::EnterNetns>(host_)) {
    // No automatic link-local address on the links made from here on: the fake has none, and
    // one would sit tentative for a second or two after every link came up.
    host_.Must("sysctl -qw net.ipv6.conf.default.addr_gen_mode=1");
  }
  ~RealWorld() {
    if (!hook_dir_.empty()) std::filesystem::remove_all(hook_dir_);
  }

  Env& env() { return env_; }

  void add_link(const std::string& name) {
    test::AddVeth(host_, name, peer_, name + "p");
    if (name == "lan0") peer_.Must("ip addr add 192.168.56.101/24 brd + dev lan0p");
  }
  void set_link(const std::string& name, bool admin_up) {
    host_.Must("ip link set " + name + (admin_up ? " up" : " down"));
  }
  void set_carrier(const std::string& name, bool carrier) {
    peer_.Must("ip link set " + name + "p" + (carrier ? " up" : " down"));
  }
  void delete_link(const std::string& name) { host_.Must("ip link del " + name); }
  void rename_link(const std::string& from, const std::string& to) {
    host_.Must("ip link set " + from + " name " + to);
  }
  void add_address(const std::string& name, const std::string& cidr) {
    host_.Must("ip addr add " + cidr + " brd + dev " + name);
  }
  void flush_addresses(const std::string& name) { host_.Must("ip addr flush dev " + name); }
  int ifindex(const std::string& name) {
    return static_cast<int>(if_nametoindex(name.c_str()));  // we are in the host namespace
  }
  bool add_foreign_default_route(std::uint32_t gateway, int protocol, std::uint32_t metric,
                                 std::uint32_t table) {
    return host_
        .Run("ip route append default via " + format_ipv4(gateway) + " proto " +
             std::to_string(protocol) + " metric " + std::to_string(metric) + " table " +
             std::to_string(table))
        .ok();
  }
  void add_address6(const std::string& name, const std::string& cidr) {
    host_.Must("ip -6 addr add " + cidr + " dev " + name + " nodad");
  }
  void add_deprecated_address6(const std::string& name, const std::string& cidr) {
    host_.Must("ip -6 addr add " + cidr + " dev " + name +
               " nodad preferred_lft 0 valid_lft forever");
  }
  // A hundred probes a second apart: duplicate address detection outlasts any test.
  void add_tentative_address6(const std::string& name, const std::string& cidr) {
    host_.Must("sysctl -qw net.ipv6.conf." + name + ".dad_transmits=100 && ip -6 addr add " + cidr +
               " dev " + name);
  }
  bool add_foreign_default_route6(const Ipv6Address& gateway, const std::string& ifname,
                                  int protocol, std::uint32_t metric, std::uint32_t table) {
    return host_
        .Run("ip -6 route append default via " + format_ipv6(gateway) +
             (ifname.empty() ? "" : " dev " + ifname) + " proto " + std::to_string(protocol) +
             " metric " + std::to_string(metric) + " table " + std::to_string(table))
        .ok();
  }
  void send_from_peer(std::uint16_t port, const std::string& bytes) {
    test::EnterNetns inside(peer_);
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket in the peer failed");
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(kHostAddress);
    ssize_t n =
        ::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    ::close(fd);
    if (n != static_cast<ssize_t>(bytes.size())) throw std::runtime_error("sendto failed");
  }
  bool await(const std::function<bool()>& condition) {
    return test::RunUntil(io_, condition, milliseconds(3000));
  }
  // Netlink events come within milliseconds; a quarter second is ample to see none came.
  void settle() { test::RunFor(io_, milliseconds(250)); }
  std::string add_hook_dir(const std::vector<std::pair<std::string, std::uint32_t>>& hooks) {
    char pattern[] = "/tmp/ispf-contract-hooks-XXXXXX";
    if (!mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
    hook_dir_ = pattern;
    for (const auto& [name, mode] : hooks) {
      std::string path = hook_dir_ + "/" + name;
      std::ofstream(path) << "#!/bin/sh\nexec sleep 1000\n";
      ::chmod(path.c_str(), mode);
    }
    return hook_dir_;
  }

 private:
  test::Netns host_{"host"};
  test::Netns peer_{"peer"};
  std::unique_ptr<test::EnterNetns> entered_;
  asio::io_context io_;
  LinuxEnv env_{io_, "contract"};
  std::string hook_dir_;
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Linux, EnvContract, RealWorld);

}  // namespace ispf::contract

// The seam's contract against FakeEnv on a FakeKernel: what the kernel tests saw, the fake does.
#include <map>
#include <stdexcept>

#include "contract/env_contract.h"
#include "ispfailover/core/config.h"
#include "support/fake_env.h"

namespace ispf::contract {
namespace {

// FakeEnv with veth habits: a link's carrier needs both ends up, and taking our end down takes
// the carrier with it.
class FakeWorld {
 public:
  Env& env() { return env_; }

  void add_link(const std::string& name) {
    peer_up_[name] = true;
    env_.kernel().add_link(name, true, true);
  }
  void set_link(const std::string& name, bool admin_up) {
    admin_up_[name] = admin_up;
    sync(name);
  }
  void set_carrier(const std::string& name, bool carrier) {
    peer_up_[name] = carrier;
    sync(name);
  }
  void delete_link(const std::string& name) {
    env_.kernel().delete_link(name);
    admin_up_.erase(name);
  }
  void rename_link(const std::string& from, const std::string& to) {
    env_.kernel().rename_link(from, to);
    peer_up_[to] = peer_up_[from];
    admin_up_[to] = admin_up_.count(from) ? admin_up_[from] : true;
  }
  void add_address(const std::string& name, const std::string& cidr) {
    auto slash = cidr.find('/');
    auto address = parse_ipv4(cidr.substr(0, slash));
    if (!address) throw std::runtime_error("bad address " + cidr);
    env_.kernel().add_address(name, *address, std::stoi(cidr.substr(slash + 1)));
  }
  void flush_addresses(const std::string& name) { env_.kernel().flush_addresses(name); }
  int ifindex(const std::string& name) { return env_.kernel().ifindex(name).value_or(0); }
  bool add_foreign_default_route(std::uint32_t gateway, int protocol, std::uint32_t metric,
                                 std::uint32_t table) {
    return !env_.kernel().add_route(
        DefaultRoute{gateway, metric, static_cast<std::uint8_t>(protocol), 0, table});
  }
  void add_address6(const std::string& name, const std::string& cidr) {
    add_address6_as(name, cidr, {});
  }
  void add_deprecated_address6(const std::string& name, const std::string& cidr) {
    add_address6_as(name, cidr, {.deprecated = true});
  }
  void add_tentative_address6(const std::string& name, const std::string& cidr) {
    add_address6_as(name, cidr, {.tentative = true});
  }
  bool add_foreign_default_route6(const Ipv6Address& gateway, const std::string& ifname,
                                  int protocol, std::uint32_t metric, std::uint32_t table) {
    int index = ifname.empty() ? 0 : ifindex(ifname);
    return !env_.kernel().add_route6(
        DefaultRoute6{gateway, index, metric, static_cast<std::uint8_t>(protocol), table, {}});
  }
  void send_from_peer(std::uint16_t port, const std::string& bytes) {
    env_.lan().inject(port, kPeerAddress, bytes);
  }
  // Virtual time: ten seconds of it cost nothing, and a missing event still fails the test.
  bool await(const std::function<bool()>& condition) {
    for (int i = 0; i < 1000; ++i) {
      if (condition()) return true;
      env_.advance(milliseconds(10));
    }
    return condition();
  }
  void settle() { env_.advance(std::chrono::seconds(1)); }
  std::string add_hook_dir(const std::vector<std::pair<std::string, std::uint32_t>>& hooks) {
    HookListing listing{
        "/etc/ispfailover/hooks.d", HookFileStat{"", false, true, 0, 040755}, {}, 0};
    for (const auto& [name, mode] : hooks) {
      listing.entries.push_back(HookFileStat{name, true, false, 0, 0100000 | mode});
    }
    env_.set_hook_dir(listing);
    return listing.dir;
  }

 private:
  void add_address6_as(const std::string& name, const std::string& cidr,
                       FakeKernel::Address6State state) {
    auto slash = cidr.find('/');
    auto address = parse_ipv6(cidr.substr(0, slash));
    if (!address || slash == std::string::npos) throw std::runtime_error("bad address " + cidr);
    env_.kernel().add_address6(name, *address, std::stoi(cidr.substr(slash + 1)), state);
  }
  void sync(const std::string& name) {
    bool admin = admin_up_.count(name) ? admin_up_[name] : true;
    env_.kernel().set_link(name, admin, admin && peer_up_[name]);
  }

  FakeEnv env_;
  std::map<std::string, bool> peer_up_;
  std::map<std::string, bool> admin_up_;
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Fake, EnvContract, FakeWorld);

}  // namespace ispf::contract

// The seam's contract: one set of test bodies, run against the real LinuxEnv in a network
// namespace (kernel_tests) and against FakeEnv on a FakeKernel (unit_tests). Whatever the fake
// promises here, the kernel was seen to do.
//
// A World (the type parameter) gives the test an Env and hands on the host it lives on:
//   Env& env();
//   void add_link(name);                 // a veth-like link, admin up, carrier once its peer is
//   void set_link(name, admin_up);       // ip link set NAME up|down (down takes the carrier too)
//   void set_carrier(name, carrier);     // the peer's end up or down
//   void delete_link(name);  void rename_link(from, to);   // rename needs the link down
//   void add_address(name, "a.b.c.d/len");  void flush_addresses(name);
//   int ifindex(name);
//   bool add_foreign_default_route(gateway, protocol, metric, table);  // `ip route append`
//   void add_address6(name, "2001:db8:1:1::10/64");  // nodad: usable at once
//   void add_deprecated_address6(name, cidr);          // nodad, preferred_lft 0
//   void add_tentative_address6(name, cidr);           // DAD runs and will not finish in a test
//   bool add_foreign_default_route6(gateway, ifname, protocol, metric, table);  // `ip -6 route
//                                        // append`; ifname "" for none
// Links carry no automatic IPv6 link-local address (the real world makes them with
// addr_gen_mode none): the tests add the ones they want, so both sides hold the same addresses.
//   void send_from_peer(port, bytes);    // a datagram from kPeerAddress to the host's kHostAddress
//   std::string add_hook_dir({{name, mode}, ...});  // a hook dir of ours, each hook hanging
//                                                     // (sleep 1000) until killed; its path
//   bool await(condition);               // runs the loop until condition(), with a deadline
//   void settle();                       // runs the loop until pending events must have come
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ispfailover/io/env.h"

namespace ispf::contract {

constexpr std::uint32_t kHostAddress = 0xc0a8380a;   // 192.168.56.10, on lan0
constexpr std::uint32_t kPeerAddress = 0xc0a83865;   // 192.168.56.101, lan0's peer
constexpr std::uint32_t kOtherGateway = 0xc0a83866;  // 192.168.56.102, in lan0's prefix
constexpr std::uint32_t kThirdGateway = 0xc0a83867;  // 192.168.56.103, in lan0's prefix
constexpr std::uint32_t kFarGateway = 0x0a090909;    // 10.9.9.9, in no prefix
constexpr std::uint16_t kPort = 1500;
constexpr RouteSlot kSlot{254, 50, 150};

inline std::string Describe(const std::vector<DefaultRoute>& routes) {
  std::string text;
  for (const auto& r : routes) {
    text += "[gw " + std::to_string(r.gateway) + " metric " + std::to_string(r.metric) + " proto " +
            std::to_string(r.protocol) + " ifindex " + std::to_string(r.ifindex) + " table " +
            std::to_string(r.table) + "] ";
  }
  return text.empty() ? "(none)" : text;
}

inline Ipv6Address V6(const char* text) {
  auto address = parse_ipv6(text);
  if (!address) throw std::invalid_argument(std::string("bad IPv6 literal ") + text);
  return *address;
}

inline std::string Describe(const std::vector<DefaultRoute6>& routes) {
  std::string text;
  for (const auto& r : routes) {
    text += "[gw " + format_ipv6(r.gateway) + " ifindex " + std::to_string(r.ifindex) + " metric " +
            std::to_string(r.metric) + " proto " + std::to_string(r.protocol) + " table " +
            std::to_string(r.table) + " src " +
            (r.preferred_source ? format_ipv6(*r.preferred_source) : "-") + "] ";
  }
  return text.empty() ? "(none)" : text;
}

inline std::string Describe(const std::vector<Ipv6InterfaceAddress>& addresses) {
  std::string text;
  for (const auto& a : addresses) {
    text += "[" + format_ipv6(a.address) + "/" + std::to_string(a.prefix_length) + " " + a.ifname +
            "#" + std::to_string(a.ifindex) + (a.deprecated ? " deprecated" : "") + "] ";
  }
  return text.empty() ? "(none)" : text;
}

template <class World>
class EnvContract : public ::testing::Test {
 protected:
  // lan0 up with 192.168.56.10/24, the route table open, the table watch counting.
  void SetUpLan() {
    world_.add_link("lan0");
    world_.add_address("lan0", "192.168.56.10/24");
    ASSERT_TRUE(world_.await([&] { return Link("lan0").usable(); })) << "lan0 never came up";
    auto table = world_.env().open_route_table();
    ASSERT_TRUE(table.has_value()) << table.error().message();
    table_ = std::move(*table);
  }

  void WatchTable() {
    auto watch = world_.env().watch_table([this] { ++table_events_; });
    ASSERT_TRUE(watch.has_value()) << watch.error().message();
    table_watch_ = std::move(*watch);
  }

  LinkStatus Link(const std::string& name) {
    if (!link_watches_.count(name)) {
      auto watch = world_.env().watch_link(
          name, [this, name](const LinkStatus& status) { reports_[name].push_back(status); });
      if (!watch) {
        ADD_FAILURE() << "watch_link(" << name << "): " << watch.error().message();
        return {};
      }
      link_watches_[name] = std::move(*watch);
    }
    return link_watches_[name]->status();
  }

  std::vector<DefaultRoute> Routes(std::uint32_t table = 254) {
    auto routes = table_->default_routes(table);
    if (!routes) {
      ADD_FAILURE() << "default_routes: " << routes.error().message();
      return {};
    }
    return *routes;
  }

  // SetUpLan, plus lan0's IPv6 addresses: 2001:db8:1:1::10/64 and fe80::10/64.
  void SetUpLan6() {
    SetUpLan();
    world_.add_address6("lan0", "2001:db8:1:1::10/64");
    world_.add_address6("lan0", "fe80::10/64");
  }

  std::vector<DefaultRoute6> Routes6(std::uint32_t table = 254) {
    auto routes = table_->default_routes6(table);
    if (!routes) {
      ADD_FAILURE() << "default_routes6: " << routes.error().message();
      return {};
    }
    return *routes;
  }

  std::vector<Ipv6InterfaceAddress> Addresses6() {
    auto addresses = world_.env().ipv6_addresses();
    if (!addresses) {
      ADD_FAILURE() << "ipv6_addresses: " << addresses.error().message();
      return {};
    }
    return *addresses;
  }

  // The addresses listed for one link.
  std::vector<Ipv6InterfaceAddress> Addresses6Of(const std::string& name) {
    std::vector<Ipv6InterfaceAddress> out;
    for (const auto& a : Addresses6()) {
      if (a.ifname == name) out.push_back(a);
    }
    return out;
  }

  World world_;
  std::unique_ptr<RouteTable> table_;
  std::unique_ptr<TableWatch> table_watch_;
  int table_events_ = 0;
  std::map<std::string, std::unique_ptr<LinkWatch>> link_watches_;
  std::map<std::string, std::vector<LinkStatus>> reports_;
};

TYPED_TEST_SUITE_P(EnvContract);

TYPED_TEST_P(EnvContract, ReplaceListsAndRemovesOurRoute) {
  this->SetUpLan();
  const int lan = this->world_.ifindex("lan0");
  ASSERT_FALSE(this->table_->replace_default(kSlot, kPeerAddress));
  EXPECT_EQ(this->Routes(), (std::vector<DefaultRoute>{{kPeerAddress, 50, 150, lan, 254}}))
      << Describe(this->Routes());
  // Replacing moves it: still one route, never two.
  ASSERT_FALSE(this->table_->replace_default(kSlot, kOtherGateway));
  EXPECT_EQ(this->Routes(), (std::vector<DefaultRoute>{{kOtherGateway, 50, 150, lan, 254}}))
      << Describe(this->Routes());
  // The same again changes nothing.
  ASSERT_FALSE(this->table_->replace_default(kSlot, kOtherGateway));
  EXPECT_EQ(this->Routes().size(), 1u);
  ASSERT_FALSE(this->table_->remove_default(kSlot));
  EXPECT_TRUE(this->Routes().empty()) << Describe(this->Routes());
  // Removing what is not there is success.
  EXPECT_FALSE(this->table_->remove_default(kSlot));
}

TYPED_TEST_P(EnvContract, RoutesLiveInTheirTable) {
  this->SetUpLan();
  const RouteSlot other{100, 7, 150};
  ASSERT_FALSE(this->table_->replace_default(other, kPeerAddress));
  EXPECT_TRUE(this->Routes(254).empty()) << Describe(this->Routes(254));
  auto listed = this->Routes(100);
  ASSERT_EQ(listed.size(), 1u) << Describe(listed);
  EXPECT_EQ(listed[0].table, 100u);
  EXPECT_EQ(listed[0].metric, 7u);
  // remove_default of the main table's slot leaves table 100 alone.
  ASSERT_FALSE(this->table_->remove_default(kSlot));
  EXPECT_EQ(this->Routes(100).size(), 1u);
  ASSERT_FALSE(this->table_->remove_default(other));
  EXPECT_TRUE(this->Routes(100).empty());
}

TYPED_TEST_P(EnvContract, ReplaceViaAnUnreachableGatewayFailsWithEnetunreach) {
  this->SetUpLan();
  EXPECT_EQ(this->table_->replace_default(kSlot, kFarGateway), std::errc::network_unreachable);
  this->world_.set_link("lan0", false);
  ASSERT_TRUE(this->world_.await([&] { return !this->Link("lan0").admin_up; }));
  EXPECT_EQ(this->table_->replace_default(kSlot, kPeerAddress), std::errc::network_unreachable);
  EXPECT_TRUE(this->Routes().empty());
}

TYPED_TEST_P(EnvContract, RouteVanishesWhenItsLinkGoesDownAndTheWatchSaysSo) {
  this->SetUpLan();
  this->WatchTable();
  ASSERT_FALSE(this->table_->replace_default(kSlot, kPeerAddress));
  ASSERT_TRUE(this->world_.await([&] { return this->table_events_ > 0; }))
      << "no table event for our own route";
  this->world_.settle();
  this->table_events_ = 0;
  this->world_.set_link("lan0", false);
  ASSERT_TRUE(this->world_.await([&] { return this->table_events_ > 0; }))
      << "no table event when the route's link went down";
  EXPECT_TRUE(this->Routes().empty()) << Describe(this->Routes());
  // Up again, the route does not come back by itself.
  this->world_.set_link("lan0", true);
  ASSERT_TRUE(this->world_.await([&] { return this->Link("lan0").usable(); }));
  EXPECT_TRUE(this->Routes().empty()) << Describe(this->Routes());
}

TYPED_TEST_P(EnvContract, RouteSurvivesCarrierLossFlaggedLinkdown) {
  this->SetUpLan();
  this->WatchTable();
  ASSERT_FALSE(this->table_->replace_default(kSlot, kPeerAddress));
  this->world_.settle();
  this->table_events_ = 0;
  this->world_.set_carrier("lan0", false);
  ASSERT_TRUE(this->world_.await([&] { return this->table_events_ > 0; }))
      << "no table event on carrier loss";
  // The link watch has a socket of its own: its event may come a turn after the table's.
  EXPECT_TRUE(this->world_.await([&] { return !this->Link("lan0").carrier; }))
      << "the link watch never saw the carrier go";
  // The kernel keeps the route (iproute2 shows "linkdown"), and accepts a replace meanwhile.
  EXPECT_EQ(this->Routes().size(), 1u) << Describe(this->Routes());
  EXPECT_FALSE(this->table_->replace_default(kSlot, kOtherGateway));
  EXPECT_EQ(this->Routes().size(), 1u) << Describe(this->Routes());
}

TYPED_TEST_P(EnvContract, RouteVanishesWhenTheAddressIsFlushed) {
  this->SetUpLan();
  this->WatchTable();
  ASSERT_FALSE(this->table_->replace_default(kSlot, kPeerAddress));
  this->world_.settle();
  this->table_events_ = 0;
  this->world_.flush_addresses("lan0");
  ASSERT_TRUE(this->world_.await([&] { return this->table_events_ > 0; }))
      << "no table event when the address went";
  EXPECT_TRUE(this->Routes().empty()) << Describe(this->Routes());
  EXPECT_EQ(this->table_->replace_default(kSlot, kPeerAddress), std::errc::network_unreachable);
}

TYPED_TEST_P(EnvContract, TableWatchSeesForeignRoutesAndAddresses) {
  this->SetUpLan();
  this->WatchTable();
  this->world_.settle();
  this->table_events_ = 0;
  ASSERT_TRUE(this->world_.add_foreign_default_route(kOtherGateway, 4, 100, 254));
  ASSERT_TRUE(this->world_.await([&] { return this->table_events_ > 0; }))
      << "no table event for a foreign route";
  this->world_.settle();
  this->table_events_ = 0;
  this->world_.add_address("lan0", "10.20.0.1/16");
  ASSERT_TRUE(this->world_.await([&] { return this->table_events_ > 0; }))
      << "no table event for an address";
}

TYPED_TEST_P(EnvContract, ForeignRoutesAreListedAndDeletedExactly) {
  this->SetUpLan();
  const int lan = this->world_.ifindex("lan0");
  ASSERT_FALSE(this->table_->replace_default(kSlot, kPeerAddress));
  ASSERT_TRUE(this->world_.add_foreign_default_route(kOtherGateway, 4, 100, 254));
  const DefaultRoute foreign{kOtherGateway, 100, 4, lan, 254};
  auto routes = this->Routes();
  ASSERT_EQ(routes.size(), 2u) << Describe(routes);
  EXPECT_NE(std::find(routes.begin(), routes.end(), foreign), routes.end()) << Describe(routes);
  ASSERT_FALSE(this->table_->delete_route(foreign));
  EXPECT_EQ(this->Routes(), (std::vector<DefaultRoute>{{kPeerAddress, 50, 150, lan, 254}}))
      << Describe(this->Routes());
  // Deleting a route that is gone is success.
  EXPECT_FALSE(this->table_->delete_route(foreign));
}

TYPED_TEST_P(EnvContract, RemoveDefaultLeavesAForeignRouteOfTheSameMetric) {
  this->SetUpLan();
  ASSERT_FALSE(this->table_->replace_default(kSlot, kPeerAddress));
  ASSERT_TRUE(this->world_.add_foreign_default_route(kOtherGateway, 4, kSlot.metric, 254));
  ASSERT_EQ(this->Routes().size(), 2u) << Describe(this->Routes());
  // Ours is first of its metric, so a replace moves ours and leaves the appended one.
  ASSERT_FALSE(this->table_->replace_default(kSlot, kThirdGateway));
  auto both = this->Routes();
  ASSERT_EQ(both.size(), 2u) << Describe(both);
  EXPECT_NE(std::find(both.begin(), both.end(),
                      DefaultRoute{kThirdGateway, 50, 150, this->world_.ifindex("lan0"), 254}),
            both.end())
      << Describe(both);
  ASSERT_FALSE(this->table_->remove_default(kSlot));
  auto routes = this->Routes();
  ASSERT_EQ(routes.size(), 1u) << Describe(routes);
  EXPECT_EQ(routes[0].protocol, 4);
  EXPECT_EQ(routes[0].gateway, kOtherGateway);
}

// The kernel's NLM_F_REPLACE matches table and metric, not the protocol: a foreign route with
// our metric is taken over. The engine must not share its metric with anyone.
TYPED_TEST_P(EnvContract, ReplaceTakesOverAForeignRouteOfTheSameMetric) {
  this->SetUpLan();
  const int lan = this->world_.ifindex("lan0");
  ASSERT_TRUE(this->world_.add_foreign_default_route(kOtherGateway, 4, kSlot.metric, 254));
  ASSERT_FALSE(this->table_->replace_default(kSlot, kPeerAddress));
  EXPECT_EQ(this->Routes(), (std::vector<DefaultRoute>{{kPeerAddress, 50, 150, lan, 254}}))
      << Describe(this->Routes());
}

TYPED_TEST_P(EnvContract, ApplyCarriesOutEachKindOfEdit) {
  this->SetUpLan();
  const int lan = this->world_.ifindex("lan0");
  RouteEdit replace = RouteEdit::replace_own(kSlot, kPeerAddress);
  ASSERT_FALSE(this->table_->apply(replace));
  EXPECT_EQ(this->Routes().size(), 1u);
  ASSERT_TRUE(this->world_.add_foreign_default_route(kOtherGateway, 4, 100, 254));
  RouteEdit remove_foreign =
      RouteEdit::delete_foreign({}, DefaultRoute{kOtherGateway, 100, 4, lan, 254});
  ASSERT_FALSE(this->table_->apply(remove_foreign));
  EXPECT_EQ(this->Routes().size(), 1u) << Describe(this->Routes());
  RouteEdit remove_own = RouteEdit::remove_own(kSlot);
  ASSERT_FALSE(this->table_->apply(remove_own));
  EXPECT_TRUE(this->Routes().empty());
}

TYPED_TEST_P(EnvContract, LinkWatchFollowsALinkThatAppearsLater) {
  EXPECT_FALSE(this->Link("wan0").exists);
  this->world_.add_link("wan0");
  ASSERT_TRUE(this->world_.await([&] { return this->Link("wan0").usable(); }))
      << "no usable report for a link made after the watch";
  EXPECT_TRUE(this->reports_["wan0"].back().usable());
  EXPECT_EQ(this->Link("wan0").ifindex, this->world_.ifindex("wan0"));
}

TYPED_TEST_P(EnvContract, LinkWatchFollowsALinkDeletedAndMadeAnew) {
  this->world_.add_link("wan0");
  ASSERT_TRUE(this->world_.await([&] { return this->Link("wan0").usable(); }));
  const int first = this->world_.ifindex("wan0");
  this->world_.delete_link("wan0");
  ASSERT_TRUE(this->world_.await([&] { return !this->Link("wan0").exists; }))
      << "no report of the deletion";
  this->world_.add_link("wan0");
  ASSERT_TRUE(this->world_.await([&] { return this->Link("wan0").usable(); }))
      << "no report of the new link with the old name";
  EXPECT_NE(this->world_.ifindex("wan0"), first);
  // The report names the new link by its index: sockets bound to the old one must be reopened.
  EXPECT_EQ(this->Link("wan0").ifindex, this->world_.ifindex("wan0"));
  // Down and up on the new link are followed too (its ifindex is the new one).
  this->world_.set_link("wan0", false);
  ASSERT_TRUE(this->world_.await([&] { return !this->Link("wan0").admin_up; }));
  EXPECT_TRUE(this->Link("wan0").exists);
}

TYPED_TEST_P(EnvContract, LinkWatchTakesARenameAwayAsGoneAndBackAsThere) {
  this->world_.add_link("wan0");
  ASSERT_TRUE(this->world_.await([&] { return this->Link("wan0").usable(); }));
  this->world_.set_link("wan0", false);
  ASSERT_TRUE(this->world_.await([&] { return !this->Link("wan0").admin_up; }));
  this->world_.rename_link("wan0", "wan9");
  ASSERT_TRUE(this->world_.await([&] { return !this->Link("wan0").exists; }))
      << "a rename away must read as the link gone";
  // Events about the link under its new name are not ours.
  const std::size_t count = this->reports_["wan0"].size();
  this->world_.set_link("wan9", true);
  this->world_.settle();
  EXPECT_EQ(this->reports_["wan0"].size(), count);
  EXPECT_FALSE(this->Link("wan0").exists);
  this->world_.set_link("wan9", false);
  this->world_.rename_link("wan9", "wan0");
  ASSERT_TRUE(this->world_.await([&] { return this->Link("wan0").exists; }))
      << "a rename to the name must read as the link there";
  this->world_.set_link("wan0", true);
  ASSERT_TRUE(this->world_.await([&] { return this->Link("wan0").usable(); }));
}

TYPED_TEST_P(EnvContract, LinkWatchReportsCarrierAndIgnoresOtherLinks) {
  this->world_.add_link("wan0");
  this->world_.add_link("wan1");
  ASSERT_TRUE(this->world_.await([&] { return this->Link("wan0").usable(); }));
  this->world_.settle();
  const std::size_t count = this->reports_["wan0"].size();
  this->world_.set_link("wan1", false);
  this->world_.set_carrier("wan1", false);
  this->world_.settle();
  EXPECT_EQ(this->reports_["wan0"].size(), count) << "reports about another link";
  this->world_.set_carrier("wan0", false);
  ASSERT_TRUE(this->world_.await([&] {
    return this->Link("wan0").exists && this->Link("wan0").admin_up && !this->Link("wan0").carrier;
  })) << "no carrier-loss report";
  this->world_.set_carrier("wan0", true);
  ASSERT_TRUE(this->world_.await([&] { return this->Link("wan0").usable(); }));
}

TYPED_TEST_P(EnvContract, ListenerGetsDatagramsWithTheirSourceAndSeesOversize) {
  this->SetUpLan();
  std::vector<std::pair<std::string, std::uint32_t>> received;
  auto listener =
      this->world_.env().listen(kPort, [&](std::span<const char> bytes, std::uint32_t source) {
        received.emplace_back(std::string(bytes.begin(), bytes.end()), source);
      });
  ASSERT_TRUE(listener.has_value()) << listener.error().message();
  this->world_.send_from_peer(kPort, "hello");
  ASSERT_TRUE(this->world_.await([&] { return received.size() >= 1; })) << "nothing arrived";
  EXPECT_EQ(received[0].first, "hello");
  EXPECT_EQ(received[0].second, kPeerAddress);
  const std::string oversize(1400, 'x');
  this->world_.send_from_peer(kPort, oversize);
  ASSERT_TRUE(this->world_.await([&] { return received.size() >= 2; }));
  EXPECT_GT(received[1].first.size(), 512u) << "an oversize datagram must look oversize";
  EXPECT_EQ(received[1].first, oversize);
  EXPECT_EQ((*listener)->overflows(), 0u);
}

// read_pending() alongside the loop: each datagram is handed over once, in order, whichever of
// the two took it, and with nothing queued it returns at once.
TYPED_TEST_P(EnvContract, ReadPendingHandsOverEachDatagramOnceInOrder) {
  this->SetUpLan();
  std::vector<std::string> received;
  auto listener = this->world_.env().listen(kPort, [&](std::span<const char> bytes, std::uint32_t) {
    received.emplace_back(bytes.begin(), bytes.end());
  });
  ASSERT_TRUE(listener.has_value()) << listener.error().message();
  (*listener)->read_pending();
  EXPECT_TRUE(received.empty());
  for (const char* text : {"one", "two", "three"}) this->world_.send_from_peer(kPort, text);
  ASSERT_TRUE(this->world_.await([&] {
    (*listener)->read_pending();
    return received.size() >= 3;
  })) << "not all arrived";
  this->world_.settle();
  (*listener)->read_pending();
  EXPECT_EQ(received, (std::vector<std::string>{"one", "two", "three"}));
}

TYPED_TEST_P(EnvContract, BroadcastAddressComesFromThePrefix) {
  this->SetUpLan();
  EXPECT_EQ(this->world_.env().ipv4_broadcast_of("lan0"), 0xc0a838ffu);
  EXPECT_EQ(this->world_.env().ipv4_broadcast_of("nosuch0"), std::nullopt);
}

// A FIB match with the link as output: the connected prefix and a default route out of it count;
// a default route out of another link does not, although a socket bound to this link would
// send there anyway (the kernel assumes on-link when a bound socket finds no route).
TYPED_TEST_P(EnvContract, RoutesViaSeesOnlyRoutesOutOfThatLink) {
  this->SetUpLan();
  this->world_.add_link("wan0");
  this->world_.add_address("wan0", "10.1.0.1/24");
  ASSERT_TRUE(this->world_.await([&] { return this->Link("wan0").usable(); }));
  constexpr std::uint32_t kInternet = 0xc6336408;  // 198.51.100.8
  Env& env = this->world_.env();
  auto routes = [&](const char* link, std::uint32_t to) {
    auto answer = env.routes_via(link, IpAddress::ipv4(to));
    EXPECT_TRUE(answer.has_value()) << link << ": " << answer.error().message();
    return answer.value_or(false);
  };
  EXPECT_TRUE(routes("lan0", kPeerAddress));
  EXPECT_FALSE(routes("lan0", kInternet)) << "no default route yet";
  ASSERT_FALSE(this->table_->replace_default(kSlot, kPeerAddress));
  EXPECT_TRUE(routes("lan0", kInternet));
  EXPECT_FALSE(routes("wan0", kInternet)) << "the default route leaves by lan0, not wan0";
  EXPECT_FALSE(routes("wan0", kPeerAddress));
  EXPECT_FALSE(routes("nosuch0", kInternet));
  ASSERT_FALSE(this->table_->remove_default(kSlot));
  EXPECT_FALSE(routes("lan0", kInternet));
}

// Only the refusal is part of the contract: the real side must not touch the host's
// systemd-resolved from a test namespace, where link indexes mean other links.
TYPED_TEST_P(EnvContract, LinkDnsNeedsALinkThatReachesTheGateway) {
  this->SetUpLan();
  Env& env = this->world_.env();
  EXPECT_EQ(env.set_link_dns(kFarGateway, {IpAddress::ipv4(kPeerAddress)}),
            std::errc::no_such_device_or_address);
  EXPECT_EQ(env.revert_link_dns(kFarGateway), std::errc::no_such_device_or_address);
}

TYPED_TEST_P(EnvContract, HooksAreListedAndAKilledHookEndsOnceBySigkill) {
  Env& env = this->world_.env();
  auto missing = env.list_hooks("/nonexistent/ispf-hooks.d");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error(), std::errc::no_such_file_or_directory);
  std::string dir =
      this->world_.add_hook_dir({{"10-hang", 0755}, {"20-open", 0777}, {"30-plain", 0644}});
  auto listing = env.list_hooks(dir);
  ASSERT_TRUE(listing.has_value()) << listing.error().message();
  auto selection = select_hooks(*listing);
  EXPECT_EQ(selection.names, std::vector<std::string>{"10-hang"});
  ASSERT_EQ(selection.refused.size(), 1u);
  EXPECT_EQ(selection.refused[0].first, dir + "/20-open");

  std::optional<HookExit> exit;
  int exits = 0;
  auto process = env.run_hook(dir + "/10-hang", {std::string(kHookPath)},
                              HookCallbacks{[](std::string_view) {},
                                            [&](const HookExit& e) {
                                              exit = e;
                                              ++exits;
                                            }});
  ASSERT_TRUE(process.has_value()) << process.error().message();
  this->world_.settle();
  EXPECT_FALSE(exit.has_value()) << "a hanging hook ends only when killed";
  (*process)->kill();
  ASSERT_TRUE(this->world_.await([&] { return exit.has_value(); }));
  EXPECT_TRUE(exit->signaled);
  EXPECT_EQ(exit->status, SIGKILL);
  (*process)->kill();  // after the exit: nothing, and no second exit
  this->world_.settle();
  EXPECT_EQ(exits, 1);
}

// --- IPv6 (issue 13) ---

const Ipv6Address kHost6 = V6("2001:db8:1:1::10");
const Ipv6Address kGateway6 = V6("2001:db8:1:1::1");
const Ipv6Address kOtherGateway6 = V6("2001:db8:1:1::2");
const Ipv6Address kRouterLinkLocal = V6("fe80::1");

TYPED_TEST_P(EnvContract, Replace6ListsOurRouteWithItsSourceAndMovesItInOneStep) {
  this->SetUpLan6();
  this->WatchTable();
  this->world_.settle();
  this->table_events_ = 0;
  const int lan = this->world_.ifindex("lan0");
  ASSERT_FALSE(this->table_->replace_default6(kSlot, Route6Via{kGateway6, lan, kHost6}));
  EXPECT_EQ(this->Routes6(), (std::vector<DefaultRoute6>{{kGateway6, lan, 50, 150, 254, kHost6}}))
      << Describe(this->Routes6());
  EXPECT_TRUE(this->world_.await([&] { return this->table_events_ > 0; }))
      << "no table event for our IPv6 route";
  // Another gateway: still one route, never two.
  ASSERT_FALSE(this->table_->replace_default6(kSlot, Route6Via{kOtherGateway6, lan, kHost6}));
  EXPECT_EQ(this->Routes6(),
            (std::vector<DefaultRoute6>{{kOtherGateway6, lan, 50, 150, 254, kHost6}}))
      << Describe(this->Routes6());
  // The IPv4 table knows nothing of it.
  EXPECT_TRUE(this->Routes().empty()) << Describe(this->Routes());
  ASSERT_FALSE(this->table_->remove_default6(kSlot));
  EXPECT_TRUE(this->Routes6().empty()) << Describe(this->Routes6());
  // Removing what is not there is success.
  EXPECT_FALSE(this->table_->remove_default6(kSlot));
}

TYPED_TEST_P(EnvContract, ForeignRoute6OfMetricZeroIsListedWithMetric1024) {
  this->SetUpLan6();
  const int lan = this->world_.ifindex("lan0");
  // In table 100: in main, two routes of metric 1024 with gateways would join as one multipath
  // route.
  ASSERT_TRUE(this->world_.add_foreign_default_route6(kOtherGateway6, "lan0", 4, 0, 100));
  EXPECT_EQ(this->Routes6(100),
            (std::vector<DefaultRoute6>{{kOtherGateway6, lan, kKernelDefaultMetric6, 4, 100, {}}}))
      << Describe(this->Routes6(100));
}

TYPED_TEST_P(EnvContract, RaRoute6IsListedAndDeletedExactly) {
  this->SetUpLan6();
  const int lan = this->world_.ifindex("lan0");
  ASSERT_FALSE(this->table_->replace_default6(kSlot, Route6Via{kGateway6, lan, kHost6}));
  ASSERT_TRUE(this->world_.add_foreign_default_route6(kRouterLinkLocal, "lan0", kRouteProtocolRa,
                                                      kKernelDefaultMetric6, 254));
  const DefaultRoute6 ra{kRouterLinkLocal, lan, kKernelDefaultMetric6, kRouteProtocolRa, 254, {}};
  const DefaultRoute6 ours{kGateway6, lan, 50, 150, 254, kHost6};
  EXPECT_EQ(this->Routes6(), (std::vector<DefaultRoute6>{ours, ra})) << Describe(this->Routes6());
  ASSERT_FALSE(this->table_->delete_route6(ra));
  EXPECT_EQ(this->Routes6(), (std::vector<DefaultRoute6>{ours})) << Describe(this->Routes6());
  // Deleting a route that is gone is success.
  EXPECT_FALSE(this->table_->delete_route6(ra));
  EXPECT_EQ(this->Routes6(), (std::vector<DefaultRoute6>{ours})) << Describe(this->Routes6());
}

TYPED_TEST_P(EnvContract, LinkLocalGateway6NeedsItsIfindex) {
  this->SetUpLan6();
  const int lan = this->world_.ifindex("lan0");
  ASSERT_FALSE(this->table_->replace_default6(kSlot, Route6Via{kRouterLinkLocal, lan, kHost6}));
  EXPECT_EQ(this->Routes6(),
            (std::vector<DefaultRoute6>{{kRouterLinkLocal, lan, 50, 150, 254, kHost6}}))
      << Describe(this->Routes6());
  // Without the interface a link-local address names no router ("Egress device not specified").
  EXPECT_EQ(this->table_->replace_default6(kSlot, Route6Via{kRouterLinkLocal, 0, {}}),
            std::errc::invalid_argument);
  // With an interface that does not exist.
  EXPECT_EQ(this->table_->replace_default6(kSlot, Route6Via{kRouterLinkLocal, 9999, {}}),
            std::errc::no_such_device);
  EXPECT_EQ(this->Routes6().size(), 1u) << Describe(this->Routes6());
}

TYPED_TEST_P(EnvContract, Replace6RefusesASourceNotOfThisHostAndAnUnreachableGateway) {
  this->SetUpLan6();
  const int lan = this->world_.ifindex("lan0");
  // No address of this host ("Invalid source address").
  EXPECT_EQ(this->table_->replace_default6(kSlot, Route6Via{kGateway6, lan, V6("2001:db8:9::1")}),
            std::errc::invalid_argument);
  // An address still in duplicate address detection is not the host's yet.
  this->world_.add_tentative_address6("lan0", "2001:db8:1:1::12/64");
  EXPECT_EQ(
      this->table_->replace_default6(kSlot, Route6Via{kGateway6, lan, V6("2001:db8:1:1::12")}),
      std::errc::invalid_argument);
  // A global gateway in no prefix of an up link: EHOSTUNREACH, where IPv4 says ENETUNREACH.
  EXPECT_EQ(this->table_->replace_default6(kSlot, Route6Via{V6("2001:db8:5::1"), lan, kHost6}),
            std::errc::host_unreachable);
  EXPECT_EQ(this->table_->replace_default6(kSlot, Route6Via{V6("2001:db8:5::1"), 0, {}}),
            std::errc::host_unreachable);
  EXPECT_TRUE(this->Routes6().empty()) << Describe(this->Routes6());
}

// IPv6 differs from IPv4 here: the routes go with an RTM_DELROUTE, and so do the link's IPv6
// addresses, which do not come back with the link.
TYPED_TEST_P(EnvContract, Route6AndAddressesGoWhenTheLinkGoesDown) {
  this->SetUpLan6();
  const int lan = this->world_.ifindex("lan0");
  this->WatchTable();
  ASSERT_FALSE(this->table_->replace_default6(kSlot, Route6Via{kGateway6, lan, kHost6}));
  ASSERT_TRUE(this->world_.add_foreign_default_route6(kRouterLinkLocal, "lan0", kRouteProtocolRa,
                                                      kKernelDefaultMetric6, 254));
  this->world_.settle();
  this->table_events_ = 0;
  this->world_.set_link("lan0", false);
  ASSERT_TRUE(this->world_.await([&] { return this->table_events_ > 0; }))
      << "no table event when the route's link went down";
  EXPECT_TRUE(this->Routes6().empty()) << Describe(this->Routes6());
  EXPECT_TRUE(this->Addresses6Of("lan0").empty()) << Describe(this->Addresses6());
  EXPECT_EQ(this->table_->replace_default6(kSlot, Route6Via{kGateway6, lan, {}}),
            std::errc::host_unreachable);
  // "Nexthop device is not up".
  EXPECT_EQ(this->table_->replace_default6(kSlot, Route6Via{kRouterLinkLocal, lan, {}}),
            std::errc::network_down);
  this->world_.set_link("lan0", true);
  ASSERT_TRUE(this->world_.await([&] { return this->Link("lan0").usable(); }));
  EXPECT_TRUE(this->Routes6().empty()) << Describe(this->Routes6());
  EXPECT_TRUE(this->Addresses6Of("lan0").empty()) << Describe(this->Addresses6());
  EXPECT_EQ(this->table_->replace_default6(kSlot, Route6Via{kGateway6, lan, {}}),
            std::errc::host_unreachable);
}

TYPED_TEST_P(EnvContract, Route6SurvivesCarrierLoss) {
  this->SetUpLan6();
  const int lan = this->world_.ifindex("lan0");
  this->WatchTable();
  ASSERT_FALSE(this->table_->replace_default6(kSlot, Route6Via{kGateway6, lan, kHost6}));
  this->world_.settle();
  this->table_events_ = 0;
  this->world_.set_carrier("lan0", false);
  ASSERT_TRUE(this->world_.await([&] { return this->table_events_ > 0; }))
      << "no table event on carrier loss";
  ASSERT_TRUE(this->world_.await([&] { return !this->Link("lan0").carrier; }));
  // The kernel keeps the route (iproute2 shows "linkdown") and accepts a replace meanwhile.
  EXPECT_EQ(this->Routes6(), (std::vector<DefaultRoute6>{{kGateway6, lan, 50, 150, 254, kHost6}}))
      << Describe(this->Routes6());
  EXPECT_FALSE(this->table_->replace_default6(kSlot, Route6Via{kOtherGateway6, lan, kHost6}));
  EXPECT_EQ(this->Routes6().size(), 1u) << Describe(this->Routes6());
  // The addresses stay on the link, but a link without carrier is not usable: none listed.
  EXPECT_TRUE(this->Addresses6Of("lan0").empty()) << Describe(this->Addresses6());
  this->world_.set_carrier("lan0", true);
  ASSERT_TRUE(this->world_.await([&] { return this->Link("lan0").usable(); }));
  EXPECT_EQ(this->Addresses6Of("lan0").size(), 2u) << Describe(this->Addresses6());
}

TYPED_TEST_P(EnvContract, Route6StaysWhenTheAddressesAreFlushedButLosesItsSource) {
  this->SetUpLan6();
  const int lan = this->world_.ifindex("lan0");
  ASSERT_FALSE(this->table_->replace_default6(kSlot, Route6Via{kGateway6, lan, kHost6}));
  this->world_.flush_addresses("lan0");
  ASSERT_TRUE(this->world_.await([&] { return this->Addresses6Of("lan0").empty(); }));
  EXPECT_EQ(this->Routes6(), (std::vector<DefaultRoute6>{{kGateway6, lan, 50, 150, 254, {}}}))
      << Describe(this->Routes6());
  // The gateway's prefix went with the address.
  EXPECT_EQ(this->table_->replace_default6(kSlot, Route6Via{kOtherGateway6, lan, {}}),
            std::errc::host_unreachable);
}

TYPED_TEST_P(EnvContract, Ipv6AddressesListsUsableOnesWithoutTentativeAndFlagsDeprecated) {
  this->SetUpLan6();
  const int lan = this->world_.ifindex("lan0");
  this->world_.add_deprecated_address6("lan0", "2001:db8:1:2::10/64");
  this->world_.add_tentative_address6("lan0", "2001:db8:1:3::10/64");
  this->world_.add_link("wan0");
  ASSERT_TRUE(this->world_.await([&] { return this->Link("wan0").usable(); }));
  this->world_.add_address6("wan0", "2001:db8:2::10/48");
  const int wan = this->world_.ifindex("wan0");
  auto lan_addresses = this->Addresses6Of("lan0");
  auto has = [&](const std::vector<Ipv6InterfaceAddress>& list, const Ipv6InterfaceAddress& a) {
    return std::find(list.begin(), list.end(), a) != list.end();
  };
  EXPECT_EQ(lan_addresses.size(), 3u) << Describe(lan_addresses);
  EXPECT_TRUE(has(lan_addresses, {kHost6, 64, lan, "lan0", false})) << Describe(lan_addresses);
  EXPECT_TRUE(has(lan_addresses, {V6("fe80::10"), 64, lan, "lan0", false}))
      << Describe(lan_addresses);
  EXPECT_TRUE(has(lan_addresses, {V6("2001:db8:1:2::10"), 64, lan, "lan0", true}))
      << Describe(lan_addresses);
  EXPECT_EQ(this->Addresses6Of("wan0"),
            (std::vector<Ipv6InterfaceAddress>{{V6("2001:db8:2::10"), 48, wan, "wan0", false}}))
      << Describe(this->Addresses6());
  // Nothing from a link without carrier, nor from one that is down.
  this->world_.set_carrier("wan0", false);
  ASSERT_TRUE(this->world_.await([&] { return !this->Link("wan0").carrier; }));
  EXPECT_TRUE(this->Addresses6Of("wan0").empty()) << Describe(this->Addresses6());
  this->world_.set_link("lan0", false);
  ASSERT_TRUE(this->world_.await([&] { return !this->Link("lan0").admin_up; }));
  EXPECT_TRUE(this->Addresses6Of("lan0").empty()) << Describe(this->Addresses6());
}

TYPED_TEST_P(EnvContract, TableWatchSeesIpv6RoutesAndAddresses) {
  this->SetUpLan6();
  this->WatchTable();
  this->world_.settle();
  this->table_events_ = 0;
  ASSERT_TRUE(this->world_.add_foreign_default_route6(kRouterLinkLocal, "lan0", kRouteProtocolRa,
                                                      kKernelDefaultMetric6, 254));
  ASSERT_TRUE(this->world_.await([&] { return this->table_events_ > 0; }))
      << "no table event for an RA-like route";
  this->world_.settle();
  this->table_events_ = 0;
  this->world_.add_address6("lan0", "2001:db8:1:4::10/64");
  ASSERT_TRUE(this->world_.await([&] { return this->table_events_ > 0; }))
      << "no table event for an IPv6 address";
}

TYPED_TEST_P(EnvContract, ApplyCarriesOutEachKindOfIpv6Edit) {
  this->SetUpLan6();
  const int lan = this->world_.ifindex("lan0");
  ASSERT_FALSE(this->table_->apply(RouteEdit::replace_own6(kSlot, {kGateway6, lan, kHost6})));
  EXPECT_EQ(this->Routes6().size(), 1u) << Describe(this->Routes6());
  EXPECT_TRUE(this->Routes().empty()) << Describe(this->Routes());
  ASSERT_TRUE(this->world_.add_foreign_default_route6(kRouterLinkLocal, "lan0", kRouteProtocolRa,
                                                      kKernelDefaultMetric6, 254));
  const DefaultRoute6 ra{kRouterLinkLocal, lan, kKernelDefaultMetric6, kRouteProtocolRa, 254, {}};
  ASSERT_FALSE(this->table_->apply(RouteEdit::delete_foreign6({}, ra)));
  EXPECT_EQ(this->Routes6(), (std::vector<DefaultRoute6>{{kGateway6, lan, 50, 150, 254, kHost6}}))
      << Describe(this->Routes6());
  // An IPv4 removal leaves the IPv6 route alone, and the other way round.
  ASSERT_FALSE(this->table_->apply(RouteEdit::replace_own(kSlot, kPeerAddress)));
  ASSERT_FALSE(this->table_->apply(RouteEdit::remove_own(kSlot)));
  EXPECT_EQ(this->Routes6().size(), 1u) << Describe(this->Routes6());
  ASSERT_FALSE(this->table_->apply(RouteEdit::replace_own(kSlot, kPeerAddress)));
  ASSERT_FALSE(this->table_->apply(RouteEdit::remove_own(kSlot, Family::kIpv6)));
  EXPECT_TRUE(this->Routes6().empty()) << Describe(this->Routes6());
  EXPECT_EQ(this->Routes().size(), 1u) << Describe(this->Routes());
}

REGISTER_TYPED_TEST_SUITE_P(
    EnvContract, ReplaceListsAndRemovesOurRoute, RoutesLiveInTheirTable,
    ReplaceViaAnUnreachableGatewayFailsWithEnetunreach,
    RouteVanishesWhenItsLinkGoesDownAndTheWatchSaysSo, RouteSurvivesCarrierLossFlaggedLinkdown,
    RouteVanishesWhenTheAddressIsFlushed, TableWatchSeesForeignRoutesAndAddresses,
    ForeignRoutesAreListedAndDeletedExactly, RemoveDefaultLeavesAForeignRouteOfTheSameMetric,
    ReplaceTakesOverAForeignRouteOfTheSameMetric, ApplyCarriesOutEachKindOfEdit,
    LinkWatchFollowsALinkThatAppearsLater, LinkWatchFollowsALinkDeletedAndMadeAnew,
    LinkWatchTakesARenameAwayAsGoneAndBackAsThere, LinkWatchReportsCarrierAndIgnoresOtherLinks,
    ListenerGetsDatagramsWithTheirSourceAndSeesOversize,
    ReadPendingHandsOverEachDatagramOnceInOrder, BroadcastAddressComesFromThePrefix,
    RoutesViaSeesOnlyRoutesOutOfThatLink, LinkDnsNeedsALinkThatReachesTheGateway,
    HooksAreListedAndAKilledHookEndsOnceBySigkill,
    Replace6ListsOurRouteWithItsSourceAndMovesItInOneStep,
    ForeignRoute6OfMetricZeroIsListedWithMetric1024, RaRoute6IsListedAndDeletedExactly,
    LinkLocalGateway6NeedsItsIfindex, Replace6RefusesASourceNotOfThisHostAndAnUnreachableGateway,
    Route6AndAddressesGoWhenTheLinkGoesDown, Route6SurvivesCarrierLoss,
    Route6StaysWhenTheAddressesAreFlushedButLosesItsSource,
    Ipv6AddressesListsUsableOnesWithoutTentativeAndFlagsDeprecated,
    TableWatchSeesIpv6RoutesAndAddresses, ApplyCarriesOutEachKindOfIpv6Edit);

}  // namespace ispf::contract

// FakeKernel: links, addresses and default routes in memory, kept the way Linux keeps them.
#include "support/fake_kernel.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace ispf {
namespace {

// Programming errors in a test (renaming a link that is not there) end the test loudly.
[[noreturn]] void misuse(const std::string& what) {
  std::fprintf(stderr, "FakeKernel misuse: %s\n", what.c_str());
  std::abort();
}

std::uint32_t mask_of(int prefix_length) {
  return prefix_length == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix_length);
}

std::error_code errc(std::errc e) { return std::make_error_code(e); }

}  // namespace

FakeKernel::Link* FakeKernel::find(const std::string& name) {
  auto it = links_.find(name);
  return it == links_.end() ? nullptr : &it->second;
}

const FakeKernel::Link* FakeKernel::find(const std::string& name) const {
  auto it = links_.find(name);
  return it == links_.end() ? nullptr : &it->second;
}

int FakeKernel::add_link(const std::string& name, bool admin_up, bool carrier) {
  if (find(name)) misuse("add_link: " + name + " exists");
  Link link;
  link.ifindex = next_ifindex_++;
  link.admin_up = admin_up;
  link.carrier = carrier;
  links_[name] = link;
  changed();
  link_changed(name);
  return link.ifindex;
}

void FakeKernel::set_link(const std::string& name, bool admin_up, bool carrier) {
  Link* link = find(name);
  if (!link) misuse("set_link: no " + name);
  if (link->admin_up == admin_up && link->carrier == carrier) return;
  link->admin_up = admin_up;
  link->carrier = carrier;
  // Admin down kills the routes; a lost carrier only flags them linkdown. IPv6 loses its
  // addresses too (keep_addr_on_down is 0), and its routes with an RTM_DELROUTE each, which the
  // one change below stands for.
  if (!admin_up) {
    drop_routes_via(link->ifindex);
    link->addresses6.clear();
    std::erase_if(routes6_, [&](const DefaultRoute6& r) { return r.ifindex == link->ifindex; });
    drop_stale_sources6();
  }
  changed();
  link_changed(name);
}

void FakeKernel::delete_link(const std::string& name) {
  Link* link = find(name);
  if (!link) misuse("delete_link: no " + name);
  drop_routes_via(link->ifindex);
  std::erase_if(routes6_, [&](const DefaultRoute6& r) { return r.ifindex == link->ifindex; });
  links_.erase(name);
  drop_stale_sources6();
  changed();
  link_changed(name);
}

void FakeKernel::rename_link(const std::string& from, const std::string& to) {
  Link* link = find(from);
  if (!link) misuse("rename_link: no " + from);
  if (find(to)) misuse("rename_link: " + to + " exists");
  links_[to] = *link;
  links_.erase(from);
  changed();
  link_changed(from);
  link_changed(to);
}

void FakeKernel::add_address(const std::string& name, std::uint32_t address, int prefix_length) {
  Link* link = find(name);
  if (!link) misuse("add_address: no " + name);
  link->addresses.push_back({address, prefix_length});
  changed();
}

void FakeKernel::flush_addresses(const std::string& name) {
  Link* link = find(name);
  if (!link) misuse("flush_addresses: no " + name);
  if (link->addresses.empty() && link->addresses6.empty()) return;
  // The last IPv4 address gone disables IP on the link: every IPv4 route through it dies.
  if (!link->addresses.empty()) drop_routes_via(link->ifindex);
  link->addresses.clear();
  // IPv6 routes stay; only a source that went with the addresses is forgotten.
  link->addresses6.clear();
  drop_stale_sources6();
  changed();
}

void FakeKernel::add_address6(const std::string& name, const Ipv6Address& address,
                              int prefix_length, Address6State state) {
  Link* link = find(name);
  if (!link) misuse("add_address6: no " + name);
  link->addresses6.push_back({address, prefix_length, state});
  changed();
}

std::vector<Ipv6InterfaceAddress> FakeKernel::ipv6_addresses() const {
  std::vector<Ipv6InterfaceAddress> out;
  for (const auto& [name, link] : links_) {
    if (!link.admin_up || !link.carrier) continue;
    for (const Address6& a : link.addresses6) {
      if (a.state.tentative || a.state.dad_failed) continue;
      out.push_back(
          Ipv6InterfaceAddress{a.address, a.prefix_length, link.ifindex, name, a.state.deprecated});
    }
  }
  return out;
}

IoResult<std::vector<DefaultRoute6>> FakeKernel::default_routes6(std::uint32_t table) const {
  std::vector<DefaultRoute6> out;
  for (const DefaultRoute6& r : routes6_) {
    if (r.table == table) out.push_back(r);
  }
  return out;
}

std::error_code FakeKernel::check_route6(DefaultRoute6& route) const {
  // In the kernel's order (fib6_nh_init, then ip6_route_info_create): device, gateway, device
  // up, then the source.
  const Link* given = nullptr;
  if (route.ifindex != 0) {
    auto name = name_of(route.ifindex);
    if (!name) return errc(std::errc::no_such_device);
    given = find(*name);
  }
  if (route.gateway.is_link_local()) {
    if (!given) return errc(std::errc::invalid_argument);
  } else if (!route.gateway.is_unspecified()) {
    // The gateway's on-link prefix route, which only an admin-up link's address provides.
    std::optional<int> found;
    for (const auto& [name, link] : links_) {
      if (!link.admin_up) continue;
      for (const Address6& a : link.addresses6) {
        if (Ipv6Prefix::of(a.address, a.prefix_length).contains(route.gateway)) {
          found = link.ifindex;
        }
      }
      if (found) break;
    }
    if (!found || (given && given->ifindex != *found)) {
      return errc(std::errc::host_unreachable);
    }
    route.ifindex = *found;
    given = find(*name_of(*found));
  } else if (!given) {
    return errc(std::errc::invalid_argument);
  }
  if (!given->admin_up) return errc(std::errc::network_down);
  if (route.preferred_source) {
    bool ours = false;
    for (const auto& [name, link] : links_) {
      for (const Address6& a : link.addresses6) {
        ours = ours ||
               (a.address == *route.preferred_source && !a.state.tentative && !a.state.dad_failed);
      }
    }
    if (!ours) return errc(std::errc::invalid_argument);
  }
  if (route.metric == 0) route.metric = kKernelDefaultMetric6;
  return {};
}

void FakeKernel::drop_stale_sources6() {
  for (DefaultRoute6& r : routes6_) {
    if (!r.preferred_source) continue;
    bool present = false;
    for (const auto& [name, link] : links_) {
      for (const Address6& a : link.addresses6)
        present = present || a.address == *r.preferred_source;
    }
    if (!present) r.preferred_source.reset();
  }
}

std::error_code FakeKernel::replace_default6(const RouteSlot& slot, const Route6Via& via) {
  std::error_code error;
  if (take_injected_failure(error)) return error;
  DefaultRoute6 route{via.gateway,   via.ifindex, slot.metric,
                      slot.protocol, slot.table,  via.preferred_source};
  if (auto refused = check_route6(route)) return refused;
  if (std::find(routes6_.begin(), routes6_.end(), route) != routes6_.end()) return {};
  auto first = std::find_if(routes6_.begin(), routes6_.end(), [&](const DefaultRoute6& r) {
    return r.table == route.table && r.metric == route.metric;
  });
  if (first != routes6_.end()) {
    *first = route;
  } else {
    auto at = std::find_if(routes6_.begin(), routes6_.end(), [&](const DefaultRoute6& r) {
      return r.table == route.table && r.metric > route.metric;
    });
    routes6_.insert(at, route);
  }
  changed();
  return {};
}

std::error_code FakeKernel::remove_default6(const RouteSlot& slot) {
  std::error_code error;
  if (take_injected_failure(error)) return error;
  DefaultRoute6 pattern;
  pattern.metric = slot.metric;
  pattern.protocol = slot.protocol;
  pattern.table = slot.table;
  pattern.ifindex = 0;
  return delete_route6_matching(pattern);
}

std::error_code FakeKernel::delete_route6(const DefaultRoute6& route) {
  std::error_code error;
  if (take_injected_failure(error)) return error;
  return delete_route6_matching(route);
}

std::error_code FakeKernel::delete_route6_matching(const DefaultRoute6& route) {
  // ip6_route_del: every attribute given must match, 0 and "::" are "any"; the source never
  // counts.
  auto it = std::find_if(routes6_.begin(), routes6_.end(), [&](const DefaultRoute6& r) {
    return r.table == route.table && (route.metric == 0 || r.metric == route.metric) &&
           (route.protocol == 0 || r.protocol == route.protocol) &&
           (route.gateway.is_unspecified() || r.gateway == route.gateway) &&
           (route.ifindex == 0 || r.ifindex == route.ifindex);
  });
  if (it == routes6_.end()) return {};
  routes6_.erase(it);
  changed();
  return {};
}

std::error_code FakeKernel::add_route6(const DefaultRoute6& route) {
  DefaultRoute6 added = route;
  if (auto refused = check_route6(added)) return refused;
  if (std::find(routes6_.begin(), routes6_.end(), added) != routes6_.end()) {
    return errc(std::errc::file_exists);
  }
  auto at = std::find_if(routes6_.begin(), routes6_.end(), [&](const DefaultRoute6& r) {
    return r.table == added.table && r.metric > added.metric;
  });
  routes6_.insert(at, added);
  changed();
  return {};
}

LinkStatus FakeKernel::link_status(const std::string& name) const {
  const Link* link = find(name);
  if (!link) return LinkStatus{};
  return LinkStatus{true, link->admin_up, link->carrier, link->ifindex};
}

bool FakeKernel::routes_via(const std::string& name, const IpAddress& target) const {
  const Link* link = find(name);
  if (!link || !link->admin_up) return false;
  if (target.family == Family::kIpv6) {
    for (const Address6& a : link->addresses6) {
      if (Ipv6Prefix::of(a.address, a.prefix_length).contains(target.v6)) return true;
    }
    return std::any_of(routes6_.begin(), routes6_.end(), [&](const DefaultRoute6& route) {
      return route.table == 254 && route.ifindex == link->ifindex;  // RT_TABLE_MAIN
    });
  }
  const std::uint32_t destination = target.v4;
  for (const Address& a : link->addresses) {
    if (Ipv4Prefix{a.address, a.prefix_length}.contains(destination)) return true;
  }
  return std::any_of(routes_.begin(), routes_.end(), [&](const DefaultRoute& route) {
    return route.table == 254 && route.ifindex == link->ifindex;  // RT_TABLE_MAIN
  });
}

std::optional<int> FakeKernel::ifindex(const std::string& name) const {
  const Link* link = find(name);
  if (!link) return std::nullopt;
  return link->ifindex;
}

std::optional<std::pair<std::uint32_t, int>> FakeKernel::address_of(const std::string& name) const {
  const Link* link = find(name);
  if (!link || link->addresses.empty()) return std::nullopt;
  return std::make_pair(link->addresses.front().address, link->addresses.front().prefix_length);
}

std::optional<std::string> FakeKernel::name_of(int index) const {
  for (const auto& [name, link] : links_) {
    if (link.ifindex == index) return name;
  }
  return std::nullopt;
}

std::optional<int> FakeKernel::nexthop_for(std::uint32_t gateway) const {
  for (const auto& [name, link] : links_) {
    if (!link.admin_up) continue;  // its prefix routes are gone; carrier is ignored
    for (const Address& a : link.addresses) {
      std::uint32_t mask = mask_of(a.prefix_length);
      if ((a.address & mask) == (gateway & mask)) return link.ifindex;
    }
  }
  return std::nullopt;
}

IoResult<std::vector<DefaultRoute>> FakeKernel::default_routes(std::uint32_t table) const {
  std::vector<DefaultRoute> out;
  for (const DefaultRoute& r : routes_) {
    if (r.table == table) out.push_back(r);
  }
  return out;
}

bool FakeKernel::take_injected_failure(std::error_code& error) {
  if (injected_count_ == 0) return false;
  --injected_count_;
  error = errc(injected_error_);
  return true;
}

void FakeKernel::insert(DefaultRoute route, bool append) {
  // Where fib_table_insert puts it: NLM_F_APPEND after the others of its table and metric,
  // else before them.
  auto at = std::find_if(routes_.begin(), routes_.end(), [&](const DefaultRoute& r) {
    return r.table == route.table && (append ? r.metric > route.metric : r.metric >= route.metric);
  });
  routes_.insert(at, route);
}

std::error_code FakeKernel::replace_default(const RouteSlot& slot, std::uint32_t gateway) {
  std::error_code error;
  if (take_injected_failure(error)) return error;
  DefaultRoute route{gateway, slot.metric, slot.protocol, 0, slot.table};
  if (gateway == 0) return errc(std::errc::invalid_argument);
  auto index = nexthop_for(gateway);
  if (!index) return errc(std::errc::network_unreachable);
  route.ifindex = *index;
  auto first = std::find_if(routes_.begin(), routes_.end(), [&](const DefaultRoute& r) {
    return r.table == slot.table && r.metric == slot.metric;
  });
  auto identical = std::find(routes_.begin(), routes_.end(), route);
  if (identical != routes_.end()) return {};  // the kernel changes nothing and says nothing
  if (first != routes_.end()) {
    *first = route;
  } else {
    insert(route);
  }
  changed();
  return {};
}

std::error_code FakeKernel::remove_default(const RouteSlot& slot) {
  std::error_code error;
  if (take_injected_failure(error)) return error;
  DefaultRoute pattern{0, slot.metric, slot.protocol, 0, slot.table};
  auto it = std::find_if(routes_.begin(), routes_.end(), [&](const DefaultRoute& r) {
    return r.table == pattern.table && (pattern.metric == 0 || r.metric == pattern.metric) &&
           r.protocol == pattern.protocol;
  });
  if (it == routes_.end()) return {};
  routes_.erase(it);
  changed();
  return {};
}

std::error_code FakeKernel::delete_route(const DefaultRoute& route) {
  std::error_code error;
  if (take_injected_failure(error)) return error;
  // The kernel matches every attribute given and treats 0 as "any" (fib_table_delete).
  auto it = std::find_if(routes_.begin(), routes_.end(), [&](const DefaultRoute& r) {
    return r.table == route.table && (route.metric == 0 || r.metric == route.metric) &&
           (route.protocol == 0 || r.protocol == route.protocol) &&
           (route.gateway == 0 || r.gateway == route.gateway) &&
           (route.ifindex == 0 || r.ifindex == route.ifindex);
  });
  if (it == routes_.end()) return {};
  routes_.erase(it);
  changed();
  return {};
}

std::error_code FakeKernel::add_route(const DefaultRoute& route) {
  DefaultRoute added = route;
  if (route.gateway != 0) {
    auto index = nexthop_for(route.gateway);
    if (!index) return errc(std::errc::network_unreachable);
    if (route.ifindex != 0 && route.ifindex != *index) return errc(std::errc::invalid_argument);
    added.ifindex = *index;
  } else {
    auto name = name_of(route.ifindex);
    if (!name || !find(*name)->admin_up) return errc(std::errc::network_down);
  }
  if (std::find(routes_.begin(), routes_.end(), added) != routes_.end()) {
    return errc(std::errc::file_exists);
  }
  insert(added, /*append=*/true);
  changed();
  return {};
}

void FakeKernel::fail_next_edits(std::errc error, int count) {
  injected_error_ = error;
  injected_count_ = count;
}

void FakeKernel::drop_routes_via(int index) {
  std::erase_if(routes_, [&](const DefaultRoute& r) { return r.ifindex == index; });
}

int FakeKernel::on_change(ChangeCallback callback) {
  int id = next_callback_id_++;
  change_callbacks_[id] = std::move(callback);
  return id;
}

int FakeKernel::on_link(LinkCallback callback) {
  int id = next_callback_id_++;
  link_callbacks_[id] = std::move(callback);
  return id;
}

void FakeKernel::remove_callback(int id) {
  change_callbacks_.erase(id);
  link_callbacks_.erase(id);
}

void FakeKernel::changed() {
  ++generation_;
  // A callback may add or remove callbacks: walk ids, and skip the ones removed meanwhile.
  std::vector<int> ids;
  for (const auto& [id, callback] : change_callbacks_) ids.push_back(id);
  for (int id : ids) {
    auto it = change_callbacks_.find(id);
    if (it == change_callbacks_.end()) continue;
    ChangeCallback callback = it->second;
    callback();
  }
}

void FakeKernel::link_changed(const std::string& name) {
  LinkStatus status = link_status(name);
  std::vector<int> ids;
  for (const auto& [id, callback] : link_callbacks_) ids.push_back(id);
  for (int id : ids) {
    auto it = link_callbacks_.find(id);
    if (it == link_callbacks_.end()) continue;
    LinkCallback callback = it->second;
    callback(name, status);
  }
}

std::vector<Ipv4Prefix> FakeKernel::usable_prefixes() const {
  std::vector<Ipv4Prefix> out;
  for (const auto& [name, link] : links_) {
    if (!link.admin_up || !link.carrier) continue;
    for (const auto& a : link.addresses) out.push_back(Ipv4Prefix{a.address, a.prefix_length});
  }
  return out;
}

}  // namespace ispf

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
  // Admin down kills the routes; a lost carrier only flags them linkdown.
  if (!admin_up) drop_routes_via(link->ifindex);
  changed();
  link_changed(name);
}

void FakeKernel::delete_link(const std::string& name) {
  Link* link = find(name);
  if (!link) misuse("delete_link: no " + name);
  drop_routes_via(link->ifindex);
  links_.erase(name);
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
  if (link->addresses.empty()) return;
  link->addresses.clear();
  // The last IPv4 address gone disables IP on the link: every route through it dies.
  drop_routes_via(link->ifindex);
  changed();
}

LinkStatus FakeKernel::link_status(const std::string& name) const {
  const Link* link = find(name);
  if (!link) return LinkStatus{};
  return LinkStatus{true, link->admin_up, link->carrier, link->ifindex};
}

void FakeKernel::add_ipv6_address(const std::string& name, const Ipv6Prefix& prefix) {
  Link* link = find(name);
  if (!link) misuse("add_ipv6_address: no " + name);
  link->ipv6_prefixes.push_back(prefix);
  changed();
}

void FakeKernel::set_ipv6_default(const std::string& name, bool present) {
  Link* link = find(name);
  if (!link) misuse("set_ipv6_default: no " + name);
  link->ipv6_default = present;
  changed();
}

bool FakeKernel::routes_via(const std::string& name, const IpAddress& target) const {
  const Link* link = find(name);
  if (!link || !link->admin_up) return false;
  if (target.family == Family::kIpv6) {
    return link->ipv6_default ||
           std::any_of(link->ipv6_prefixes.begin(), link->ipv6_prefixes.end(),
                       [&](const Ipv6Prefix& prefix) { return prefix.contains(target.v6); });
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

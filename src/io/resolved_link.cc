// systemd-resolved's per-link DNS: SetLinkDNS, SetLinkDomains and RevertLink on the system bus.
//
// The calls are synchronous with a 500 ms timeout rather than a descriptor on the asio loop: they
// happen only when the active ISP changes (after the route moved, so traffic does not wait on
// them), resolved answers them in microseconds, and a synchronous call needs no state machine
// of its own. A hung resolved costs the loop at most the timeout per switch.
#include "resolved_link.h"

#include <netinet/in.h>
#include <systemd/sd-bus.h>

#include <array>
#include <memory>

namespace ispf {
namespace {

constexpr std::uint64_t kCallTimeoutUsec = 500'000;

struct BusUnref {
  void operator()(sd_bus* bus) const { sd_bus_flush_close_unref(bus); }
};
struct MessageUnref {
  void operator()(sd_bus_message* message) const { sd_bus_message_unref(message); }
};
using Bus = std::unique_ptr<sd_bus, BusUnref>;
using Message = std::unique_ptr<sd_bus_message, MessageUnref>;

// sd-bus returns negative errno values.
std::error_code bus_error(int r) { return {-r, std::system_category()}; }

// Calls Manager.METHOD(ifindex, ...) where `append` adds the rest of the arguments.
template <class Append>
std::error_code call_manager(const char* method, int ifindex, Append append) {
  sd_bus* raw_bus = nullptr;
  if (int r = sd_bus_open_system(&raw_bus); r < 0) return bus_error(r);
  Bus bus(raw_bus);
  sd_bus_message* raw_call = nullptr;
  if (int r = sd_bus_message_new_method_call(bus.get(), &raw_call, "org.freedesktop.resolve1",
                                             "/org/freedesktop/resolve1",
                                             "org.freedesktop.resolve1.Manager", method);
      r < 0) {
    return bus_error(r);
  }
  Message call(raw_call);
  if (int r = sd_bus_message_append(call.get(), "i", ifindex); r < 0) return bus_error(r);
  if (int r = append(call.get()); r < 0) return bus_error(r);
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* raw_reply = nullptr;
  int r = sd_bus_call(bus.get(), call.get(), kCallTimeoutUsec, &error, &raw_reply);
  Message reply(raw_reply);
  sd_bus_error_free(&error);
  return r < 0 ? bus_error(r) : std::error_code{};
}

}  // namespace

std::error_code resolved_set_link_dns(int ifindex, const std::vector<IpAddress>& servers) {
  auto ec = call_manager("SetLinkDNS", ifindex, [&](sd_bus_message* m) {
    // a(iay): address family and the address in network byte order.
    int r = sd_bus_message_open_container(m, 'a', "(iay)");
    for (std::size_t i = 0; r >= 0 && i < servers.size(); ++i) {
      const IpAddress& server = servers[i];
      std::uint32_t address = server.v4;
      std::array<std::uint8_t, 4> bytes{
          static_cast<std::uint8_t>(address >> 24), static_cast<std::uint8_t>(address >> 16),
          static_cast<std::uint8_t>(address >> 8), static_cast<std::uint8_t>(address)};
      bool six = server.family == Family::kIpv6;
      r = sd_bus_message_open_container(m, 'r', "iay");
      if (r >= 0) r = sd_bus_message_append(m, "i", six ? AF_INET6 : AF_INET);
      if (r >= 0) {
        r = six ? sd_bus_message_append_array(m, 'y', server.v6.bytes.data(),
                                              server.v6.bytes.size())
                : sd_bus_message_append_array(m, 'y', bytes.data(), bytes.size());
      }
      if (r >= 0) r = sd_bus_message_close_container(m);
    }
    return r < 0 ? r : sd_bus_message_close_container(m);
  });
  if (ec) return ec;
  // "~." routing-only domain: this link's servers answer every name, not only its own domains.
  return call_manager("SetLinkDomains", ifindex, [](sd_bus_message* m) {
    return sd_bus_message_append(m, "a(sb)", 1, "~.", 1);
  });
}

std::error_code resolved_revert_link(int ifindex) {
  return call_manager("RevertLink", ifindex, [](sd_bus_message*) { return 0; });
}

}  // namespace ispf

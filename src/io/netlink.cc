// RAII helpers for libnl and libnl's error numbers as std::error_code.
#include "ispfailover/io/netlink.h"

#include <arpa/inet.h>
#include <netlink/errno.h>
#include <sys/socket.h>

namespace ispf {
namespace {

class NetlinkCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "netlink"; }
  std::string message(int code) const override { return nl_geterror(code); }
};

}  // namespace

const std::error_category& netlink_category() {
  static const NetlinkCategory category;
  return category;
}

Result<NlSocket, std::error_code> open_route_socket(std::initializer_list<int> groups) {
  NlSocket socket(nl_socket_alloc());
  if (!socket) return fail(std::make_error_code(std::errc::not_enough_memory));
  if (int err = nl_connect(socket.get(), NETLINK_ROUTE); err < 0) return fail(netlink_error(err));
  if (groups.size() > 0) {
    nl_socket_disable_seq_check(socket.get());
    for (int group : groups) {
      if (int err = nl_socket_add_membership(socket.get(), group); err < 0) {
        return fail(netlink_error(err));
      }
    }
    if (int err = nl_socket_set_nonblocking(socket.get()); err < 0) {
      return fail(netlink_error(err));
    }
    // A burst of route changes must not overflow the socket and lose the one that matters.
    nl_socket_set_buffer_size(socket.get(), 1 << 20, 0);
  }
  return socket;
}

NlAddr make_ipv4_addr(std::uint32_t address, int prefix_length) {
  std::uint32_t network_order = htonl(address);
  NlAddr addr(nl_addr_build(AF_INET, &network_order, sizeof network_order));
  if (addr) nl_addr_set_prefixlen(addr.get(), prefix_length);
  return addr;
}

}  // namespace ispf

// RAII helpers for libnl; libnl's and the kernel's errors as errno values.
#include "netlink.h"

#include <arpa/inet.h>
#include <netlink/errno.h>
#include <sys/socket.h>

#include <cerrno>
#include <utility>

namespace ispf {

namespace {

// libnl's own codes and the errno each stands for (lib/error.c maps the other way).
constexpr std::pair<int, int> kNleToErrno[] = {
    {NLE_INTR, EINTR},
    {NLE_BAD_SOCK, EBADF},
    {NLE_AGAIN, EAGAIN},
    {NLE_NOMEM, ENOMEM},
    {NLE_EXIST, EEXIST},
    {NLE_INVAL, EINVAL},
    {NLE_RANGE, ERANGE},
    {NLE_MSGSIZE, EMSGSIZE},
    {NLE_OPNOTSUPP, EOPNOTSUPP},
    {NLE_AF_NOSUPPORT, EAFNOSUPPORT},
    {NLE_OBJ_NOTFOUND, ENOENT},
    {NLE_NOATTR, ENODATA},
    {NLE_MISSING_ATTR, EINVAL},
    {NLE_AF_MISMATCH, EAFNOSUPPORT},
    {NLE_SEQ_MISMATCH, EPROTO},
    {NLE_MSG_OVERFLOW, EOVERFLOW},
    {NLE_MSG_TRUNC, EMSGSIZE},
    {NLE_NOADDR, EADDRNOTAVAIL},
    {NLE_SRCRT_NOSUPPORT, EOPNOTSUPP},
    {NLE_MSG_TOOSHORT, EPROTO},
    {NLE_MSGTYPE_NOSUPPORT, EOPNOTSUPP},
    {NLE_OBJ_MISMATCH, EINVAL},
    {NLE_NOCACHE, ENOENT},
    {NLE_BUSY, EBUSY},
    {NLE_PROTO_MISMATCH, EPROTONOSUPPORT},
    {NLE_NOACCESS, EACCES},
    {NLE_PERM, EPERM},
    {NLE_PKTLOC_FILE, ENOENT},
    {NLE_PARSE_ERR, EINVAL},
    {NLE_NODEV, ENODEV},
    {NLE_IMMUTABLE, EPERM},
    {NLE_DUMP_INTR, EINTR},
};

}  // namespace

std::error_code from_nle(int nle) {
  if (nle == 0) return {};
  int code = nle < 0 ? -nle : nle;
  for (auto [from, to] : kNleToErrno) {
    if (from == code) return {to, std::system_category()};
  }
  return {EIO, std::system_category()};  // NLE_FAILURE and anything newer
}

IoResult<NlSocket> open_netlink_socket(int protocol, std::initializer_list<int> groups) {
  NlSocket socket(nl_socket_alloc());
  if (!socket) return fail(std::error_code(ENOMEM, std::system_category()));
  if (int err = nl_connect(socket.get(), protocol); err < 0) return fail(from_nle(err));
  if (groups.size() > 0) {
    nl_socket_disable_seq_check(socket.get());
    for (int group : groups) {
      if (int err = nl_socket_add_membership(socket.get(), group); err < 0) {
        return fail(from_nle(err));
      }
    }
    if (int err = nl_socket_set_nonblocking(socket.get()); err < 0) return fail(from_nle(err));
    // A burst of changes must not overflow the socket and lose the one that matters.
    nl_socket_set_buffer_size(socket.get(), 1 << 20, 0);
  }
  return socket;
}

std::error_code netlink_request(nl_sock* socket, nl_msg* msg) {
  if (int err = nl_send_auto(socket, msg); err < 0) return from_nle(err);
  NlCb cb(nl_cb_alloc(NL_CB_DEFAULT));
  if (!cb) return {ENOMEM, std::system_category()};
  struct Answer {
    int error = 0;
    bool done = false;
  } answer;
  nl_cb_err(
      cb.get(), NL_CB_CUSTOM,
      [](sockaddr_nl*, nlmsgerr* e, void* arg) {
        auto* a = static_cast<Answer*>(arg);
        a->error = -e->error;
        a->done = true;
        return static_cast<int>(NL_STOP);
      },
      &answer);
  nl_cb_set(
      cb.get(), NL_CB_ACK, NL_CB_CUSTOM,
      [](nl_msg*, void* arg) {
        static_cast<Answer*>(arg)->done = true;
        return static_cast<int>(NL_STOP);
      },
      &answer);
  while (!answer.done) {
    int err = nl_recvmsgs(socket, cb.get());
    if (answer.done) break;
    if (err < 0) return from_nle(err);
  }
  return answer.error ? std::error_code(answer.error, std::system_category()) : std::error_code{};
}

NlAddr make_ipv4_addr(std::uint32_t address, int prefix_length) {
  std::uint32_t network_order = htonl(address);
  NlAddr addr(nl_addr_build(AF_INET, &network_order, sizeof network_order));
  if (addr) nl_addr_set_prefixlen(addr.get(), prefix_length);
  return addr;
}

NlAddr make_ipv6_addr(const Ipv6Address& address, int prefix_length) {
  NlAddr addr(nl_addr_build(AF_INET6, address.bytes.data(), address.bytes.size()));
  if (addr) nl_addr_set_prefixlen(addr.get(), prefix_length);
  return addr;
}

}  // namespace ispf

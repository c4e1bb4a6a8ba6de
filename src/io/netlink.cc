// RAII helpers for libnl; libnl's and the kernel's errors as errno values.
#include "netlink.h"

#include <arpa/inet.h>
#include <netlink/errno.h>
#include <sys/socket.h>

#include <cerrno>

namespace ispf {

std::error_code from_nle(int nle) {
  int e = EIO;  // NLE_FAILURE and whatever has no closer errno
  switch (nle < 0 ? -nle : nle) {
    case NLE_SUCCESS: return {};
    case NLE_INTR: e = EINTR; break;
    case NLE_BAD_SOCK: e = EBADF; break;
    case NLE_AGAIN: e = EAGAIN; break;
    case NLE_NOMEM: e = ENOMEM; break;
    case NLE_EXIST: e = EEXIST; break;
    case NLE_INVAL: e = EINVAL; break;
    case NLE_RANGE: e = ERANGE; break;
    case NLE_MSGSIZE: e = EMSGSIZE; break;
    case NLE_OPNOTSUPP: e = EOPNOTSUPP; break;
    case NLE_AF_NOSUPPORT: e = EAFNOSUPPORT; break;
    case NLE_OBJ_NOTFOUND: e = ENOENT; break;
    case NLE_NOATTR: e = ENODATA; break;
    case NLE_MISSING_ATTR: e = EINVAL; break;
    case NLE_AF_MISMATCH: e = EAFNOSUPPORT; break;
    case NLE_SEQ_MISMATCH: e = EPROTO; break;
    case NLE_MSG_OVERFLOW: e = EOVERFLOW; break;
    case NLE_MSG_TRUNC: e = EMSGSIZE; break;
    case NLE_NOADDR: e = EADDRNOTAVAIL; break;
    case NLE_SRCRT_NOSUPPORT: e = EOPNOTSUPP; break;
    case NLE_MSG_TOOSHORT: e = EPROTO; break;
    case NLE_MSGTYPE_NOSUPPORT: e = EOPNOTSUPP; break;
    case NLE_OBJ_MISMATCH: e = EINVAL; break;
    case NLE_NOCACHE: e = ENOENT; break;
    case NLE_BUSY: e = EBUSY; break;
    case NLE_PROTO_MISMATCH: e = EPROTONOSUPPORT; break;
    case NLE_NOACCESS: e = EACCES; break;
    case NLE_PERM: e = EPERM; break;
    case NLE_PKTLOC_FILE: e = ENOENT; break;
    case NLE_PARSE_ERR: e = EINVAL; break;
    case NLE_NODEV: e = ENODEV; break;
    case NLE_IMMUTABLE: e = EPERM; break;
    case NLE_DUMP_INTR: e = EINTR; break;
    default: break;
  }
  return {e, std::system_category()};
}

IoResult<NlSocket> open_route_socket(std::initializer_list<int> groups) {
  NlSocket socket(nl_socket_alloc());
  if (!socket) return fail(std::error_code(ENOMEM, std::system_category()));
  if (int err = nl_connect(socket.get(), NETLINK_ROUTE); err < 0) return fail(from_nle(err));
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

}  // namespace ispf

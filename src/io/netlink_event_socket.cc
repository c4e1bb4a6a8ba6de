// NetlinkEventSocket: wait for readable, drain with libnl, tell the owner once per drain.
#include "netlink_event_socket.h"

#include <fcntl.h>
#include <netlink/errno.h>
#include <unistd.h>

#include <cerrno>

namespace ispf {

IoResult<std::unique_ptr<NetlinkEventSocket>> NetlinkEventSocket::open(
    asio::io_context& io, int protocol, std::initializer_list<int> groups,
    MessageHandler on_message, DrainHandler on_drained) {
  auto socket = open_netlink_socket(protocol, groups);
  if (!socket) return fail(socket.error());
  // asio closes what it owns; libnl closes its own: each gets its own descriptor.
  int descriptor = ::fcntl(nl_socket_get_fd(socket->get()), F_DUPFD_CLOEXEC, 0);
  if (descriptor < 0) return fail(std::error_code(errno, std::system_category()));
  std::unique_ptr<NetlinkEventSocket> events(new NetlinkEventSocket(
      io, std::move(*socket), descriptor, std::move(on_message), std::move(on_drained)));
  events->wait();
  return events;
}

NetlinkEventSocket::NetlinkEventSocket(asio::io_context& io, NlSocket socket, int descriptor,
                                       MessageHandler on_message, DrainHandler on_drained)
    : socket_(std::move(socket)),
      descriptor_(io, descriptor),
      on_message_(std::move(on_message)),
      on_drained_(std::move(on_drained)) {
  nl_socket_modify_cb(
      socket_.get(), NL_CB_VALID, NL_CB_CUSTOM,
      [](nl_msg* msg, void* self) {
        static_cast<NetlinkEventSocket*>(self)->on_message_(msg);
        return static_cast<int>(NL_OK);
      },
      this);
}

NetlinkEventSocket::~NetlinkEventSocket() { *alive_ = false; }

void NetlinkEventSocket::wait() {
  descriptor_.async_wait(asio::posix::stream_descriptor::wait_read,
                         [this, alive = std::weak_ptr<bool>(alive_)](std::error_code ec) {
                           auto token = alive.lock();
                           if (!token || !*token || ec == asio::error::operation_aborted) return;
                           if (!ec) drain();
                           // The owner may have destroyed us from inside its handler.
                           if (*token) wait();
                         });
}

void NetlinkEventSocket::drain() {
  // Read on past an error: the caller re-queries after this drain, and older events still queued
  // behind the error must not be applied on top of the fresh answer. Bounded, so a flood cannot
  // keep the loop from everything else; what is left makes the descriptor readable again.
  bool lost = false;
  for (int i = 0; i < 4096; ++i) {
    int err = nl_recvmsgs_default(socket_.get());
    if (err >= 0) continue;
    if (err == -NLE_AGAIN) break;
    lost = true;  // ENOBUFS (NLE_NOMEM): the kernel dropped events for us
  }
  on_drained_(lost);
}

}  // namespace ispf

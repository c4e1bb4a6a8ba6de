// NetlinkEventSocket: wait for readable, drain with libnl, tell the owner once per drain.
#include "netlink_event_socket.h"

#include <fcntl.h>
#include <netlink/errno.h>
#include <unistd.h>

#include <cerrno>

namespace ispf {

IoResult<std::unique_ptr<NetlinkEventSocket>> NetlinkEventSocket::open(
    asio::io_context& io, std::initializer_list<int> groups, MessageHandler on_message,
    DrainHandler on_drained) {
  auto socket = open_route_socket(groups);
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
  int err = 0;
  while ((err = nl_recvmsgs_default(socket_.get())) >= 0) {
  }
  // Anything but "nothing more to read" means events may be gone (ENOBUFS is NLE_NOMEM).
  on_drained_(err != -NLE_AGAIN);
}

}  // namespace ispf

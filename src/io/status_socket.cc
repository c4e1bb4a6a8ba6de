// UDP status datagrams: broadcast sender bound to the LAN device, and the listener that drains
// its socket with recvmsg to read the kernel's drop counter (SO_RXQ_OVFL).
#include "status_socket.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace ispf {
namespace {

std::error_code last_error() { return {errno, std::system_category()}; }

}  // namespace

IoResult<std::unique_ptr<UdpSender>> UdpSender::open(asio::io_context& io,
                                                     std::vector<std::uint32_t> destinations,
                                                     std::uint16_t port,
                                                     const std::string& device) {
  asio::ip::udp::socket socket(io);
  std::error_code ec;
  socket.open(asio::ip::udp::v4(), ec);
  if (ec) return fail(to_system(ec));
  socket.set_option(asio::socket_base::broadcast(true), ec);
  if (ec) return fail(to_system(ec));
  if (!device.empty() && ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_BINDTODEVICE,
                                      device.c_str(), static_cast<socklen_t>(device.size())) != 0) {
    return fail(last_error());
  }
  socket.non_blocking(true, ec);
  if (ec) return fail(to_system(ec));
  std::vector<asio::ip::udp::endpoint> endpoints;
  for (auto address : destinations) endpoints.emplace_back(asio::ip::address_v4(address), port);
  return std::unique_ptr<UdpSender>(new UdpSender(std::move(socket), std::move(endpoints)));
}

UdpSender::UdpSender(asio::ip::udp::socket socket,
                     std::vector<asio::ip::udp::endpoint> destinations)
    : socket_(std::move(socket)), destinations_(std::move(destinations)) {}

std::error_code UdpSender::send(std::string_view datagram) {
  std::error_code first_error;
  for (const auto& destination : destinations_) {
    std::error_code ec;
    socket_.send_to(asio::buffer(datagram.data(), datagram.size()), destination, 0, ec);
    if (ec && !first_error) first_error = to_system(ec);
  }
  return first_error;
}

IoResult<std::unique_ptr<UdpListener>> UdpListener::open(asio::io_context& io, std::uint16_t port,
                                                         Handler handler) {
  asio::ip::udp::socket socket(io);
  std::error_code ec;
  socket.open(asio::ip::udp::v4(), ec);
  if (ec) return fail(to_system(ec));
  socket.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail(to_system(ec));
  socket.bind(asio::ip::udp::endpoint(asio::ip::address_v4::any(), port), ec);
  if (ec) return fail(to_system(ec));
  int fd = socket.native_handle();
  // A flood must queue in the kernel, not push out a real report. SO_RCVBUFFORCE passes
  // net.core.rmem_max with CAP_NET_ADMIN (failoverd has it); without, take what rmem_max allows.
  int size = 4 << 20;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) != 0) return fail(last_error());
  socket.non_blocking(true, ec);
  if (ec) return fail(to_system(ec));
  std::unique_ptr<UdpListener> listener(new UdpListener(std::move(socket), std::move(handler)));
  listener->wait();
  return listener;
}

UdpListener::UdpListener(asio::ip::udp::socket socket, Handler handler)
    : socket_(std::move(socket)), handler_(std::move(handler)) {}

UdpListener::~UdpListener() { *alive_ = false; }

void UdpListener::wait() {
  socket_.async_wait(asio::socket_base::wait_read,
                     [this, alive = std::weak_ptr<bool>(alive_)](std::error_code ec) {
                       auto token = alive.lock();
                       if (!token || !*token || ec == asio::error::operation_aborted) return;
                       // Bounded, so a flood cannot keep the loop from its timers.
                       if (!ec) drain(256);
                       if (*token) wait();  // the handler may have closed the listener
                     });
}

void UdpListener::read_pending() {
  // As many as the receive buffer can hold (4 MiB asked, which the kernel doubles; even an
  // empty datagram costs more than 512 bytes of it): everything queued when we were called.
  drain(16384);
}

void UdpListener::drain(int most) {
  auto token = alive_;
  const int fd = socket_.native_handle();
  for (int i = 0; i < most; ++i) {
    sockaddr_in from{};
    iovec iov{buffer_.data(), buffer_.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(std::uint32_t))];
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN: drained; anything else: try again when readable
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
        std::uint32_t dropped = 0;
        std::memcpy(&dropped, CMSG_DATA(c), sizeof dropped);
        overflows_ = dropped;  // the kernel's running count for this socket
      }
    }
    if (from.sin_family != AF_INET) continue;
    handler_(std::span<const char>(buffer_.data(), static_cast<std::size_t>(n)),
             ntohl(from.sin_addr.s_addr));
    if (!*token) return;
  }
}

}  // namespace ispf

// UDP status datagrams: broadcast sender bound to the LAN device, and the port-1500 listener.
#include "ispfailover/io/status_socket.h"

#include <sys/socket.h>

namespace ispf {

Result<std::unique_ptr<StatusSender>, std::error_code> StatusSender::open(
    asio::io_context& io, std::vector<std::uint32_t> destinations, std::uint16_t port,
    const std::string& device) {
  asio::ip::udp::socket socket(io);
  std::error_code ec;
  socket.open(asio::ip::udp::v4(), ec);
  if (ec) return fail(ec);
  socket.set_option(asio::socket_base::broadcast(true), ec);
  if (ec) return fail(ec);
  if (!device.empty() && ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_BINDTODEVICE,
                                      device.c_str(), static_cast<socklen_t>(device.size())) != 0) {
    return fail(std::error_code(errno, std::system_category()));
  }
  socket.non_blocking(true, ec);
  if (ec) return fail(ec);
  std::vector<asio::ip::udp::endpoint> endpoints;
  for (auto address : destinations) {
    endpoints.emplace_back(asio::ip::address_v4(address), port);
  }
  return std::unique_ptr<StatusSender>(new StatusSender(std::move(socket), std::move(endpoints)));
}

StatusSender::StatusSender(asio::ip::udp::socket socket,
                           std::vector<asio::ip::udp::endpoint> destinations)
    : socket_(std::move(socket)), destinations_(std::move(destinations)) {}

std::error_code StatusSender::send(std::string_view datagram) {
  std::error_code first_error;
  for (const auto& destination : destinations_) {
    std::error_code ec;
    socket_.send_to(asio::buffer(datagram.data(), datagram.size()), destination, 0, ec);
    if (ec) {
      ++send_errors_;
      if (!first_error) first_error = ec;
    }
  }
  return first_error;
}

Result<std::unique_ptr<StatusListener>, std::error_code> StatusListener::open(asio::io_context& io,
                                                                              std::uint16_t port,
                                                                              Handler handler) {
  asio::ip::udp::socket socket(io);
  std::error_code ec;
  socket.open(asio::ip::udp::v4(), ec);
  if (ec) return fail(ec);
  socket.set_option(asio::socket_base::reuse_address(true), ec);
  socket.bind(asio::ip::udp::endpoint(asio::ip::address_v4::any(), port), ec);
  if (ec) return fail(ec);
  // A flood must queue in the kernel, not be lost before a real report gets in.
  socket.set_option(asio::socket_base::receive_buffer_size(1 << 20), ec);
  std::unique_ptr<StatusListener> listener(
      new StatusListener(std::move(socket), std::move(handler)));
  listener->receive();
  return listener;
}

StatusListener::StatusListener(asio::ip::udp::socket socket, Handler handler)
    : socket_(std::move(socket)), handler_(std::move(handler)) {}

StatusListener::~StatusListener() { *alive_ = false; }

void StatusListener::receive() {
  socket_.async_receive_from(
      asio::buffer(buffer_), sender_,
      [this, alive = std::weak_ptr<bool>(alive_)](std::error_code ec, std::size_t length) {
        if (ec == asio::error::operation_aborted || !alive.lock() || !*alive.lock()) return;
        if (!ec && sender_.address().is_v4()) {
          handler_(std::span<const char>(buffer_.data(), length),
                   sender_.address().to_v4().to_uint());
        }
        receive();
      });
}

}  // namespace ispf

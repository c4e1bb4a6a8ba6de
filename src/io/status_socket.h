// UDP transport of status datagrams: the router's broadcaster and the client's listener.
#pragma once

#include <array>
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ispfailover/io/env.h"

namespace ispf {

class UdpSender final : public DatagramSender {
 public:
  // Sends to each destination (IPv4 host order) on `port`; with `device`, bound to it
  // (SO_BINDTODEVICE) so broadcasts leave by the LAN interface only.
  static IoResult<std::unique_ptr<UdpSender>> open(asio::io_context& io,
                                                   std::vector<std::uint32_t> destinations,
                                                   std::uint16_t port, const std::string& device);
  // Best effort: the first failure is returned, every destination is tried.
  std::error_code send(std::string_view datagram) override;

 private:
  UdpSender(asio::ip::udp::socket socket, std::vector<asio::ip::udp::endpoint> destinations);
  asio::ip::udp::socket socket_;
  std::vector<asio::ip::udp::endpoint> destinations_;
};

class UdpListener final : public DatagramListener {
 public:
  // Bound to `port` on every address (broadcasts included), with a receive buffer large enough
  // that a flood queues instead of pushing out the report that matters.
  static IoResult<std::unique_ptr<UdpListener>> open(asio::io_context& io, std::uint16_t port,
                                                     Handler handler);
  ~UdpListener() override;
  std::uint64_t overflows() const override { return overflows_; }
  void read_pending() override;

 private:
  UdpListener(asio::ip::udp::socket socket, Handler handler);
  void wait();
  // Reads until EAGAIN, `most` datagrams or the handler closing the listener.
  void drain(int most);

  asio::ip::udp::socket socket_;
  Handler handler_;
  // One byte more than a valid datagram may have, so oversize input is seen as oversize.
  std::array<char, 1501> buffer_{};
  std::uint64_t overflows_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Standalone asio reports errno values in its own category, which does not compare equal to
// std::errc; the rest of the program speaks std::system_category.
inline std::error_code to_system(const std::error_code& ec) {
  return ec ? std::error_code(ec.value(), std::system_category()) : ec;
}

}  // namespace ispf

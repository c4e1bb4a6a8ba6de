// UDP transport of status datagrams: the router's broadcaster and the client's listener.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "ispfailover/core/result.h"

namespace ispf {

class StatusSender {
 public:
  // Sends to each destination (IPv4 host order) on `port`; with `device`, bound to it
  // (SO_BINDTODEVICE) so broadcasts leave by the LAN interface only.
  static Result<std::unique_ptr<StatusSender>, std::error_code> open(
      asio::io_context& io, std::vector<std::uint32_t> destinations, std::uint16_t port,
      const std::string& device);
  // Best effort: a failed send is counted and returned, never thrown.
  std::error_code send(std::string_view datagram);
  std::uint64_t send_errors() const { return send_errors_; }

 private:
  StatusSender(asio::ip::udp::socket socket, std::vector<asio::ip::udp::endpoint> destinations);
  asio::ip::udp::socket socket_;
  std::vector<asio::ip::udp::endpoint> destinations_;
  std::uint64_t send_errors_ = 0;
};

class StatusListener {
 public:
  // Called for every datagram with its bytes and its IPv4 source (host order).
  using Handler = std::function<void(std::span<const char>, std::uint32_t source)>;
  static Result<std::unique_ptr<StatusListener>, std::error_code> open(asio::io_context& io,
                                                                       std::uint16_t port,
                                                                       Handler handler);
  ~StatusListener();

 private:
  StatusListener(asio::ip::udp::socket socket, Handler handler);
  void receive();
  asio::ip::udp::socket socket_;
  Handler handler_;
  asio::ip::udp::endpoint sender_;
  // One byte more than a valid datagram may have, so oversize input is seen as oversize.
  std::array<char, 1501> buffer_{};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace ispf

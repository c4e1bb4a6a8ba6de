// Raw ICMP echo probing out of one uplink interface, in rounds, on the daemon's io_context.
#pragma once

#include <array>
#include <asio/io_context.hpp>
#include <asio/ip/icmp.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ispfailover/core/icmp_packet.h"
#include "ispfailover/io/env.h"

namespace ispf {

// One class for both families: they differ only in the socket's protocol, the filter and how an
// answer is parsed; rounds, timeouts and late replies are the same.
class IcmpProber final : public Prober {
 public:
  // A raw ICMP (kIpv4) or ICMPv6 (kIpv6) socket bound to `uplink` with SO_BINDTODEVICE, so probes
  // can never leave by another route. EPERM without CAP_NET_RAW, ENODEV for an unknown interface.
  //
  // Bound to a device, a socket whose target has no route is not refused by the kernel: it takes
  // the target as on-link and sends (ARP first). So "no-route" comes only from a send error
  // (ENETUNREACH, ENETDOWN, EHOSTUNREACH, e.g. with the uplink down); a deleted route shows up
  // as probe-loss after the timeout.
  static IoResult<std::unique_ptr<IcmpProber>> open(asio::io_context& io, const std::string& uplink,
                                                    std::uint16_t identifier,
                                                    Family family = Family::kIpv4);
  ~IcmpProber() override;

  // A round with a sequence still running concludes the old one first (as timed out).
  void start_round(const RoundRequest& request, RoundHandler done) override;
  std::uint64_t ignored_packets() const override { return ignored_; }
  void on_late_reply(LateReplyHandler handler) override { late_handler_ = std::move(handler); }

 private:
  struct Round;
  // What any answer comes down to, of either family.
  struct Answer {
    IcmpKind kind = IcmpKind::kOther;
    IpAddress about;  // the replier, or the destination an error is about
    std::uint16_t identifier = 0;
    std::uint16_t sequence = 0;
  };
  IcmpProber(asio::io_context& io, asio::ip::icmp::socket socket, std::uint16_t identifier,
             Family family);
  std::optional<Answer> parse(std::size_t length) const;
  void receive();
  void handle_packet(std::size_t length);
  void finish_if_complete(std::uint16_t sequence, bool timed_out);
  // A reply to a concluded round: reported once per target while the round is recent.
  bool handle_late_reply(std::uint16_t sequence, const IpAddress& target);

  // What a late reply needs of a concluded round: when it started, and the targets not yet
  // answered (each reported once; a duplicate reply is ignored).
  struct Concluded {
    TimePoint started;
    std::vector<IpAddress> unanswered;
  };
  // Rounds kept for late replies: about 4 s of rounds at the shortest cadence, and
  // sequences wrap only after 65536.
  static constexpr std::size_t kConcludedKept = 128;

  asio::io_context& io_;
  asio::ip::icmp::socket socket_;
  std::uint16_t identifier_;
  Family family_;
  asio::ip::icmp::endpoint sender_;  // an ICMPv6 message's source: not in what we read
  std::map<std::uint16_t, std::unique_ptr<Round>> rounds_;
  std::map<std::uint16_t, Concluded> concluded_;
  std::deque<std::uint16_t> concluded_order_;
  LateReplyHandler late_handler_;
  std::array<std::uint8_t, 1500> buffer_{};
  std::uint64_t ignored_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace ispf

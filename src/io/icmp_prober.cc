// Raw ICMP(v6) echo rounds out of one interface: send, match replies by identifier, sequence and
// source.
#include "icmp_prober.h"

#include <linux/icmp.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <sys/socket.h>

#include <algorithm>
#include <asio/post.hpp>
#include <string_view>

#include "status_socket.h"

namespace ispf {
namespace {

// Visible in tcpdump -A, so a person can tell our probes from anyone else's.
constexpr std::string_view kPayload = "ispfailover probe";

bool is_no_route(const std::error_code& ec) {
  return ec == std::errc::network_unreachable || ec == std::errc::network_down ||
         ec == std::errc::host_unreachable || ec == std::errc::no_such_device;
}

}  // namespace

struct IcmpProber::Round {
  explicit Round(asio::io_context& io) : timer(io) {}
  RoundReport report;
  std::vector<bool> concluded;
  std::size_t remaining = 0;
  asio::steady_timer timer;
  RoundHandler handler;
};

IoResult<std::unique_ptr<IcmpProber>> IcmpProber::open(asio::io_context& io,
                                                       const std::string& uplink,
                                                       std::uint16_t identifier, Family family) {
  const bool v6 = family == Family::kIpv6;
  asio::ip::icmp::socket socket(io);
  std::error_code ec;
  socket.open(v6 ? asio::ip::icmp::v6() : asio::ip::icmp::v4(), ec);
  if (ec) return fail(to_system(ec));
  int fd = socket.native_handle();
  if (::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, uplink.c_str(),
                   static_cast<socklen_t>(uplink.size())) != 0) {
    return fail(std::error_code(errno, std::system_category()));
  }
  // Only replies and the errors that can be about our requests wake us up. An ICMPv6 socket
  // would otherwise read every neighbour and router advertisement on the link.
  if (v6) {
    icmp6_filter filter{};
    ICMP6_FILTER_SETBLOCKALL(&filter);
    ICMP6_FILTER_SETPASS(kIcmpv6EchoReply, &filter);
    ICMP6_FILTER_SETPASS(kIcmpv6DestUnreachable, &filter);
    ICMP6_FILTER_SETPASS(kIcmpv6TimeExceeded, &filter);
    if (::setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0) {
      return fail(std::error_code(errno, std::system_category()));
    }
  } else {
    icmp_filter filter{};
    filter.data =
        ~((1u << ICMP_ECHOREPLY) | (1u << ICMP_DEST_UNREACH) | (1u << ICMP_TIME_EXCEEDED));
    ::setsockopt(fd, SOL_RAW, ICMP_FILTER, &filter, sizeof filter);
  }
  socket.non_blocking(true, ec);
  if (ec) return fail(to_system(ec));
  std::unique_ptr<IcmpProber> prober(new IcmpProber(io, std::move(socket), identifier, family));
  prober->receive();
  return prober;
}

IcmpProber::IcmpProber(asio::io_context& io, asio::ip::icmp::socket socket,
                       std::uint16_t identifier, Family family)
    : io_(io), socket_(std::move(socket)), identifier_(identifier), family_(family) {}

IcmpProber::~IcmpProber() { *alive_ = false; }

void IcmpProber::start_round(const RoundRequest& request, RoundHandler done) {
  const std::uint16_t sequence = request.sequence;
  const std::vector<IpAddress>& targets = request.targets;
  if (rounds_.count(sequence)) {
    auto token = alive_;
    finish_if_complete(sequence, /*timed_out=*/true);
    if (!*token) return;  // the old round's handler closed the prober
  }
  auto round = std::make_unique<Round>(io_);
  round->handler = std::move(done);
  round->report.sequence = sequence;
  round->report.started = Clock::now();
  round->report.probes.resize(targets.size());
  round->concluded.assign(targets.size(), false);
  round->remaining = targets.size();
  auto payload = std::span(reinterpret_cast<const std::uint8_t*>(kPayload.data()), kPayload.size());
  auto packet = family_ == Family::kIpv6 ? encode_echo6_request(identifier_, sequence, payload)
                                         : encode_echo_request(identifier_, sequence, payload);
  for (std::size_t i = 0; i < targets.size(); ++i) {
    ProbeOutcome& probe = round->report.probes[i];
    probe.target = targets[i];
    std::error_code ec;
    if (targets[i].family != family_) {
      ec = std::make_error_code(std::errc::address_family_not_supported);
    } else {
      asio::ip::address to = family_ == Family::kIpv6
                                 ? asio::ip::address(asio::ip::address_v6(targets[i].v6.bytes))
                                 : asio::ip::address(asio::ip::address_v4(targets[i].v4));
      socket_.send_to(asio::buffer(packet), asio::ip::icmp::endpoint(to, 0), 0, ec);
      ec = to_system(ec);
    }
    if (ec) {
      probe.error = is_no_route(ec) ? ProbeError::kNoRoute : ProbeError::kTimeout;
      probe.send_error = ec;
      round->concluded[i] = true;
      --round->remaining;
    }
  }
  Round& ref = *round;
  rounds_[sequence] = std::move(round);
  if (ref.remaining == 0) {
    // Report on the next turn of the loop, never from inside the caller's own call.
    asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_), sequence] {
      if (alive.lock() && *alive.lock()) finish_if_complete(sequence, false);
    });
    return;
  }
  ref.timer.expires_after(request.timeout);
  ref.timer.async_wait([this, alive = std::weak_ptr<bool>(alive_), sequence](std::error_code ec) {
    if (ec || !alive.lock() || !*alive.lock()) return;
    finish_if_complete(sequence, /*timed_out=*/true);
  });
}

void IcmpProber::finish_if_complete(std::uint16_t sequence, bool timed_out) {
  auto it = rounds_.find(sequence);
  if (it == rounds_.end()) return;
  if (!timed_out && it->second->remaining > 0) return;
  std::unique_ptr<Round> round = std::move(it->second);
  rounds_.erase(it);
  round->timer.cancel();
  round->report.concluded = Clock::now();
  Concluded kept{round->report.started, {}};
  for (const ProbeOutcome& probe : round->report.probes) {
    if (!probe.rtt && !probe.send_error) kept.unanswered.push_back(probe.target);
  }
  if (!kept.unanswered.empty()) {
    concluded_.insert_or_assign(sequence, std::move(kept));
    concluded_order_.push_back(sequence);
    while (concluded_order_.size() > kConcludedKept) {
      concluded_.erase(concluded_order_.front());
      concluded_order_.pop_front();
    }
  }
  round->handler(round->report);
}

void IcmpProber::receive() {
  socket_.async_receive_from(
      asio::buffer(buffer_), sender_,
      [this, alive = std::weak_ptr<bool>(alive_)](std::error_code ec, std::size_t length) {
        auto token = alive.lock();
        if (!token || !*token || ec == asio::error::operation_aborted) return;
        if (!ec) handle_packet(length);
        // A transient receive error (e.g. ENOBUFS) must not end probing: read on, unless a round's
        // handler closed the prober.
        if (*token) receive();
      });
}

std::optional<IcmpProber::Answer> IcmpProber::parse(std::size_t length) const {
  std::span<const std::uint8_t> bytes(buffer_.data(), length);
  if (family_ == Family::kIpv4) {
    auto parsed = parse_icmp_packet(bytes);
    if (!parsed) return std::nullopt;
    return Answer{parsed->kind, IpAddress::ipv4(parsed->about), parsed->identifier,
                  parsed->sequence};
  }
  if (!sender_.address().is_v6()) return std::nullopt;
  Ipv6Address source{sender_.address().to_v6().to_bytes()};
  auto parsed = parse_icmpv6_message(bytes, source);
  if (!parsed) return std::nullopt;
  return Answer{parsed->kind, IpAddress::ipv6(parsed->about), parsed->identifier, parsed->sequence};
}

void IcmpProber::handle_packet(std::size_t length) {
  auto parsed = parse(length);
  if (!parsed || parsed->kind == IcmpKind::kOther || parsed->identifier != identifier_) {
    ++ignored_;
    return;
  }
  auto it = rounds_.find(parsed->sequence);
  if (it == rounds_.end()) {
    bool reported =
        parsed->kind == IcmpKind::kEchoReply && handle_late_reply(parsed->sequence, parsed->about);
    if (!reported) ++ignored_;
    return;
  }
  Round& round = *it->second;
  for (std::size_t i = 0; i < round.report.probes.size(); ++i) {
    ProbeOutcome& probe = round.report.probes[i];
    if (round.concluded[i] || probe.target != parsed->about) continue;
    if (parsed->kind == IcmpKind::kEchoReply) {
      probe.rtt = Clock::now() - round.report.started;
      probe.error = ProbeError::kNone;
    } else {
      probe.error = ProbeError::kUnreachable;
    }
    round.concluded[i] = true;
    --round.remaining;
    finish_if_complete(parsed->sequence, false);
    return;
  }
  ++ignored_;
}

bool IcmpProber::handle_late_reply(std::uint16_t sequence, const IpAddress& target) {
  auto it = concluded_.find(sequence);
  if (it == concluded_.end()) return false;
  auto& unanswered = it->second.unanswered;
  auto found = std::find(unanswered.begin(), unanswered.end(), target);
  if (found == unanswered.end()) return false;
  unanswered.erase(found);
  LateReply reply{sequence, target, Clock::now() - it->second.started};
  if (unanswered.empty()) concluded_.erase(it);  // its place in the order ages out by itself
  if (late_handler_) late_handler_(reply);
  return true;
}

}  // namespace ispf

// Raw ICMP echo probing out of one uplink interface, in rounds, on the daemon's io_context.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "ispfailover/core/clock.h"
#include "ispfailover/core/result.h"

namespace ispf {

enum class ProbeError { kNone, kTimeout, kNoRoute, kUnreachable };

struct ProbeOutcome {
  std::uint32_t target = 0;  // host byte order
  std::optional<Duration> rtt;
  ProbeError error = ProbeError::kTimeout;
  std::error_code send_error;  // what sendto() said, in std::system_category
};

struct RoundReport {
  std::uint16_t sequence = 0;
  TimePoint started;
  TimePoint concluded;
  std::vector<ProbeOutcome> probes;  // one per target, in target order
  std::uint32_t answered() const;
  // The most telling failure among the probes: no-route, unreachable, else probe-loss.
  std::string failure_reason() const;
};

// The seam: a prober sends one round and reports it once every target answered or failed, or
// the timeout passed. Real: IcmpProber. Tests use a scripted fake.
class Prober {
 public:
  using RoundHandler = std::function<void(const RoundReport&)>;
  virtual ~Prober() = default;
  virtual void start_round(std::uint16_t sequence, RoundHandler done) = 0;
  virtual void set_targets(std::vector<std::uint32_t> targets, Duration timeout) = 0;
  // Counts of received ICMP packets that were not answers to our requests (other hosts' pings).
  virtual std::uint64_t ignored_packets() const = 0;
};

class IcmpProber final : public Prober {
 public:
  // Opens a raw ICMP socket bound to `uplink` with SO_BINDTODEVICE, so probes can never leave by
  // another route. Fails with EPERM without CAP_NET_RAW, ENODEV for an unknown interface (errors
  // in std::system_category, so they compare equal to std::errc values).
  //
  // Bound to a device, a socket whose target has no route is not refused by the kernel: it takes
  // the target as on-link and sends (ARP first). So "no-route" comes only from a send error
  // (ENETUNREACH, ENETDOWN, EHOSTUNREACH, e.g. with the uplink down); a deleted route shows up
  // as probe-loss after the timeout.
  static Result<std::unique_ptr<IcmpProber>, std::error_code> open(
      asio::io_context& io, const std::string& uplink, std::uint16_t identifier,
      std::vector<std::uint32_t> targets, Duration timeout);
  ~IcmpProber() override;

  void start_round(std::uint16_t sequence, RoundHandler done) override;
  void set_targets(std::vector<std::uint32_t> targets, Duration timeout) override;
  std::uint64_t ignored_packets() const override { return ignored_; }

 private:
  struct Round;
  IcmpProber(asio::io_context& io, asio::ip::icmp::socket socket, std::uint16_t identifier,
             std::vector<std::uint32_t> targets, Duration timeout);
  void receive();
  void handle_packet(std::size_t length);
  void finish_if_complete(std::uint16_t sequence, bool timed_out);

  asio::io_context& io_;
  asio::ip::icmp::socket socket_;
  std::uint16_t identifier_;
  std::vector<std::uint32_t> targets_;
  Duration timeout_;
  std::map<std::uint16_t, std::unique_ptr<Round>> rounds_;
  std::array<std::uint8_t, 1500> buffer_{};
  std::uint64_t ignored_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace ispf

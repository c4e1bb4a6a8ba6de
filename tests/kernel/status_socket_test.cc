// LinuxEnv's sender broadcasts and its listener receives over a real bridged LAN in namespaces.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ispfailover/core/config.h"
#include "ispfailover/core/status_message.h"
#include "ispfailover/io/linux_env.h"
#include "support/netns.h"
#include "support/sample_status.h"

namespace ispf {
namespace {

using std::chrono::milliseconds;
using test::EnterNetns;
using test::Ip;
using test::Netns;
using test::RunUntil;
using test::SampleStatus;

constexpr std::uint16_t kPort = 1500;

struct Datagram {
  std::string bytes;
  std::uint32_t source = 0;
};

// A plain BSD UDP socket on 0.0.0.0:port inside a namespace: the independent witness.
class PlainReceiver {
 public:
  PlainReceiver(const Netns& ns, std::uint16_t port) {
    EnterNetns inside(ns);
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ::close(fd_);
      throw std::runtime_error("bind to the status port failed");
    }
  }
  ~PlainReceiver() { ::close(fd_); }
  PlainReceiver(const PlainReceiver&) = delete;
  PlainReceiver& operator=(const PlainReceiver&) = delete;

  // One datagram, or nullopt if none came within `limit`.
  std::optional<Datagram> Receive(milliseconds limit) {
    timeval tv{};
    tv.tv_sec = limit.count() / 1000;
    tv.tv_usec = (limit.count() % 1000) * 1000;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buffer[2048];
    sockaddr_in from{};
    socklen_t length = sizeof from;
    ssize_t n =
        ::recvfrom(fd_, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &length);
    if (n < 0) return std::nullopt;
    return Datagram{std::string(buffer, static_cast<std::size_t>(n)), ntohl(from.sin_addr.s_addr)};
  }

 private:
  int fd_ = -1;
};

// isp (192.168.56.101), client (.10) and observer (.20) on one bridged LAN; the isp also has an
// uplink wan0 (203.0.113.2) to a wan namespace, which is where its default route goes.
class StatusSocketTest : public ::testing::Test {
 protected:
  StatusSocketTest() {
    lan_.Attach(isp_, "lan0", "192.168.56.101/24");
    lan_.Attach(client_, "lan0", "192.168.56.10/24");
    lan_.Attach(observer_, "lan0", "192.168.56.20/24");
    test::AddVeth(isp_, "wan0", wan_, "wan0r");
    isp_.Must("ip addr add 203.0.113.2/24 brd + dev wan0 && ip route add default via 203.0.113.1");
    wan_.Must("ip addr add 203.0.113.1/24 brd + dev wan0r");
  }

  std::unique_ptr<DatagramSender> OpenSender(const std::string& destination) {
    EnterNetns inside(isp_);
    auto sender = env_.open_sender({Ip(destination)}, kPort, "lan0");
    if (!sender) throw std::runtime_error("open_sender: " + sender.error().message());
    return std::move(*sender);
  }

  std::unique_ptr<DatagramListener> OpenListener(const Netns& ns, std::vector<Datagram>& into) {
    EnterNetns inside(ns);
    auto listener = env_.listen(kPort, [&into](std::span<const char> bytes, std::uint32_t src) {
      into.push_back(Datagram{std::string(bytes.begin(), bytes.end()), src});
    });
    if (!listener) throw std::runtime_error("listen: " + listener.error().message());
    return std::move(*listener);
  }

  test::Lan lan_;
  Netns isp_{"isp"};
  Netns client_{"client"};
  Netns observer_{"observer"};
  Netns wan_{"wan"};
  asio::io_context io_;
  LinuxEnv env_{io_, "status_socket_test"};
};

TEST_F(StatusSocketTest, BroadcastReachesListenerAndPlainSocket) {
  std::vector<Datagram> received;
  auto listener = OpenListener(client_, received);
  PlainReceiver observer(observer_, kPort);
  auto sender = OpenSender("192.168.56.255");

  const std::string datagram = encode(SampleStatus());
  std::error_code sent = sender->send(datagram);
  ASSERT_FALSE(sent) << sent.message();

  auto seen = observer.Receive(milliseconds(3000));
  ASSERT_TRUE(seen.has_value()) << "the observer's plain socket got nothing";
  EXPECT_EQ(seen->bytes, datagram);
  EXPECT_EQ(format_ipv4(seen->source), "192.168.56.101");

  ASSERT_TRUE(RunUntil(
      io_, [&] { return !received.empty(); }, milliseconds(3000)))
      << "StatusListener got nothing";
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(format_ipv4(received[0].source), "192.168.56.101");
  auto decoded = decode(std::span<const char>(received[0].bytes.data(), received[0].bytes.size()));
  ASSERT_TRUE(decoded.has_value()) << to_string(decoded.error().error);
  EXPECT_EQ(*decoded, SampleStatus());
}

TEST_F(StatusSocketTest, ListenerGetsEveryDatagramInOrder) {
  std::vector<Datagram> received;
  auto listener = OpenListener(client_, received);
  auto sender = OpenSender("192.168.56.255");
  for (std::uint64_t seq = 1; seq <= 20; ++seq) {
    Status status = SampleStatus();
    status.seq = seq;
    ASSERT_FALSE(sender->send(encode(status)));
  }
  ASSERT_TRUE(RunUntil(
      io_, [&] { return received.size() >= 20; }, milliseconds(3000)))
      << "only " << received.size() << " of 20 datagrams arrived";
  for (std::size_t i = 0; i < received.size(); ++i) {
    auto decoded =
        decode(std::span<const char>(received[i].bytes.data(), received[i].bytes.size()));
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(decoded->seq, i + 1);
  }
}

// A limited broadcast would follow the default route (wan0) if the socket were not bound to the
// LAN device; bound, it must appear on the LAN and not on the uplink.
TEST_F(StatusSocketTest, BoundSenderBroadcastsOnTheLanOnly) {
  PlainReceiver observer(observer_, kPort);
  PlainReceiver upstream(wan_, kPort);
  auto sender = OpenSender("255.255.255.255");
  ASSERT_FALSE(sender->send(encode(SampleStatus())));
  auto on_lan = observer.Receive(milliseconds(3000));
  ASSERT_TRUE(on_lan.has_value()) << "the limited broadcast did not reach the LAN";
  EXPECT_EQ(format_ipv4(on_lan->source), "192.168.56.101");
  EXPECT_FALSE(upstream.Receive(milliseconds(500)).has_value())
      << "the status datagram leaked out of the uplink";
}

TEST_F(StatusSocketTest, SenderOnUnknownDeviceFails) {
  EnterNetns inside(isp_);
  auto sender = env_.open_sender({Ip("192.168.56.255")}, kPort, "nosuch0");
  ASSERT_FALSE(sender.has_value());
  EXPECT_EQ(sender.error(), std::errc::no_such_device) << sender.error().message();
}

// A listener that is not read overflows. The kernel stamps its drop count (SO_RXQ_OVFL) on each
// datagram as it queues it, so the count shows with the first datagram that came after the drops.
TEST_F(StatusSocketTest, ListenerReportsTheKernelsDropCount) {
  std::vector<Datagram> received;
  auto listener = OpenListener(client_, received);
  EXPECT_EQ(listener->overflows(), 0u);
  const std::string datagram = encode(SampleStatus());
  // From inside the client over lo: delivery in the sender's own softirq, so the datagrams pile
  // up in the listener's buffer rather than in a device backlog on the way.
  auto send = [&](int count) {
    EnterNetns inside(client_);
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(kPort);
    to.sin_addr.s_addr = htonl(Ip("127.0.0.1"));
    for (int i = 0; i < count; ++i) {
      ::sendto(fd, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&to),
               sizeof to);
    }
    ::close(fd);
  };
  // More than the buffer holds (4 MiB asked, 8 MiB given; a datagram costs 1 KiB or more).
  const int kFlood = 40000;
  send(kFlood);
  ASSERT_TRUE(RunUntil(
      io_, [&] { return received.size() > 100; }, milliseconds(5000)));
  test::RunFor(io_, milliseconds(200));  // the queue drained
  const std::size_t queued = received.size();
  ASSERT_LT(queued, static_cast<std::size_t>(kFlood)) << "nothing was dropped: no test";
  EXPECT_EQ(listener->overflows(), 0u) << "no datagram after the drops yet";
  send(1);
  ASSERT_TRUE(RunUntil(
      io_, [&] { return received.size() > queued; }, milliseconds(3000)));
  EXPECT_EQ(listener->overflows(), kFlood - queued);
  EXPECT_EQ(received.back().bytes, datagram);
}

}  // namespace
}  // namespace ispf

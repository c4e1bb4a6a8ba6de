// MarkedConnections against a real conntrack table and TCP sockets; `conntrack -L` the witness.
#include "io/conntrack.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/netns.h"

namespace ispf {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using test::EnterNetns;
using test::Netns;
using test::PollUntil;
using test::Socket;

constexpr std::uint32_t kMark = 0x01000000;
constexpr std::uint32_t kMask = 0x0f000000;
constexpr std::uint16_t kMarkedPort = 5001;
constexpr std::uint16_t kUnmarkedPort = 5002;
constexpr auto kDeadline = std::chrono::seconds(5);

struct Endpoint {
  int family;
  std::string address;
  std::uint16_t port;
};

sockaddr_storage SockAddr(const Endpoint& endpoint, socklen_t* length) {
  sockaddr_storage storage{};
  if (endpoint.family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(endpoint.port);
    if (inet_pton(AF_INET, endpoint.address.c_str(), &in->sin_addr) != 1) {
      throw std::runtime_error("bad address " + endpoint.address);
    }
    *length = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(endpoint.port);
    if (inet_pton(AF_INET6, endpoint.address.c_str(), &in6->sin6_addr) != 1) {
      throw std::runtime_error("bad address " + endpoint.address);
    }
    *length = sizeof(sockaddr_in6);
  }
  return storage;
}

Socket Listen(const Endpoint& endpoint) {
  Socket socket(::socket(endpoint.family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(socket.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (endpoint.family == AF_INET6) {
    ::setsockopt(socket.fd(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  socklen_t length = 0;
  sockaddr_storage address = SockAddr(endpoint, &length);
  if (::bind(socket.fd(), reinterpret_cast<sockaddr*>(&address), length) < 0 ||
      ::listen(socket.fd(), 256) < 0) {
    throw std::runtime_error(std::string("bind/listen: ") + std::strerror(errno));
  }
  return socket;
}

Socket Connect(const Endpoint& endpoint) {
  Socket socket(::socket(endpoint.family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  // A safety net only: no recv() in these tests may hang the run.
  timeval timeout{5, 0};
  ::setsockopt(socket.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  socklen_t length = 0;
  sockaddr_storage address = SockAddr(endpoint, &length);
  if (::connect(socket.fd(), reinterpret_cast<sockaddr*>(&address), length) < 0) {
    throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
  }
  return socket;
}

Socket Accept(const Socket& listener) {
  pollfd ready{listener.fd(), POLLIN, 0};
  if (::poll(&ready, 1, static_cast<int>(milliseconds(kDeadline).count())) != 1) {
    throw std::runtime_error("nothing to accept");
  }
  return Socket(::accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC));
}

// The tuple conntrack's ORIGINAL direction holds for a client socket: local -> peer.
ConnectionTuple TupleOf(const Socket& client) {
  sockaddr_storage local{}, peer{};
  socklen_t local_length = sizeof local, peer_length = sizeof peer;
  ::getsockname(client.fd(), reinterpret_cast<sockaddr*>(&local), &local_length);
  ::getpeername(client.fd(), reinterpret_cast<sockaddr*>(&peer), &peer_length);
  ConnectionTuple tuple;
  tuple.family = local.ss_family;
  if (local.ss_family == AF_INET) {
    const auto& l = reinterpret_cast<const sockaddr_in&>(local);
    const auto& p = reinterpret_cast<const sockaddr_in&>(peer);
    std::memcpy(tuple.source.data(), &l.sin_addr, 4);
    std::memcpy(tuple.destination.data(), &p.sin_addr, 4);
    tuple.source_port = ntohs(l.sin_port);
    tuple.destination_port = ntohs(p.sin_port);
  } else {
    const auto& l = reinterpret_cast<const sockaddr_in6&>(local);
    const auto& p = reinterpret_cast<const sockaddr_in6&>(peer);
    std::memcpy(tuple.source.data(), &l.sin6_addr, 16);
    std::memcpy(tuple.destination.data(), &p.sin6_addr, 16);
    tuple.source_port = ntohs(l.sin6_port);
    tuple.destination_port = ntohs(p.sin6_port);
  }
  return tuple;
}

int SocketError(const Socket& socket) {
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(socket.fd(), SOL_SOCKET, SO_ERROR, &error, &length);
  return error;
}

int TcpState(const Socket& socket) {
  tcp_info info{};
  socklen_t length = sizeof info;
  ::getsockopt(socket.fd(), IPPROTO_TCP, TCP_INFO, &info, &length);
  return info.tcpi_state;
}

// Data still flows both ways on a connection the reset left alone.
void ExpectEchoes(const Socket& client, const Socket& server) {
  ASSERT_EQ(::send(client.fd(), "ping", 4, MSG_NOSIGNAL), 4) << std::strerror(errno);
  char buffer[8];
  ASSERT_EQ(::recv(server.fd(), buffer, 4, MSG_WAITALL), 4) << std::strerror(errno);
  ASSERT_EQ(::send(server.fd(), buffer, 4, MSG_NOSIGNAL), 4) << std::strerror(errno);
  ASSERT_EQ(::recv(client.fd(), buffer, 4, MSG_WAITALL), 4) << std::strerror(errno);
  EXPECT_EQ(std::string(buffer, 4), "ping");
  EXPECT_EQ(SocketError(client), 0);
  EXPECT_EQ(TcpState(client), TCP_ESTABLISHED);
}

// What a thread blocked in recv() on a socket got back, and after how long.
struct BlockedRead {
  ssize_t result = 0;
  int error = 0;
  Clock::time_point returned;
};

// A thread blocked in recv() on `socket`; Blocked() says once the kernel has put it to sleep, so
// the destroy is known to wake a waiting reader and not just fail a later call.
class BlockedReader {
 public:
  explicit BlockedReader(const Socket& socket)
      : read_(std::async(std::launch::async, [this, fd = socket.fd()] {
          tid_ = static_cast<pid_t>(::syscall(SYS_gettid));
          char byte;
          BlockedRead read;
          read.result = ::recv(fd, &byte, 1, 0);
          read.error = errno;
          read.returned = Clock::now();
          return read;
        })) {}

  bool Blocked() const {
    pid_t tid = tid_.load();
    if (tid == 0) return false;
    std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
    std::string pid, name, state;
    stat >> pid >> name >> state;  // recv's thread has no spaces in its comm
    return state == "S";
  }

  std::future<BlockedRead>& read() { return read_; }

 private:
  std::atomic<pid_t> tid_{0};
  std::future<BlockedRead> read_;
};

// A client (10.9.0.1, fd00:9::1) and a server (10.9.0.2, fd00:9::2) on a veth pair; the
// client's output hook marks connections to port 5001 as the failover daemon's rule would.
class ConntrackTest : public ::testing::Test {
 protected:
  ConntrackTest() {
    test::AddVeth(client_, "veth0", server_, "veth0");
    client_.Must(
        "ip addr add 10.9.0.1/24 dev veth0 && ip -6 addr add fd00:9::1/64 dev veth0 nodad");
    server_.Must(
        "ip addr add 10.9.0.2/24 dev veth0 && ip -6 addr add fd00:9::2/64 dev veth0 nodad");
    client_.Must(
        "nft 'add table inet t; "
        "add chain inet t out { type route hook output priority mangle; }; "
        "add rule inet t out tcp dport 5001 ct mark set 0x01000000'");
  }

  MarkedConnections Open() {
    EnterNetns inside(client_);
    auto connections = MarkedConnections::open();
    if (!connections) throw std::runtime_error("open: " + connections.error().message());
    return std::move(*connections);
  }

  Socket ListenOnServer(const Endpoint& endpoint) {
    EnterNetns inside(server_);
    return Listen(endpoint);
  }

  Socket ConnectFromClient(const Endpoint& endpoint) {
    EnterNetns inside(client_);
    return Connect(endpoint);
  }

  ConnectionCounts Counts(MarkedConnections& connections, std::uint32_t mark, std::uint32_t mask) {
    auto count = connections.count(mark, mask);
    if (!count) throw std::runtime_error("count: " + count.error().message());
    return *count;
  }
  std::size_t Count(MarkedConnections& connections, std::uint32_t mark, std::uint32_t mask) {
    ConnectionCounts counts = Counts(connections, mark, mask);
    return counts.ipv4 + counts.ipv6;
  }

  std::vector<ConnectionTuple> Tcp(MarkedConnections& connections) {
    auto tuples = connections.tcp_connections(kMark, kMask);
    if (!tuples) throw std::runtime_error("tcp_connections: " + tuples.error().message());
    return *tuples;
  }

  // conntrack(8)'s view of the marked entries, to confirm ours.
  std::string Witness() {
    return client_.Run("conntrack -L --mark 0x01000000/0x0f000000 2>/dev/null").output;
  }

  // The whole story for one family: one marked and one unmarked connection, the reset ends
  // the marked one (a reader blocked on it wakes with ECONNABORTED) and leaves the other.
  void ResetsOnlyTheMarkedConnection(int family, const std::string& server_address) {
    Socket marked_listener = ListenOnServer({family, server_address, kMarkedPort});
    Socket unmarked_listener = ListenOnServer({family, server_address, kUnmarkedPort});
    Socket marked = ConnectFromClient({family, server_address, kMarkedPort});
    Socket unmarked = ConnectFromClient({family, server_address, kUnmarkedPort});
    Socket marked_server = Accept(marked_listener);
    Socket unmarked_server = Accept(unmarked_listener);
    MarkedConnections connections = Open();

    ASSERT_TRUE(PollUntil([&] { return Count(connections, kMark, kMask) == 1; }))
        << "marked entries: " << Count(connections, kMark, kMask) << "\n"
        << Witness();
    EXPECT_EQ(connections.unfiltered_entries(), 0u) << "the kernel ignored the mark filter";
    // Counted under its own family (one mark covers both in failoverd).
    EXPECT_EQ(Counts(connections, kMark, kMask),
              (family == AF_INET6 ? ConnectionCounts{0, 1} : ConnectionCounts{1, 0}));
    // Mask 0 matches every entry: both connections are tracked, only one is marked.
    EXPECT_EQ(Count(connections, 0, 0), 2u);
    EXPECT_NE(Witness().find("dport=5001"), std::string::npos) << Witness();

    std::vector<ConnectionTuple> tuples = Tcp(connections);
    ASSERT_EQ(tuples.size(), 1u);
    EXPECT_EQ(tuples[0], TupleOf(marked));

    BlockedReader reader(marked);
    ASSERT_TRUE(PollUntil([&] { return reader.Blocked(); })) << "reader never blocked";

    auto start = Clock::now();
    ResetReport report = connections.destroy_local_sockets(tuples);
    auto took = Clock::now() - start;
    std::cout << "destroy_local_sockets(1, " << (family == AF_INET ? "IPv4" : "IPv6")
              << "): " << std::chrono::duration<double, std::micro>(took).count() << " us\n";
    EXPECT_EQ(report.matched, 1u);
    EXPECT_EQ(report.destroyed, 1u);
    EXPECT_EQ(report.not_local, 0u);
    EXPECT_EQ(report.failed, 0u) << report.first_error.message();

    ASSERT_EQ(reader.read().wait_for(std::chrono::seconds(2)), std::future_status::ready)
        << "the blocked reader did not wake";
    BlockedRead read = reader.read().get();
    EXPECT_EQ(read.result, -1);
    EXPECT_EQ(read.error, ECONNABORTED) << std::strerror(read.error);
    EXPECT_LT(read.returned - start, milliseconds(500));

    ExpectEchoes(unmarked, unmarked_server);

    // The abort's RST moves the entry to CLOSE: still counted, no longer a live connection.
    EXPECT_TRUE(PollUntil([&] { return Tcp(connections).empty(); }));
  }

  Netns client_{"client"};
  Netns server_{"server"};
};

TEST_F(ConntrackTest, ResetsOnlyTheMarkedIpv4Connection) {
  ResetsOnlyTheMarkedConnection(AF_INET, "10.9.0.2");
}

TEST_F(ConntrackTest, ResetsOnlyTheMarkedIpv6Connection) {
  ResetsOnlyTheMarkedConnection(AF_INET6, "fd00:9::2");
}

TEST_F(ConntrackTest, NothingMarkedResetsNothing) {
  Socket listener = ListenOnServer({AF_INET, "10.9.0.2", kUnmarkedPort});
  Socket client = ConnectFromClient({AF_INET, "10.9.0.2", kUnmarkedPort});
  Socket server = Accept(listener);
  MarkedConnections connections = Open();
  ASSERT_TRUE(PollUntil([&] { return Count(connections, 0, 0) == 1; }));

  EXPECT_EQ(Count(connections, kMark, kMask), 0u);
  std::vector<ConnectionTuple> tuples = Tcp(connections);
  EXPECT_TRUE(tuples.empty());
  ResetReport report = connections.destroy_local_sockets(tuples);
  EXPECT_EQ(report.matched, 0u);
  EXPECT_EQ(report.destroyed, 0u);
  EXPECT_EQ(report.failed, 0u);
  EXPECT_FALSE(report.first_error);
  ExpectEchoes(client, server);
}

TEST_F(ConntrackTest, AConnectionWithoutALocalSocketIsNotLocalNotAFailure) {
  MarkedConnections connections = Open();
  ConnectionTuple forwarded;
  forwarded.family = AF_INET;
  forwarded.source = {192, 0, 2, 7};
  forwarded.destination = {198, 51, 100, 9};
  forwarded.source_port = 40000;
  forwarded.destination_port = kMarkedPort;
  ResetReport report = connections.destroy_local_sockets({forwarded, forwarded});
  EXPECT_EQ(report.matched, 2u);
  EXPECT_EQ(report.not_local, 2u);
  EXPECT_EQ(report.destroyed, 0u);
  EXPECT_EQ(report.failed, 0u) << report.first_error.message();
}

TEST_F(ConntrackTest, OneShotFormsSeeTheCallersNamespace) {
  Socket listener = ListenOnServer({AF_INET, "10.9.0.2", kMarkedPort});
  Socket client = ConnectFromClient({AF_INET, "10.9.0.2", kMarkedPort});
  Socket server = Accept(listener);
  EnterNetns inside(client_);
  auto count = count_connections_with_mark(kMark, kMask);
  ASSERT_TRUE(count) << count.error().message();
  EXPECT_EQ(*count, (ConnectionCounts{1, 0}));
  auto tuples = tcp_connections_with_mark(kMark, kMask);
  ASSERT_TRUE(tuples) << tuples.error().message();
  ASSERT_EQ(tuples->size(), 1u);
  ResetReport report = destroy_local_sockets(*tuples);
  EXPECT_EQ(report.destroyed, 1u);
  EXPECT_TRUE(PollUntil([&] { return SocketError(client) == ECONNABORTED; }));
}

TEST_F(ConntrackTest, ResetsAHundredConnectionsInOneCall) {
  constexpr int kConnections = 100;
  Socket listener = ListenOnServer({AF_INET, "10.9.0.2", kMarkedPort});
  std::vector<Socket> clients;
  std::vector<Socket> servers;
  for (int i = 0; i < kConnections; ++i) {
    clients.push_back(ConnectFromClient({AF_INET, "10.9.0.2", kMarkedPort}));
    servers.push_back(Accept(listener));
  }
  MarkedConnections connections = Open();
  ASSERT_TRUE(PollUntil([&] { return Count(connections, kMark, kMask) == kConnections; }));
  std::vector<ConnectionTuple> tuples = Tcp(connections);
  ASSERT_EQ(tuples.size(), static_cast<std::size_t>(kConnections));

  auto start = Clock::now();
  ResetReport report = connections.destroy_local_sockets(tuples);
  auto took = Clock::now() - start;
  std::cout << "destroy_local_sockets(" << kConnections
            << "): " << std::chrono::duration<double, std::micro>(took).count() << " us\n";
  EXPECT_EQ(report.destroyed, static_cast<std::size_t>(kConnections));
  EXPECT_EQ(report.failed, 0u) << report.first_error.message();
  for (const auto& client : clients) EXPECT_EQ(SocketError(client), ECONNABORTED);
}

}  // namespace
}  // namespace ispf

// Test tool: short UDP flows, each on a new socket, that show which source address the kernel
// chose for a new connection at each moment and how long new connections went unanswered.
//
//   lab_flows serve PORT             echo server, IPv4 and IPv6: answers each datagram back to its
//                                     sender, from the address it was sent to
//   lab_flows stream ADDR PORT INTERVAL_MS DURATION_MS
//                                     every INTERVAL_MS a new socket connect()ed to ADDR:PORT (the
//                                     kernel picks the source anew), one datagram, the echo
//                                     awaited for up to 5 intervals while the next flows go on;
//                                     DURATION_MS 0 runs until SIGINT or SIGTERM
//
// stream prints one line per flow, with the time it was sent (date +%s.%N's form), flushed:
//   <t> <seq> <source> ok <rtt_ms>      <t> <seq> <source> lost [ERRNO_NAME]
// (source "-" when the socket could not even connect, e.g. ENETUNREACH without a route), and at
// the end "# summary flows=N ok=N lost=N max_gap_ms=G": the largest time between the sending of
// two answered flows in a row (seq order), from the first answered flow to the last.
// Exit codes: 0 done, 2 usage, 3 not an address, 4 a socket the server needs failed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

volatile sig_atomic_t stop_requested = 0;

void on_stop_signal(int) { stop_requested = 1; }

double wall_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::string wall_text(double t) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9f", t);
  return text;
}

std::string errno_name(int error) {
  const char* name = strerrorname_np(error);
  return name ? name : "E?";
}

int port_of(const char* text) {
  char* end = nullptr;
  long port = std::strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || port < 1 || port > 65535) {
    std::fprintf(stderr, "lab_flows: '%s' is not a port\n", text);
    std::exit(2);
  }
  return static_cast<int>(port);
}

int positive_ms(const char* text, bool zero_ok) {
  char* end = nullptr;
  long ms = std::strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || ms < (zero_ok ? 0 : 1) || ms > 86'400'000) {
    std::fprintf(stderr, "lab_flows: '%s' is not a number of milliseconds\n", text);
    std::exit(2);
  }
  return static_cast<int>(ms);
}

// ADDR:PORT as a socket address of either family; exits 3 if ADDR is not an IP address.
sockaddr_storage address_of(const char* ip, int port, socklen_t& length) {
  sockaddr_storage storage{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    length = sizeof *v4;
  } else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    length = sizeof *v6;
  } else {
    std::fprintf(stderr, "lab_flows: '%s' is not an IPv4 or IPv6 address\n", ip);
    std::exit(3);
  }
  return storage;
}

std::string ip_text(const sockaddr_storage& a) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (a.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, text, sizeof text);
  } else if (a.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, text, sizeof text);
  }
  return text;
}

// A wildcard UDP socket of FAMILY on PORT that reports each datagram's destination address,
// so the answer can leave from it (the targets are several addresses of one host: an answer
// from another would not reach a connect()ed sender). -1 if the family is not available.
int server_socket(int family, int port) {
  int fd = socket(family, SOCK_DGRAM, 0);
  if (fd < 0) return -1;
  int one = 1;
  sockaddr_storage where{};
  socklen_t length = 0;
  if (family == AF_INET) {
    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
    auto* v4 = reinterpret_cast<sockaddr_in*>(&where);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    length = sizeof *v4;
  } else {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&where);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    length = sizeof *v6;
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&where), length) != 0) {
    std::fprintf(stderr, "lab_flows serve: bind %s port %d: %s\n",
                 family == AF_INET ? "IPv4" : "IPv6", port, std::strerror(errno));
    std::exit(4);
  }
  return fd;
}

// Receives one datagram on FD and sends it back from the address it came to.
// The one control message of a reply (the address the request came to, as its source).
template <class Info>
void put_control(msghdr& out, char* buffer, int level, int type, const Info& info) {
  out.msg_control = buffer;
  out.msg_controllen = CMSG_SPACE(sizeof info);
  cmsghdr* o = CMSG_FIRSTHDR(&out);
  o->cmsg_level = level;
  o->cmsg_type = type;
  o->cmsg_len = CMSG_LEN(sizeof info);
  std::memcpy(CMSG_DATA(o), &info, sizeof info);
}

void echo_one(int fd) {
  char payload[2048];
  char control[256];
  sockaddr_storage peer{};
  iovec io{payload, sizeof payload};
  msghdr in{};
  in.msg_name = &peer;
  in.msg_namelen = sizeof peer;
  in.msg_iov = &io;
  in.msg_iovlen = 1;
  in.msg_control = control;
  in.msg_controllen = sizeof control;
  ssize_t n = recvmsg(fd, &in, 0);
  if (n < 0) return;
  // The answer carries the datagram's destination as its source (pktinfo back as it came).
  char reply_control[256] = {};
  msghdr out{};
  out.msg_name = &peer;
  out.msg_namelen = in.msg_namelen;
  iovec reply{payload, static_cast<std::size_t>(n)};
  out.msg_iov = &reply;
  out.msg_iovlen = 1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&in); c != nullptr; c = CMSG_NXTHDR(&in, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo info{};
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      info.ipi_spec_dst = info.ipi_addr;
      info.ipi_ifindex = 0;
      put_control(out, reply_control, IPPROTO_IP, IP_PKTINFO, info);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo info{};
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      info.ipi6_ifindex = 0;
      put_control(out, reply_control, IPPROTO_IPV6, IPV6_PKTINFO, info);
    }
  }
  sendmsg(fd, &out, 0);
}

int serve(int port) {
  std::vector<pollfd> fds;
  for (int family : {AF_INET, AF_INET6}) {
    int fd = server_socket(family, port);
    if (fd >= 0) fds.push_back({fd, POLLIN, 0});
  }
  if (fds.empty()) {
    std::fprintf(stderr, "lab_flows serve: no UDP socket of either family: %s\n",
                 std::strerror(errno));
    return 4;
  }
  std::printf("%s listening port=%d families=%zu\n", wall_text(wall_now()).c_str(), port,
              fds.size());
  std::fflush(stdout);
  while (!stop_requested) {
    if (poll(fds.data(), fds.size(), -1) < 0) continue;  // EINTR: the loop checks the flag
    for (auto& p : fds) {
      if (p.revents & POLLIN) echo_one(p.fd);
    }
  }
  return 0;
}

struct Flow {
  long seq = 0;
  double sent_wall = 0;
  std::chrono::steady_clock::time_point sent;
  std::chrono::steady_clock::time_point deadline;
  std::string source;
  std::string payload;
};

struct Tally {
  long flows = 0;
  long ok = 0;
  long lost = 0;
  std::map<long, double> answered;  // seq -> wall time sent
};

void report(const Flow& flow, const std::string& outcome) {
  std::printf("%s %ld %s %s\n", wall_text(flow.sent_wall).c_str(), flow.seq, flow.source.c_str(),
              outcome.c_str());
  std::fflush(stdout);
}

// Opens flow SEQ: a new socket, connect(), one datagram. Returns the socket, or -1 after
// reporting the flow lost (no route, send refused).
int open_flow(const sockaddr_storage& target, socklen_t length, Flow& flow, Tally& tally) {
  int fd = socket(target.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&target), length) != 0) {
    int error = errno;
    if (fd >= 0) close(fd);
    ++tally.lost;
    report(flow, "lost " + errno_name(error));
    return -1;
  }
  sockaddr_storage self{};
  socklen_t self_length = sizeof self;
  getsockname(fd, reinterpret_cast<sockaddr*>(&self), &self_length);
  flow.source = ip_text(self);
  if (send(fd, flow.payload.data(), flow.payload.size(), 0) < 0) {
    int error = errno;
    close(fd);
    ++tally.lost;
    report(flow, "lost " + errno_name(error));
    return -1;
  }
  return fd;
}

int stream(const sockaddr_storage& target, socklen_t length, int interval_ms, int duration_ms) {
  using Clock = std::chrono::steady_clock;
  const auto interval = std::chrono::milliseconds(interval_ms);
  const auto start = Clock::now();
  const auto end = start + std::chrono::milliseconds(duration_ms);
  auto next = start;
  Tally tally;
  std::map<int, Flow> open;  // socket -> its flow, until answered or its deadline
  long seq = 0;
  for (;;) {
    auto now = Clock::now();
    bool sending = !stop_requested && (duration_ms == 0 || now < end);
    if (!sending && open.empty()) break;
    if (sending && now >= next) {
      Flow flow;
      flow.seq = ++seq;
      flow.sent_wall = wall_now();
      flow.sent = Clock::now();
      flow.deadline = flow.sent + 5 * interval;
      flow.source = "-";
      flow.payload = "flow " + std::to_string(flow.seq) + " " + wall_text(flow.sent_wall);
      ++tally.flows;
      int fd = open_flow(target, length, flow, tally);
      if (fd >= 0) open.emplace(fd, flow);
      // The cadence holds whatever the flows do: the next one is due an interval after this
      // one was due, not after it was sent (a late start does not shift the rest).
      next += interval;
      if (next < now) next = now + interval;
      continue;
    }
    // Wait for an echo, the next flow or the nearest deadline, whichever comes first.
    auto wake = sending ? next : Clock::time_point::max();
    for (const auto& [fd, flow] : open) wake = std::min(wake, flow.deadline);
    long wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count();
    if (wait_ms < 0) wait_ms = 0;
    if (wait_ms > interval_ms) wait_ms = interval_ms;
    std::vector<pollfd> fds;
    for (const auto& [fd, flow] : open) fds.push_back({fd, POLLIN, 0});
    poll(fds.data(), fds.size(), static_cast<int>(wait_ms + 1));
    now = Clock::now();
    for (const auto& p : fds) {
      Flow& flow = open.at(p.fd);
      bool done = false;
      if (p.revents != 0) {
        char buffer[2048];
        ssize_t n = recv(p.fd, buffer, sizeof buffer, 0);
        if (n >= 0 && std::string(buffer, static_cast<std::size_t>(n)) == flow.payload) {
          char rtt[32];
          std::snprintf(rtt, sizeof rtt, "%.3f",
                        std::chrono::duration<double, std::milli>(now - flow.sent).count());
          ++tally.ok;
          tally.answered[flow.seq] = flow.sent_wall;
          report(flow, std::string("ok ") + rtt);
          done = true;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
          ++tally.lost;  // an ICMP error for this flow (unreachable, refused)
          report(flow, "lost " + errno_name(errno));
          done = true;
        }
      }
      if (!done && now >= flow.deadline) {
        ++tally.lost;
        report(flow, "lost");
        done = true;
      }
      if (done) {
        close(p.fd);
        open.erase(p.fd);
      }
    }
  }
  double max_gap = 0;
  double previous = -1;
  for (const auto& [s, t] : tally.answered) {
    if (previous >= 0 && t - previous > max_gap) max_gap = t - previous;
    previous = t;
  }
  std::printf("# summary flows=%ld ok=%ld lost=%ld max_gap_ms=%.1f\n", tally.flows, tally.ok,
              tally.lost, max_gap * 1000);
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;  // no SA_RESTART: poll() returns, the loop sees the flag
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "serve" && argc == 3) return serve(port_of(argv[2]));
  if (mode == "stream" && argc == 6) {
    socklen_t length = 0;
    sockaddr_storage target = address_of(argv[2], port_of(argv[3]), length);
    return stream(target, length, positive_ms(argv[4], false), positive_ms(argv[5], true));
  }
  std::fprintf(stderr, "usage: lab_flows serve PORT | stream ADDR PORT INTERVAL_MS DURATION_MS\n");
  return 2;
}

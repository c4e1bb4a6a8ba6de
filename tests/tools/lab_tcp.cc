// Test tool: TCP connections that show whether a failover or failback broke them, and whose
// masquerade address the far end saw.
//
//   lab_tcp serve ADDR PORT          echo server: says "peer IP" to each new connection, then
//                                     echoes every line back (many connections, one thread)
//   lab_tcp stream ADDR PORT MS      a line every MS ms, each echo timed: "<unix s> echo N"
//   lab_tcp peer ADDR PORT           one connection: its greeting ("<t> connected peer=IP"), then
//   exits lab_tcp wait ADDR PORT           blocks reading, as an idle application does; on an error
//                                     says so and reconnects at once, up to 50 times a second
//
// Every event is one line on stdout with the wall clock first (date +%s.%N's form), flushed:
//   <t> connected peer=203.0.113.5     <t> echo 17     <t> error ECONNABORTED     <t> closed
// The tools run until killed (SIGTERM or SIGINT). ADDR is IPv4, or IPv6 when it has a ':'.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

void say(const std::string& what) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  std::printf("%lld.%09ld %s\n", static_cast<long long>(ts.tv_sec), ts.tv_nsec, what.c_str());
  std::fflush(stdout);
}

std::string error_name(int error) {
  const char* name = strerrordesc_np(error);
  const char* abbrev = strerrorname_np(error);
  return std::string(abbrev ? abbrev : "E?") + " (" + (name ? name : "?") + ")";
}

// An IPv4 or IPv6 socket address.
struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

Address address_of(const char* ip, const char* port) {
  Address a;
  auto number = htons(static_cast<std::uint16_t>(std::atoi(port)));
  bool ok = false;
  if (std::strchr(ip, ':')) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = number;
    a.length = sizeof *in6;
    ok = inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1;
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
    in->sin_family = AF_INET;
    in->sin_port = number;
    a.length = sizeof *in;
    ok = inet_pton(AF_INET, ip, &in->sin_addr) == 1;
  }
  if (!ok) {
    std::fprintf(stderr, "lab_tcp: '%s' is not an IPv4 or IPv6 address\n", ip);
    std::exit(2);
  }
  return a;
}

// A peer's address as text, either family.
std::string text_of(const sockaddr_storage& peer) {
  char ip[INET6_ADDRSTRLEN] = "?";
  if (peer.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&peer)->sin6_addr, ip, sizeof ip);
  } else {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&peer)->sin_addr, ip, sizeof ip);
  }
  return ip;
}

// Sends all of `text`; false on an error (errno set).
bool send_all(int fd, const std::string& text) {
  std::size_t sent = 0;
  while (sent < text.size()) {
    ssize_t n = send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

int serve(const Address& where) {
  int listener = socket(where.family(), SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(listener, where.get(), where.length) != 0 || listen(listener, 64) != 0) {
    std::fprintf(stderr, "lab_tcp serve: %s\n", std::strerror(errno));
    return 1;
  }
  say("listening");
  std::map<int, std::string> pending;  // per connection, the part of a line not echoed yet
  for (;;) {
    std::vector<pollfd> fds{{listener, POLLIN, 0}};
    for (const auto& [fd, _] : pending) fds.push_back({fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (fds[0].revents & POLLIN) {
      sockaddr_storage peer{};
      socklen_t length = sizeof peer;
      int fd = accept(listener, reinterpret_cast<sockaddr*>(&peer), &length);
      if (fd >= 0) {
        std::string ip = text_of(peer);
        say("accepted peer=" + ip);
        send_all(fd, std::string("peer ") + ip + "\n");
        pending[fd] = "";
      }
    }
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      char buffer[4096];
      ssize_t n = recv(fds[i].fd, buffer, sizeof buffer, 0);
      if (n <= 0) {
        close(fds[i].fd);
        pending.erase(fds[i].fd);
        continue;
      }
      send_all(fds[i].fd, std::string(buffer, static_cast<std::size_t>(n)));
    }
  }
}

// Connects and reads the greeting; -1 (and a line saying why) if that fails.
int connect_and_greet(const Address& where) {
  int fd = socket(where.family(), SOCK_STREAM, 0);
  if (connect(fd, where.get(), where.length) != 0) {
    say("connect-failed " + error_name(errno));
    close(fd);
    return -1;
  }
  std::string greeting;
  char c = 0;
  while (recv(fd, &c, 1, 0) == 1 && c != '\n') greeting += c;
  if (greeting.rfind("peer ", 0) != 0) {
    say("connect-failed no greeting");
    close(fd);
    return -1;
  }
  say("connected peer=" + greeting.substr(5));
  return fd;
}

int stream(const Address& where, int interval_ms) {
  int fd = connect_and_greet(where);
  if (fd < 0) return 1;
  std::string buffer;
  for (long seq = 1;; ++seq) {
    if (!send_all(fd, "line " + std::to_string(seq) + "\n")) {
      say("error " + error_name(errno));
      return 1;
    }
    auto next = std::chrono::steady_clock::now() + std::chrono::milliseconds(interval_ms);
    // Read echoes until the next line is due.
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      next - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) break;
      pollfd p{fd, POLLIN, 0};
      int ready = poll(&p, 1, static_cast<int>(left));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) continue;
      char chunk[4096];
      ssize_t n = recv(fd, chunk, sizeof chunk, 0);
      if (n == 0) {
        say("closed");
        return 1;
      }
      if (n < 0) {
        say("error " + error_name(errno));
        return 1;
      }
      buffer.append(chunk, static_cast<std::size_t>(n));
      std::size_t end;
      while ((end = buffer.find('\n')) != std::string::npos) {
        std::string line = buffer.substr(0, end);
        buffer.erase(0, end + 1);
        if (line.rfind("line ", 0) == 0) say("echo " + line.substr(5));
      }
    }
  }
}

int wait_and_reconnect(const Address& where) {
  for (;;) {
    int fd = connect_and_greet(where);
    if (fd < 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    char c;
    ssize_t n;
    do {
      n = recv(fd, &c, 1, 0);
    } while (n > 0 || (n < 0 && errno == EINTR));
    say(n == 0 ? std::string("closed") : "error " + error_name(errno));
    close(fd);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "serve" && argc == 4) return serve(address_of(argv[2], argv[3]));
  if (mode == "stream" && argc == 5)
    return stream(address_of(argv[2], argv[3]), std::atoi(argv[4]));
  if (mode == "wait" && argc == 4) return wait_and_reconnect(address_of(argv[2], argv[3]));
  if (mode == "peer" && argc == 4) {
    int fd = connect_and_greet(address_of(argv[2], argv[3]));
    if (fd < 0) return 1;
    close(fd);
    return 0;
  }
  std::fprintf(
      stderr,
      "usage: lab_tcp serve ADDR PORT | stream ADDR PORT MS | peer ADDR PORT | wait ADDR PORT\n");
  return 2;
}

// Test tool: sends junk and forged status datagrams at a failoverd, paced, and says what it sent.
//
//   udp_flood --to 192.168.56.200 [--port 1500] [--from ADDR] [--count N] [--rate PER_SECOND]
//             [--kinds junk,oversize,truncated,unknown,forged] [--forge-name isp2]
//             [--forge-state up|down]
//
// --from binds the source address with IP_FREEBIND and IP_TRANSPARENT, so a forger can claim any
// address (the lab sets arp_announce=2 so its ARP does not poison the victim's neighbour table).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string forged_datagram(const std::string& name, std::uint64_t seq, const char* state) {
  std::ostringstream out;
  out << "ISPF 1\nname=" << name << "\ninstance=00000000deadbeef\nseq=" << seq
      << "\ntime_ms=1795000000000\nstate=" << state << "\nreason=probe-ok\nheartbeat_ms=50\n"
      << "targets_up=0\ntargets=1\nloss_pct=0\nwindow_ms=30000\n";
  return out.str();
}

int usage(const char* why) {
  std::fprintf(stderr, "udp_flood: %s\n", why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string to, from, forge_name = "isp2", forge_state = "up",
                        kinds_text = "junk,oversize,truncated,unknown,forged";
  int port = 1500;
  long count = 100000;
  long rate = 20000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string key = argv[i], value = argv[i + 1];
    if (key == "--to")
      to = value;
    else if (key == "--from")
      from = value;
    else if (key == "--port")
      port = std::stoi(value);
    else if (key == "--count")
      count = std::stol(value);
    else if (key == "--rate")
      rate = std::stol(value);
    else if (key == "--kinds")
      kinds_text = value;
    else if (key == "--forge-name")
      forge_name = value;
    else if (key == "--forge-state")
      forge_state = value;
    else
      return usage(("unknown option " + key).c_str());
  }
  if (to.empty() || count <= 0 || rate <= 0)
    return usage("--to ADDR is required; --count, --rate > 0");
  std::vector<std::string> kinds;
  std::stringstream list(kinds_text);
  for (std::string kind; std::getline(list, kind, ',');) kinds.push_back(kind);

  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof one);
  // Sending from an address that is not ours needs IP_TRANSPARENT too (CAP_NET_ADMIN).
  if (!from.empty()) ::setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof one);
  if (!from.empty()) {
    sockaddr_in source{};
    source.sin_family = AF_INET;
    if (inet_pton(AF_INET, from.c_str(), &source.sin_addr) != 1) return usage("bad --from");
    if (::bind(fd, reinterpret_cast<sockaddr*>(&source), sizeof source) != 0) {
      std::perror("udp_flood: bind");
      return 1;
    }
  }
  sockaddr_in dest{};
  dest.sin_family = AF_INET;
  dest.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, to.c_str(), &dest.sin_addr) != 1) return usage("bad --to");

  std::mt19937_64 random(42);
  std::map<std::string, long> sent;
  long errors = 0;
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    const std::string& kind = kinds[static_cast<std::size_t>(i) % kinds.size()];
    std::string payload;
    if (kind == "junk") {
      payload.resize(1 + random() % 300);
      for (auto& c : payload) c = static_cast<char>(random());
    } else if (kind == "oversize") {
      payload = forged_datagram(forge_name, static_cast<std::uint64_t>(i), "up");
      payload += "padding=" + std::string(600, 'x') + "\n";
    } else if (kind == "truncated") {
      payload = forged_datagram(forge_name, static_cast<std::uint64_t>(i), "up");
      payload.resize(random() % (payload.size() - 1) + 1);
      if (payload.back() == '\n') payload.pop_back();
    } else if (kind == "unknown") {
      payload = forged_datagram("isp" + std::to_string(100 + i % 50), static_cast<std::uint64_t>(i),
                                "up");
    } else {
      payload = forged_datagram(forge_name, static_cast<std::uint64_t>(1'000'000 + i),
                                forge_state.c_str());
    }
    if (::sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&dest),
                 sizeof dest) < 0) {
      if (errors++ == 0) std::perror("udp_flood: sendto");
      continue;
    }
    ++sent[kind];
    // Paced: the test is about the daemon, not about overflowing the kernel's socket buffer.
    auto due = start + std::chrono::microseconds(i * 1'000'000 / rate);
    std::this_thread::sleep_until(due);
  }
  long total = 0;
  for (auto& [kind, n] : sent) {
    std::printf("%s=%ld ", kind.c_str(), n);
    total += n;
  }
  std::printf("total=%ld errors=%ld\n", total, errors);
  ::close(fd);
  return errors == 0 ? 0 : 1;
}

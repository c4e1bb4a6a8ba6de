// Test tool: sends junk and forged status datagrams at a failoverd, paced, and says what it sent;
// or replays the status datagrams of a capture, byte for byte.
//
//   udp_flood --to 192.168.56.200 [--port 1500] [--from ADDR] [--count N] [--rate PER_SECOND]
//             [--kinds junk,oversize,truncated,unknown,forged,badtag] [--forge-name isp2]
//             [--forge-state up|down] [--forge-instance HEX16] [--forge-seq N]
//             [--forge-heartbeat MS]
//   udp_flood --to 192.168.56.200 --replay-pcap FILE [--replay-source ADDR] [--port 1500]
//             [--from ADDR] [--count N] [--rate PER_SECOND]
//
// forged: a well-formed datagram claiming --forge-name (unsigned); badtag: the same with an
// hmac= line that has the right form but a random tag (it costs the victim an HMAC each).
// --forge-instance/--forge-seq/--forge-heartbeat put chosen values in forged datagrams (an
// attacker who copied a router's instance from a capture and claims the largest seq).
//
// --from binds the source address with IP_FREEBIND and IP_TRANSPARENT, so a forger can claim any
// address (the lab sets arp_announce=2 so its ARP does not poison the victim's neighbour table).
//
// --replay-pcap reads a classic pcap file (as tcpdump -w writes it; link type Ethernet, Linux
// cooked SLL or SLL2) without libpcap, takes the UDP payload of every unfragmented IPv4 packet to
// --port (only those from --replay-source if given), in capture order, and sends each payload
// unchanged, at most --count of them. It prints "records=R matched=M sent=S errors=E".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string forged_datagram(const std::string& name, std::uint64_t seq, const char* state,
                            const std::string& instance = "00000000deadbeef",
                            long heartbeat_ms = 50) {
  std::ostringstream out;
  out << "ISPF 1\nname=" << name << "\ninstance=" << instance << "\nseq=" << seq
      << "\ntime_ms=1795000000000\nstate=" << state
      << "\nreason=probe-ok\nheartbeat_ms=" << heartbeat_ms
      << "\ntargets_up=0\ntargets=1\nloss_pct=0\nwindow_ms=30000\n";
  return out.str();
}

int usage(const std::string& why) {
  std::fprintf(stderr, "udp_flood: %s\n", why.c_str());
  return 2;
}

// What a capture held: every record, and the UDP payloads that matched.
struct Capture {
  long records = 0;
  std::vector<std::string> payloads;
};

std::uint16_t be16(const unsigned char* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

// The UDP payloads to PORT (from SOURCE unless 0, network order) of a classic pcap file, or why
// not. Link types: 1 Ethernet (VLAN tags skipped), 113 Linux cooked SLL, 276 Linux cooked SLL2.
std::optional<std::string> read_capture(const std::string& path, int port, std::uint32_t source,
                                        Capture& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot open " + path + ": " + std::strerror(errno);
  std::string file{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const auto* data = reinterpret_cast<const unsigned char*>(file.data());
  if (file.size() < 24) return path + ": not a pcap file (shorter than its 24-byte header)";
  // The magic number tells the byte order and whether the record times are in µs or ns.
  std::uint32_t magic = static_cast<std::uint32_t>(data[0]) | data[1] << 8 | data[2] << 16 |
                        static_cast<std::uint32_t>(data[3]) << 24;
  bool little;
  if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d)
    little = true;
  else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1)
    little = false;
  else
    return path + ": not a classic pcap file (pcapng? write it with tcpdump -w)";
  auto u32 = [&](std::size_t at) {
    const unsigned char* p = data + at;
    return little ? static_cast<std::uint32_t>(p[0]) | p[1] << 8 | p[2] << 16 |
                        static_cast<std::uint32_t>(p[3]) << 24
                  : static_cast<std::uint32_t>(p[3]) | p[2] << 8 | p[1] << 16 |
                        static_cast<std::uint32_t>(p[0]) << 24;
  };
  std::uint32_t link_type = u32(20) & 0x0fffffff;  // the top bits may carry FCS information
  if (link_type != 1 && link_type != 113 && link_type != 276) {
    return path + ": link type " + std::to_string(link_type) +
           " not supported (Ethernet 1, Linux SLL 113, SLL2 276)";
  }
  for (std::size_t at = 24; at < file.size();) {
    if (file.size() - at < 16)
      return path + ": truncated record header at byte " + std::to_string(at);
    std::uint32_t captured = u32(at + 8), original = u32(at + 12);
    at += 16;
    if (captured > file.size() - at)
      return path + ": truncated record at byte " + std::to_string(at);
    const unsigned char* p = data + at;
    std::size_t n = captured;
    at += captured;
    ++out.records;
    if (captured < original) continue;  // cut at the snap length: the payload is not whole
    std::uint16_t ether_type;
    std::size_t link_header;
    if (link_type == 1) {
      if (n < 14) continue;
      ether_type = be16(p + 12);
      link_header = 14;
      while ((ether_type == 0x8100 || ether_type == 0x88a8) && n >= link_header + 4) {
        ether_type = be16(p + link_header + 2);
        link_header += 4;
      }
    } else if (link_type == 113) {
      if (n < 16) continue;
      ether_type = be16(p + 14);
      link_header = 16;
    } else {
      if (n < 20) continue;
      ether_type = be16(p);
      link_header = 20;
    }
    if (ether_type != 0x0800 || n < link_header + 20) continue;
    const unsigned char* ip = p + link_header;
    std::size_t ip_header = (ip[0] & 0x0f) * 4u, ip_total = be16(ip + 2);
    if ((ip[0] >> 4) != 4 || ip_header < 20 || ip_total < ip_header + 8 ||
        ip_total > n - link_header || ip[9] != IPPROTO_UDP || (be16(ip + 6) & 0x3fff) != 0) {
      continue;  // not IPv4, not UDP, cut short, or a fragment
    }
    std::uint32_t ip_source;
    std::memcpy(&ip_source, ip + 12, 4);
    const unsigned char* udp = ip + ip_header;
    std::size_t udp_length = be16(udp + 4);
    if (be16(udp + 2) != port || udp_length < 8 || udp_length > ip_total - ip_header) continue;
    if (source != 0 && ip_source != source) continue;
    out.payloads.emplace_back(reinterpret_cast<const char*>(udp + 8), udp_length - 8);
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  std::string forge_instance = "00000000deadbeef";
  std::optional<std::uint64_t> forge_seq;
  long forge_heartbeat = 50;
  std::string to, from, forge_name = "isp2", forge_state = "up",
                        kinds_text = "junk,oversize,truncated,unknown,forged", replay_pcap,
                        replay_source;
  int port = 1500;
  long count = 100000;
  bool count_given = false;
  long rate = 20000;
  if (argc % 2 == 0) return usage(std::string("option ") + argv[argc - 1] + " needs a value");
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string key = argv[i], value = argv[i + 1];
    try {
      if (key == "--to")
        to = value;
      else if (key == "--from")
        from = value;
      else if (key == "--port")
        port = std::stoi(value);
      else if (key == "--count")
        count = std::stol(value), count_given = true;
      else if (key == "--rate")
        rate = std::stol(value);
      else if (key == "--kinds")
        kinds_text = value;
      else if (key == "--forge-name")
        forge_name = value;
      else if (key == "--forge-state")
        forge_state = value;
      else if (key == "--forge-instance")
        forge_instance = value;
      else if (key == "--forge-seq")
        forge_seq = std::stoull(value);
      else if (key == "--forge-heartbeat")
        forge_heartbeat = std::stol(value);
      else if (key == "--replay-pcap")
        replay_pcap = value;
      else if (key == "--replay-source")
        replay_source = value;
      else
        return usage("unknown option " + key);
    } catch (const std::exception&) {
      return usage("bad number for " + key + ": " + value);
    }
  }
  if (to.empty() || count <= 0 || rate <= 0)
    return usage("--to ADDR is required; --count, --rate > 0");
  if (port <= 0 || port > 65535) return usage("--port must be 1-65535");
  if (!replay_source.empty() && replay_pcap.empty())
    return usage("--replay-source needs --replay-pcap FILE");
  std::vector<std::string> kinds;
  std::stringstream list(kinds_text);
  for (std::string kind; std::getline(list, kind, ',');) {
    if (kind != "junk" && kind != "oversize" && kind != "truncated" && kind != "unknown" &&
        kind != "forged" && kind != "badtag") {
      return usage("unknown kind " + kind +
                   " (junk, oversize, truncated, unknown, forged, badtag)");
    }
    kinds.push_back(kind);
  }
  if (forge_instance.size() != 16 ||
      forge_instance.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return usage("--forge-instance must be 16 lower-case hex digits");
  }

  Capture capture;
  if (!replay_pcap.empty()) {
    in_addr source{};
    if (!replay_source.empty() && inet_pton(AF_INET, replay_source.c_str(), &source) != 1)
      return usage("bad --replay-source");
    if (auto problem = read_capture(replay_pcap, port, source.s_addr, capture))
      return usage(*problem);
    if (!count_given || count > static_cast<long>(capture.payloads.size()))
      count = static_cast<long>(capture.payloads.size());
  }

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
    std::string kind = replay_pcap.empty() ? kinds[static_cast<std::size_t>(i) % kinds.size()]
                                           : std::string("replayed");
    std::string payload;
    if (!replay_pcap.empty()) {
      payload = capture.payloads[static_cast<std::size_t>(i)];
    } else if (kind == "junk") {
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
      payload =
          forged_datagram(forge_name, forge_seq.value_or(static_cast<std::uint64_t>(1'000'000 + i)),
                          forge_state.c_str(), forge_instance, forge_heartbeat);
      if (kind == "badtag") {
        static const char kHex[] = "0123456789abcdef";
        payload += "hmac=";
        for (int k = 0; k < 64; ++k) payload += kHex[random() % 16];
        payload += "\n";
      }
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
  ::close(fd);
  if (!replay_pcap.empty()) {
    std::printf("records=%ld matched=%zu sent=%ld errors=%ld\n", capture.records,
                capture.payloads.size(), sent["replayed"], errors);
    return errors == 0 ? 0 : 1;
  }
  long total = 0;
  for (auto& [kind, n] : sent) {
    std::printf("%s=%ld ", kind.c_str(), n);
    total += n;
  }
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("total=%ld errors=%ld elapsed_s=%.3f rate=%.0f/s\n", total, errors, elapsed,
              elapsed > 0 ? total / elapsed : 0.0);
  return errors == 0 ? 0 : 1;
}

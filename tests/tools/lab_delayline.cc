// Test tool: a delay line on a tun device (the lab kernel has no netem): every packet the kernel
// routes into the tun is held for the current delay, then written back so the kernel receives it.
//
//   lab_delayline --dev NAME [--delay-ms N] [--step-delay-ms M]
//                 [--glitch-ms G --glitch-every-ms P]
//
// --dev: the tun device to open (IFF_TUN | IFF_NO_PI); made if missing, attached to if it exists
// (ip tuntap add dev NAME mode tun). The device is not configured here: the lab brings it up and
// routes into it (lab/lib.sh, lab_delayline_start).
// --delay-ms: how long each packet is held (default 0); packets leave in order of release time.
// --step-delay-ms: the delay after SIGUSR1; SIGUSR2 returns to --delay-ms. Run-time changes apply
// to packets read from then on (packets already held keep their release time).
// --glitch-ms/--glitch-every-ms: in every period of P ms (counted from the start) the last G ms
// are a glitch: every packet read then is dropped. 0 (default) for none.
//
// Prints one line when it is attached ("lab_delayline: ready ..."), one per delay change, and its
// counters when SIGTERM, SIGINT or SIGHUP ends it ("read=R written=W glitch_dropped=G
// overflow_dropped=O"). At most 100000 packets are held; more are dropped (overflow).
//
// Exit codes: 0 ended by a signal; 2 bad arguments; 3 /dev/net/tun cannot be opened; 4 the tun
// device cannot be set up (TUNSETIFF); 5 signals cannot be set up; 6 an I/O error on the way.
// Single-threaded: poll(2) on the tun and a signalfd, with a timeout to the next release.
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

enum Exit : int {
  kExitOk = 0,
  kExitUsage = 2,
  kExitOpen = 3,
  kExitTunSetup = 4,
  kExitSignals = 5,
  kExitIo = 6,
};

constexpr std::size_t kMaxHeld = 100000;
constexpr std::size_t kMaxPacket = 65536;

// An owned file descriptor, closed when it goes.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_;
};

struct Options {
  std::string dev;
  long delay_ms = 0;
  std::optional<long> step_delay_ms;
  long glitch_ms = 0;
  long glitch_every_ms = 0;
};

int fail(int code, const std::string& why) {
  std::fprintf(stderr, "lab_delayline: %s\n", why.c_str());
  return code;
}

std::optional<long> parse_ms(const std::string& text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return std::stol(text);
}

// The options, or an error message.
std::optional<std::string> parse_options(int argc, char** argv, Options& out) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) return flag + " needs a value";
    std::string value = argv[++i];
    if (flag == "--dev") {
      if (value.empty() || value.size() >= IFNAMSIZ)
        return "--dev: bad device name '" + value + "'";
      out.dev = value;
      continue;
    }
    auto ms = parse_ms(value);
    if (!ms) return flag + ": not a number of milliseconds: '" + value + "'";
    if (flag == "--delay-ms") {
      out.delay_ms = *ms;
    } else if (flag == "--step-delay-ms") {
      out.step_delay_ms = *ms;
    } else if (flag == "--glitch-ms") {
      out.glitch_ms = *ms;
    } else if (flag == "--glitch-every-ms") {
      out.glitch_every_ms = *ms;
    } else {
      return "unknown option " + flag;
    }
  }
  if (out.dev.empty()) return "--dev NAME is required";
  if ((out.glitch_ms > 0) != (out.glitch_every_ms > 0)) {
    return "--glitch-ms and --glitch-every-ms go together";
  }
  if (out.glitch_ms > 0 && out.glitch_ms >= out.glitch_every_ms) {
    return "--glitch-ms must be shorter than --glitch-every-ms";
  }
  return std::nullopt;
}

// The tun device NAME opened non-blocking, or an exit code with the message printed.
int open_tun(const std::string& name, Fd& out) {
  Fd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) {
    return fail(kExitOpen, std::string("cannot open /dev/net/tun: ") + std::strerror(errno));
  }
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) {
    return fail(kExitTunSetup,
                "TUNSETIFF " + name + " (tun, no packet info): " + std::strerror(errno));
  }
  out = std::move(fd);
  return kExitOk;
}

long long ms_since(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<milliseconds>(to - from).count();
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (auto why = parse_options(argc, argv, opt)) {
    std::fprintf(stderr,
                 "lab_delayline: %s\nusage: lab_delayline --dev NAME [--delay-ms N] "
                 "[--step-delay-ms M] [--glitch-ms G --glitch-every-ms P]\n",
                 why->c_str());
    return kExitUsage;
  }

  // The signals that end or steer the line arrive through a signalfd, in the poll loop.
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2}) sigaddset(&signals, sig);
  if (::sigprocmask(SIG_BLOCK, &signals, nullptr) < 0) {
    return fail(kExitSignals, std::string("sigprocmask: ") + std::strerror(errno));
  }
  Fd sigfd(::signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!sigfd.valid()) return fail(kExitSignals, std::string("signalfd: ") + std::strerror(errno));

  Fd tun;
  if (int code = open_tun(opt.dev, tun); code != kExitOk) return code;

  const Clock::time_point start = Clock::now();
  long delay_ms = opt.delay_ms;
  // Held packets by release time; equal times keep their order of arrival (multimap).
  std::multimap<Clock::time_point, std::vector<unsigned char>> held;
  std::vector<unsigned char> buffer(kMaxPacket);
  unsigned long long n_read = 0, n_written = 0, n_glitch = 0, n_overflow = 0;

  std::printf(
      "lab_delayline: ready dev=%s delay_ms=%ld step_delay_ms=%ld glitch_ms=%ld "
      "glitch_every_ms=%ld\n",
      opt.dev.c_str(), delay_ms, opt.step_delay_ms.value_or(opt.delay_ms), opt.glitch_ms,
      opt.glitch_every_ms);
  std::fflush(stdout);

  auto in_glitch = [&](Clock::time_point now) {
    if (opt.glitch_ms <= 0) return false;
    return ms_since(start, now) % opt.glitch_every_ms >= opt.glitch_every_ms - opt.glitch_ms;
  };

  for (;;) {
    // Release what is due, then sleep until the next release (or forever when none is held).
    Clock::time_point now = Clock::now();
    while (!held.empty() && held.begin()->first <= now) {
      auto& packet = held.begin()->second;
      if (::write(tun.get(), packet.data(), packet.size()) < 0 && errno != EAGAIN &&
          errno != ENOBUFS) {
        return fail(kExitIo, "write to " + opt.dev + ": " + std::strerror(errno));
      }
      ++n_written;
      held.erase(held.begin());
    }
    int timeout_ms = -1;
    if (!held.empty()) {
      auto wait = std::chrono::ceil<milliseconds>(held.begin()->first - now).count();
      timeout_ms = static_cast<int>(wait < 0 ? 0 : wait);
    }

    pollfd fds[2] = {{tun.get(), POLLIN, 0}, {sigfd.get(), POLLIN, 0}};
    if (::poll(fds, 2, timeout_ms) < 0) {
      if (errno == EINTR) continue;
      return fail(kExitIo, std::string("poll: ") + std::strerror(errno));
    }

    if (fds[1].revents & POLLIN) {
      signalfd_siginfo info{};
      while (::read(sigfd.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        if (info.ssi_signo == SIGUSR1 || info.ssi_signo == SIGUSR2) {
          delay_ms =
              info.ssi_signo == SIGUSR1 ? opt.step_delay_ms.value_or(opt.delay_ms) : opt.delay_ms;
          std::printf("lab_delayline: delay_ms=%ld at +%lld ms\n", delay_ms,
                      ms_since(start, Clock::now()));
          std::fflush(stdout);
          continue;
        }
        std::printf(
            "lab_delayline: read=%llu written=%llu glitch_dropped=%llu "
            "overflow_dropped=%llu held=%zu\n",
            n_read, n_written, n_glitch, n_overflow, held.size());
        std::fflush(stdout);
        return kExitOk;
      }
    }

    if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
      return fail(kExitIo, opt.dev + ": the tun device went away");
    }
    if (fds[0].revents & POLLIN) {
      for (;;) {
        ssize_t n = ::read(tun.get(), buffer.data(), buffer.size());
        if (n < 0) {
          if (errno == EAGAIN || errno == EINTR) break;
          return fail(kExitIo, "read from " + opt.dev + ": " + std::strerror(errno));
        }
        ++n_read;
        now = Clock::now();
        if (in_glitch(now)) {
          ++n_glitch;
          continue;
        }
        if (held.size() >= kMaxHeld) {
          ++n_overflow;
          continue;
        }
        held.emplace(now + milliseconds(delay_ms),
                     std::vector<unsigned char>(buffer.begin(), buffer.begin() + n));
      }
    }
  }
}

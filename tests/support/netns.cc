// Network namespaces for kernel tests: create, run commands in, wire up, and open sockets inside.
#include "support/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

#include "ispfailover/core/config.h"

extern char** environ;

namespace ispf::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string ErrnoText(const std::string& what) { return what + ": " + std::strerror(errno); }

std::vector<char*> ArgvPointers(const std::vector<std::string>& argv) {
  std::vector<char*> pointers;
  pointers.reserve(argv.size() + 1);
  for (const auto& arg : argv) pointers.push_back(const_cast<char*>(arg.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

std::vector<std::string> WithTimeout(std::chrono::seconds limit, std::vector<std::string> argv) {
  std::vector<std::string> full{"timeout", "-k", "5", std::to_string(limit.count())};
  full.insert(full.end(), argv.begin(), argv.end());
  return full;
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return -1;
}

std::string UniqueName(const std::string& role) {
  static std::atomic<int> counter{0};
  return "ispfk-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + role;
}

}  // namespace

CommandResult RunArgv(const std::vector<std::string>& argv, std::chrono::seconds limit) {
  CommandResult result;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error(ErrnoText("pipe2"));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  auto full = WithTimeout(limit, argv);
  auto pointers = ArgvPointers(full);
  pid_t pid = -1;
  int err = posix_spawnp(&pid, pointers[0], &actions, nullptr, pointers.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (err != 0) {
    ::close(pipe_fds[0]);
    throw std::runtime_error(std::string("posix_spawnp: ") + std::strerror(err));
  }
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n > 0) {
      result.output.append(buffer, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error(ErrnoText("waitpid"));
  }
  result.status = DecodeWaitStatus(status);
  return result;
}

Netns::Netns(const std::string& role) : name_(UniqueName(role)) {
  auto added = RunArgv({"ip", "netns", "add", name_});
  if (!added.ok()) throw std::runtime_error("ip netns add " + name_ + ": " + added.output);
  auto lo = Run("ip link set lo up");
  if (!lo.ok()) {
    RunArgv({"ip", "netns", "del", name_});
    throw std::runtime_error("lo up in " + name_ + ": " + lo.output);
  }
}

Netns::~Netns() { RunArgv({"ip", "netns", "del", name_}); }

CommandResult Netns::Run(const std::string& command) const {
  return RunArgv({"ip", "netns", "exec", name_, "sh", "-c", command});
}

std::string Netns::Must(const std::string& command) const {
  auto result = Run(command);
  if (!result.ok()) {
    throw std::runtime_error("in " + name_ + ": `" + command + "` exited with " +
                             std::to_string(result.status) + ": " + result.output);
  }
  return result.output;
}

void AddVeth(const Netns& a, const std::string& a_if, const Netns& b, const std::string& b_if) {
  a.Must("ip link add " + a_if + " type veth peer name " + b_if + " netns " + b.name());
  a.Must("ip link set " + a_if + " up");
  b.Must("ip link set " + b_if + " up");
}

Lan::Lan() : bridge_("br") { bridge_.Must("ip link add br0 type bridge && ip link set br0 up"); }

void Lan::Attach(const Netns& ns, const std::string& ifname, const std::string& cidr) {
  std::string port = "p" + std::to_string(ports_++);
  ns.Must("ip link add " + ifname + " type veth peer name " + port + " netns " + bridge_.name());
  bridge_.Must("ip link set " + port + " master br0 && ip link set " + port + " up");
  ns.Must("ip addr add " + cidr + " brd + dev " + ifname + " && ip link set " + ifname + " up");
}

EnterNetns::EnterNetns(const Netns& ns) {
  original_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (original_ < 0) throw std::runtime_error(ErrnoText("open /proc/thread-self/ns/net"));
  int target = ::open(ns.path().c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    ::close(original_);
    throw std::runtime_error(ErrnoText("open " + ns.path()));
  }
  int rc = ::setns(target, CLONE_NEWNET);
  int saved = errno;
  ::close(target);
  if (rc != 0) {
    ::close(original_);
    errno = saved;
    throw std::runtime_error(ErrnoText("setns " + ns.path()));
  }
}

EnterNetns::~EnterNetns() {
  if (::setns(original_, CLONE_NEWNET) != 0) {
    // Running on in the wrong namespace would make every later test meaningless.
    std::perror("EnterNetns: setns back to the original namespace");
    std::abort();
  }
  ::close(original_);
}

Background::Background(const Netns& ns, const std::string& command) {
  char path[] = "/tmp/ispfk-bg-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) throw std::runtime_error(ErrnoText("mkstemp"));
  output_path_ = path;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fd, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  auto full = WithTimeout(std::chrono::seconds(60),
                          {"ip", "netns", "exec", ns.name(), "sh", "-c", command});
  auto pointers = ArgvPointers(full);
  int err = posix_spawnp(&pid_, pointers[0], &actions, nullptr, pointers.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fd);
  if (err != 0) {
    ::unlink(output_path_.c_str());
    throw std::runtime_error(std::string("posix_spawnp: ") + std::strerror(err));
  }
}

Background::~Background() {
  if (pid_ > 0) {
    // `timeout` passes SIGTERM on to the command; SIGKILL if it does not go.
    ::kill(pid_, SIGTERM);
    Wait(std::chrono::milliseconds(3000));
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  ::unlink(output_path_.c_str());
}

CommandResult Background::Wait(std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (pid_ > 0) {
    int status = 0;
    pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      status_ = DecodeWaitStatus(status);
      pid_ = -1;
      break;
    }
    if (done < 0 && errno != EINTR) break;
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CommandResult result;
  result.status = pid_ > 0 ? -1 : status_;
  std::ifstream in(output_path_);
  std::stringstream text;
  text << in.rdbuf();
  result.output = text.str();
  return result;
}

bool RunUntil(asio::io_context& io, const std::function<bool()>& done,
              std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  for (;;) {
    if (done()) return true;
    auto now = Clock::now();
    if (now >= deadline) return false;
    if (io.stopped()) io.restart();
    auto slice = std::min<Clock::duration>(std::chrono::milliseconds(20), deadline - now);
    io.run_for(slice);
    if (io.stopped()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void RunFor(asio::io_context& io, std::chrono::milliseconds period) {
  RunUntil(
      io, [] { return false; }, period);
}

std::uint32_t Ip(const std::string& dotted) {
  auto parsed = ispf::parse_ipv4(dotted);
  if (!parsed) throw std::runtime_error("not an IPv4 address: " + dotted);
  return *parsed;
}

bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

Socket::Socket(int fd) : fd_(fd) {
  if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
}
Socket::Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
Socket::~Socket() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace ispf::test

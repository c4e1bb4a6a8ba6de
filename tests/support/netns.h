// Network namespaces for kernel tests: create, run commands in, wire up, and open sockets inside.
#pragma once

#include <sys/types.h>

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace ispf::test {

// What a finished command left behind: its exit status (-1 if it did not exit normally, 124 if
// `timeout` had to stop it) and everything it wrote to stdout and stderr.
struct CommandResult {
  int status = -1;
  std::string output;
  bool ok() const { return status == 0; }
};

// Runs `argv` (no shell) under `timeout`, so no helper command can hang a test.
CommandResult RunArgv(const std::vector<std::string>& argv,
                      std::chrono::seconds limit = std::chrono::seconds(30));

// A network namespace named ispfk-<pid>-<counter>-<role>, deleted again by the destructor.
// Every command runs inside it through `ip netns exec NAME sh -c COMMAND`.
class Netns {
 public:
  explicit Netns(const std::string& role);
  ~Netns();
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;

  const std::string& name() const { return name_; }
  // /run/netns/NAME, for setns().
  std::string path() const { return "/run/netns/" + name_; }

  // Runs a shell command inside the namespace.
  CommandResult Run(const std::string& command) const;
  // Runs a shell command inside the namespace; throws std::runtime_error (which gtest reports
  // as a test failure) with the command and its output if it does not exit with 0.
  std::string Must(const std::string& command) const;

 private:
  std::string name_;
};

// Creates a veth pair: `a_if` inside `a`, `b_if` inside `b`, both set up (no addresses).
void AddVeth(const Netns& a, const std::string& a_if, const Netns& b, const std::string& b_if);

// A LAN: a bridge br0 in its own namespace; Attach() plugs a namespace into it by a veth pair.
class Lan {
 public:
  Lan();
  // Adds interface `ifname` in `ns`, with `cidr` (e.g. "192.168.56.10/24", brd set), up.
  void Attach(const Netns& ns, const std::string& ifname, const std::string& cidr);
  const Netns& bridge() const { return bridge_; }

 private:
  Netns bridge_;
  int ports_ = 0;
};

// Moves the calling thread into `ns` (setns CLONE_NEWNET) until destroyed, then back to the
// namespace it was in. Sockets opened meanwhile stay in `ns` for their whole life.
class EnterNetns {
 public:
  explicit EnterNetns(const Netns& ns);
  ~EnterNetns();
  EnterNetns(const EnterNetns&) = delete;
  EnterNetns& operator=(const EnterNetns&) = delete;

 private:
  int original_ = -1;
};

// A command started in a namespace and left running; its output goes to a temporary file.
// The destructor kills it (by its own pid only) and reaps it if it is still running.
class Background {
 public:
  Background(const Netns& ns, const std::string& command);
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  // Waits up to `limit` for the command to end; returns its result, or status -1 and whatever
  // output there is so far if it is still running.
  CommandResult Wait(std::chrono::milliseconds limit);

 private:
  pid_t pid_ = -1;
  std::string output_path_;
  int status_ = -1;
};

// Runs `io` until `done()` is true or `limit` passed; true if `done()` became true. Restarts the
// io_context whenever it ran out of work, so it can be called again and again.
bool RunUntil(asio::io_context& io, const std::function<bool()>& done,
              std::chrono::milliseconds limit);
// Runs `io` for exactly `period` (handlers included), restarting it if it runs out of work.
void RunFor(asio::io_context& io, std::chrono::milliseconds period);

// Polls `done` every 5 ms until it holds or `limit` passed; true if it held. For kernel state
// that changes a packet later than the syscall that caused it (conntrack, TCP state), with no
// io_context to run.
bool PollUntil(const std::function<bool()>& done,
               std::chrono::milliseconds limit = std::chrono::seconds(5));

// A socket (any file descriptor) closed by the destructor; a negative one throws, with errno.
class Socket {
 public:
  explicit Socket(int fd);
  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&&) = delete;
  ~Socket();
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Dotted quad to host byte order; aborts the test (throws) on a malformed literal.
std::uint32_t Ip(const std::string& dotted);

}  // namespace ispf::test

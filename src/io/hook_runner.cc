// Hooks on Linux: a directory scan with stat, and fork+exec with a pidfd to learn the exit.
#include "hook_runner.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <asio/posix/stream_descriptor.hpp>
#include <cerrno>
#include <cstring>

namespace ispf {
namespace {

std::error_code last_error() { return {errno, std::system_category()}; }

HookFileStat from_stat(std::string name, const struct stat& st) {
  return HookFileStat{std::move(name), S_ISREG(st.st_mode), S_ISDIR(st.st_mode),
                      static_cast<std::uint32_t>(st.st_uid),
                      static_cast<std::uint32_t>(st.st_mode)};
}

// Between fork and exec only async-signal-safe calls: raw syscalls, no allocation, no libcap-ng
// (whose global state and /proc reads are not promised to be safe there).
[[noreturn]] void exec_child(int devnull, int out, const char* path, char* const argv[],
                             char* const envp[]) {
  setsid();
  // Signals came blocked from the parent: our handlers (asio's, which write to a pipe the parent
  // reads) must be gone before one can run here. Then the hook starts with none blocked or
  // ignored.
  for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) _exit(126);
  // Close-on-exec for everything else, whether or not it was opened with O_CLOEXEC.
  if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
    for (int fd = 3; fd < 4096; ++fd) close(fd);
  }
  // No capabilities: a root daemon's child would get them all back at exec unless the bounding
  // set is empty, a non-root one keeps its ambient set (AmbientCapabilities=) unless cleared.
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  for (int cap = 0; cap < 64; ++cap) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);  // EPERM: not ours
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capset, &header, data) != 0) {
    static const char kMessage[] = "failoverd: cannot drop capabilities; hook not run\n";
    (void)!write(2, kMessage, sizeof kMessage - 1);
    _exit(126);
  }
  execve(path, argv, envp);
  static const char kMessage[] = "failoverd: cannot execute the hook (execve failed)\n";
  (void)!write(2, kMessage, sizeof kMessage - 1);
  _exit(127);
}

// Shared with the loop's handlers, so a handler that runs after the HookProcess is gone finds
// the state (and a cleared callback) rather than freed memory.
struct HookState {
  HookState(asio::io_context& io, int output_fd, int pid_fd, pid_t child)
      : output(io, output_fd), pidfd(io, pid_fd), pid(child) {}
  asio::posix::stream_descriptor output;
  asio::posix::stream_descriptor pidfd;
  pid_t pid;
  bool reaped = false;
  std::array<char, 4096> buffer{};
  std::string partial;
  HookCallbacks callbacks;

  void take(const char* data, std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) {
      if (data[i] == '\n') {
        emit();
      } else if (partial.size() < 4096) {  // a line longer than that is cut
        partial.push_back(data[i]);
      }
    }
  }
  void emit() {
    if (callbacks.on_line) callbacks.on_line(partial);
    partial.clear();
  }
};

void read_output(const std::shared_ptr<HookState>& state) {
  state->output.async_read_some(
      asio::buffer(state->buffer), [state](std::error_code ec, std::size_t size) {
        if (ec) return;  // EOF, or closed at the exit: the exit handler drains what is left
        state->take(state->buffer.data(), size);
        read_output(state);
      });
}

void wait_exit(const std::shared_ptr<HookState>& state) {
  state->pidfd.async_wait(asio::posix::stream_descriptor::wait_read, [state](std::error_code ec) {
    if (ec == asio::error::operation_aborted) return;
    siginfo_t info{};
    if (!ec &&
        waitid(static_cast<idtype_t>(P_PIDFD), state->pidfd.native_handle(), &info,
               WEXITED | WNOHANG) == 0 &&
        info.si_pid == 0) {
      wait_exit(state);  // not yet (cannot happen once readable, but waitid says so)
      return;
    }
    state->reaped = true;
    // What the hook wrote before it exited is in the pipe now; a bounded drain, so a child it
    // left behind cannot keep us reading.
    std::error_code drain_ec;
    state->output.non_blocking(true, drain_ec);
    for (int i = 0; i < 16 && !drain_ec; ++i) {
      std::size_t size = state->output.read_some(asio::buffer(state->buffer), drain_ec);
      state->take(state->buffer.data(), size);
    }
    if (!state->partial.empty()) state->emit();
    std::error_code ignored;
    state->output.close(ignored);
    state->pidfd.close(ignored);
    HookExit exit;
    if (info.si_code == CLD_EXITED) {
      exit.status = info.si_status;
    } else {
      exit.signaled = true;
      exit.status = info.si_status;
    }
    auto on_exit = std::move(state->callbacks.on_exit);
    state->callbacks = {};
    if (on_exit) on_exit(exit);
  });
}

class LinuxHookProcess final : public HookProcess {
 public:
  explicit LinuxHookProcess(std::shared_ptr<HookState> state) : state_(std::move(state)) {}
  ~LinuxHookProcess() override {
    // Only on stop: the hook dies with its group; the loop (or init) reaps it.
    state_->callbacks = {};
    kill();
  }
  void kill() override {
    // While unreaped the pid (and so the group id) cannot be anyone else's.
    if (!state_->reaped) ::kill(-state_->pid, SIGKILL);
  }

 private:
  std::shared_ptr<HookState> state_;
};

}  // namespace

IoResult<HookListing> list_hook_dir(const std::string& dir) {
  HookListing listing;
  listing.dir = dir;
  listing.euid = static_cast<std::uint32_t>(geteuid());
  int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return fail(last_error());
  struct stat st {};
  if (fstat(dir_fd, &st) != 0) {
    auto ec = last_error();
    close(dir_fd);
    return fail(ec);
  }
  listing.self = from_stat("", st);
  DIR* d = fdopendir(dir_fd);
  if (!d) {
    auto ec = last_error();
    close(dir_fd);
    return fail(ec);
  }
  while (dirent* entry = readdir(d)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    // Following a symbolic link, as exec will: its target is what runs, so it is what is checked.
    if (fstatat(dirfd(d), entry->d_name, &st, 0) != 0) continue;  // vanished meanwhile
    listing.entries.push_back(from_stat(std::move(name), st));
  }
  closedir(d);
  return listing;
}

IoResult<std::unique_ptr<HookProcess>> start_hook(asio::io_context& io, const std::string& path,
                                                  const std::vector<std::string>& environment,
                                                  HookCallbacks callbacks) {
  // Everything the child needs is made before fork: it may not allocate.
  std::vector<std::string> env_copy = environment;
  std::vector<char*> envp;
  for (auto& var : env_copy) envp.push_back(var.data());
  envp.push_back(nullptr);
  std::string path_copy = path;
  std::array<char*, 2> argv{path_copy.data(), nullptr};

  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) return fail(last_error());
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    auto ec = last_error();
    close(devnull);
    return fail(ec);
  }
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &previous);
  pid_t pid = fork();
  if (pid == 0) exec_child(devnull, pipe_fds[1], path_copy.c_str(), argv.data(), envp.data());
  auto ec = pid < 0 ? last_error() : std::error_code{};
  sigprocmask(SIG_SETMASK, &previous, nullptr);
  close(devnull);
  close(pipe_fds[1]);
  if (pid < 0) {
    close(pipe_fds[0]);
    return fail(ec);
  }
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    ec = last_error();
    ::kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);  // just killed: returns at once
    close(pipe_fds[0]);
    return fail(ec);
  }
  fcntl(pidfd, F_SETFD, FD_CLOEXEC);
  auto state = std::make_shared<HookState>(io, pipe_fds[0], pidfd, pid);
  state->callbacks = std::move(callbacks);
  read_output(state);
  wait_exit(state);
  return std::unique_ptr<HookProcess>(std::make_unique<LinuxHookProcess>(state));
}

}  // namespace ispf

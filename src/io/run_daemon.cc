// The one path both daemons run: environment, capabilities, signals, watchdog, one io_context.
#include "ispfailover/io/run_daemon.h"

#include <asio.hpp>
#include <csignal>
#include <iostream>

#include "ispfailover/io/linux_env.h"

namespace ispf {
namespace {

const char* capability_name(int capability) {
  switch (capability) {
    case 12:
      return "CAP_NET_ADMIN";
    case 13:
      return "CAP_NET_RAW";
    default:
      return "the needed capability";
  }
}

// Signals and the watchdog keep-alive, on the daemon's loop.
class SignalLoop {
 public:
  SignalLoop(asio::io_context& io, Env& env, DaemonShell& shell, std::vector<std::string> args)
      : env_(env),
        shell_(shell),
        args_(std::move(args)),
        signals_(io, SIGTERM, SIGINT, SIGHUP),
        watchdog_timer_(io) {}

  void start() {
    wait_for_signal();
    if (auto period = env_.notifier().watchdog_period()) {
      watchdog_period_ = *period;
      feed_watchdog();
    }
  }

 private:
  void wait_for_signal() {
    signals_.async_wait([this](std::error_code ec, int signal) {
      if (ec) return;
      if (signal == SIGHUP) {
        env_.notifier().reloading();
        if (auto refused = shell_.reload(args_)) {
          env_.log({LogLevel::kError,
                    EventKind::kReloadRefused,
                    "reload refused, keeping the running configuration: " + *refused,
                    {}});
          shell_.refuse_reload(*refused);
        }
        env_.notifier().reloaded();
        wait_for_signal();
        return;
      }
      env_.log({LogLevel::kInfo,
                EventKind::kStopping,
                "stopping on signal " + std::to_string(signal),
                {}});
      env_.notifier().stopping();
      shell_.stop();
      signals_.cancel();
      watchdog_timer_.cancel();
    });
  }

  void feed_watchdog() {
    // Kept alive by the loop itself: if the loop hangs, the keep-alives stop and systemd acts.
    env_.notifier().watchdog();
    watchdog_timer_.expires_after(watchdog_period_);
    watchdog_timer_.async_wait([this](std::error_code ec) {
      if (!ec) feed_watchdog();
    });
  }

  Env& env_;
  DaemonShell& shell_;
  std::vector<std::string> args_;
  asio::signal_set signals_;
  asio::steady_timer watchdog_timer_;
  Duration watchdog_period_{};
};

}  // namespace

int run_daemon(const std::string& program, int capability, const std::vector<std::string>& args,
               const std::function<std::unique_ptr<DaemonShell>(Env&)>& make_shell) {
  asio::io_context io;
  LinuxEnv env(io, program);
  auto shell = make_shell(env);
  ParseOutcome outcome = shell->configure(args);
  if (!outcome.run) {
    if (!outcome.error.empty()) std::cerr << program << ": error: " << outcome.error << "\n";
    return outcome.exit_code;
  }
  env.set_log_level(shell->log_level());
  if (!env.has_capability(capability)) {
    env.log({LogLevel::kCritical,
             EventKind::kStarted,
             std::string("missing capability ") + capability_name(capability) +
                 ": run as root, or with AmbientCapabilities=" + capability_name(capability) +
                 " (the unit file does this)",
             {}});
    return kExitUsage;
  }
  if (auto error = shell->start()) {
    env.log({LogLevel::kCritical, EventKind::kStarted, *error, {}});
    return kExitRuntime;
  }
  // Everything privileged is open; from here on only the one capability is kept.
  if (auto ec = env.keep_only_capability(capability)) {
    env.log({LogLevel::kWarning,
             EventKind::kStarted,
             "could not drop capabilities: " + ec.message(),
             {}});
  }
  SignalLoop loop(io, env, *shell, args);
  loop.start();
  env.notifier().ready();
  io.run();
  return kExitOk;
}

}  // namespace ispf

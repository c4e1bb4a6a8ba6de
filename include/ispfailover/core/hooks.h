// Hooks as pure decisions: which files may run, and when each hook runs which event.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ispfailover/core/clock.h"
#include "ispfailover/core/log_event.h"

namespace ispf {

// One event for the hooks, as the engine decides it: "switch" (ISPF_FROM, ISPF_TO, ISPF_REASON)
// or "isp-state" (ISPF_ISP, ISPF_STATE, ISPF_REASON). ISPF_SEQ and ISPF_TIME are added by the
// scheduler, which numbers events in the order they reach it.
struct HookEvent {
  std::string event;
  std::vector<std::pair<std::string, std::string>> fields;
};

// What stat(2) says of a file, as much as the permission rule needs.
struct HookFileStat {
  std::string name;
  bool regular = false;
  bool directory = false;
  std::uint32_t uid = 0;
  std::uint32_t mode = 0;  // st_mode
};

// A hook directory as read now: the directory itself, its entries, and who we run as.
struct HookListing {
  std::string dir;
  HookFileStat self;
  std::vector<HookFileStat> entries;
  std::uint32_t euid = 0;
};

// run-parts' rule: ^[A-Za-z0-9_-]+$, so editor backups, *.dpkg-old and dotfiles never run.
bool is_hook_name(std::string_view name);

// Why a file (or the directory) must not run as a hook, or nullopt if it may: writable by group
// or others, or owned by someone other than root or `euid`. The text names the path and the fix.
std::optional<std::string> hook_refusal(const std::string& path, const HookFileStat& stat,
                                        std::uint32_t euid);

// The hooks that may run from a listing, in lexical order, and a warning for each refused one.
// Files that are not hooks by name, not regular or not executable are skipped silently, as
// run-parts does.
struct HookSelection {
  std::vector<std::string> names;
  std::vector<std::pair<std::string, std::string>> refused;  // path, why
};
HookSelection select_hooks(const HookListing& listing);

// PATH for hooks: the daemon's own environment never reaches them.
inline constexpr std::string_view kHookPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// How a hook run ended.
struct HookExit {
  bool signaled = false;
  int status = 0;  // exit code, or the signal number when signaled
};

// One run to start now: the hook's name and its whole environment (KEY=VALUE).
struct HookRun {
  std::uint64_t id = 0;
  std::string name;
  std::vector<std::string> environment;
};

// What the shell does for the scheduler: start these runs, SIGKILL these (their process
// groups), log these lines, and call on_wake no later than wake_at.
struct HookSteps {
  std::vector<HookRun> start;
  std::vector<std::uint64_t> kill;
  std::vector<LogEvent> log;
  std::optional<TimePoint> wake_at;
};

// Each hook gets every event in order, one run at a time; hooks are independent of each other.
// A run past the timeout is killed; a hook's queue holds at most queue_limit events (the oldest
// go first, counted, and logged at most once a minute per hook) so a hung hook costs bounded
// memory.
class HookScheduler {
 public:
  static constexpr std::size_t kDefaultQueueLimit = 100;
  static constexpr std::size_t kMaxOutputLines = 50;  // per run; the rest is counted
  static constexpr Duration kDropLogPeriod = std::chrono::minutes(1);

  explicit HookScheduler(Duration timeout, std::size_t queue_limit = kDefaultQueueLimit)
      : timeout_(timeout), queue_limit_(queue_limit) {}
  // A reload: the new timeout counts for runs already going too (from their start), so a
  // shorter one takes effect at once.
  HookSteps set_timeout(Duration timeout, Now now);

  // A look at the directory without an event (at start): its refusals are warned about once
  // each, until they are mended.
  HookSteps on_scan(const HookSelection& selection);
  // A new event for every hook in `selection` (refusals as with on_scan).
  HookSteps on_event(const HookEvent& event, const HookSelection& selection, Now now);
  // The run could not start (e.g. the file went away): logged, and the hook's next event runs.
  HookSteps on_start_failed(std::uint64_t id, const std::string& why, Now now);
  // One line of a run's output (stdout and stderr together).
  HookSteps on_output(std::uint64_t id, std::string_view line, Now now);
  // The run ended (after a kill too): logged, and the hook's next event runs.
  HookSteps on_exit(std::uint64_t id, const HookExit& exit, Now now);
  // Kills runs past their deadline.
  HookSteps on_wake(Now now);

  std::size_t queued(const std::string& name) const;
  bool running(const std::string& name) const;
  std::uint64_t last_seq() const { return next_seq_ - 1; }

 private:
  struct Hook {
    std::deque<std::pair<std::uint64_t, std::uint64_t>> queue;  // event seq, wall ms
    std::optional<std::uint64_t> run;                           // the run in flight
    TimePoint started{};
    TimePoint deadline{};
    bool killed = false;
    std::size_t lines = 0;
    std::uint64_t dropped = 0;  // not yet logged
    std::optional<TimePoint> last_drop_log;
  };
  void warn_refusals(const HookSelection& selection, HookSteps& out);
  void start_next(const std::string& name, Hook& hook, HookSteps& out, Now now);
  void finish(HookSteps& out);
  Hook* hook_of_run(std::uint64_t id, std::string* name);

  Duration timeout_;
  std::size_t queue_limit_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t next_run_ = 1;
  std::map<std::string, Hook> hooks_;
  std::map<std::uint64_t, HookEvent> events_;  // by seq, while some hook still has it queued
  std::set<std::string> warned_;               // refusals already logged
};

}  // namespace ispf

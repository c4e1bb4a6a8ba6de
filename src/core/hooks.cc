// Hooks as pure decisions: the run-parts name rule, the permission rule and the scheduler.
#include "ispfailover/core/hooks.h"

#include <algorithm>
#include <cstdio>

namespace ispf {
namespace {

constexpr std::uint32_t kGroupWrite = 020;
constexpr std::uint32_t kOtherWrite = 02;
constexpr std::uint32_t kAnyExecute = 0111;

std::string seconds_text(Duration d) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2fs",
                std::chrono::duration_cast<std::chrono::duration<double>>(d).count());
  return buffer;
}

LogEvent hook_log(LogLevel level, const std::string& name, std::string text) {
  return LogEvent{level, EventKind::kHook, std::move(text), {{"ISPF_HOOK", name}}};
}

}  // namespace

bool is_hook_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

std::optional<std::string> hook_refusal(const std::string& path, const HookFileStat& stat,
                                        std::uint32_t euid) {
  // Whoever may write a hook runs code as the daemon's user, so only root and that user may.
  if (stat.mode & (kGroupWrite | kOtherWrite)) {
    return path + " is writable by " + ((stat.mode & kOtherWrite) ? "others" : "its group") +
           "; not run as a hook until fixed with: chmod go-w " + path;
  }
  if (stat.uid != 0 && stat.uid != euid) {
    return path + " is owned by uid " + std::to_string(stat.uid) +
           ", not root; not run as a hook until fixed with: chown root " + path;
  }
  return std::nullopt;
}

HookSelection select_hooks(const HookListing& listing) {
  HookSelection out;
  if (auto why = hook_refusal(listing.dir, listing.self, listing.euid)) {
    out.refused.emplace_back(listing.dir, *why);
    return out;
  }
  for (const auto& entry : listing.entries) {
    if (!is_hook_name(entry.name) || !entry.regular || !(entry.mode & kAnyExecute)) continue;
    std::string path = listing.dir + "/" + entry.name;
    if (auto why = hook_refusal(path, entry, listing.euid)) {
      out.refused.emplace_back(path, *why);
      continue;
    }
    out.names.push_back(entry.name);
  }
  std::sort(out.names.begin(), out.names.end());
  return out;
}

HookSteps HookScheduler::on_scan(const HookSelection& selection) {
  HookSteps out;
  warn_refusals(selection, out);
  return out;
}

void HookScheduler::warn_refusals(const HookSelection& selection, HookSteps& out) {
  std::set<std::string> refused_now;
  for (const auto& [path, why] : selection.refused) {
    refused_now.insert(path);
    if (warned_.insert(path).second) {
      out.log.push_back(LogEvent{LogLevel::kWarning, EventKind::kHook, why, {{"ISPF_HOOK", path}}});
    }
  }
  // A mended file is warned about again should it go wrong again.
  std::erase_if(warned_, [&](const std::string& path) { return !refused_now.count(path); });
}

HookSteps HookScheduler::on_event(const HookEvent& event, const HookSelection& selection, Now now) {
  HookSteps out;
  warn_refusals(selection, out);

  std::uint64_t seq = next_seq_++;
  if (!selection.names.empty()) events_.emplace(seq, event);
  for (const auto& name : selection.names) {
    Hook& hook = hooks_[name];
    hook.queue.emplace_back(seq, now.wall_ms);
    if (hook.queue.size() > queue_limit_) {
      hook.queue.pop_front();
      ++hook.dropped;
    }
    if (hook.dropped &&
        (!hook.last_drop_log || now.steady - *hook.last_drop_log >= kDropLogPeriod)) {
      out.log.push_back(hook_log(LogLevel::kWarning, name,
                                 "hook " + name + ": " + std::to_string(hook.dropped) +
                                     " events dropped, the oldest first: more than " +
                                     std::to_string(queue_limit_) +
                                     " were waiting for it (logged at most once a minute)"));
      hook.dropped = 0;
      hook.last_drop_log = now.steady;
    }
    if (!hook.run) start_next(name, hook, out, now);
  }
  finish(out);
  return out;
}

void HookScheduler::start_next(const std::string& name, Hook& hook, HookSteps& out, Now now) {
  if (hook.run || hook.queue.empty()) return;
  auto [seq, wall_ms] = hook.queue.front();
  hook.queue.pop_front();
  auto found = events_.find(seq);
  if (found == events_.end()) return;  // cannot happen: an event lives while queued
  HookRun run;
  run.id = next_run_++;
  run.name = name;
  run.environment.emplace_back(kHookPath);
  run.environment.push_back("ISPF_EVENT=" + found->second.event);
  for (const auto& [key, value] : found->second.fields) {
    run.environment.push_back(key + "=" + value);
  }
  run.environment.push_back("ISPF_SEQ=" + std::to_string(seq));
  run.environment.push_back("ISPF_TIME=" + std::to_string(wall_ms));
  hook.run = run.id;
  hook.started = now.steady;
  hook.deadline = now.steady + timeout_;
  hook.killed = false;
  hook.lines = 0;
  out.start.push_back(std::move(run));
}

void HookScheduler::finish(HookSteps& out) {
  // Events no queue holds any more are forgotten; the earliest deadline is the next wake-up.
  std::uint64_t oldest = next_seq_;
  for (const auto& [name, hook] : hooks_) {
    if (!hook.queue.empty()) oldest = std::min(oldest, hook.queue.front().first);
    if (hook.run && !hook.killed && (!out.wake_at || hook.deadline < *out.wake_at)) {
      out.wake_at = hook.deadline;
    }
  }
  events_.erase(events_.begin(), events_.lower_bound(oldest));
}

HookScheduler::Hook* HookScheduler::hook_of_run(std::uint64_t id, std::string* name) {
  for (auto& [n, hook] : hooks_) {
    if (hook.run == id) {
      *name = n;
      return &hook;
    }
  }
  return nullptr;
}

HookSteps HookScheduler::on_start_failed(std::uint64_t id, const std::string& why, Now now) {
  HookSteps out;
  std::string name;
  if (Hook* hook = hook_of_run(id, &name)) {
    out.log.push_back(
        hook_log(LogLevel::kWarning, name, "hook " + name + " did not start: " + why));
    hook->run.reset();
    start_next(name, *hook, out, now);
  }
  finish(out);
  return out;
}

HookSteps HookScheduler::on_output(std::uint64_t id, std::string_view line, Now now) {
  (void)now;
  HookSteps out;
  std::string name;
  Hook* hook = hook_of_run(id, &name);
  if (!hook) return out;
  ++hook->lines;
  if (hook->lines <= kMaxOutputLines) {
    out.log.push_back(hook_log(LogLevel::kInfo, name, "hook " + name + ": " + std::string(line)));
  } else if (hook->lines == kMaxOutputLines + 1) {
    out.log.push_back(hook_log(LogLevel::kInfo, name,
                               "hook " + name + ": more than " + std::to_string(kMaxOutputLines) +
                                   " lines of output; the rest of this run is not logged"));
  }
  return out;
}

HookSteps HookScheduler::on_exit(std::uint64_t id, const HookExit& exit, Now now) {
  HookSteps out;
  std::string name;
  if (Hook* hook = hook_of_run(id, &name)) {
    std::string took = seconds_text(now.steady - hook->started);
    if (hook->killed) {
      out.log.push_back(
          hook_log(LogLevel::kWarning, name,
                   "hook " + name + " killed after " + seconds_text(timeout_) + " timeout"));
    } else if (exit.signaled) {
      out.log.push_back(hook_log(
          LogLevel::kWarning, name,
          "hook " + name + " killed by signal " + std::to_string(exit.status) + " after " + took));
    } else {
      out.log.push_back(
          hook_log(exit.status == 0 ? LogLevel::kInfo : LogLevel::kWarning, name,
                   "hook " + name + " exited " + std::to_string(exit.status) + " after " + took));
    }
    hook->run.reset();
    start_next(name, *hook, out, now);
  }
  finish(out);
  return out;
}

HookSteps HookScheduler::set_timeout(Duration timeout, Now now) {
  timeout_ = timeout;
  for (auto& [name, hook] : hooks_) hook.deadline = hook.started + timeout_;
  return on_wake(now);
}

HookSteps HookScheduler::on_wake(Now now) {
  HookSteps out;
  for (auto& [name, hook] : hooks_) {
    if (hook.run && !hook.killed && now.steady >= hook.deadline) {
      hook.killed = true;
      out.kill.push_back(*hook.run);
    }
  }
  finish(out);
  return out;
}

std::size_t HookScheduler::queued(const std::string& name) const {
  auto found = hooks_.find(name);
  return found == hooks_.end() ? 0 : found->second.queue.size();
}

bool HookScheduler::running(const std::string& name) const {
  auto found = hooks_.find(name);
  return found != hooks_.end() && found->second.run.has_value();
}

}  // namespace ispf

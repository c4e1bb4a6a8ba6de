// Hooks' pure rules: which files may run, and the scheduler's order, independence and bounds.
#include "ispfailover/core/hooks.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace ispf {
namespace {

Now At(long long ms) { return Now{TimePoint{} + milliseconds(ms), 1795000000000ULL + ms}; }

HookFileStat File(std::string name, std::uint32_t mode, std::uint32_t uid = 0) {
  return HookFileStat{std::move(name), true, false, uid, 0100000 | mode};
}

HookListing Dir(std::vector<HookFileStat> entries, std::uint32_t mode = 0755) {
  return HookListing{"/etc/ispfailover/hooks.d", HookFileStat{"", false, true, 0, 040000 | mode},
                     std::move(entries), 998};
}

HookSelection Hooks(std::vector<std::string> names) { return HookSelection{std::move(names), {}}; }

HookEvent Switch(std::string from, std::string to) {
  return HookEvent{"switch", {{"ISPF_FROM", from}, {"ISPF_TO", to}, {"ISPF_REASON", "link-down"}}};
}

bool HasVar(const HookRun& run, const std::string& var) {
  return std::find(run.environment.begin(), run.environment.end(), var) != run.environment.end();
}

TEST(HookNameTest, FollowsRunParts) {
  EXPECT_TRUE(is_hook_name("10-logger"));
  EXPECT_TRUE(is_hook_name("50_webhook"));
  EXPECT_FALSE(is_hook_name(""));
  EXPECT_FALSE(is_hook_name(".hidden"));
  EXPECT_FALSE(is_hook_name("10-logger~"));
  EXPECT_FALSE(is_hook_name("10-logger.dpkg-old"));
  EXPECT_FALSE(is_hook_name("a b"));
}

TEST(HookRefusalTest, RefusesWritableByOthersOrForeignOwners) {
  EXPECT_FALSE(hook_refusal("/h/a", File("a", 0755), 998));
  EXPECT_FALSE(hook_refusal("/h/a", File("a", 0700, 998), 998));
  auto group = hook_refusal("/h/a", File("a", 0775), 998);
  ASSERT_TRUE(group);
  EXPECT_NE(group->find("chmod go-w /h/a"), std::string::npos) << *group;
  EXPECT_TRUE(hook_refusal("/h/a", File("a", 0757), 998));
  auto owner = hook_refusal("/h/a", File("a", 0755, 1000), 998);
  ASSERT_TRUE(owner);
  EXPECT_NE(owner->find("uid 1000"), std::string::npos) << *owner;
}

TEST(SelectHooksTest, LexicalOrderAndSkipsNonHooks) {
  auto s = select_hooks(
      Dir({File("50-b", 0755), File("10-a", 0755), File("x.dpkg-old", 0755), File("noexec", 0644),
           HookFileStat{"dir", false, true, 0, 040755}, File("20-open", 0777)}));
  EXPECT_EQ(s.names, (std::vector<std::string>{"10-a", "50-b"}));
  ASSERT_EQ(s.refused.size(), 1u);
  EXPECT_EQ(s.refused[0].first, "/etc/ispfailover/hooks.d/20-open");
}

TEST(SelectHooksTest, AWritableDirectoryRunsNothing) {
  auto s = select_hooks(Dir({File("10-a", 0755)}, 0777));
  EXPECT_TRUE(s.names.empty());
  ASSERT_EQ(s.refused.size(), 1u);
  EXPECT_NE(s.refused[0].second.find("chmod go-w /etc/ispfailover/hooks.d"), std::string::npos);
}

TEST(HookSchedulerTest, EachHookGetsEventsInOrderOneAtATime) {
  HookScheduler s(std::chrono::seconds(10));
  auto first = s.on_event(Switch("isp1", "isp2"), Hooks({"a"}), At(0));
  ASSERT_EQ(first.start.size(), 1u);
  EXPECT_TRUE(HasVar(first.start[0], "ISPF_EVENT=switch"));
  EXPECT_TRUE(HasVar(first.start[0], "ISPF_FROM=isp1"));
  EXPECT_TRUE(HasVar(first.start[0], "ISPF_TO=isp2"));
  EXPECT_TRUE(HasVar(first.start[0], "ISPF_REASON=link-down"));
  EXPECT_TRUE(HasVar(first.start[0], "ISPF_SEQ=1"));
  EXPECT_TRUE(HasVar(first.start[0], "ISPF_TIME=1795000000000"));
  EXPECT_TRUE(HasVar(first.start[0], std::string(kHookPath)));
  ASSERT_TRUE(first.wake_at);
  EXPECT_EQ(*first.wake_at, At(10000).steady);

  auto second = s.on_event(Switch("isp2", "isp1"), Hooks({"a"}), At(5));
  EXPECT_TRUE(second.start.empty());  // the first run is still going
  EXPECT_EQ(s.queued("a"), 1u);
  auto next = s.on_exit(first.start[0].id, HookExit{false, 0}, At(120));
  ASSERT_EQ(next.start.size(), 1u);
  EXPECT_TRUE(HasVar(next.start[0], "ISPF_FROM=isp2"));
  EXPECT_TRUE(HasVar(next.start[0], "ISPF_SEQ=2"));
  EXPECT_TRUE(HasVar(next.start[0], "ISPF_TIME=1795000000005"));
  ASSERT_EQ(next.log.size(), 1u);
  EXPECT_EQ(next.log[0].text, "hook a exited 0 after 0.12s");
}

TEST(HookSchedulerTest, AHungHookDelaysNoOtherHook) {
  HookScheduler s(std::chrono::seconds(10));
  auto first = s.on_event(Switch("isp1", "isp2"), Hooks({"fast", "hung"}), At(0));
  ASSERT_EQ(first.start.size(), 2u);  // both at once
  std::uint64_t fast = first.start[0].name == "fast" ? first.start[0].id : first.start[1].id;
  s.on_exit(fast, HookExit{false, 0}, At(10));
  auto second = s.on_event(Switch("isp2", "isp1"), Hooks({"fast", "hung"}), At(20));
  ASSERT_EQ(second.start.size(), 1u);
  EXPECT_EQ(second.start[0].name, "fast");
  EXPECT_TRUE(HasVar(second.start[0], "ISPF_SEQ=2"));
  EXPECT_EQ(s.queued("hung"), 1u);
}

TEST(HookSchedulerTest, ARunPastTheTimeoutIsKilledAndTheNextEventRuns) {
  HookScheduler s(std::chrono::seconds(2));
  auto first = s.on_event(Switch("isp1", "isp2"), Hooks({"hung"}), At(0));
  s.on_event(Switch("isp2", "isp1"), Hooks({"hung"}), At(100));
  EXPECT_TRUE(s.on_wake(At(1999)).kill.empty());
  auto wake = s.on_wake(At(2000));
  ASSERT_EQ(wake.kill.size(), 1u);
  EXPECT_EQ(wake.kill[0], first.start[0].id);
  EXPECT_TRUE(s.on_wake(At(2500)).kill.empty());  // killed once
  auto exit = s.on_exit(first.start[0].id, HookExit{true, 9}, At(2001));
  ASSERT_EQ(exit.log.size(), 1u);
  EXPECT_EQ(exit.log[0].text, "hook hung killed after 2.00s timeout");
  ASSERT_EQ(exit.start.size(), 1u);
  EXPECT_TRUE(HasVar(exit.start[0], "ISPF_SEQ=2"));
  ASSERT_TRUE(exit.wake_at);
  EXPECT_EQ(*exit.wake_at, At(4001).steady);
}

TEST(HookSchedulerTest, AShorterTimeoutOnReloadCountsForRunsAlreadyGoing) {
  HookScheduler s(std::chrono::seconds(10));
  auto run = s.on_event(Switch("isp1", "isp2"), Hooks({"hung"}), At(0)).start.at(0).id;
  auto reload = s.set_timeout(std::chrono::seconds(2), At(3000));
  ASSERT_EQ(reload.kill.size(), 1u);
  EXPECT_EQ(reload.kill[0], run);
  auto longer = s.set_timeout(std::chrono::seconds(60), At(3001));
  EXPECT_TRUE(longer.kill.empty());  // already killed: once is enough
}

TEST(HookSchedulerTest, TheQueueIsBoundedAndDropsAreLoggedRarely) {
  HookScheduler s(std::chrono::seconds(10), 3);
  s.on_event(Switch("isp1", "isp2"), Hooks({"hung"}), At(0));  // runs
  int drop_lines = 0;
  for (int i = 0; i < 10; ++i) {
    auto steps = s.on_event(Switch("isp1", "isp2"), Hooks({"hung"}), At(1 + i));
    drop_lines += static_cast<int>(steps.log.size());
  }
  EXPECT_EQ(s.queued("hung"), 3u);
  EXPECT_EQ(drop_lines, 1);  // the first drop, then once a minute
  auto later = s.on_event(Switch("isp1", "isp2"), Hooks({"hung"}), At(61'000));
  ASSERT_EQ(later.log.size(), 1u);
  EXPECT_NE(later.log[0].text.find("7 events dropped"), std::string::npos) << later.log[0].text;
}

TEST(HookSchedulerTest, OutputIsLoggedPerLineUpToACap) {
  HookScheduler s(std::chrono::seconds(10));
  auto run = s.on_event(Switch("isp1", "isp2"), Hooks({"talk"}), At(0)).start.at(0).id;
  auto line = s.on_output(run, "hello", At(1));
  ASSERT_EQ(line.log.size(), 1u);
  EXPECT_EQ(line.log[0].text, "hook talk: hello");
  std::size_t logged = 1;
  for (std::size_t i = 0; i < 2 * HookScheduler::kMaxOutputLines; ++i) {
    logged += s.on_output(run, "more", At(2)).log.size();
  }
  EXPECT_EQ(logged, HookScheduler::kMaxOutputLines + 1);
}

TEST(HookSchedulerTest, RefusedFilesAreWarnedAboutOnce) {
  HookScheduler s(std::chrono::seconds(10));
  HookSelection refused{{}, {{"/h/x", "/h/x is writable by others"}}};
  EXPECT_EQ(s.on_scan(refused).log.size(), 1u);  // at start
  EXPECT_EQ(s.on_event(Switch("a", "b"), refused, At(0)).log.size(), 0u);
  EXPECT_EQ(s.on_event(Switch("a", "b"), refused, At(1)).log.size(), 0u);
  s.on_event(Switch("a", "b"), Hooks({}), At(2));  // mended
  EXPECT_EQ(s.on_event(Switch("a", "b"), refused, At(3)).log.size(), 1u);
}

TEST(HookSchedulerTest, AFailedStartLetsTheNextEventRun) {
  HookScheduler s(std::chrono::seconds(10));
  auto run = s.on_event(Switch("a", "b"), Hooks({"gone"}), At(0)).start.at(0).id;
  s.on_event(Switch("b", "a"), Hooks({"gone"}), At(1));
  auto failed = s.on_start_failed(run, "No such file or directory", At(2));
  ASSERT_EQ(failed.start.size(), 1u);
  EXPECT_TRUE(HasVar(failed.start[0], "ISPF_SEQ=2"));
}

}  // namespace
}  // namespace ispf

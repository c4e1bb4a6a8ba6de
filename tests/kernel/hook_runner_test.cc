// LinuxEnv's hooks with real scripts: clean environment, no capabilities, output lines, exit
// status, and a kill that takes the hook's children with it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ispfailover/io/linux_env.h"

namespace ispf {
namespace {

class HookRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ispf-hooks-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Script(const std::string& name, const std::string& body, mode_t mode = 0755) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << "#!/bin/sh\n" << body;
    chmod(path.c_str(), mode);
    return path;
  }
  // Runs the loop until `done` or 10 s; false if the deadline came first.
  bool RunUntil(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(std::chrono::milliseconds(50));
    }
    return done();
  }
  std::unique_ptr<HookProcess> Run(const std::string& path, std::vector<std::string> environment) {
    auto process =
        env_.run_hook(path, environment,
                      HookCallbacks{[this](std::string_view line) { lines_.emplace_back(line); },
                                    [this](const HookExit& exit) { exit_ = exit; }});
    EXPECT_TRUE(process) << process.error().message();
    return process ? std::move(*process) : nullptr;
  }
  bool Logged(const std::string& line) const {
    return std::find(lines_.begin(), lines_.end(), line) != lines_.end();
  }

  asio::io_context io_;
  LinuxEnv env_{io_, "hook_runner_test"};
  std::string dir_;
  std::vector<std::string> lines_;
  std::optional<HookExit> exit_;
};

TEST_F(HookRunnerTest, CleanEnvironmentNoCapabilitiesOutputAndExitStatus) {
  int leak = open("/dev/null", O_RDONLY);  // no O_CLOEXEC: the child must not get it anyway
  ASSERT_GE(leak, 0);
  setenv("ISPF_TEST_SECRET", "daemon-only", 1);
  // Ignored and blocked here; the hook must start with neither.
  signal(SIGUSR2, SIG_IGN);
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigprocmask(SIG_BLOCK, &usr1, nullptr);
  auto path = Script("10-record",
                     "echo \"event=$ISPF_EVENT from=$ISPF_FROM seq=$ISPF_SEQ "
                     "secret=${ISPF_TEST_SECRET:-none}\"\n"
                     "grep -E '^(Cap(Eff|Prm|Amb|Bnd)|Sig(Blk|Ign)):' /proc/self/status\n"
                     "[ -e /proc/$$/fd/" +
                         std::to_string(leak) +
                         " ] && echo leaked\n"
                         "read line && echo \"stdin: $line\"\n"
                         "printf 'to stderr\\nno newline' >&2\n"
                         "exit 3\n");
  auto process =
      Run(path, {std::string(kHookPath), "ISPF_EVENT=switch", "ISPF_FROM=isp1", "ISPF_SEQ=7"});
  ASSERT_TRUE(RunUntil([&] { return exit_.has_value(); }));
  close(leak);
  EXPECT_FALSE(exit_->signaled);
  EXPECT_EQ(exit_->status, 3);
  EXPECT_TRUE(Logged("event=switch from=isp1 seq=7 secret=none"));
  for (const char* set : {"CapEff", "CapPrm", "CapAmb", "CapBnd"}) {
    EXPECT_TRUE(Logged(std::string(set) + ":\t0000000000000000")) << set;
  }
  EXPECT_TRUE(Logged("SigBlk:\t0000000000000000"));
  EXPECT_TRUE(Logged("SigIgn:\t0000000000000000"));
  sigprocmask(SIG_UNBLOCK, &usr1, nullptr);
  signal(SIGUSR2, SIG_DFL);
  EXPECT_FALSE(Logged("leaked"));
  EXPECT_FALSE(Logged("stdin: ")) << "stdin is /dev/null: read fails, nothing echoed";
  EXPECT_TRUE(Logged("to stderr"));
  EXPECT_TRUE(Logged("no newline"));
}

TEST_F(HookRunnerTest, KillTakesTheWholeProcessGroup) {
  auto child_file = dir_ + "/child.pid";
  auto path = Script("20-hang", "sleep 1000 &\necho $! > " + child_file + "\necho started\nwait\n");
  auto process = Run(path, {std::string(kHookPath)});
  ASSERT_TRUE(RunUntil([&] { return Logged("started"); }));
  int child = 0;
  std::ifstream(child_file) >> child;
  ASSERT_GT(child, 0);
  process->kill();
  ASSERT_TRUE(RunUntil([&] { return exit_.has_value(); }));
  EXPECT_TRUE(exit_->signaled);
  EXPECT_EQ(exit_->status, SIGKILL);
  // The sleep is gone too (or a zombie, until whoever inherited it reaps it).
  auto status = "/proc/" + std::to_string(child) + "/stat";
  ASSERT_TRUE(RunUntil([&] {
    std::ifstream in(status);
    std::string pid, comm, state;
    return !(in >> pid >> comm >> state) || state == "Z";
  }));
}

TEST_F(HookRunnerTest, AHookThatCannotBeExecutedExits127WithALine) {
  auto process = Run(dir_ + "/missing", {std::string(kHookPath)});
  ASSERT_TRUE(RunUntil([&] { return exit_.has_value(); }));
  EXPECT_EQ(exit_->status, 127);
  EXPECT_FALSE(lines_.empty());
}

TEST_F(HookRunnerTest, ListsTheDirectoryWithModesAndOwners) {
  Script("10-a", "exit 0\n", 0755);
  Script("20-b", "exit 0\n", 0777);
  auto listing = env_.list_hooks(dir_);
  ASSERT_TRUE(listing) << listing.error().message();
  EXPECT_EQ(listing->euid, geteuid());
  EXPECT_TRUE(listing->self.directory);
  ASSERT_EQ(listing->entries.size(), 2u);
  chmod(dir_.c_str(), 0755);
  auto selection = select_hooks(*env_.list_hooks(dir_));
  EXPECT_EQ(selection.names, std::vector<std::string>{"10-a"});
  ASSERT_EQ(selection.refused.size(), 1u);
  EXPECT_EQ(selection.refused[0].first, dir_ + "/20-b");
  auto missing = env_.list_hooks(dir_ + "/nowhere");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), std::errc::no_such_file_or_directory);
}

}  // namespace
}  // namespace ispf

// LinuxEnv's link watch against real netlink link events on a veth pair in namespaces.

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

#include "ispfailover/core/clock.h"
#include "ispfailover/io/linux_env.h"
#include "support/netns.h"

namespace ispf {
namespace {

using std::chrono::milliseconds;
using test::EnterNetns;
using test::Netns;
using test::RunUntil;

constexpr milliseconds kEventBound(2000);

// up0 in the watched namespace, its veth peer up0p in another.
class LinkWatchTest : public ::testing::Test {
 protected:
  LinkWatchTest() { test::AddVeth(host_, "up0", peer_, "up0p"); }

  std::unique_ptr<LinkWatch> Open(const std::string& ifname) {
    EnterNetns inside(host_);
    auto watch = env_.watch_link(ifname, [this](const LinkStatus& s) { seen_.push_back(s); });
    if (!watch) throw std::runtime_error("watch_link: " + watch.error().message());
    return std::move(*watch);
  }

  // Runs the loop until a new report satisfies `match`; true if one did in time.
  bool AwaitReport(const std::function<bool(const LinkStatus&)>& match) {
    std::size_t checked = seen_.size();  // only reports from now on
    return RunUntil(
        io_,
        [&] {
          for (; checked < seen_.size(); ++checked) {
            if (match(seen_[checked])) return true;
          }
          return false;
        },
        kEventBound);
  }

  Netns host_{"link"};
  Netns peer_{"peer"};
  asio::io_context io_;
  LinuxEnv env_{io_, "link_watch_test"};
  std::vector<LinkStatus> seen_;
};

TEST_F(LinkWatchTest, InitialStatusIsUsable) {
  // The veth carrier comes up asynchronously after `ip link set up`.
  ASSERT_TRUE(RunUntil(
      io_, [&] { return host_.Run("ip link show up0 | grep -q LOWER_UP").ok(); }, kEventBound));
  auto watch = Open("up0");
  EXPECT_TRUE(watch->status().exists);
  EXPECT_TRUE(watch->status().admin_up);
  EXPECT_TRUE(watch->status().carrier);
  EXPECT_TRUE(watch->status().usable());
}

TEST_F(LinkWatchTest, AdminDownCarrierLossAndBackUp) {
  ASSERT_TRUE(RunUntil(
      io_, [&] { return host_.Run("ip link show up0 | grep -q LOWER_UP").ok(); }, kEventBound));
  auto watch = Open("up0");
  ASSERT_TRUE(watch->status().usable());

  // Our side administratively down.
  host_.Must("ip link set up0 down");
  auto start = Clock::now();
  ASSERT_TRUE(AwaitReport([](const LinkStatus& s) { return s.exists && !s.admin_up; }))
      << "no admin-down report within " << kEventBound.count() << " ms";
  EXPECT_LT(Clock::now() - start, kEventBound);
  EXPECT_FALSE(watch->status().admin_up);
  EXPECT_FALSE(watch->status().usable());

  host_.Must("ip link set up0 up");
  ASSERT_TRUE(AwaitReport([](const LinkStatus& s) { return s.usable(); }))
      << "no usable report after up0 came back up";

  // The peer goes down: we stay admin up but lose the carrier.
  peer_.Must("ip link set up0p down");
  ASSERT_TRUE(AwaitReport([](const LinkStatus& s) { return s.admin_up && !s.carrier; }))
      << "no carrier-loss report";
  EXPECT_TRUE(watch->status().exists);
  EXPECT_TRUE(watch->status().admin_up);
  EXPECT_FALSE(watch->status().carrier);
  EXPECT_FALSE(watch->status().usable());

  peer_.Must("ip link set up0p up");
  ASSERT_TRUE(AwaitReport([](const LinkStatus& s) { return s.usable(); }))
      << "no usable report after the peer came back";
  EXPECT_TRUE(watch->status().usable());

  // Only changes are reported: nothing happens, nothing is said.
  std::size_t count = seen_.size();
  test::RunFor(io_, milliseconds(300));
  EXPECT_EQ(seen_.size(), count);
}

TEST_F(LinkWatchTest, EventsOfOtherInterfacesAreNotReported) {
  host_.Must("ip link add other0 type veth peer name other1");
  auto watch = Open("up0");
  test::RunFor(io_, milliseconds(200));
  seen_.clear();
  host_.Must("ip link set other0 up && ip link set other1 up && ip link set other0 down");
  test::RunFor(io_, milliseconds(500));
  EXPECT_TRUE(seen_.empty()) << seen_.size() << " reports about another interface";
}

TEST_F(LinkWatchTest, DeletedInterfaceNoLongerExists) {
  auto watch = Open("up0");
  host_.Must("ip link del up0");
  ASSERT_TRUE(AwaitReport([](const LinkStatus& s) { return !s.exists; }))
      << "no report of the interface's deletion";
  EXPECT_FALSE(watch->status().usable());
}

TEST_F(LinkWatchTest, OpenReadsTheStateNow) {
  host_.Must("ip link set up0 down");
  auto down = Open("up0");
  EXPECT_TRUE(down->status().exists);
  EXPECT_FALSE(down->status().admin_up);
  // A link that is not there is a state to follow, not an error.
  auto missing = Open("nosuch0");
  EXPECT_FALSE(missing->status().exists);
}

// Events lost to a full socket buffer (ENOBUFS) are made good by asking the kernel: the watch
// still ends up with the link's true state.
TEST_F(LinkWatchTest, LostEventsAreMadeGoodByAskingTheKernel) {
  ASSERT_TRUE(RunUntil(
      io_, [&] { return host_.Run("ip link show up0 | grep -q LOWER_UP").ok(); }, kEventBound));
  auto watch = Open("up0");
  ASSERT_TRUE(watch->status().usable());
  // While the loop does not read, thousands of link events overrun the watch's buffer; the one
  // about up0 comes last, behind the flood.
  host_.Must("ip link add flood0 type veth peer name flood1");
  host_.Must(
      "for i in $(seq 3000); do echo 'link set flood0 up'; echo 'link set flood0 down'; done | "
      "ip -batch - && ip link set up0 down");
  ASSERT_TRUE(AwaitReport([](const LinkStatus& s) { return s.exists && !s.admin_up; }))
      << "the admin-down was lost with the flood and never made good";
  EXPECT_FALSE(watch->status().admin_up);
}

}  // namespace
}  // namespace ispf

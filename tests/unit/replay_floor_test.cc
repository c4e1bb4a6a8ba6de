// Replay floors and epochs: the state file, the epoch rule, and replays across restarts.
#include "ispfailover/core/replay_floor.h"

#include <gtest/gtest.h>

#include "ispfailover/core/auth.h"
#include "ispfailover/core/failover_engine.h"
#include "ispfailover/core/failover_policy.h"
#include "support/sample_status.h"

namespace ispf {
namespace {

constexpr std::uint32_t kIsp1 = 0xc0a83865;  // 192.168.56.101
constexpr std::uint32_t kIsp2 = 0xc0a83866;
const std::string kKey = "0123456789abcdef0123";

TEST(ReplayFloorFileTest, RoundTripsAndSkipsWhatDoesNotParse) {
  ReplayFloors floors{{"isp1", {1795000000, 42}}, {"isp2", {7, 0}}};
  EXPECT_EQ(decode_replay_floors(encode_replay_floors(floors)), floors);
  auto torn =
      decode_replay_floors("ispf-replay-floors 1\nisp1 5 9\nisp2 x 1\nbad name! 1 2\nisp3 4");
  ASSERT_TRUE(torn);
  EXPECT_EQ(*torn, (ReplayFloors{{"isp1", {5, 9}}}));
  EXPECT_FALSE(decode_replay_floors("something else\nisp1 5 9\n"));
}

TEST(ReplayFloorFileTest, EpochGrowsAndNeverFallsBelowTheWallClock) {
  EXPECT_EQ(next_epoch("", 1795000000123), 1795000000u);
  EXPECT_EQ(next_epoch("1795000000\n", 1795000000123), 1795000001u);
  // A clock far behind (no NTP yet) does not take the epoch back.
  EXPECT_EQ(next_epoch("1795000041", 1000), 1795000042u);
  // A torn file counts as none.
  EXPECT_EQ(next_epoch("17950zz", 1795000000123), 1795000000u);
}

TEST(EpochCodecTest, EpochIsOptionalAndRoundTrips) {
  Status s = test::SampleStatus();
  EXPECT_FALSE(decode(encode(s))->epoch);
  s.epoch = 1795000000;
  EXPECT_EQ(decode(encode(s))->epoch, s.epoch);
  std::string zero = encode(s);
  zero.replace(zero.find("epoch=1795000000"), 16, "epoch=0");
  EXPECT_EQ(decode(zero).error().error, DecodeError::kOutOfRange);
}

class EpochPolicyTest : public testing::Test {
 protected:
  EpochPolicyTest() : policy_(Keyed(), {{"isp1", kIsp1, 0}, {"isp2", kIsp2, 1}}, TimePoint{}) {}
  static PolicyConfig Keyed() {
    PolicyConfig c;
    c.require_fresh_instances = true;
    return c;
  }
  static Status Report(std::uint64_t epoch, std::uint64_t seq, std::uint64_t time_ms) {
    Status s = test::SampleStatus();
    s.epoch = epoch;
    s.seq = seq;
    s.time_ms = time_ms;
    return s;
  }
  FailoverPolicy policy_;
  // Our wall clock: two hours ahead of the sender's.
  static constexpr std::uint64_t kOurWallMs = 1795000000000ULL + 2 * 3600 * 1000;
};

TEST_F(EpochPolicyTest, ClocksHoursApartChangeNothing) {
  EXPECT_FALSE(policy_.on_status(Report(100, 1, 1795000000000ULL), kIsp1, TimePoint{}, kOurWallMs));
  // A restart of the sender (epoch 101), its clock stepped back a day: still new.
  EXPECT_FALSE(policy_.on_status(Report(101, 1, 1794900000000ULL), kIsp1, TimePoint{}, kOurWallMs));
}

TEST_F(EpochPolicyTest, OlderEpochsAndOlderSequencesAreReplays) {
  EXPECT_FALSE(policy_.on_status(Report(100, 50, 1), kIsp1, TimePoint{}, kOurWallMs));
  EXPECT_EQ(policy_.on_status(Report(100, 50, 2), kIsp1, TimePoint{}, kOurWallMs),
            DropReason::kReplay);
  EXPECT_EQ(policy_.on_status(Report(99, 5000, 3), kIsp1, TimePoint{}, kOurWallMs),
            DropReason::kReplay);
  Status no_epoch = Report(100, 60, 4);
  no_epoch.epoch.reset();
  EXPECT_EQ(policy_.on_status(no_epoch, kIsp1, TimePoint{}, kOurWallMs), DropReason::kReplay);
  EXPECT_FALSE(policy_.on_status(Report(100, 51, 5), kIsp1, TimePoint{}, kOurWallMs));
  EXPECT_EQ(policy_.replay_floors().at("isp1"), (ReplayFloor{100, 51}));
}

TEST_F(EpochPolicyTest, RestoredFloorsRefuseWhatWasSeenBeforeTheRestart) {
  policy_.restore_replay_floors({{"isp1", {100, 51}}});
  EXPECT_EQ(policy_.on_status(Report(100, 51, 1), kIsp1, TimePoint{}, kOurWallMs),
            DropReason::kReplay);
  EXPECT_EQ(policy_.on_status(Report(100, 20, 1), kIsp1, TimePoint{}, kOurWallMs),
            DropReason::kReplay);
  EXPECT_FALSE(policy_.on_status(Report(100, 52, 1), kIsp1, TimePoint{}, kOurWallMs));
}

Now At(long long ms) { return Now{TimePoint{} + milliseconds(ms), 1795000000000ULL + ms}; }

std::string Signed(std::uint64_t epoch, std::uint64_t seq, LinkState state = LinkState::kUp) {
  Status s = test::SampleStatus();
  s.epoch = epoch;
  s.seq = seq;
  s.state = state;
  s.reason = state == LinkState::kUp ? "probe-ok" : "link-down";
  s.loss_permille = 0;
  return sign_datagram(encode(s), kKey);
}

FailoverSettings KeyedSettings() {
  FailoverSettings settings;
  settings.isps = {{"isp1", kIsp1, 0}, {"isp2", kIsp2, 1}};
  settings.keys = {kKey};
  settings.policy.require_fresh_instances = true;
  return settings;
}

TEST(EpochEngineTest, FloorsAreWrittenOnANewEpochThenRarely) {
  FailoverEngine engine(KeyedSettings(), At(0));
  engine.start({}, At(0));
  auto first = engine.on_datagram(Signed(100, 1), kIsp1, At(10));
  ASSERT_TRUE(first.persist);
  EXPECT_EQ(decode_replay_floors(*first.persist)->at("isp1"), (ReplayFloor{100, 1}));
  int writes = 0;
  for (int i = 2; i < 200; ++i) {
    if (engine.on_datagram(Signed(100, i), kIsp1, At(10 + i * 300)).persist) ++writes;
  }
  EXPECT_EQ(writes, 0);  // 59 s of heartbeats: nothing more to write yet
  auto later = engine.on_wake(At(10 + 61'000));
  ASSERT_TRUE(later.persist);
  EXPECT_EQ(decode_replay_floors(*later.persist)->at("isp1"), (ReplayFloor{100, 199}));
  // A restart of ispprobed is written at once.
  EXPECT_TRUE(engine.on_datagram(Signed(101, 1), kIsp1, At(62'000)).persist);
  // A stop writes whatever moved since.
  engine.on_datagram(Signed(101, 2), kIsp1, At(62'300));
  auto stop = engine.stop(false, At(62'400));
  ASSERT_TRUE(stop.persist);
  EXPECT_EQ(decode_replay_floors(*stop.persist)->at("isp1"), (ReplayFloor{101, 2}));
}

TEST(EpochEngineTest, ARecordingReplayedAfterARestartIsRefused) {
  std::string state;
  std::vector<std::string> recording;
  {
    FailoverEngine engine(KeyedSettings(), At(0));
    engine.start({}, At(0));
    for (int i = 1; i <= 20; ++i) {
      recording.push_back(Signed(100, i));
      auto a = engine.on_datagram(recording.back(), kIsp1, At(i * 300));
      if (a.persist) state = *a.persist;
    }
    auto a = engine.stop(false, At(7000));
    if (a.persist) state = *a.persist;
  }
  FailoverEngine restarted(KeyedSettings(), At(0));
  EXPECT_FALSE(restarted.restore(state));
  restarted.start({}, At(0));
  for (const auto& datagram : recording) {
    auto a = restarted.on_datagram(datagram, kIsp1, At(100));
    EXPECT_TRUE(a.route_edits.empty());
  }
  EXPECT_EQ(restarted.accepted(), 0u);
  EXPECT_EQ(restarted.drops()[static_cast<std::size_t>(DropReason::kReplay)], recording.size());
  // The live sender goes on above the floor and is believed.
  EXPECT_FALSE(restarted.on_datagram(Signed(100, 21), kIsp1, At(200)).route_edits.empty());
}

TEST(EpochEngineTest, WithoutAKeyNothingIsWritten) {
  FailoverSettings settings = KeyedSettings();
  settings.keys.clear();
  settings.policy.require_fresh_instances = false;
  FailoverEngine engine(settings, At(0));
  engine.start({}, At(0));
  Status s = test::SampleStatus();
  s.epoch = 100;
  std::string d = encode(s);
  EXPECT_FALSE(engine.on_datagram(d, kIsp1, At(10)).persist);
  EXPECT_FALSE(engine.stop(false, At(20)).persist);
}

}  // namespace
}  // namespace ispf

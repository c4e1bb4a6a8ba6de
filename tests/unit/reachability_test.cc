// Probe hysteresis, link events and line quality of Reachability, driven by a fake clock.
#include "ispfailover/core/reachability.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <utility>

namespace ispf {
namespace {

using std::chrono::seconds;

TimePoint At(long long ms) { return TimePoint{} + milliseconds(ms); }

// A fake clock: rounds advance it by one interval each.
class FakeClock {
 public:
  explicit FakeClock(long long start_ms = 1000) : now_(At(start_ms)) {}
  TimePoint now() const { return now_; }
  TimePoint tick(long long ms = 150) { return now_ += milliseconds(ms); }

 private:
  TimePoint now_;
};

RoundOutcome Good(std::uint32_t answered = 1) { return RoundOutcome{answered, kReasonProbeOk}; }
RoundOutcome Bad(std::uint32_t answered = 0, std::string reason = kReasonProbeLoss) {
  return RoundOutcome{answered, std::move(reason)};
}

class ReachabilityTest : public testing::Test {
 protected:
  // Runs `count` identical rounds and returns how many of them changed the state (a report of
  // a new reason without a change of state is not counted).
  int Rounds(Reachability& r, const RoundOutcome& round, int count) {
    int changes = 0;
    for (int i = 0; i < count; ++i) {
      const auto transition = r.on_round(round, clock_.tick());
      if (transition && transition->from != transition->to) ++changes;
    }
    return changes;
  }

  // Brings a fresh line up with default settings.
  void BringUp(Reachability& r) {
    Rounds(r, Good(), static_cast<int>(r.config().up_after));
    ASSERT_EQ(r.state(), LinkState::kUp);
  }

  FakeClock clock_;
};

TEST_F(ReachabilityTest, StartsDownWithReasonStarting) {
  Reachability r({}, clock_.now());
  EXPECT_EQ(r.state(), LinkState::kDown);
  EXPECT_EQ(r.reason(), kReasonStarting);
  EXPECT_EQ(r.since(), clock_.now());
  EXPECT_TRUE(r.link_usable());
}

TEST_F(ReachabilityTest, StartingToUpAfterUpAfterGoodRounds) {
  Reachability r({.up_after = 3}, clock_.now());
  EXPECT_FALSE(r.on_round(Good(), clock_.tick()).has_value());
  EXPECT_FALSE(r.on_round(Good(), clock_.tick()).has_value());
  EXPECT_EQ(r.state(), LinkState::kDown);
  const TimePoint third = clock_.tick();
  const auto transition = r.on_round(Good(), third);
  ASSERT_TRUE(transition.has_value());
  EXPECT_EQ(transition->from, LinkState::kDown);
  EXPECT_EQ(transition->to, LinkState::kUp);
  EXPECT_EQ(transition->reason, kReasonProbeOk);
  EXPECT_EQ(transition->at, third);
  EXPECT_EQ(r.state(), LinkState::kUp);
  EXPECT_EQ(r.reason(), kReasonProbeOk);
  EXPECT_EQ(r.since(), third);
  // Further good rounds are no transition.
  EXPECT_EQ(Rounds(r, Good(), 10), 0);
  EXPECT_EQ(r.since(), third);
}

TEST_F(ReachabilityTest, UpAfterOneWhenConfigured) {
  Reachability r({.up_after = 1}, clock_.now());
  EXPECT_TRUE(r.on_round(Good(), clock_.tick()).has_value());
  EXPECT_EQ(r.state(), LinkState::kUp);
}

TEST_F(ReachabilityTest, UpToDownAfterDownAfterBadRounds) {
  Reachability r({.down_after = 6, .up_after = 3}, clock_.now());
  BringUp(r);
  EXPECT_EQ(Rounds(r, Bad(), 5), 0);
  EXPECT_EQ(r.state(), LinkState::kUp);
  const TimePoint sixth = clock_.tick();
  const auto transition = r.on_round(Bad(), sixth);
  ASSERT_TRUE(transition.has_value());
  EXPECT_EQ(transition->from, LinkState::kUp);
  EXPECT_EQ(transition->to, LinkState::kDown);
  EXPECT_EQ(transition->reason, kReasonProbeLoss);
  EXPECT_EQ(transition->at, sixth);
  EXPECT_EQ(r.state(), LinkState::kDown);
  EXPECT_EQ(r.reason(), kReasonProbeLoss);
  EXPECT_EQ(r.since(), sixth);
  EXPECT_EQ(Rounds(r, Bad(), 20), 0);
}

TEST_F(ReachabilityTest, GoodRoundResetsBadCount) {
  Reachability r({.down_after = 6, .up_after = 3}, clock_.now());
  BringUp(r);
  EXPECT_EQ(Rounds(r, Bad(), 5), 0);
  EXPECT_EQ(Rounds(r, Good(), 1), 0);
  EXPECT_EQ(Rounds(r, Bad(), 5), 0);
  EXPECT_EQ(r.state(), LinkState::kUp);
  EXPECT_EQ(Rounds(r, Bad(), 1), 1);
  EXPECT_EQ(r.state(), LinkState::kDown);
}

TEST_F(ReachabilityTest, BadRoundResetsGoodCount) {
  Reachability r({.down_after = 6, .up_after = 3}, clock_.now());
  EXPECT_EQ(Rounds(r, Good(), 2), 0);
  EXPECT_EQ(Rounds(r, Bad(), 1), 0);
  EXPECT_EQ(Rounds(r, Good(), 2), 0);
  EXPECT_EQ(r.state(), LinkState::kDown);
  EXPECT_EQ(Rounds(r, Good(), 1), 1);
  EXPECT_EQ(r.state(), LinkState::kUp);
}

TEST_F(ReachabilityTest, DownToUpAgainNeedsUpAfterGoodRounds) {
  Reachability r({.down_after = 2, .down_window = Duration::zero(), .up_after = 4}, clock_.now());
  BringUp(r);
  EXPECT_EQ(Rounds(r, Bad(), 2), 1);
  ASSERT_EQ(r.state(), LinkState::kDown);
  EXPECT_EQ(Rounds(r, Good(), 3), 0);
  EXPECT_EQ(r.state(), LinkState::kDown);
  const auto transition = r.on_round(Good(), clock_.tick());
  ASSERT_TRUE(transition.has_value());
  EXPECT_EQ(transition->from, LinkState::kDown);
  EXPECT_EQ(transition->to, LinkState::kUp);
}

TEST_F(ReachabilityTest, GoodRoundsBeforeGoingDownDoNotCountTowardsUp) {
  Reachability r({.down_after = 1, .down_window = Duration::zero(), .up_after = 3}, clock_.now());
  BringUp(r);
  EXPECT_EQ(Rounds(r, Good(), 10), 0);
  EXPECT_EQ(Rounds(r, Bad(), 1), 1);
  EXPECT_EQ(Rounds(r, Good(), 2), 0);
  EXPECT_EQ(r.state(), LinkState::kDown);
  EXPECT_EQ(Rounds(r, Good(), 1), 1);
}

TEST_F(ReachabilityTest, QuorumWithSeveralTargets) {
  Reachability r(
      {.targets = 3, .quorum = 2, .down_after = 2, .down_window = Duration::zero(), .up_after = 2},
      clock_.now());
  // One answer of three is below quorum: not a good round.
  EXPECT_EQ(Rounds(r, Bad(1), 5), 0);
  EXPECT_EQ(r.state(), LinkState::kDown);
  EXPECT_EQ(Rounds(r, Good(2), 1), 0);
  EXPECT_EQ(Rounds(r, Good(2), 1), 1);
  EXPECT_EQ(r.state(), LinkState::kUp);
  // Exactly quorum keeps it up; one below quorum twice takes it down.
  EXPECT_EQ(Rounds(r, Good(2), 5), 0);
  EXPECT_EQ(Rounds(r, Good(3), 5), 0);
  EXPECT_EQ(Rounds(r, Bad(1), 1), 0);
  EXPECT_EQ(r.state(), LinkState::kUp);
  EXPECT_EQ(Rounds(r, Bad(1), 1), 1);
  EXPECT_EQ(r.state(), LinkState::kDown);
}

TEST_F(ReachabilityTest, QuorumOneOfTwo) {
  Reachability r({.targets = 2, .quorum = 1, .down_after = 3, .up_after = 1}, clock_.now());
  EXPECT_EQ(Rounds(r, Good(1), 1), 1);
  EXPECT_EQ(Rounds(r, Bad(0), 2), 0);
  EXPECT_EQ(Rounds(r, Good(1), 1), 0);
  EXPECT_EQ(Rounds(r, Bad(0), 2), 0);
  EXPECT_EQ(r.state(), LinkState::kUp);
  EXPECT_EQ(Rounds(r, Bad(0), 1), 1);
}

TEST_F(ReachabilityTest, TargetsUpLastRound) {
  Reachability r({.targets = 3, .quorum = 2}, clock_.now());
  r.on_round(Good(3), clock_.tick());
  EXPECT_EQ(r.quality(clock_.now()).targets_up_last_round, 3u);
  r.on_round(Bad(1), clock_.tick());
  EXPECT_EQ(r.quality(clock_.now()).targets_up_last_round, 1u);
}

TEST_F(ReachabilityTest, LinkDownTakesUpLineDownImmediately) {
  Reachability r({}, clock_.now());
  BringUp(r);
  const TimePoint when = clock_.tick(10);
  const auto transition = r.on_link(false, when);
  ASSERT_TRUE(transition.has_value());
  EXPECT_EQ(transition->from, LinkState::kUp);
  EXPECT_EQ(transition->to, LinkState::kDown);
  EXPECT_EQ(transition->reason, kReasonLinkDown);
  EXPECT_EQ(transition->at, when);
  EXPECT_EQ(r.state(), LinkState::kDown);
  EXPECT_EQ(r.reason(), kReasonLinkDown);
  EXPECT_EQ(r.since(), when);
  EXPECT_FALSE(r.link_usable());
}

TEST_F(ReachabilityTest, LinkDownWhileStartingSaysLinkDown) {
  Reachability r({}, clock_.now());
  r.on_link(false, clock_.tick());
  EXPECT_EQ(r.state(), LinkState::kDown);
  EXPECT_EQ(r.reason(), kReasonLinkDown);
  EXPECT_FALSE(r.link_usable());
}

TEST_F(ReachabilityTest, RoundsDuringLinkDownDoNotBringItUp) {
  Reachability r({.up_after = 3}, clock_.now());
  BringUp(r);
  r.on_link(false, clock_.tick());
  EXPECT_EQ(Rounds(r, Good(), 20), 0);
  EXPECT_EQ(r.state(), LinkState::kDown);
  EXPECT_EQ(r.reason(), kReasonLinkDown);
}

TEST_F(ReachabilityTest, LinkUpNeedsUpAfterFreshGoodRounds) {
  Reachability r({.up_after = 3}, clock_.now());
  BringUp(r);
  r.on_link(false, clock_.tick());
  EXPECT_EQ(Rounds(r, Good(), 5), 0);
  EXPECT_FALSE(r.on_link(true, clock_.tick()).has_value());
  EXPECT_TRUE(r.link_usable());
  EXPECT_EQ(r.state(), LinkState::kDown);
  EXPECT_EQ(Rounds(r, Good(), 2), 0);
  EXPECT_EQ(r.state(), LinkState::kDown);
  const auto transition = r.on_round(Good(), clock_.tick());
  ASSERT_TRUE(transition.has_value());
  EXPECT_EQ(transition->to, LinkState::kUp);
}

TEST_F(ReachabilityTest, GoodRoundsBeforeLinkLossDoNotCountAfterLinkReturns) {
  Reachability r({.up_after = 3}, clock_.now());
  EXPECT_EQ(Rounds(r, Good(), 2), 0);
  r.on_link(false, clock_.tick());
  r.on_link(true, clock_.tick());
  EXPECT_EQ(Rounds(r, Good(), 2), 0);
  EXPECT_EQ(r.state(), LinkState::kDown);
  EXPECT_EQ(Rounds(r, Good(), 1), 1);
}

TEST_F(ReachabilityTest, RepeatedLinkDownIsNoNewTransition) {
  Reachability r({}, clock_.now());
  BringUp(r);
  EXPECT_TRUE(r.on_link(false, clock_.tick()).has_value());
  const TimePoint since = r.since();
  EXPECT_FALSE(r.on_link(false, clock_.tick()).has_value());
  EXPECT_EQ(r.since(), since);
}

TEST_F(ReachabilityTest, FailureReasonPropagates) {
  Reachability r({.down_after = 3}, clock_.now());
  BringUp(r);
  EXPECT_EQ(Rounds(r, Bad(0, kReasonNoRoute), 2), 0);
  const auto transition = r.on_round(Bad(0, kReasonNoRoute), clock_.tick());
  ASSERT_TRUE(transition.has_value());
  EXPECT_EQ(transition->reason, kReasonNoRoute);
  EXPECT_EQ(r.reason(), kReasonNoRoute);
}

TEST_F(ReachabilityTest, ReasonIsThatOfTheRoundThatTakesItDown) {
  Reachability r({.down_after = 3}, clock_.now());
  BringUp(r);
  EXPECT_EQ(Rounds(r, Bad(0, kReasonProbeLoss), 2), 0);
  const auto transition = r.on_round(Bad(0, kReasonUnreachable), clock_.tick());
  ASSERT_TRUE(transition.has_value());
  EXPECT_EQ(transition->reason, kReasonUnreachable);
  EXPECT_EQ(r.reason(), kReasonUnreachable);
}

// A line brought up at `at` by up_after good rounds; the loss window counts only while up.
Reachability UpLine(ReachabilityConfig config, TimePoint at) {
  Reachability r(config, at);
  for (std::uint32_t i = 0; i < config.up_after; ++i) r.on_round(Good(), at);
  EXPECT_EQ(r.state(), LinkState::kUp);
  return r;
}

TEST_F(ReachabilityTest, EmptyWindowHasNoLossAndNoRtt) {
  Reachability r({}, clock_.now());
  const LineQuality quality = r.quality(clock_.now());
  EXPECT_EQ(quality.loss_permille, 0u);
  EXPECT_EQ(quality.probes_in_window, 0u);
  EXPECT_FALSE(quality.rtt_last_us.has_value());
  EXPECT_FALSE(quality.rtt_avg_us.has_value());
  Reachability up = UpLine({}, clock_.now());
  EXPECT_EQ(up.quality(clock_.now()).probes_in_window, 0u);
  EXPECT_EQ(up.quality(clock_.now()).loss_permille, 0u);
}

TEST_F(ReachabilityTest, LossPermilleArithmetic) {
  Reachability r = UpLine({}, clock_.now());
  // 1 lost of 8 = 12.5 %.
  for (int i = 0; i < 7; ++i) r.record_probe(clock_.tick(10), milliseconds(5));
  r.record_probe(clock_.tick(10), std::nullopt);
  LineQuality quality = r.quality(clock_.now());
  EXPECT_EQ(quality.probes_in_window, 8u);
  EXPECT_EQ(quality.loss_permille, 125u);
  // 2 lost of 10 = 20 %.
  r.record_probe(clock_.tick(10), std::nullopt);
  r.record_probe(clock_.tick(10), milliseconds(5));
  quality = r.quality(clock_.now());
  EXPECT_EQ(quality.probes_in_window, 10u);
  EXPECT_EQ(quality.loss_permille, 200u);
}

TEST_F(ReachabilityTest, LossOneInAThousand) {
  Reachability r = UpLine({.loss_window = seconds(30)}, clock_.now());
  r.record_probe(clock_.tick(1), std::nullopt);
  for (int i = 0; i < 999; ++i) r.record_probe(clock_.tick(1), microseconds(100));
  const LineQuality quality = r.quality(clock_.now());
  EXPECT_EQ(quality.probes_in_window, 1000u);
  EXPECT_EQ(quality.loss_permille, 1u);
}

TEST_F(ReachabilityTest, AllLostIsThousandPermille) {
  Reachability r = UpLine({}, clock_.now());
  for (int i = 0; i < 4; ++i) r.record_probe(clock_.tick(10), std::nullopt);
  const LineQuality quality = r.quality(clock_.now());
  EXPECT_EQ(quality.loss_permille, 1000u);
  EXPECT_FALSE(quality.rtt_avg_us.has_value());
}

TEST_F(ReachabilityTest, ProbesWhileDownDoNotCountInTheWindow) {
  Reachability r({.down_after = 2, .down_window = Duration::zero(), .up_after = 3}, clock_.now());
  // Starting: lost probes are not counted.
  for (int i = 0; i < 5; ++i) r.record_probe(clock_.tick(10), std::nullopt);
  EXPECT_EQ(r.quality(clock_.now()).probes_in_window, 0u);
  EXPECT_EQ(r.quality(clock_.now()).loss_permille, 0u);
  BringUp(r);
  r.record_probe(clock_.tick(10), milliseconds(5));
  r.record_probe(clock_.tick(10), milliseconds(5));
  EXPECT_EQ(r.quality(clock_.now()).probes_in_window, 2u);
  EXPECT_EQ(r.quality(clock_.now()).loss_permille, 0u);
  // Down again: the outage's lost probes are not held against the line.
  ASSERT_EQ(Rounds(r, Bad(), 2), 1);
  for (int i = 0; i < 5; ++i) r.record_probe(clock_.tick(10), std::nullopt);
  EXPECT_EQ(r.quality(clock_.now()).probes_in_window, 2u);
  EXPECT_EQ(r.quality(clock_.now()).loss_permille, 0u);
}

TEST_F(ReachabilityTest, ProbesDuringLinkDownDoNotCountInTheWindow) {
  Reachability r({}, clock_.now());
  BringUp(r);
  r.record_probe(clock_.tick(10), milliseconds(5));
  r.on_link(false, clock_.tick(10));
  for (int i = 0; i < 5; ++i) r.record_probe(clock_.tick(10), std::nullopt);
  EXPECT_EQ(r.quality(clock_.now()).probes_in_window, 1u);
  EXPECT_EQ(r.quality(clock_.now()).loss_permille, 0u);
}

TEST_F(ReachabilityTest, OldProbesFallOutOfTheWindow) {
  Reachability r = UpLine({.loss_window = seconds(10)}, At(0));
  r.record_probe(At(1000), std::nullopt);
  r.record_probe(At(2000), std::nullopt);
  r.record_probe(At(5000), milliseconds(20));
  r.record_probe(At(6000), milliseconds(40));
  LineQuality quality = r.quality(At(9000));
  EXPECT_EQ(quality.probes_in_window, 4u);
  EXPECT_EQ(quality.loss_permille, 500u);
  // At 11.5 s the probe at 1 s is older than 10 s.
  quality = r.quality(At(11500));
  EXPECT_EQ(quality.probes_in_window, 3u);
  EXPECT_EQ(quality.loss_permille, 333u);
  // At 12.5 s both lost probes are gone.
  quality = r.quality(At(12500));
  EXPECT_EQ(quality.probes_in_window, 2u);
  EXPECT_EQ(quality.loss_permille, 0u);
  EXPECT_EQ(quality.rtt_avg_us, std::optional<std::uint32_t>(30000));
  // At 15.5 s only the 40 ms probe is left.
  quality = r.quality(At(15500));
  EXPECT_EQ(quality.probes_in_window, 1u);
  EXPECT_EQ(quality.rtt_avg_us, std::optional<std::uint32_t>(40000));
  // At 16.5 s the window is empty.
  quality = r.quality(At(16500));
  EXPECT_EQ(quality.probes_in_window, 0u);
  EXPECT_EQ(quality.loss_permille, 0u);
  EXPECT_FALSE(quality.rtt_avg_us.has_value());
}

TEST_F(ReachabilityTest, RttLastAndAverage) {
  Reachability r = UpLine({}, clock_.now());
  r.record_probe(clock_.tick(10), milliseconds(10));
  LineQuality quality = r.quality(clock_.now());
  EXPECT_EQ(quality.rtt_last_us, std::optional<std::uint32_t>(10000));
  EXPECT_EQ(quality.rtt_avg_us, std::optional<std::uint32_t>(10000));
  r.record_probe(clock_.tick(10), milliseconds(20));
  r.record_probe(clock_.tick(10), std::nullopt);  // lost: neither last nor part of the average
  quality = r.quality(clock_.now());
  EXPECT_EQ(quality.rtt_last_us, std::optional<std::uint32_t>(20000));
  EXPECT_EQ(quality.rtt_avg_us, std::optional<std::uint32_t>(15000));
  r.record_probe(clock_.tick(10), microseconds(11800));
  quality = r.quality(clock_.now());
  EXPECT_EQ(quality.rtt_last_us, std::optional<std::uint32_t>(11800));
  EXPECT_EQ(quality.rtt_avg_us, std::optional<std::uint32_t>(13933));  // 41800 / 3
}

TEST_F(ReachabilityTest, RttInMicroseconds) {
  Reachability r = UpLine({}, clock_.now());
  r.record_probe(clock_.tick(10), microseconds(1234));
  const LineQuality quality = r.quality(clock_.now());
  EXPECT_EQ(quality.rtt_last_us, std::optional<std::uint32_t>(1234));
}

TEST_F(ReachabilityTest, StartingLineReportedDownWithFailureReason) {
  Reachability r({.down_after = 3, .up_after = 3}, clock_.now());
  EXPECT_FALSE(r.on_round(Bad(0, kReasonNoRoute), clock_.tick()).has_value());
  EXPECT_FALSE(r.on_round(Bad(0, kReasonNoRoute), clock_.tick()).has_value());
  EXPECT_EQ(r.reason(), kReasonStarting);
  const auto transition = r.on_round(Bad(0, kReasonNoRoute), clock_.tick());
  ASSERT_TRUE(transition.has_value());
  EXPECT_EQ(transition->from, LinkState::kDown);
  EXPECT_EQ(transition->to, LinkState::kDown);
  EXPECT_EQ(transition->reason, kReasonNoRoute);
  EXPECT_EQ(r.state(), LinkState::kDown);
  EXPECT_EQ(r.reason(), kReasonNoRoute);
  // Said once: more failed rounds are no news.
  EXPECT_FALSE(r.on_round(Bad(0, kReasonNoRoute), clock_.tick()).has_value());
}

TEST_F(ReachabilityTest, ReconfigureKeepsVerdictAndRestartsRunCounters) {
  Reachability r({.down_after = 6, .up_after = 3}, clock_.now());
  BringUp(r);
  EXPECT_EQ(Rounds(r, Bad(), 5), 0);
  r.reconfigure({.down_after = 6, .up_after = 3});
  EXPECT_EQ(r.state(), LinkState::kUp);
  EXPECT_EQ(r.config().down_after, 6u);
  // The five failed rounds before the reconfiguration no longer count.
  EXPECT_EQ(Rounds(r, Bad(), 5), 0);
  EXPECT_EQ(r.state(), LinkState::kUp);
  EXPECT_EQ(Rounds(r, Bad(), 1), 1);
}

TEST_F(ReachabilityTest, ReconfigureAppliesNewThresholds) {
  Reachability r({.down_after = 6, .up_after = 3}, clock_.now());
  BringUp(r);
  r.reconfigure({.down_after = 2, .down_window = Duration::zero(), .up_after = 3});
  EXPECT_EQ(Rounds(r, Bad(), 1), 0);
  EXPECT_EQ(Rounds(r, Bad(), 1), 1);
}

TEST_F(ReachabilityTest, ReconfigureKeepsWindowUnlessTargetsChange) {
  Reachability r = UpLine({.targets = 2, .quorum = 1}, clock_.now());
  r.record_probe(clock_.tick(10), milliseconds(5));
  r.record_probe(clock_.tick(10), std::nullopt);
  r.reconfigure({.targets = 2, .quorum = 2});
  EXPECT_EQ(r.quality(clock_.now()).probes_in_window, 2u);
  EXPECT_EQ(r.quality(clock_.now()).loss_permille, 500u);
  r.reconfigure({.targets = 3, .quorum = 2});
  EXPECT_EQ(r.quality(clock_.now()).probes_in_window, 0u);
  EXPECT_EQ(r.quality(clock_.now()).loss_permille, 0u);
  EXPECT_EQ(r.state(), LinkState::kUp);
}

// Counts up->down transitions over `rounds` rounds where each probe is lost with 5 % each way.
int FalseDowns(ReachabilityConfig config, int rounds, std::uint64_t seed, int* ups) {
  std::mt19937_64 random(seed);
  const auto answered = [&random] {
    const double draw_out = static_cast<double>(random() >> 11) * 0x1.0p-53;
    const double draw_back = static_cast<double>(random() >> 11) * 0x1.0p-53;
    return draw_out >= 0.05 && draw_back >= 0.05;
  };
  FakeClock clock;
  Reachability r(config, clock.now());
  int downs = 0;
  *ups = 0;
  for (int i = 0; i < rounds; ++i) {
    RoundOutcome round;
    for (std::uint32_t t = 0; t < config.targets; ++t) {
      const bool ok = answered();
      r.record_probe(clock.now(), ok ? std::optional<Duration>(milliseconds(12)) : std::nullopt);
      if (ok) ++round.answered;
    }
    if (round.answered >= config.quorum) round.failure_reason = kReasonProbeOk;
    const auto transition = r.on_round(round, clock.tick());
    if (transition && transition->from == LinkState::kUp && transition->to == LinkState::kDown) {
      ++downs;
    }
    if (transition && transition->from == LinkState::kDown && transition->to == LinkState::kUp) {
      ++*ups;
    }
  }
  return downs;
}

TEST(ReachabilityLossTest, FivePercentLossEachWayRarelyTakesSingleTargetDown) {
  // A round fails with p = 1 - 0.95^2 = 0.0975; six in a row: 0.0975^6 * 1e5 ~ 0.09 expected.
  int ups = 0;
  const int downs = FalseDowns({}, 100000, 20240601, &ups);
  EXPECT_LE(downs, 1);
  EXPECT_GE(ups, 1);
}

TEST(ReachabilityLossTest, FivePercentLossEachWayNeverTakesTwoTargetsDown) {
  // A round fails with p = 0.0975^2; four in a row: ~1e-8 per round.
  int ups = 0;
  const int downs =
      FalseDowns({.targets = 2, .quorum = 1, .down_after = 4, .up_after = 3}, 100000, 7, &ups);
  EXPECT_EQ(downs, 0);
  EXPECT_EQ(ups, 1);
}

TEST(ReachabilityLossTest, QuorumOfBothTargetsIsNotTolerantOfLoss) {
  // The same loss with quorum 2 and down_after 1 must produce downs: the harness can fail.
  int ups = 0;
  const int downs = FalseDowns(
      {.targets = 2, .quorum = 2, .down_after = 1, .down_window = Duration::zero(), .up_after = 1},
      10000, 7, &ups);
  EXPECT_GT(downs, 100);
}

}  // namespace
}  // namespace ispf

namespace ispf {
namespace {

// A window that has barely started reports loss over loss_min_probes, not over a handful.
TEST(ReachabilityMinProbesTest, YoungWindowDoesNotInflateLoss) {
  ReachabilityConfig config;
  config.up_after = 1;
  config.loss_min_probes = 50;
  TimePoint t0{};
  Reachability line(config, t0);
  ASSERT_TRUE(line.on_round({1, "probe-loss"}, t0).has_value());  // up
  for (int i = 0; i < 7; ++i) line.record_probe(t0 + milliseconds(i), milliseconds(1));
  for (int i = 0; i < 3; ++i) line.record_probe(t0 + milliseconds(10 + i), std::nullopt);
  EXPECT_EQ(line.quality(t0 + milliseconds(20)).loss_permille, 60u);  // 3 of 50, not 3 of 10
  for (int i = 0; i < 90; ++i) line.record_probe(t0 + milliseconds(20 + i), milliseconds(1));
  EXPECT_EQ(line.quality(t0 + milliseconds(200)).loss_permille, 30u);  // 3 of 100
}

}  // namespace
}  // namespace ispf

namespace ispf {
namespace {

// Rounds every 25 ms (confirmation cadence), each outcome given with its start time.
class DownWindowTest : public testing::Test {
 protected:
  DownWindowTest() : line_({.down_after = 6, .down_window = milliseconds(200)}, At(0)) {
    for (int i = 0; i < 3; ++i) Round(true);
    EXPECT_EQ(line_.state(), LinkState::kUp);
  }
  // A round started now and concluded 50 ms later; returns whether the line changed state.
  bool Round(bool answered) {
    TimePoint started = now_;
    now_ += milliseconds(25);
    auto t = line_.on_round(RoundOutcome{answered ? 1u : 0u, kReasonProbeLoss, started},
                            started + milliseconds(50));
    return t && t->from != t->to;
  }
  Reachability line_;
  TimePoint now_ = At(0);
};

TEST_F(DownWindowTest, DownOnlyOnceEveryRoundOfTheWholeWindowFailed) {
  // Failed rounds start at 75, 100, ... ms; the one starting 200 ms after the first is the
  // ninth, although down_after (6) was reached at the sixth.
  for (int i = 1; i <= 8; ++i) {
    EXPECT_FALSE(Round(false)) << "round " << i;
    EXPECT_TRUE(line_.suspect());
  }
  EXPECT_TRUE(Round(false));
  EXPECT_EQ(line_.state(), LinkState::kDown);
  EXPECT_FALSE(line_.suspect());
}

TEST_F(DownWindowTest, AGlitchShorterThanTheWindowIsForgiven) {
  for (int i = 0; i < 8; ++i) Round(false);  // 175 ms of silence
  EXPECT_FALSE(Round(true));
  EXPECT_FALSE(line_.suspect());
  // The next silence is measured from scratch.
  for (int i = 0; i < 8; ++i) EXPECT_FALSE(Round(false));
  EXPECT_EQ(line_.state(), LinkState::kUp);
}

TEST_F(DownWindowTest, ALateAnswerEndsTheRunUpToItsRound) {
  TimePoint third_failed{};
  for (int i = 0; i < 8; ++i) {
    if (i == 2) third_failed = now_;
    Round(false);
  }
  // The third failed round was answered after all: the run now starts at the fourth, so five
  // more rounds fail (the run then spans 200 ms) before the line is down.
  line_.on_late_answer(third_failed);
  EXPECT_TRUE(line_.suspect());
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(Round(false)) << "round " << i;
  EXPECT_TRUE(Round(false));
}

TEST_F(DownWindowTest, AnAnswerToAnEarlierRoundDoesNotEndALaterRun) {
  TimePoint early = now_;
  now_ += milliseconds(25);
  Round(false);  // started after `early`, failed
  // `early` is answered only now (a slow reply within its timeout): the failure after it stays.
  line_.on_round(RoundOutcome{1, kReasonProbeOk, early}, now_);
  EXPECT_TRUE(line_.suspect());
}

}  // namespace
}  // namespace ispf

// The route decision of FailoverPolicy: failover, failback hold, staleness, grace, drops,
// deadlines.
#include "ispfailover/core/failover_policy.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ispf {
namespace {

using std::chrono::seconds;

TimePoint At(long long ms) { return TimePoint{} + milliseconds(ms); }

constexpr std::uint32_t kGatewayA = 0x0a000101;  // 10.0.1.1
constexpr std::uint32_t kGatewayB = 0x0a000201;  // 10.0.2.1
constexpr std::uint32_t kGatewayC = 0x0a000301;  // 10.0.3.1
constexpr std::size_t kAlpha = 0;
constexpr std::size_t kBravo = 1;
constexpr std::size_t kCharlie = 2;
// A heartbeat long enough that nothing goes stale unless a test wants it to.
constexpr std::uint32_t kSlowHeartbeat = 60000;

std::vector<IspConfig> TwoIsps() { return {{"alpha", kGatewayA, 0}, {"bravo", kGatewayB, 1}}; }

std::vector<IspConfig> ThreeIsps() {
  return {{"alpha", kGatewayA, 0}, {"bravo", kGatewayB, 1}, {"charlie", kGatewayC, 2}};
}

testing::AssertionResult Mentions(const std::string& text, std::string_view word) {
  if (text.find(word) != std::string::npos) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "\"" << text << "\" does not mention " << word;
}

// Builds datagrams with a per-ISP sequence number, as one ispprobed instance per ISP would.
class Sender {
 public:
  Status Make(const std::string& name, LinkState state, std::uint32_t loss_permille = 0,
              std::uint32_t heartbeat_ms = kSlowHeartbeat) {
    Status status;
    status.name = name;
    status.instance = 0x9f86d081884c7d65ULL;
    status.seq = ++seq_[name];
    status.time_ms = 1795000000000ULL + status.seq;
    status.state = state;
    status.reason = state == LinkState::kUp ? "probe-ok" : "probe-loss";
    status.heartbeat_ms = heartbeat_ms;
    status.targets = 2;
    status.targets_up = state == LinkState::kUp ? 2 : 0;
    status.loss_permille = loss_permille;
    status.window_ms = 30000;
    return status;
  }

 private:
  std::map<std::string, std::uint64_t> seq_;
};

class FailoverPolicyTest : public testing::Test {
 protected:
  static constexpr long long kStartMs = 100000;
  static TimePoint T(long long ms_after_start) { return At(kStartMs + ms_after_start); }

  void Make(PolicyConfig config = {}, std::vector<IspConfig> isps = TwoIsps()) {
    policy_.emplace(config, std::move(isps), T(0));
  }

  FailoverPolicy& policy() { return *policy_; }

  std::uint32_t GatewayOf(const std::string& name) {
    for (const IspConfig& isp : policy().isps()) {
      if (isp.name == name) return isp.gateway;
    }
    ADD_FAILURE() << "no ISP " << name;
    return 0;
  }

  // Sends a datagram from the ISP's configured gateway; expects it to be accepted.
  void Send(const std::string& name, LinkState state, TimePoint now,
            std::uint32_t loss_permille = 0, std::uint32_t heartbeat_ms = kSlowHeartbeat) {
    const auto dropped = policy().on_status(sender_.Make(name, state, loss_permille, heartbeat_ms),
                                            GatewayOf(name), now);
    EXPECT_FALSE(dropped.has_value()) << name << " dropped: " << to_string(*dropped);
  }
  void Up(const std::string& name, TimePoint now, std::uint32_t loss_permille = 0) {
    Send(name, LinkState::kUp, now, loss_permille);
  }
  void Down(const std::string& name, TimePoint now) { Send(name, LinkState::kDown, now); }

  // Both heard up right away; alpha carries the traffic.
  void StartOnAlpha() {
    Up("alpha", T(10));
    Up("bravo", T(10));
    const Decision decision = policy().evaluate(T(20));
    ASSERT_EQ(decision.active, std::optional<std::size_t>(kAlpha));
  }

  // Both heard at +2 s, alpha with a 100 ms heartbeat (stale at +2.45 s), and carrying traffic.
  void AlphaActiveBeatingAt2000() {
    Send("alpha", LinkState::kUp, T(2000), 0, 100);
    Up("bravo", T(2000));
    ASSERT_EQ(policy().evaluate(T(2000)).active, std::optional<std::size_t>(kAlpha));
  }

  // Alpha fails at `when`; bravo takes over.
  void FailOverToBravo(TimePoint when) {
    Down("alpha", when);
    const Decision decision = policy().evaluate(when);
    ASSERT_EQ(decision.active, std::optional<std::size_t>(kBravo));
  }

  IspView ViewOf(std::size_t index, TimePoint now) {
    const std::vector<IspView> views = policy().view(now);
    EXPECT_GT(views.size(), index);
    return views.at(index);
  }

  Sender sender_;
  std::optional<FailoverPolicy> policy_;
};

TEST_F(FailoverPolicyTest, NothingHeardNothingActive) {
  Make();
  const Decision decision = policy().evaluate(T(1));
  EXPECT_FALSE(decision.active.has_value());
  EXPECT_FALSE(decision.changed);
  EXPECT_FALSE(policy().active().has_value());
  EXPECT_EQ(policy().switches(), 0u);
}

TEST_F(FailoverPolicyTest, InitialChoiceIsMostPreferredUpIsp) {
  Make();
  Up("bravo", T(5));
  Up("alpha", T(10));
  const Decision decision = policy().evaluate(T(20));
  EXPECT_EQ(decision.active, std::optional<std::size_t>(kAlpha));
  EXPECT_TRUE(decision.changed);
  EXPECT_FALSE(decision.previous.has_value());
  EXPECT_FALSE(decision.all_down);
  EXPECT_EQ(policy().active(), std::optional<std::size_t>(kAlpha));
  EXPECT_TRUE(Mentions(decision.why, "alpha"));
  // The first pick after start is not a counted switch.
  EXPECT_FALSE(decision.counted);
}

TEST_F(FailoverPolicyTest, EvaluateWithoutNewsChangesNothing) {
  Make();
  StartOnAlpha();
  const std::uint64_t switches = policy().switches();
  const Decision decision = policy().evaluate(T(500));
  EXPECT_EQ(decision.active, std::optional<std::size_t>(kAlpha));
  EXPECT_FALSE(decision.changed);
  EXPECT_EQ(policy().switches(), switches);
}

TEST_F(FailoverPolicyTest, PriorityDecidesNotListOrder) {
  Make({}, {{"alpha", kGatewayA, 5}, {"bravo", kGatewayB, 1}});
  Up("alpha", T(10));
  Up("bravo", T(10));
  const Decision decision = policy().evaluate(T(20));
  ASSERT_TRUE(decision.active.has_value());
  EXPECT_EQ(policy().isps().at(*decision.active).name, "bravo");
  // The active index and isps() agree.
  EXPECT_EQ(policy().isps().at(*policy().active()).gateway, kGatewayB);
}

TEST_F(FailoverPolicyTest, PriorityTieBrokenByListOrder) {
  Make({}, {{"zulu", kGatewayA, 1}, {"bravo", kGatewayB, 1}});
  Up("bravo", T(10));
  Up("zulu", T(10));
  const Decision decision = policy().evaluate(T(20));
  ASSERT_TRUE(decision.active.has_value());
  EXPECT_EQ(policy().isps().at(*decision.active).name, "zulu");
}

TEST_F(FailoverPolicyTest, FailoverIsImmediate) {
  Make();
  StartOnAlpha();
  const std::uint64_t switches = policy().switches();
  Down("alpha", T(5000));
  const Decision decision = policy().evaluate(T(5000));
  EXPECT_EQ(decision.active, std::optional<std::size_t>(kBravo));
  EXPECT_TRUE(decision.changed);
  EXPECT_EQ(decision.previous, std::optional<std::size_t>(kAlpha));
  EXPECT_FALSE(decision.all_down);
  EXPECT_EQ(policy().switches(), switches + 1);
}

TEST_F(FailoverPolicyTest, SwitchExplanationNamesBothIsps) {
  Make();
  StartOnAlpha();
  Down("alpha", T(5000));
  const Decision decision = policy().evaluate(T(5000));
  ASSERT_TRUE(decision.changed);
  EXPECT_TRUE(Mentions(decision.why, "alpha"));
  EXPECT_TRUE(Mentions(decision.why, "bravo"));
  Up("alpha", T(6000));
  policy().evaluate(T(6000));
  const Decision back = policy().evaluate(T(9000));
  ASSERT_TRUE(back.changed);
  EXPECT_TRUE(Mentions(back.why, "alpha"));
  EXPECT_TRUE(Mentions(back.why, "bravo"));
}

TEST_F(FailoverPolicyTest, FailoverPicksMostPreferredHealthy) {
  Make({}, ThreeIsps());
  Up("alpha", T(10));
  Up("bravo", T(10));
  Up("charlie", T(10));
  ASSERT_EQ(policy().evaluate(T(20)).active, std::optional<std::size_t>(kAlpha));
  Down("bravo", T(1000));
  EXPECT_EQ(policy().evaluate(T(1000)).active, std::optional<std::size_t>(kAlpha));
  Down("alpha", T(2000));
  EXPECT_EQ(policy().evaluate(T(2000)).active, std::optional<std::size_t>(kCharlie));
}

TEST_F(FailoverPolicyTest, FailbackWaitsExactlyFailbackAfter) {
  Make({.failback_after = seconds(3)});
  StartOnAlpha();
  FailOverToBravo(T(5000));
  Up("alpha", T(6000));
  EXPECT_EQ(policy().evaluate(T(6000)).active, std::optional<std::size_t>(kBravo));
  EXPECT_EQ(policy().evaluate(T(7500)).active, std::optional<std::size_t>(kBravo));
  const Decision before = policy().evaluate(T(9000) - milliseconds(1));
  EXPECT_EQ(before.active, std::optional<std::size_t>(kBravo));
  EXPECT_FALSE(before.changed);
  const Decision at = policy().evaluate(T(9000));
  EXPECT_EQ(at.active, std::optional<std::size_t>(kAlpha));
  EXPECT_TRUE(at.changed);
  EXPECT_EQ(at.previous, std::optional<std::size_t>(kBravo));
}

TEST_F(FailoverPolicyTest, FailbackHoldIsPerConfig) {
  Make({.failback_after = seconds(10)});
  StartOnAlpha();
  FailOverToBravo(T(5000));
  Up("alpha", T(6000));
  EXPECT_EQ(policy().evaluate(T(6000)).active, std::optional<std::size_t>(kBravo));
  EXPECT_EQ(policy().evaluate(T(15999)).active, std::optional<std::size_t>(kBravo));
  EXPECT_EQ(policy().evaluate(T(16000)).active, std::optional<std::size_t>(kAlpha));
}

// The hold counts from the report that said alpha is healthy, however often evaluate() runs.
TEST_F(FailoverPolicyTest, FailbackHoldCountsFromTheReportNotFromEvaluation) {
  Make({.failback_after = seconds(3)});
  StartOnAlpha();
  FailOverToBravo(T(5000));
  Up("alpha", T(6000));
  // No evaluation between the report and the end of the hold.
  const Decision decision = policy().evaluate(T(9000));
  EXPECT_EQ(decision.active, std::optional<std::size_t>(kAlpha));
  EXPECT_TRUE(decision.changed);
}

TEST_F(FailoverPolicyTest, FailbackHoldRestartsWhenPrimaryFlapsDuringIt) {
  Make({.failback_after = seconds(3)});
  StartOnAlpha();
  FailOverToBravo(T(5000));
  Up("alpha", T(6000));
  EXPECT_EQ(policy().evaluate(T(6000)).active, std::optional<std::size_t>(kBravo));
  Down("alpha", T(7000));
  EXPECT_EQ(policy().evaluate(T(7000)).active, std::optional<std::size_t>(kBravo));
  Up("alpha", T(8000));
  EXPECT_EQ(policy().evaluate(T(8000)).active, std::optional<std::size_t>(kBravo));
  EXPECT_EQ(policy().evaluate(T(11000)).active, std::optional<std::size_t>(kBravo));
  // Two failures in ten minutes: the hold from the report at +8 s is doubled to 6 s.
  EXPECT_EQ(policy().evaluate(T(14000) - milliseconds(1)).active,
            std::optional<std::size_t>(kBravo));
  EXPECT_EQ(policy().evaluate(T(14000)).active, std::optional<std::size_t>(kAlpha));
}

// Flap damping: each failure within ten minutes beyond the first doubles the hold, up to 32
// times; the first failure of a quiet line keeps the plain failback_after.
TEST_F(FailoverPolicyTest, DampingDoublesTheHoldPerRecentFailure) {
  Make({.failback_after = seconds(3)});
  StartOnAlpha();
  const long long expected_hold_s[] = {3, 6, 12, 24, 48, 96, 96, 96};
  long long now = 5000;
  for (std::size_t failure = 1; failure <= std::size(expected_hold_s); ++failure) {
    Down("alpha", T(now));
    Up("bravo", T(now));
    ASSERT_EQ(policy().evaluate(T(now)).active, std::optional<std::size_t>(kBravo));
    now += 1000;
    Up("alpha", T(now));
    Up("bravo", T(now));
    const long long hold_ms = expected_hold_s[failure - 1] * 1000;
    EXPECT_EQ(ViewOf(kAlpha, T(now)).recent_failures, failure);
    EXPECT_EQ(ViewOf(kAlpha, T(now)).failback_hold, milliseconds(hold_ms)) << failure;
    // Both keep reporting (a silence of 30 s would be stale, and a failure of its own).
    for (long long t = now + 5000; t < now + hold_ms; t += 5000) {
      Up("alpha", T(t));
      Up("bravo", T(t));
      ASSERT_EQ(policy().evaluate(T(t)).active, std::optional<std::size_t>(kBravo)) << failure;
    }
    Up("alpha", T(now + hold_ms - 1));
    Up("bravo", T(now + hold_ms - 1));
    EXPECT_EQ(policy().evaluate(T(now + hold_ms - 1)).active, std::optional<std::size_t>(kBravo))
        << "failure " << failure;
    EXPECT_EQ(policy().next_deadline(T(now + hold_ms - 1)),
              std::optional<TimePoint>(T(now + hold_ms)));
    const Decision back = policy().evaluate(T(now + hold_ms));
    EXPECT_EQ(back.active, std::optional<std::size_t>(kAlpha)) << "failure " << failure;
    if (failure > 1) {
      EXPECT_TRUE(Mentions(back.why, "damped to")) << back.why;
    } else {
      EXPECT_FALSE(Mentions(back.why, "damped to")) << back.why;
    }
    now += hold_ms + 1000;
  }
}

TEST_F(FailoverPolicyTest, FailuresAgeOutOfTheDampingWindow) {
  Make({.failback_after = seconds(3)});
  StartOnAlpha();
  for (long long at : {5000, 7000, 9000}) {
    Down("alpha", T(at));
    ASSERT_EQ(policy().evaluate(T(at)).active, std::optional<std::size_t>(kBravo));
    Up("alpha", T(at + 1000));
  }
  // Three failures at +5, +7, +9 s: the hold from +10 s is 12 s; alpha keeps reporting up.
  EXPECT_EQ(ViewOf(kAlpha, T(10000)).failback_hold, seconds(12));
  // Once the failures are more than ten minutes old, the hold is back to 3 s, and the policy
  // asks to be woken when each one ages out.
  const TimePoint late = T(9000) + kDampingWindow + milliseconds(1);
  EXPECT_EQ(ViewOf(kAlpha, late).recent_failures, 0u);
  EXPECT_EQ(ViewOf(kAlpha, late).failback_hold, seconds(3));
}

TEST_F(FailoverPolicyTest, NextDeadlineIsWhenAFailureAgesOut) {
  // Reports believed for 10 s at most each; nothing more is sent, and staleness is not what
  // this is about, so a long stale count keeps both fresh.
  Make({.failback_after = seconds(200), .stale_heartbeats = 1000});
  StartOnAlpha();
  for (long long at : {5000, 7000, 9000}) {
    Down("alpha", T(at));
    ASSERT_EQ(policy().evaluate(T(at)).active, std::optional<std::size_t>(kBravo));
    Up("alpha", T(at + 1000));
  }
  // Three failures: an 800 s hold from +10 s. When the first ages out (+605.001 s), two are
  // left, the hold is 400 s and long over: that is when the failback is due.
  ASSERT_EQ(ViewOf(kAlpha, T(10000)).failback_hold, seconds(800));
  const TimePoint first_ages_out = T(5000) + kDampingWindow + milliseconds(1);
  EXPECT_EQ(policy().next_deadline(T(10000)), std::optional<TimePoint>(first_ages_out));
  EXPECT_EQ(policy().evaluate(first_ages_out - milliseconds(1)).active,
            std::optional<std::size_t>(kBravo));
  EXPECT_EQ(policy().evaluate(first_ages_out).active, std::optional<std::size_t>(kAlpha));
}

TEST_F(FailoverPolicyTest, ASilenceIsOneFailureWhateverItsLength) {
  Make({.failback_after = seconds(3)});
  Send("alpha", LinkState::kUp, T(10), 0, 1000);
  Send("bravo", LinkState::kUp, T(10), 0, kSlowHeartbeat);
  ASSERT_EQ(policy().evaluate(T(20)).active, std::optional<std::size_t>(kAlpha));
  // Alpha falls silent: stale after 4.5 s, and stays silent for a minute.
  ASSERT_EQ(policy().evaluate(T(4510)).active, std::optional<std::size_t>(kBravo));
  ASSERT_EQ(policy().evaluate(T(60000)).active, std::optional<std::size_t>(kBravo));
  Send("alpha", LinkState::kUp, T(60000), 0, 1000);
  EXPECT_EQ(ViewOf(kAlpha, T(60000)).recent_failures, 1u);
  EXPECT_EQ(ViewOf(kAlpha, T(60000)).failback_hold, seconds(3));
}

// Our own link going away is nobody's failure: no damping after the client's link flaps.
TEST_F(FailoverPolicyTest, OwnLinkLossIsNoFailureOfTheIsp) {
  Make({.failback_after = seconds(3)});
  Send("alpha", LinkState::kUp, T(10), 0, 1000);
  Send("bravo", LinkState::kUp, T(10), 0, 1000);
  ASSERT_EQ(policy().evaluate(T(20)).active, std::optional<std::size_t>(kAlpha));
  ASSERT_TRUE(policy().set_local_reachability({false, false}, T(500)));
  ASSERT_TRUE(policy().set_local_reachability({true, true}, T(20000)));
  // The first report after our return is up: the silence while our link was gone is not
  // counted as alpha's failure.
  Send("alpha", LinkState::kUp, T(20100), 0, 1000);
  EXPECT_EQ(ViewOf(kAlpha, T(20100)).recent_failures, 0u);
  // A down report after good ones is.
  Send("alpha", LinkState::kDown, T(21000), 0, 1000);
  EXPECT_EQ(ViewOf(kAlpha, T(21000)).recent_failures, 1u);
}

TEST_F(FailoverPolicyTest, FlappingPrimaryNeverDragsTrafficBack) {
  Make({.failback_after = seconds(3)});
  StartOnAlpha();
  FailOverToBravo(T(5000));
  const std::uint64_t switches = policy().switches();
  bool alpha_up = false;
  for (long long ms = 6000; ms < 66000; ms += 100) {
    if (ms % 1000 == 0) {
      alpha_up = !alpha_up;
      Send("alpha", alpha_up ? LinkState::kUp : LinkState::kDown, T(ms));
      Up("bravo", T(ms));
    }
    const Decision decision = policy().evaluate(T(ms));
    ASSERT_EQ(decision.active, std::optional<std::size_t>(kBravo)) << "at +" << ms << " ms";
  }
  EXPECT_EQ(policy().switches(), switches);
}

TEST_F(FailoverPolicyTest, DegradedByLossFailsOverImmediately) {
  Make({.max_loss_permille = 200});
  StartOnAlpha();
  Up("alpha", T(5000), 201);
  const Decision decision = policy().evaluate(T(5000));
  EXPECT_EQ(decision.active, std::optional<std::size_t>(kBravo));
  EXPECT_TRUE(decision.changed);
  EXPECT_FALSE(decision.all_down);
  const IspView alpha = ViewOf(kAlpha, T(5000));
  EXPECT_EQ(alpha.health, IspHealth::kDegraded);
  EXPECT_EQ(alpha.reason, "loss");
  EXPECT_EQ(alpha.loss_permille, 201u);
}

TEST_F(FailoverPolicyTest, LossAtMaximumIsNotDegraded) {
  Make({.max_loss_permille = 200});
  StartOnAlpha();
  Up("alpha", T(5000), 200);
  const Decision decision = policy().evaluate(T(5000));
  EXPECT_EQ(decision.active, std::optional<std::size_t>(kAlpha));
  EXPECT_FALSE(decision.changed);
  EXPECT_EQ(ViewOf(kAlpha, T(5000)).health, IspHealth::kUp);
}

TEST_F(FailoverPolicyTest, DegradedStaysUntilBelowHalfThenWaitsFailbackAfter) {
  Make({.failback_after = seconds(3), .max_loss_permille = 200});
  StartOnAlpha();
  Up("alpha", T(5000), 250);
  ASSERT_EQ(policy().evaluate(T(5000)).active, std::optional<std::size_t>(kBravo));
  // Between max/2 and max: still degraded, however long.
  Up("alpha", T(6000), 150);
  Up("bravo", T(6000));
  EXPECT_EQ(policy().evaluate(T(6000)).active, std::optional<std::size_t>(kBravo));
  EXPECT_EQ(policy().evaluate(T(20000)).active, std::optional<std::size_t>(kBravo));
  EXPECT_EQ(ViewOf(kAlpha, T(20000)).health, IspHealth::kDegraded);
  // Exactly max/2 is not below it.
  Up("alpha", T(21000), 100);
  EXPECT_EQ(policy().evaluate(T(21000)).active, std::optional<std::size_t>(kBravo));
  EXPECT_EQ(policy().evaluate(T(30000)).active, std::optional<std::size_t>(kBravo));
  EXPECT_EQ(ViewOf(kAlpha, T(30000)).health, IspHealth::kDegraded);
  // Below max/2: healthy again, and failback_after must pass.
  Up("alpha", T(31000), 99);
  EXPECT_EQ(policy().evaluate(T(31000)).active, std::optional<std::size_t>(kBravo));
  EXPECT_EQ(ViewOf(kAlpha, T(31000)).health, IspHealth::kUp);
  EXPECT_EQ(policy().evaluate(T(34000) - milliseconds(1)).active,
            std::optional<std::size_t>(kBravo));
  const Decision back = policy().evaluate(T(34000));
  EXPECT_EQ(back.active, std::optional<std::size_t>(kAlpha));
  EXPECT_TRUE(back.changed);
}

TEST_F(FailoverPolicyTest, DegradedIspStillCarriesTrafficWhenNothingIsBetter) {
  Make({.max_loss_permille = 200});
  StartOnAlpha();
  Down("bravo", T(1000));
  Up("alpha", T(2000), 500);
  const Decision decision = policy().evaluate(T(2000));
  EXPECT_EQ(decision.active, std::optional<std::size_t>(kAlpha));
  EXPECT_FALSE(decision.all_down);
}

TEST_F(FailoverPolicyTest, AllDownKeepKeepsLastActive) {
  Make({.when_all_down = AllDownPolicy::kKeep});
  StartOnAlpha();
  const std::uint64_t switches = policy().switches();
  Down("bravo", T(1000));
  Down("alpha", T(2000));
  const Decision decision = policy().evaluate(T(2000));
  EXPECT_EQ(decision.active, std::optional<std::size_t>(kAlpha));
  EXPECT_TRUE(decision.all_down);
  EXPECT_FALSE(decision.changed);
  EXPECT_EQ(policy().switches(), switches);
  // The first ISP to come back gets the traffic at once.
  Up("bravo", T(3000));
  const Decision next = policy().evaluate(T(3000));
  EXPECT_EQ(next.active, std::optional<std::size_t>(kBravo));
  EXPECT_FALSE(next.all_down);
  EXPECT_TRUE(next.changed);
}

TEST_F(FailoverPolicyTest, AllDownRemoveDropsTheRoute) {
  Make({.when_all_down = AllDownPolicy::kRemove});
  StartOnAlpha();
  Down("bravo", T(1000));
  Down("alpha", T(2000));
  const Decision decision = policy().evaluate(T(2000));
  EXPECT_FALSE(decision.active.has_value());
  EXPECT_TRUE(decision.all_down);
  EXPECT_TRUE(decision.changed);
  EXPECT_EQ(decision.previous, std::optional<std::size_t>(kAlpha));
  EXPECT_FALSE(policy().active().has_value());
  // Coming back from no route at all is immediate too.
  Up("bravo", T(3000));
  const Decision next = policy().evaluate(T(3000));
  EXPECT_EQ(next.active, std::optional<std::size_t>(kBravo));
  EXPECT_TRUE(next.changed);
}

// The default rule: (4 + 1/2) heartbeats of 100 ms, 450 ms to the millisecond.
TEST_F(FailoverPolicyTest, StaleAfterFourAndAHalfHeartbeats) {
  Make();
  AlphaActiveBeatingAt2000();
  EXPECT_EQ(policy().evaluate(T(2449)).active, std::optional<std::size_t>(kAlpha));
  EXPECT_EQ(ViewOf(kAlpha, T(2449)).health, IspHealth::kUp);
  const Decision decision = policy().evaluate(T(2450));
  EXPECT_EQ(decision.active, std::optional<std::size_t>(kBravo));
  EXPECT_TRUE(decision.changed);
  const IspView alpha = ViewOf(kAlpha, T(2450));
  EXPECT_EQ(alpha.health, IspHealth::kStale);
  EXPECT_EQ(alpha.reason, "silent");
  EXPECT_EQ(alpha.since_last_seen, std::optional<Duration>(milliseconds(450)));
}

// Three heartbeats lost in a row are no stale, even with the fourth up to half a heartbeat late
// (LAN, a busy client): a false stale needs four lost in a row.
TEST_F(FailoverPolicyTest, ThreeLostHeartbeatsAndALateFourthAreNoStale) {
  Make();
  AlphaActiveBeatingAt2000();
  Send("alpha", LinkState::kUp, T(2449), 0, 100);
  EXPECT_EQ(policy().evaluate(T(2449)).active, std::optional<std::size_t>(kAlpha));
  EXPECT_FALSE(policy().evaluate(T(2500)).changed);
  EXPECT_EQ(ViewOf(kAlpha, T(2500)).recent_failures, 0u);
}

TEST_F(FailoverPolicyTest, StaleHeartbeatsIsConfigurable) {
  Make({.stale_heartbeats = 5});
  AlphaActiveBeatingAt2000();
  EXPECT_EQ(policy().evaluate(T(2549)).active, std::optional<std::size_t>(kAlpha));
  EXPECT_EQ(policy().evaluate(T(2550)).active, std::optional<std::size_t>(kBravo));
}

// A floor above the rule's 450 ms is the limit, to the millisecond, and the wake-up with it.
TEST_F(FailoverPolicyTest, StaleFloorRaisesTheLimit) {
  Make({.stale_floor = milliseconds(800)});
  AlphaActiveBeatingAt2000();
  EXPECT_EQ(policy().next_deadline(T(2000)), std::optional<TimePoint>(T(2800)));
  EXPECT_EQ(policy().evaluate(T(2799)).active, std::optional<std::size_t>(kAlpha));
  EXPECT_EQ(ViewOf(kAlpha, T(2799)).health, IspHealth::kUp);
  const Decision decision = policy().evaluate(T(2800));
  EXPECT_EQ(decision.active, std::optional<std::size_t>(kBravo));
  EXPECT_EQ(ViewOf(kAlpha, T(2800)).health, IspHealth::kStale);
}

TEST_F(FailoverPolicyTest, StaleFloorBelowTheRuleChangesNothing) {
  Make({.stale_floor = milliseconds(300)});
  AlphaActiveBeatingAt2000();
  EXPECT_EQ(policy().evaluate(T(2449)).active, std::optional<std::size_t>(kAlpha));
  EXPECT_EQ(policy().evaluate(T(2450)).active, std::optional<std::size_t>(kBravo));
}

// A reload (SIGHUP) applies a new floor to the ISPs already heard.
TEST_F(FailoverPolicyTest, StaleFloorTakesEffectOnReconfigure) {
  Make();
  AlphaActiveBeatingAt2000();
  policy().reconfigure({.stale_floor = milliseconds(800)}, TwoIsps());
  EXPECT_EQ(policy().evaluate(T(2450)).active, std::optional<std::size_t>(kAlpha));
  EXPECT_EQ(policy().evaluate(T(2800)).active, std::optional<std::size_t>(kBravo));
}

TEST_F(FailoverPolicyTest, RegularHeartbeatsKeepIspFresh) {
  Make();
  Send("alpha", LinkState::kUp, T(2000), 0, 100);
  Up("bravo", T(2000));
  ASSERT_EQ(policy().evaluate(T(2000)).active, std::optional<std::size_t>(kAlpha));
  for (long long ms = 2100; ms < 10000; ms += 100) {
    if (ms % 200 == 0) Send("alpha", LinkState::kUp, T(ms), 0, 100);
    ASSERT_EQ(policy().evaluate(T(ms)).active, std::optional<std::size_t>(kAlpha)) << ms;
  }
}

TEST_F(FailoverPolicyTest, DroppedDatagramsDoNotRefreshStaleness) {
  Make();
  Status status = sender_.Make("alpha", LinkState::kUp, 0, 100);
  ASSERT_FALSE(policy().on_status(status, kGatewayA, T(2000)).has_value());
  Up("bravo", T(2000));
  ASSERT_EQ(policy().evaluate(T(2000)).active, std::optional<std::size_t>(kAlpha));
  EXPECT_EQ(policy().on_status(status, kGatewayA, T(2200)), DropReason::kReplay);
  Status forged = sender_.Make("alpha", LinkState::kUp, 0, 100);
  EXPECT_EQ(policy().on_status(forged, kGatewayC, T(2250)), DropReason::kWrongSource);
  EXPECT_EQ(policy().evaluate(T(2449)).active, std::optional<std::size_t>(kAlpha));
  EXPECT_EQ(policy().evaluate(T(2450)).active, std::optional<std::size_t>(kBravo));
}

TEST_F(FailoverPolicyTest, NeverHeardIspIsStaleOnlyAfterGrace) {
  Make({.startup_grace = milliseconds(1500)});
  EXPECT_EQ(ViewOf(kAlpha, T(2000)).health, IspHealth::kStale);
  EXPECT_EQ(ViewOf(kAlpha, T(2000)).reason, "never-heard");
  EXPECT_FALSE(ViewOf(kAlpha, T(2000)).since_last_seen.has_value());
}

TEST_F(FailoverPolicyTest, GraceWaitsForMorePreferredIsp) {
  Make({.startup_grace = milliseconds(1500)});
  Up("bravo", T(10));
  EXPECT_FALSE(policy().evaluate(T(20)).active.has_value());
  EXPECT_FALSE(policy().evaluate(T(1499)).active.has_value());
  const Decision decision = policy().evaluate(T(1501));
  EXPECT_EQ(decision.active, std::optional<std::size_t>(kBravo));
  EXPECT_TRUE(decision.changed);
}

TEST_F(FailoverPolicyTest, GraceDoesNotWaitForIspHeardDown) {
  Make({.startup_grace = milliseconds(1500)});
  Down("alpha", T(5));
  Up("bravo", T(10));
  EXPECT_EQ(policy().evaluate(T(20)).active, std::optional<std::size_t>(kBravo));
}

TEST_F(FailoverPolicyTest, GraceDoesNotDelayTheMostPreferred) {
  Make({.startup_grace = milliseconds(1500)});
  Up("alpha", T(10));
  EXPECT_EQ(policy().evaluate(T(20)).active, std::optional<std::size_t>(kAlpha));
}

TEST_F(FailoverPolicyTest, AdoptedRouteKeptDuringGraceWhileItsIspIsUnheard) {
  Make({.startup_grace = milliseconds(1500)});
  policy().adopt_route(kGatewayB);
  EXPECT_EQ(policy().active(), std::optional<std::size_t>(kBravo));
  const std::uint64_t switches = policy().switches();
  Up("alpha", T(10));
  Decision decision = policy().evaluate(T(20));
  EXPECT_EQ(decision.active, std::optional<std::size_t>(kBravo));
  EXPECT_FALSE(decision.changed);
  decision = policy().evaluate(T(1499));
  EXPECT_EQ(decision.active, std::optional<std::size_t>(kBravo));
  EXPECT_FALSE(decision.changed);
  EXPECT_EQ(policy().switches(), switches);
  // After the grace bravo, never heard, is stale: traffic moves to alpha.
  decision = policy().evaluate(T(1501));
  EXPECT_EQ(decision.active, std::optional<std::size_t>(kAlpha));
  EXPECT_TRUE(decision.changed);
  EXPECT_EQ(decision.previous, std::optional<std::size_t>(kBravo));
  EXPECT_EQ(policy().switches(), switches + 1);
}

TEST_F(FailoverPolicyTest, AdoptedRouteNotTouchedWhenNothingHeard) {
  Make({.startup_grace = milliseconds(1500)});
  policy().adopt_route(kGatewayA);
  const Decision decision = policy().evaluate(T(100));
  EXPECT_EQ(decision.active, std::optional<std::size_t>(kAlpha));
  EXPECT_FALSE(decision.changed);
}

TEST_F(FailoverPolicyTest, AdoptedRouteLeftAtOnceWhenItsIspIsHeardDown) {
  Make({.startup_grace = milliseconds(1500)});
  policy().adopt_route(kGatewayB);
  Up("alpha", T(10));
  Down("bravo", T(10));
  const Decision decision = policy().evaluate(T(20));
  EXPECT_EQ(decision.active, std::optional<std::size_t>(kAlpha));
  EXPECT_TRUE(decision.changed);
}

TEST_F(FailoverPolicyTest, AdoptUnknownGatewayAdoptsNothing) {
  Make();
  policy().adopt_route(kGatewayC);
  EXPECT_FALSE(policy().active().has_value());
}

TEST_F(FailoverPolicyTest, InstanceRestartAccepted) {
  Make();
  StartOnAlpha();
  Status first = sender_.Make("alpha", LinkState::kUp);
  first.instance = 0xaaaa;
  first.seq = 1000;
  EXPECT_FALSE(policy().on_status(first, kGatewayA, T(1000)).has_value());
  Status restarted = sender_.Make("alpha", LinkState::kDown);
  restarted.instance = 0xbbbb;
  restarted.seq = 1;
  EXPECT_FALSE(policy().on_status(restarted, kGatewayA, T(2000)).has_value());
  EXPECT_EQ(policy().evaluate(T(2000)).active, std::optional<std::size_t>(kBravo));
  Status next = restarted;
  next.seq = 2;
  next.state = LinkState::kUp;
  EXPECT_FALSE(policy().on_status(next, kGatewayA, T(3000)).has_value());
}

TEST_F(FailoverPolicyTest, SequenceReplayDropped) {
  Make();
  StartOnAlpha();
  Status up = sender_.Make("alpha", LinkState::kUp);
  up.instance = 0xcccc;
  up.seq = 5;
  EXPECT_FALSE(policy().on_status(up, kGatewayA, T(1000)).has_value());
  EXPECT_EQ(policy().on_status(up, kGatewayA, T(1100)), DropReason::kReplay);
  Status older = up;
  older.seq = 4;
  EXPECT_EQ(policy().on_status(older, kGatewayA, T(1200)), DropReason::kReplay);
  Status down = up;
  down.seq = 6;
  down.state = LinkState::kDown;
  down.reason = "probe-loss";
  EXPECT_FALSE(policy().on_status(down, kGatewayA, T(1300)).has_value());
  ASSERT_EQ(policy().evaluate(T(1300)).active, std::optional<std::size_t>(kBravo));
  // A replay of the old "up" must not revive alpha.
  EXPECT_EQ(policy().on_status(up, kGatewayA, T(1400)), DropReason::kReplay);
  EXPECT_EQ(ViewOf(kAlpha, T(1400)).health, IspHealth::kDown);
  EXPECT_EQ(policy().evaluate(T(10000)).active, std::optional<std::size_t>(kBravo));
}

TEST_F(FailoverPolicyTest, WithoutAKeyAForgedHugeSequenceCannotLockTheSenderOut) {
  Make();
  StartOnAlpha();
  Status genuine = sender_.Make("alpha", LinkState::kUp);
  genuine.instance = 0xcccc;
  genuine.seq = 100;
  EXPECT_FALSE(policy().on_status(genuine, kGatewayA, T(1000)).has_value());
  // Spoofed from alpha's address: alpha's instance, the largest seq, an hour-long heartbeat.
  Status forged = genuine;
  forged.seq = std::numeric_limits<std::uint64_t>::max();
  forged.heartbeat_ms = 3'600'000;
  EXPECT_FALSE(policy().on_status(forged, kGatewayA, T(1100)).has_value());
  // The genuine "down" that follows is believed, and traffic leaves alpha.
  Status down = genuine;
  down.seq = 101;
  down.state = LinkState::kDown;
  down.reason = "link-down";
  EXPECT_FALSE(policy().on_status(down, kGatewayA, T(1200)).has_value());
  EXPECT_EQ(policy().evaluate(T(1200)).active, std::optional<std::size_t>(kBravo));
  // Near duplicates are still replays.
  EXPECT_EQ(policy().on_status(down, kGatewayA, T(1300)), DropReason::kReplay);
}

TEST_F(FailoverPolicyTest, WithAKeySequenceOrderIsStrict) {
  PolicyConfig config;
  config.require_fresh_instances = true;
  Make(config);
  Status genuine = sender_.Make("alpha", LinkState::kUp);
  genuine.seq = 1000;
  const std::uint64_t wall_ms = genuine.time_ms;
  EXPECT_FALSE(policy().on_status(genuine, kGatewayA, T(1000), wall_ms).has_value());
  Status old = genuine;
  old.seq = 10;
  EXPECT_EQ(policy().on_status(old, kGatewayA, T(1100), wall_ms), DropReason::kReplay);
}

TEST_F(FailoverPolicyTest, AHeartbeatPromiseLongerThanTheCapIsNotBelieved) {
  Make();
  StartOnAlpha();
  // Alpha promises an hour; the cap says 10 s, so after 4.5 x 10 s of silence it is stale.
  Send("alpha", LinkState::kUp, T(1000), 0, 3'600'000);
  EXPECT_EQ(ViewOf(kAlpha, T(1000 + 44'999)).health, IspHealth::kUp);
  EXPECT_EQ(ViewOf(kAlpha, T(1000 + 9 * kMaxHeartbeatMs / 2)).health, IspHealth::kStale);
}

TEST_F(FailoverPolicyTest, WrongSourceDroppedWithoutEffect) {
  Make();
  StartOnAlpha();
  const Status forged = sender_.Make("alpha", LinkState::kDown);
  EXPECT_EQ(policy().on_status(forged, kGatewayB, T(1000)), DropReason::kWrongSource);
  EXPECT_EQ(policy().on_status(forged, 0x01020304, T(1000)), DropReason::kWrongSource);
  EXPECT_EQ(policy().evaluate(T(1000)).active, std::optional<std::size_t>(kAlpha));
  EXPECT_EQ(ViewOf(kAlpha, T(1000)).health, IspHealth::kUp);
  // The same datagram from the right gateway is still fresh: it was not counted.
  EXPECT_FALSE(policy().on_status(forged, kGatewayA, T(1100)).has_value());
  EXPECT_EQ(policy().evaluate(T(1100)).active, std::optional<std::size_t>(kBravo));
}

TEST_F(FailoverPolicyTest, UnknownNameDropped) {
  Make();
  StartOnAlpha();
  EXPECT_EQ(policy().on_status(sender_.Make("zulu", LinkState::kDown), kGatewayA, T(1000)),
            DropReason::kUnknownName);
  EXPECT_EQ(policy().on_status(sender_.Make("ALPHA", LinkState::kDown), kGatewayA, T(1000)),
            DropReason::kUnknownName);
  EXPECT_EQ(policy().evaluate(T(1000)).active, std::optional<std::size_t>(kAlpha));
}

TEST_F(FailoverPolicyTest, ReconfigureKeepsActiveWhenStillConfigured) {
  Make();
  StartOnAlpha();
  PolicyConfig changed;
  changed.failback_after = seconds(7);
  policy().reconfigure(
      changed, {{"charlie", kGatewayC, 0}, {"alpha", kGatewayA, 1}, {"bravo", kGatewayB, 2}});
  EXPECT_EQ(policy().config(), changed);
  ASSERT_EQ(policy().isps().size(), 3u);
  ASSERT_TRUE(policy().active().has_value());
  EXPECT_EQ(policy().isps()[*policy().active()].name, "alpha");
  const Decision decision = policy().evaluate(T(2000));
  ASSERT_TRUE(decision.active.has_value());
  EXPECT_EQ(policy().isps()[*decision.active].name, "alpha");
  EXPECT_FALSE(decision.changed);
}

TEST_F(FailoverPolicyTest, NextDeadlineIsStaleness) {
  Make();
  AlphaActiveBeatingAt2000();
  EXPECT_EQ(policy().next_deadline(T(2000)), std::optional<TimePoint>(T(2450)));
  // Nothing changes before the deadline; at it the decision has changed.
  EXPECT_FALSE(policy().evaluate(T(2449)).changed);
  EXPECT_TRUE(policy().evaluate(T(2450)).changed);
}

TEST_F(FailoverPolicyTest, NextDeadlineIsEndOfFailbackHold) {
  Make({.failback_after = seconds(3)});
  StartOnAlpha();
  FailOverToBravo(T(5000));
  Up("alpha", T(6000));
  ASSERT_EQ(policy().evaluate(T(6000)).active, std::optional<std::size_t>(kBravo));
  EXPECT_EQ(policy().next_deadline(T(6000)), std::optional<TimePoint>(T(9000)));
  EXPECT_EQ(policy().next_deadline(T(7000)), std::optional<TimePoint>(T(9000)));
}

TEST_F(FailoverPolicyTest, NextDeadlineIsEndOfGrace) {
  Make({.startup_grace = milliseconds(1500)});
  Up("bravo", T(10));
  ASSERT_FALSE(policy().evaluate(T(20)).active.has_value());
  const auto deadline = policy().next_deadline(T(20));
  ASSERT_TRUE(deadline.has_value());
  EXPECT_GE(*deadline, T(1500));
  EXPECT_LE(*deadline, T(1501));
}

TEST_F(FailoverPolicyTest, NextDeadlineNotLaterThanSlowStaleness) {
  Make();
  StartOnAlpha();
  const auto deadline = policy().next_deadline(T(3000));
  ASSERT_TRUE(deadline.has_value());
  EXPECT_GT(*deadline, T(3000));
  // Alpha was last heard at +10 ms and promised a heartbeat every 60 s.
  EXPECT_LE(*deadline, T(10) + milliseconds(9 * kSlowHeartbeat / 2));
}

TEST_F(FailoverPolicyTest, SwitchesCountsChangesBetweenIsps) {
  Make({.failback_after = seconds(3)});
  StartOnAlpha();
  EXPECT_EQ(policy().switches(), 0u);  // the first pick after start is not counted
  Down("alpha", T(5000));
  Decision decision = policy().evaluate(T(5000));
  EXPECT_TRUE(decision.counted);
  EXPECT_EQ(policy().switches(), 1u);  // alpha -> bravo
  Up("alpha", T(6000));
  decision = policy().evaluate(T(6000));
  EXPECT_FALSE(decision.counted);
  EXPECT_EQ(policy().switches(), 1u);
  decision = policy().evaluate(T(9000));
  EXPECT_TRUE(decision.counted);
  EXPECT_EQ(policy().switches(), 2u);  // bravo -> alpha
  decision = policy().evaluate(T(9500));
  EXPECT_FALSE(decision.counted);
  EXPECT_EQ(policy().switches(), 2u);
}

// The brief: switches() counts changes "between two ISPs or to/from none" (after the first pick).
TEST_F(FailoverPolicyTest, SwitchesCountsWithdrawingAndRestoringTheRoute) {
  Make({.when_all_down = AllDownPolicy::kRemove});
  StartOnAlpha();
  const std::uint64_t switches = policy().switches();
  Down("alpha", T(1000));
  Down("bravo", T(1000));
  ASSERT_FALSE(policy().evaluate(T(1000)).active.has_value());
  EXPECT_EQ(policy().switches(), switches + 1);  // alpha -> none
  policy().evaluate(T(1500));
  EXPECT_EQ(policy().switches(), switches + 1);
  Up("bravo", T(2000));
  ASSERT_EQ(policy().evaluate(T(2000)).active, std::optional<std::size_t>(kBravo));
  EXPECT_EQ(policy().switches(), switches + 2);  // none -> bravo
}

TEST_F(FailoverPolicyTest, ViewShowsHealthAndReasons) {
  Make({}, ThreeIsps());
  Up("alpha", T(10));
  Status down = sender_.Make("bravo", LinkState::kDown);
  down.reason = "no-route";
  ASSERT_FALSE(policy().on_status(down, kGatewayB, T(10)).has_value());
  const std::vector<IspView> views = policy().view(T(2000));
  ASSERT_EQ(views.size(), 3u);
  EXPECT_EQ(views[kAlpha].config.name, "alpha");
  EXPECT_EQ(views[kAlpha].health, IspHealth::kUp);
  EXPECT_EQ(views[kAlpha].since_last_seen, std::optional<Duration>(milliseconds(1990)));
  EXPECT_EQ(views[kBravo].health, IspHealth::kDown);
  EXPECT_EQ(views[kBravo].reason, "no-route");
  EXPECT_EQ(views[kCharlie].health, IspHealth::kStale);
  EXPECT_EQ(views[kCharlie].reason, "never-heard");
}

TEST(FailoverPolicyStrings, TokensAreDistinct) {
  const std::vector<std::string_view> health = {
      to_string(IspHealth::kUp), to_string(IspHealth::kDegraded), to_string(IspHealth::kDown),
      to_string(IspHealth::kStale)};
  const std::vector<std::string_view> drops = {
      to_string(DropReason::kUndecodable), to_string(DropReason::kUnknownName),
      to_string(DropReason::kWrongSource), to_string(DropReason::kReplay)};
  for (const auto* list : {&health, &drops}) {
    for (std::size_t i = 0; i < list->size(); ++i) {
      EXPECT_FALSE((*list)[i].empty());
      for (std::size_t j = i + 1; j < list->size(); ++j) EXPECT_NE((*list)[i], (*list)[j]);
    }
  }
}

}  // namespace
}  // namespace ispf

namespace ispf {
namespace {

// With authenticated datagrams a new instance must carry a fresh time (replay protection).
class FreshInstanceTest : public testing::Test {
 protected:
  static constexpr std::uint64_t kWall = 1795000000000ULL;
  FreshInstanceTest() {
    PolicyConfig config;
    config.require_fresh_instances = true;
    config.max_clock_skew = seconds(30);
    policy_.emplace(config, TwoIsps(), At(0));
  }
  Status Report(std::uint64_t instance, std::uint64_t seq, std::uint64_t time_ms) {
    Status s = sender_.Make("alpha", LinkState::kUp);
    s.instance = instance;
    s.seq = seq;
    s.time_ms = time_ms;
    return s;
  }
  Sender sender_;
  std::optional<FailoverPolicy> policy_;
};

TEST_F(FreshInstanceTest, FreshNewInstanceAccepted) {
  EXPECT_FALSE(policy_->on_status(Report(1, 1, kWall), kGatewayA, At(10), kWall).has_value());
  EXPECT_FALSE(
      policy_->on_status(Report(2, 1, kWall + 500), kGatewayA, At(20), kWall + 500).has_value());
}

TEST_F(FreshInstanceTest, NewInstanceOutsideSkewDropped) {
  auto drop = policy_->on_status(Report(1, 1, kWall - 31000), kGatewayA, At(10), kWall);
  ASSERT_TRUE(drop.has_value());
  EXPECT_EQ(*drop, DropReason::kStaleTime);
  drop = policy_->on_status(Report(1, 1, kWall + 31000), kGatewayA, At(10), kWall);
  ASSERT_TRUE(drop.has_value());
  EXPECT_EQ(*drop, DropReason::kStaleTime);
  EXPECT_EQ(policy_->view(At(10))[kAlpha].rejected, std::optional<std::string>("stale-time"));
}

TEST_F(FreshInstanceTest, CapturedDatagramOfEarlierInstanceReplayedAfterRestartDropped) {
  Status old_instance = Report(1, 5, kWall);
  ASSERT_FALSE(policy_->on_status(old_instance, kGatewayA, At(10), kWall).has_value());
  ASSERT_FALSE(policy_->on_status(Report(2, 1, kWall + 2000), kGatewayA, At(2010), kWall + 2000)
                   .has_value());
  // Within the skew window, but older than what the new instance already said.
  auto drop = policy_->on_status(old_instance, kGatewayA, At(3000), kWall + 3000);
  ASSERT_TRUE(drop.has_value());
  EXPECT_EQ(*drop, DropReason::kReplay);
}

TEST_F(FreshInstanceTest, WithoutKeysNewInstanceNeedsNoFreshTime) {
  FailoverPolicy plain(PolicyConfig{}, TwoIsps(), At(0));
  EXPECT_FALSE(plain.on_status(Report(1, 1, 5), kGatewayA, At(10), kWall).has_value());
}

TEST_F(FreshInstanceTest, RejectionShowsOnlyWhileTheIspIsNotUp) {
  policy_->note_rejected(kGatewayA, DropReason::kUnauthenticated, At(5));
  EXPECT_EQ(policy_->view(At(6))[kAlpha].rejected, std::optional<std::string>("unauthenticated"));
  ASSERT_FALSE(policy_->on_status(Report(1, 1, kWall), kGatewayA, At(10), kWall).has_value());
  policy_->evaluate(At(10));
  EXPECT_FALSE(policy_->view(At(11))[kAlpha].rejected.has_value());
}

TEST_F(FailoverPolicyTest, SwitchesAreCountedByFromToAndReason) {
  Make({.failback_after = seconds(3), .when_all_down = AllDownPolicy::kRemove});
  StartOnAlpha();
  EXPECT_TRUE(policy().switch_counts().empty());  // the first pick is no switch
  FailOverToBravo(T(5000));                       // alpha reports down with probe-loss
  Up("alpha", T(6000));
  policy().evaluate(T(6000));
  const Decision back = policy().evaluate(T(9000));
  ASSERT_TRUE(back.changed);
  EXPECT_EQ(back.reason, "failback");
  // Both gone: the route is withdrawn ("none"), then comes back with bravo.
  Down("bravo", T(10000));
  Down("alpha", T(10000));
  ASSERT_FALSE(policy().evaluate(T(10000)).active.has_value());
  Up("bravo", T(11000));
  ASSERT_EQ(policy().evaluate(T(11000)).active, std::optional<std::size_t>(kBravo));

  const SwitchCounts expected = {{{"alpha", "bravo", "probe-loss"}, 1},
                                 {{"bravo", "alpha", "failback"}, 1},
                                 {{"alpha", "none", "probe-loss"}, 1},
                                 {{"none", "bravo", "isp-up"}, 1}};
  EXPECT_EQ(policy().switch_counts(), expected);
  std::uint64_t sum = 0;
  for (const auto& [kind, count] : policy().switch_counts()) sum += count;
  EXPECT_EQ(sum, policy().switches());
}

TEST_F(FailoverPolicyTest, SilenceAndLossAreTheirOwnSwitchReasons) {
  Make();
  StartOnAlpha();
  Up("alpha", T(1000), 500);  // 50 % loss: degraded
  Decision lossy = policy().evaluate(T(1000));
  ASSERT_EQ(lossy.active, std::optional<std::size_t>(kBravo));
  EXPECT_EQ(lossy.reason, "loss");
  EXPECT_EQ(policy().switch_counts().at({"alpha", "bravo", "loss"}), 1u);
}

TEST_F(FailoverPolicyTest, SwitchKindsAreBoundedWhateverReasonsPeersSend) {
  Make();
  StartOnAlpha();
  for (int i = 0; i < static_cast<int>(kMaxSwitchKinds) + 10; ++i) {
    const bool on_alpha = policy().active() == std::optional<std::size_t>(kAlpha);
    const std::string from = on_alpha ? "alpha" : "bravo";
    const std::string to = on_alpha ? "bravo" : "alpha";
    Status status = sender_.Make(from, LinkState::kDown);
    status.reason = "r" + std::to_string(i);
    ASSERT_FALSE(policy().on_status(status, GatewayOf(from), T(1000 + i)).has_value());
    Up(to, T(1000 + i));
    ASSERT_TRUE(policy().evaluate(T(1000 + i)).changed) << i;
  }
  EXPECT_LE(policy().switch_counts().size(), kMaxSwitchKinds + 2);
  std::uint64_t sum = 0;
  for (const auto& [kind, count] : policy().switch_counts()) sum += count;
  EXPECT_EQ(sum, policy().switches());
}

}  // namespace
}  // namespace ispf

// PerKeyRateLimiter: at most one event per period per key, and bounded memory under a flood.
#include "ispfailover/core/rate_limit.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace ispf {
namespace {

using std::chrono::seconds;

TimePoint At(long long ms) { return TimePoint{} + milliseconds(ms); }

TEST(RateLimitTest, OncePerPeriodPerKey) {
  PerKeyRateLimiter limiter(seconds(10), 16);
  EXPECT_TRUE(limiter.allow(1, At(1000)));
  EXPECT_FALSE(limiter.allow(1, At(1000)));
  EXPECT_FALSE(limiter.allow(1, At(5000)));
  EXPECT_FALSE(limiter.allow(1, At(10999)));
  EXPECT_TRUE(limiter.allow(1, At(11001)));
  EXPECT_FALSE(limiter.allow(1, At(11002)));
  EXPECT_FALSE(limiter.allow(1, At(21000)));
  EXPECT_TRUE(limiter.allow(1, At(21002)));
}

TEST(RateLimitTest, SuppressedEventsDoNotExtendThePeriod) {
  PerKeyRateLimiter limiter(seconds(10), 16);
  EXPECT_TRUE(limiter.allow(7, At(0)));
  for (long long ms = 100; ms < 10000; ms += 100) EXPECT_FALSE(limiter.allow(7, At(ms))) << ms;
  EXPECT_TRUE(limiter.allow(7, At(10001)));
}

TEST(RateLimitTest, KeysAreIndependent) {
  PerKeyRateLimiter limiter(seconds(10), 16);
  EXPECT_TRUE(limiter.allow(1, At(0)));
  EXPECT_TRUE(limiter.allow(2, At(1)));
  EXPECT_TRUE(limiter.allow(0xffffffffffffffffULL, At(2)));
  EXPECT_FALSE(limiter.allow(1, At(3)));
  EXPECT_FALSE(limiter.allow(2, At(4)));
  EXPECT_EQ(limiter.tracked(), 3u);
}

TEST(RateLimitTest, FloodOfKeysIsBoundedAndSuppressed) {
  constexpr std::size_t kMaxKeys = 8;
  PerKeyRateLimiter limiter(seconds(10), kMaxKeys);
  int allowed = 0;
  for (std::uint64_t key = 0; key < 10000; ++key) {
    if (limiter.allow(key, At(1000 + static_cast<long long>(key % 1000)))) ++allowed;
    ASSERT_LE(limiter.tracked(), kMaxKeys) << "after key " << key;
  }
  EXPECT_EQ(allowed, static_cast<int>(kMaxKeys));
  // A key seen before the flood is still limited during it.
  EXPECT_FALSE(limiter.allow(0, At(2000)));
}

TEST(RateLimitTest, ExpiredKeysMakeRoomForNewOnes) {
  constexpr std::size_t kMaxKeys = 4;
  PerKeyRateLimiter limiter(seconds(10), kMaxKeys);
  for (std::uint64_t key = 0; key < kMaxKeys; ++key) EXPECT_TRUE(limiter.allow(key, At(0)));
  EXPECT_FALSE(limiter.allow(100, At(5000)));
  EXPECT_LE(limiter.tracked(), kMaxKeys);
  // Once the old keys are past their period, a new key gets in.
  EXPECT_TRUE(limiter.allow(100, At(10001)));
  EXPECT_TRUE(limiter.allow(101, At(10002)));
  EXPECT_LE(limiter.tracked(), kMaxKeys);
}

TEST(RateLimitTest, LiveKeysSurviveAFlood) {
  constexpr std::size_t kMaxKeys = 4;
  PerKeyRateLimiter limiter(seconds(10), kMaxKeys);
  EXPECT_TRUE(limiter.allow(1, At(0)));
  for (std::uint64_t key = 1000; key < 2000; ++key) limiter.allow(key, At(1000));
  // Key 1 is still within its period and was not forgotten to make room for the flood.
  EXPECT_FALSE(limiter.allow(1, At(2000)));
}

}  // namespace
}  // namespace ispf

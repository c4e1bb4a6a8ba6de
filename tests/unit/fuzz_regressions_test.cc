// Inputs the fuzzers in tests/fuzz once broke (tests/fuzz/regressions/), replayed as unit tests.
#include <gtest/gtest.h>

#include <string_view>

#include "ispfailover/core/config.h"

namespace ispf {
namespace {

// The crasher bytes; "\000" is the embedded NUL, sizeof - 1 drops only the literal's terminator.
constexpr char kIpv4WithNul[] = "255.255.255.3\0005";
constexpr char kIspSpecWithNul[] = "isp1=10.1.0.2\0006";

// config_fuzz, regressions/config/crash-dc299ff256b551e9f0526a24b2cffbd12524a2a2: accepted as
// 255.255.255.3 because inet_pton stops at the NUL; "exactly four decimal octets" it is not.
TEST(FuzzRegressionsTest, Ipv4WithEmbeddedNulIsRejected) {
  EXPECT_FALSE(parse_ipv4(std::string_view(kIpv4WithNul, sizeof kIpv4WithNul - 1)).has_value());
}

// config_fuzz, regressions/config/crash-isp-spec-nul: the same bug through --isp.
TEST(FuzzRegressionsTest, IspSpecWithEmbeddedNulIsRejected) {
  EXPECT_FALSE(
      parse_isp_spec(std::string_view(kIspSpecWithNul, sizeof kIspSpecWithNul - 1), 0).has_value());
}

}  // namespace
}  // namespace ispf

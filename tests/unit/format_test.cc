// Times as people read them in the status table and the logs.
#include "ispfailover/core/format.h"

#include <gtest/gtest.h>

namespace ispf {
namespace {

TEST(Format, UtcDateTimeHasTheDateAndTheTimeOfDay) {
  EXPECT_EQ(format_utc_datetime(0), "1970-01-01 00:00:00Z");
  // 2026-12-02 13:40:01.250 UTC
  EXPECT_EQ(format_utc_datetime(1796218801250ULL), "2026-12-02 13:40:01Z");
  // A leap day, the last second of a year.
  EXPECT_EQ(format_utc_datetime(1709164800000ULL), "2024-02-29 00:00:00Z");
  EXPECT_EQ(format_utc_datetime(1767225599999ULL), "2025-12-31 23:59:59Z");
}

}  // namespace
}  // namespace ispf

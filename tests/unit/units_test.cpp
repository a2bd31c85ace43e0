#include "riasc/core/units.hpp"

#include <gtest/gtest.h>

namespace riasc {
namespace {

TEST(DurationTest, SingleUnits) {
  EXPECT_DOUBLE_EQ(*parse_duration_seconds("200ms"), 0.2);
  EXPECT_DOUBLE_EQ(*parse_duration_seconds("1.5s"), 1.5);
  EXPECT_DOUBLE_EQ(*parse_duration_seconds("10us"), 10e-6);
  EXPECT_DOUBLE_EQ(*parse_duration_seconds("10\xC2\xB5s"), 10e-6);  // micro sign
  EXPECT_DOUBLE_EQ(*parse_duration_seconds("10\xCE\xBCs"), 10e-6);  // Greek mu
  EXPECT_DOUBLE_EQ(*parse_duration_seconds("250ns"), 250e-9);
  EXPECT_DOUBLE_EQ(*parse_duration_seconds("2m"), 120.0);
  EXPECT_DOUBLE_EQ(*parse_duration_seconds("1h"), 3600.0);
}

TEST(DurationTest, UnitsCombine) {
  EXPECT_DOUBLE_EQ(*parse_duration_seconds("1m30s"), 90.0);
  EXPECT_DOUBLE_EQ(*parse_duration_seconds("1h1m1s500ms"), 3661.5);
}

TEST(DurationTest, MillisecondsAreNotMinutesThenSeconds) {
  EXPECT_DOUBLE_EQ(*parse_duration_seconds("5ms"), 0.005);
}

TEST(DurationTest, RejectsWhatIsNotADuration) {
  for (const char* text : {"", "200", "ms", "1.5", "1 s", "-1s", "1d", "1.2.3s", "1sms", "s1"}) {
    EXPECT_FALSE(parse_duration_seconds(text).has_value()) << text;
  }
}

}  // namespace
}  // namespace riasc

TEST(Quantity, ReadsKubernetesSuffixes) {
  EXPECT_DOUBLE_EQ(*riasc::parse_quantity("500m"), 0.5);
  EXPECT_DOUBLE_EQ(*riasc::parse_quantity("2"), 2.0);
  EXPECT_DOUBLE_EQ(*riasc::parse_quantity("128Mi"), 134217728.0);
  EXPECT_DOUBLE_EQ(*riasc::parse_quantity("1G"), 1e9);
  EXPECT_DOUBLE_EQ(*riasc::parse_quantity("1.5Gi"), 1.5 * 1073741824.0);
  EXPECT_DOUBLE_EQ(*riasc::parse_quantity("1e3"), 1000.0);
  EXPECT_DOUBLE_EQ(*riasc::parse_quantity("2E"), 2e18);
  for (const char* bad : {"", "Mi", "-1", "+1", "1x", "1 Mi", "m"}) {
    EXPECT_FALSE(riasc::parse_quantity(bad)) << bad;
  }
}

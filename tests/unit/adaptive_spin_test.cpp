#include "riasc/engine/adaptive_spin.hpp"

#include <gtest/gtest.h>

#include <random>

namespace riasc::engine {
namespace {

constexpr Nanos kMicro = 1'000;

// Feeds `spin` `count` timed sleeps, each ending `late()` after its due time.
template <typename Late>
void wake_late_by(AdaptiveSpin& spin, int count, Late late) {
  Nanos due = 0;
  for (int i = 0; i < count; ++i) {
    due += 1'000'000;
    spin.woke(due, due + late());
  }
}

void wake_late(AdaptiveSpin& spin, int count, Nanos late) {
  wake_late_by(spin, count, [&] { return late; });
}

TEST(AdaptiveSpinTest, OnAHostWhoseWakeUpsAreOnTimeItSpinsLittleWithinTheLeastCap) {
  AdaptiveSpin spin(std::nullopt);
  wake_late(spin, 2000, 10 * kMicro);
  EXPECT_EQ(spin.cap(), 200 * kMicro);
  EXPECT_GE(spin.spin(), 15 * kMicro);  // covers the 10 µs
  EXPECT_LE(spin.spin(), 25 * kMicro);
}

TEST(AdaptiveSpinTest, RareLongStallsDoNotRaiseTheCap) {
  AdaptiveSpin spin(std::nullopt);
  std::mt19937 random(7);
  // 1 % of wake-ups 3 ms late, as on a busy host.
  wake_late_by(spin, 5000, [&] { return (random() % 100 == 0 ? 3000 : 10) * kMicro; });
  EXPECT_EQ(spin.cap(), 200 * kMicro);
  EXPECT_LE(spin.spin(), 200 * kMicro);
}

TEST(AdaptiveSpinTest, WhereEveryWakeUpIsLateTheCapGrowsToCoverIt) {
  // An emulated CPU (QEMU TCG): timed sleeps end 0.5-1 ms late.
  AdaptiveSpin spin(std::nullopt);
  std::mt19937 random(11);
  wake_late_by(spin, 3000, [&] { return static_cast<Nanos>(500 + random() % 500) * kMicro; });
  EXPECT_GE(spin.cap(), 2000 * kMicro);
  EXPECT_LE(spin.cap(), 3500 * kMicro);
  EXPECT_GE(spin.spin(), 1000 * kMicro) << "the spin does not cover the wake-ups";
}

TEST(AdaptiveSpinTest, AConfiguredCapHolds) {
  AdaptiveSpin spin(150 * kMicro);
  wake_late(spin, 3000, 800 * kMicro);
  EXPECT_EQ(spin.cap(), 150 * kMicro);
  EXPECT_EQ(spin.spin(), 150 * kMicro);
  AdaptiveSpin none(Nanos{0});
  wake_late(none, 10, 800 * kMicro);
  EXPECT_EQ(none.spin(), 0);
}

TEST(AdaptiveSpinTest, TheSpinComesDownWhenWakeUpsGetFasterAgain) {
  AdaptiveSpin spin(std::nullopt);
  wake_late(spin, 2000, 900 * kMicro);
  EXPECT_GT(spin.cap(), 1500 * kMicro);
  wake_late(spin, 3000, 10 * kMicro);
  EXPECT_EQ(spin.cap(), 200 * kMicro);
  EXPECT_LE(spin.spin(), 25 * kMicro);
}

}  // namespace
}  // namespace riasc::engine

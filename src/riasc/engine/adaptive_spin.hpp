#pragma once

// How long the engine polls before a departure instead of sleeping (engine.hpp says why it polls).

#include <algorithm>
#include <optional>

#include "riasc/shaper/shaper.hpp"

namespace riasc::engine {

using shaper::Nanos;

// How long to poll before a departure instead of sleeping: as long as timed sleeps have lately
// ended late, a slowly decaying high quantile of that lateness (up by half of any excess at once,
// down by 1/128 of the gap per wake-up). A fixed spin long enough for a busy VM's worst wake-ups
// keeps the engine polling all the time once departures are closer together than the spin; this
// one is as short as the machine allows, and never longer than the cap.
//
// The cap is the configured one, or else follows the machine: 3 times the 90th percentile of the
// timed sleeps' lateness, within [200 µs, 5 ms]. Where sleeps end 5-50 µs late (a host, a KVM
// guest) that is 200 µs; where they end 0.5-1 ms late (an emulated CPU: QEMU TCG) it grows to
// cover them, as kernel netem's timer, which runs in the interrupt, needs no cover. A percentile
// that the rare stall of a millisecond or more (1 % of wake-ups on a busy host) does not move, so
// that those do not make every spin long; the high quantile above moves with them.
class AdaptiveSpin {
 public:
  explicit AdaptiveSpin(std::optional<Nanos> cap) : fixed_cap_(cap), estimate_(cap.value_or(kLeastAutoCap)) {}

  [[nodiscard]] Nanos cap() const {
    return fixed_cap_ ? *fixed_cap_ : std::clamp(3 * p90_, kLeastAutoCap, kMostAutoCap);
  }
  [[nodiscard]] Nanos spin() const { return std::min(cap(), estimate_ + estimate_ / 2 + kMargin); }

  // A timed sleep meant to end at `due` ended at `woke`.
  void woke(Nanos due, Nanos woke) {
    const Nanos late = std::max<Nanos>(woke - due, 0);
    if (late > estimate_) {
      estimate_ += (late - estimate_ + 1) / 2;
    } else {
      estimate_ -= (estimate_ - late) / 128;
    }
    // A running 90th percentile: nine steps up for each lateness above it, one down for each
    // below, of 1/64 of its value and at least 1 µs.
    const Nanos step = std::max<Nanos>(1'000, p90_ / 64);
    if (late > p90_) {
      p90_ += 9 * step;
    } else if (late < p90_) {
      p90_ -= std::min(step, p90_);
    }
  }

 private:
  static constexpr Nanos kMargin = 5'000;
  static constexpr Nanos kLeastAutoCap = 200'000;
  static constexpr Nanos kMostAutoCap = 5'000'000;
  const std::optional<Nanos> fixed_cap_;
  Nanos estimate_;
  Nanos p90_ = 0;
};

}  // namespace riasc::engine

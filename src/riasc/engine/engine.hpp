#pragma once

// The userspace emulation engine (`riasc engine`): one process per node, one thread, serving
// every attachment (one per pod, direction and profile band). It reads diverted frames from each
// attachment's TAP, lets the attachment's shaper decide their fate and departure time (netem's
// semantics, shaper/shaper.hpp), and sends them on at that time through the attachment's packet
// socket. Time is CLOCK_MONOTONIC; the thread's timer slack is 1 ns, and the last stretch before
// a departure is spent polling, since a sleeping wake-up is late (5-20 µs on an idle host,
// 50-150 µs on a busy VM, 0.5-1 ms under an emulated CPU): as long as the engine's own recent
// wake-ups were late, up to a cap.
//
// It gets everything over its control socket (engine/protocol.hpp), descriptors included, so it
// needs no privileges and no knowledge of namespaces. It runs until that socket closes.

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>

#include "riasc/core/unique_fd.hpp"

namespace riasc::engine {

struct EngineOptions {
  // The most it polls before a departure; unset: follows the machine's wake-ups (200 µs to 5 ms).
  std::optional<std::chrono::microseconds> spin;
};

// The upper bounds, in nanoseconds, of the histogram of how late frames leave (sent − due) that
// the engine keeps per attachment (`stats`: lateness_seconds) and the agent exports.
inline constexpr std::array<std::int64_t, 12> kLatenessBoundsNs{
    1'000, 2'000, 5'000, 10'000, 20'000, 50'000, 100'000, 200'000, 500'000, 1'000'000, 2'000'000, 5'000'000};

// Serves `control` until the other end closes it. Returns the process's exit code.
int run_engine(UniqueFd control, const EngineOptions& options);

}  // namespace riasc::engine

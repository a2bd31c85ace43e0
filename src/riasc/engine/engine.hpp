#pragma once

// The userspace emulation engine (`riasc engine`): one process per node, one thread, serving
// every attachment (one per pod, direction and profile band). It reads diverted frames from each
// attachment's TAP, lets the attachment's shaper decide their fate and departure time (netem's
// semantics, shaper/shaper.hpp), and sends them on at that time through the attachment's packet
// socket. Time is CLOCK_MONOTONIC; the thread's timer slack is 1 ns, and the last stretch before
// a departure is spent polling, since a sleeping wake-up is late (5-20 µs on an idle host,
// 50-150 µs on a busy VM): as long as the engine's own recent wake-ups were late, up to `spin`.
//
// It gets everything over its control socket (engine/protocol.hpp), descriptors included, so it
// needs no privileges and no knowledge of namespaces. It runs until that socket closes.

#include <chrono>

#include "riasc/core/unique_fd.hpp"

namespace riasc::engine {

struct EngineOptions {
  std::chrono::microseconds spin{200};  // the most it polls before a departure
};

// Serves `control` until the other end closes it. Returns the process's exit code.
int run_engine(UniqueFd control, const EngineOptions& options);

}  // namespace riasc::engine

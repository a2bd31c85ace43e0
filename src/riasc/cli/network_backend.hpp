#pragma once

// The data plane of `riasc agent` and `riasc up`: their --backend option and its start.

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "riasc/netem/backend_choice.hpp"
#include "riasc/operator/context.hpp"

namespace riasc::cli {

struct BackendFlags {
  std::string choice = "auto";
  std::optional<int> engine_spin_us;  // not given: the engine's cap follows the machine
};

// --backend auto|kernel|userspace and --engine-spin-us into `flags`.
void add_backend_options(CLI::App& command, BackendFlags& flags);

// The backend `flags` name, its engine's restarts logged to `log`; per-packet traces under
// `trace_dir` ("" = none). Throws what the backend's start throws.
netem::ChosenBackend start_network_backend(const BackendFlags& flags, const std::string& trace_dir,
                                           const op::LogSink& log);

}  // namespace riasc::cli

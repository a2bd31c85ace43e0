#pragma once

// The data plane of `riasc agent` and `riasc up`: their --backend option and its start.

#include <CLI/CLI.hpp>
#include <string>

#include "riasc/netem/backend_choice.hpp"
#include "riasc/operator/context.hpp"

namespace riasc::cli {

// --backend auto|kernel|userspace into `choice` (default auto).
void add_backend_option(CLI::App& command, std::string& choice);

// The backend `choice` names, its engine's restarts logged to `log`; per-packet traces under
// `trace_dir` ("" = none). Throws what the backend's start throws.
netem::ChosenBackend start_network_backend(const std::string& choice, const std::string& trace_dir,
                                           const op::LogSink& log);

}  // namespace riasc::cli

#pragma once

// Each subcommand registers itself on the riasc application.

#include <CLI/CLI.hpp>

namespace riasc::cli {

void add_validate_command(CLI::App& app);
void add_crds_command(CLI::App& app);
void add_server_command(CLI::App& app);
void add_agent_command(CLI::App& app);
void add_engine_command(CLI::App& app);  // the userspace emulation engine, run by the agent
void add_up_command(CLI::App& app);      // up and down
void add_cosim_command(CLI::App& app);
void add_user_command(CLI::App& app);      // user add
void add_operator_command(CLI::App& app);  // the Project operator (docs/tenancy.md)
void add_traces_command(CLI::App& app);    // a TrafficProfile's per-packet traces

// Ends the program with `code` after the command has said why.
[[noreturn]] void exit_with(int code);

}  // namespace riasc::cli

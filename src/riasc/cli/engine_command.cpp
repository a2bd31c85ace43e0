#include <fmt/format.h>

#include <memory>
#include <optional>

#include "riasc/cli/commands.hpp"
#include "riasc/engine/engine.hpp"

namespace riasc::cli {

void add_engine_command(CLI::App& app) {
  struct Flags {
    int control_fd = -1;
    std::optional<int> spin_us;  // not given: the cap follows the machine
  };
  auto flags = std::make_shared<Flags>();
  auto* command = app.add_subcommand(
      "engine",
      "The userspace emulation engine, started by the node agent (riasc agent / riasc up) on a socket "
      "pair; not run by hand (docs/userspace-engine.md)");
  command->add_option("--control-fd", flags->control_fd, "The agent's end of the control socket pair")
      ->required();
  command
      ->add_option(
          "--spin-us", flags->spin_us,
          "Poll instead of sleeping for at most the last MICROSECONDS before each departure (as long "
          "as the engine's recent wake-ups were late); without it, the cap follows how late the "
          "machine's wake-ups are, from 200 µs to 5 ms")
      ->check(CLI::Range(0, 100000));
  command->callback([flags] {
    engine::EngineOptions options;
    if (flags->spin_us) options.spin = std::chrono::microseconds(*flags->spin_us);
    if (int code = engine::run_engine(UniqueFd(flags->control_fd), options); code != 0) exit_with(code);
  });
}

}  // namespace riasc::cli

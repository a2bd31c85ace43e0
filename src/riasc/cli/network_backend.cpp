#include "riasc/cli/network_backend.hpp"

namespace riasc::cli {

void add_backend_options(CLI::App& command, BackendFlags& flags) {
  command
      .add_option(
          "--backend", flags.choice,
          "Network emulation: kernel (sch_netem qdiscs), userspace (the riasc engine), or auto (kernel "
          "where the kernel has netem, else userspace)")
      ->check(CLI::IsMember({"auto", "kernel", "userspace"}))
      ->capture_default_str();
  command
      .add_option("--engine-spin-us", flags.engine_spin_us,
                  "Userspace backend: the longest the engine polls before a departure instead of sleeping "
                  "(it polls less where its wake-ups are on time). Default: follows how late the machine's "
                  "wake-ups are, from 200 µs to 5 ms")
      ->check(CLI::Range(0, 100'000));
}

netem::ChosenBackend start_network_backend(const BackendFlags& flags, const std::string& trace_dir,
                                           const op::LogSink& log) {
  netem::UserspaceBackendOptions userspace;
  userspace.trace_dir = trace_dir;
  userspace.engine.spin_us = flags.engine_spin_us;
  userspace.engine.log = [log](const std::string& level, const std::string& message) {
    log(level == "error" ? op::LogLevel::Error : op::LogLevel::Warning, "engine", message);
  };
  return netem::make_backend(netem::parse_backend_choice(flags.choice).value_or(netem::BackendChoice::Auto),
                             userspace);
}

}  // namespace riasc::cli

#include "riasc/cli/network_backend.hpp"

namespace riasc::cli {

void add_backend_option(CLI::App& command, std::string& choice) {
  command
      .add_option(
          "--backend", choice,
          "Network emulation: kernel (sch_netem qdiscs), userspace (the riasc engine), or auto (kernel "
          "where the kernel has netem, else userspace)")
      ->check(CLI::IsMember({"auto", "kernel", "userspace"}))
      ->capture_default_str();
}

netem::ChosenBackend start_network_backend(const std::string& choice, const std::string& trace_dir,
                                           const op::LogSink& log) {
  netem::UserspaceBackendOptions userspace;
  userspace.trace_dir = trace_dir;
  userspace.engine.log = [log](const std::string& level, const std::string& message) {
    log(level == "error" ? op::LogLevel::Error : op::LogLevel::Warning, "engine", message);
  };
  return netem::make_backend(netem::parse_backend_choice(choice).value_or(netem::BackendChoice::Auto),
                             userspace);
}

}  // namespace riasc::cli

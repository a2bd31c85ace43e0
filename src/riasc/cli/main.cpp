#include <fmt/format.h>

#include <iostream>

#include "riasc/cli/commands.hpp"
#include "riasc/schema/schema.hpp"

namespace riasc::cli {

[[noreturn]] void exit_with(int code) { throw CLI::RuntimeError(code); }

}  // namespace riasc::cli

int main(int argc, char** argv) {
  CLI::App app{
      "RIasC - Research Infrastructure as Code.\n"
      "Declare a distributed lab experiment as Kubernetes manifests (network emulation, time\n"
      "synchronisation, monitoring, devices, projects) and let operators make it so."};
  app.set_version_flag("--version", std::string(RIASC_VERSION));
  app.require_subcommand(1);
  riasc::cli::add_validate_command(app);
  riasc::cli::add_crds_command(app);
  riasc::cli::add_server_command(app);
  riasc::cli::add_agent_command(app);
  riasc::cli::add_engine_command(app);
  riasc::cli::add_up_command(app);
  riasc::cli::add_cosim_command(app);
  riasc::cli::add_user_command(app);
  riasc::cli::add_operator_command(app);
  riasc::cli::add_traces_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& error) {
    return error.get_exit_code();  // the command has said why
  } catch (const CLI::ParseError& error) {
    // Usage errors exit 2, as with most Unix tools; --help and --version exit 0.
    return app.exit(error) == 0 ? 0 : 2;
  } catch (const riasc::schema::SchemaError& error) {
    // Only a broken built-in CRD gets here: say which, rather than abort.
    std::cerr << "riasc: internal error: " << error.what() << '\n';
    return 3;
  }
  return 0;
}

#include <fmt/format.h>
#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <memory>

#include "riasc/agent/agent.hpp"
#include "riasc/cli/commands.hpp"
#include "riasc/cli/network_backend.hpp"
#include "riasc/client/config.hpp"
#include "riasc/operator/probe_server.hpp"
#include "riasc/operator/runner.hpp"

namespace riasc::cli {
namespace {

struct AgentFlags {
  std::string node;
  std::string kubeconfig;
  std::string context;
  std::uint16_t probe_port = 9102;
  std::string probe_address = "0.0.0.0";
  std::string log_format = "text";
  bool verbose = false;
  BackendFlags backend;
  std::string trace_dir;
};

std::string host_name() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

int run_agent(const AgentFlags& flags) {
  // Every node runs one agent: glibc's default of one malloc arena per thread (informers, the
  // worker, the status writer, the HTTP client) costs megabytes of resident memory for nothing.
  mallopt(M_ARENA_MAX, 2);
  // Where transparent huge pages are "always" (Debian's kernels), a thread's 8 MiB stack is
  // backed by a 2 MiB page on its first touch: in the VM that was 2 MiB of an idle agent's 5.8 MiB
  // of anonymous memory. Nothing the agent does gains from huge pages. The
  // setting passes to its engine process, which was measured without them too (kernel 6.18 here
  // has THP on madvise only, and the engine asks for none).
  prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const std::string node = flags.node.empty() ? host_name() : flags.node;
  op::LogSink log;
  try {
    log = op::runner_log_sink(flags.log_format, "riasc-agent", flags.verbose);
  } catch (const std::exception& error) {
    fmt::print(stderr, "riasc agent: --log-format: {}\n", error.what());
    return 2;
  }
  auto say = [&log](op::LogLevel level, const std::string& message) { log(level, {}, message); };

  client::ConfigOverrides overrides;
  overrides.context = flags.context;
  std::unique_ptr<client::Client> api;
  try {
    api = std::make_unique<client::Client>(flags.kubeconfig.empty()
                                               ? client::load_default_config(overrides)
                                               : client::load_kubeconfig({flags.kubeconfig}, overrides));
    api->get_path("/version");
  } catch (const std::exception& error) {
    say(op::LogLevel::Error, fmt::format("cannot reach the API server: {}", error.what()));
    return 1;
  }

  metrics::Registry registry;
  netem::ChosenBackend chosen;
  try {
    chosen = start_network_backend(flags.backend, flags.trace_dir, log);
  } catch (const std::exception& error) {
    say(op::LogLevel::Error,
        fmt::format("cannot start the {} backend: {}", flags.backend.choice, error.what()));
    return 1;
  }
  say(op::LogLevel::Info, fmt::format("data plane: {} backend ({})", chosen.backend->name(), chosen.why));
  agent::Agent agent(*api, {.node = node, .log = log, .registry = &registry, .trim_heap_when_quiet = true},
                     std::move(chosen.backend));
  std::unique_ptr<op::ProbeServer> probes;
  if (flags.probe_port != 0) {
    probes = std::make_unique<op::ProbeServer>(op::ProbeServerOptions{
        .host = flags.probe_address, .port = flags.probe_port, .registry = &registry, .tls = false});
    probes->add_check("agent", [&agent] { return agent.healthy(); });
    try {
      probes->start();
    } catch (const std::exception& error) {
      say(op::LogLevel::Error, fmt::format("cannot serve the probes on {}:{}: {}", flags.probe_address,
                                           flags.probe_port, error.what()));
      return 1;
    }
    say(op::LogLevel::Info,
        fmt::format("probes on http://{}:{}/healthz and /metrics", flags.probe_address, probes->port()));
  }
  agent.start();
  say(op::LogLevel::Info, fmt::format("running for node {}", node));
  int received = 0;
  sigwait(&signals, &received);
  say(op::LogLevel::Info,
      fmt::format("stopping on {}; the installed shaping stays", received == SIGINT ? "SIGINT" : "SIGTERM"));
  agent.stop();
  if (probes) probes->stop();
  return 0;
}

}  // namespace

void add_agent_command(CLI::App& app) {
  auto flags = std::make_shared<AgentFlags>();
  auto* command = app.add_subcommand(
      "agent",
      "Run the node agent: shape the traffic of this node's pods as TrafficProfiles say (netem through "
      "netlink, or the userspace engine where the kernel lacks netem). Needs root (CAP_NET_ADMIN, "
      "CAP_SYS_ADMIN for entering pod network namespaces).");
  command->add_option("--node", flags->node,
                      "Name of this node, as in the pods' spec.nodeName (default: the host name)");
  command->add_option("--kubeconfig", flags->kubeconfig,
                      "Kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)");
  command->add_option("--context", flags->context, "Kubeconfig context other than the current one");
  command->add_option("--probe-port", flags->probe_port, "Port for /healthz and /metrics (0: none)")
      ->capture_default_str();
  command->add_option("--probe-address", flags->probe_address, "Address for the probes")
      ->capture_default_str();
  command->add_option("--log-format", flags->log_format, "text or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  command->add_flag("--verbose", flags->verbose, "Log debug lines too");
  add_backend_options(*command, flags->backend);
  command->add_option(
      "--trace-dir", flags->trace_dir,
      "Userspace backend: write a per-packet trace of every band to DIR/PROFILE/POD_DIRECTION.csv");
  command->callback([flags] {
    if (int code = run_agent(*flags); code != 0) exit_with(code);
  });
}

}  // namespace riasc::cli

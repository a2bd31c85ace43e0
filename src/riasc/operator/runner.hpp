#pragma once

// An operator program's whole main(): the standard flags, the client, the operator, its probes,
// leader election, structured logs, and a clean stop on SIGINT/SIGTERM (exit 0). Bad flags exit
// 2, a kubeconfig that cannot be used or a server that cannot be reached exit 1, with a message.
//
//   int main(int argc, char** argv) {
//     return op::run(argc, argv, {.name = "greeter"}, [](op::Operator& greeter) {
//       greeter.on_create(kGreetings, [](op::Context& ctx) { return Json{{"message", "hello"}}; });
//     });
//   }
//
// Flags (--help lists them): --kubeconfig, --context, --namespace, --workers, --probe-port,
// --probe-address, --probe-https, --leader-elect, --lease-name, --lease-namespace, --log-format,
// --verbose.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iosfwd>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "riasc/operator/operator.hpp"

namespace riasc::op {

// What the standard flags set.
struct RunnerOptions {
  // "": $KUBECONFIG, else in-cluster (KUBERNETES_SERVICE_HOST), else ~/.kube/config.
  std::string kubeconfig{};
  std::string context{};         // a kubeconfig context other than current-context
  std::string namespace_name{};  // "": all namespaces
  std::size_t workers = 4;
  std::uint16_t probe_port = 0;  // /healthz, /readyz, /metrics; 0: no probe server
  std::string probe_address = "0.0.0.0";
  bool probe_https = false;  // plain HTTP by default, as a kubelet's httpGet probe reads
  bool leader_elect = false;
  std::string lease_name{};         // "": the operator's name
  std::string lease_namespace{};    // "": the configuration's namespace (in-cluster: the pod's)
  std::string log_format = "text";  // "text" or "json" (one object per line)
  bool verbose = false;             // debug lines too
};

// The standard flags of `args` (without the program name), over `defaults`. An int when the
// program should exit with it: 0 after --help (printed to `out`), 2 after a usage error (printed
// to `err`).
std::variant<RunnerOptions, int> parse_runner_flags(const std::string& program,
                                                    const std::vector<std::string>& args, std::ostream& out,
                                                    std::ostream& err, RunnerOptions defaults = {});

// Log lines on standard error: "text" ("2026-12-04T19:00:00.123Z info ns/name: message") or
// "json" ({"time":..., "level":..., "logger":..., "object":..., "msg":...}); debug lines only
// when `verbose`. An unknown format is a std::invalid_argument. `out` (default standard error)
// stays open as long as the sink is used.
LogSink runner_log_sink(const std::string& format, const std::string& logger, bool verbose,
                        std::FILE* out = stderr);

// Registers the handlers; the client is there for handlers that read or write other objects.
using OperatorSetup = std::function<void(Operator& operator_, client::Client& api)>;

class Runner {
 public:
  // `operator_options` gives the name and what no flag sets; the flags' values win over it.
  Runner(RunnerOptions options, OperatorOptions operator_options, OperatorSetup setup);
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Connects, registers the handlers (setup), starts the probes and the operator, then waits for
  // SIGINT, SIGTERM or stop() and stops: 0. 1 when the configuration cannot be used, the server
  // cannot be reached, the operator cannot start, or leadership is lost (as controller-runtime,
  // so that the process is restarted and campaigns again). SIGINT and SIGTERM are blocked on the
  // calling thread (and so on the threads it starts) while it runs.
  int run();
  // From any thread or a handler: run() stops and returns 0.
  void stop() { stop_requested_ = true; }
  // After the probe server has started; 0 before or without one.
  [[nodiscard]] std::uint16_t probe_port() const { return probe_port_; }

 private:
  RunnerOptions options_;
  OperatorOptions operator_options_;
  OperatorSetup setup_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<std::uint16_t> probe_port_{0};
};

// parse_runner_flags, then Runner::run(); what an operator's main() returns. `setup` takes the
// Operator, or the Operator and the client.
int run_operator(int argc, char** argv, OperatorOptions operator_options, OperatorSetup setup);

template <typename F>
int run(int argc, char** argv, OperatorOptions operator_options, F&& setup) {
  if constexpr (std::is_invocable_v<F&, Operator&, client::Client&>) {
    return run_operator(argc, argv, std::move(operator_options), std::forward<F>(setup));
  } else {
    return run_operator(
        argc, argv, std::move(operator_options),
        [setup = std::forward<F>(setup)](Operator& operator_, client::Client&) mutable { setup(operator_); });
  }
}

}  // namespace riasc::op

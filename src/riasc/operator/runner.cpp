#include "riasc/operator/runner.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <utility>

#include "riasc/client/config.hpp"
#include "riasc/core/metrics.hpp"
#include "riasc/operator/probe_server.hpp"

namespace riasc::op {

namespace {

constexpr const char* kLevelNames[] = {"debug", "info", "warning", "error"};

// RFC 3339 in UTC with milliseconds: 2026-12-04T19:00:00.123Z
std::string now_utc() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:03}Z", text, millis);
}

void write_line(std::FILE* out, const std::string& line) {
  // One write per line: lines of concurrent handlers do not interleave.
  std::fwrite(line.data(), 1, line.size(), out);
  std::fflush(out);
}

}  // namespace

std::variant<RunnerOptions, int> parse_runner_flags(const std::string& program,
                                                    const std::vector<std::string>& args, std::ostream& out,
                                                    std::ostream& err, RunnerOptions defaults) {
  RunnerOptions options = std::move(defaults);
  CLI::App app{"A RIasC operator: handles its resources until SIGINT or SIGTERM.", program};
  app.add_option("--kubeconfig", options.kubeconfig,
                 "Kubeconfig file (default: $KUBECONFIG, else in-cluster, else ~/.kube/config)");
  app.add_option("--context", options.context, "Kubeconfig context (default: current-context)");
  app.add_option("--namespace,-n", options.namespace_name,
                 "Handle objects in this namespace only (default: all)");
  app.add_option("--workers", options.workers, "Objects reconciled at once")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--probe-port", options.probe_port,
                 "Serve /healthz, /readyz and /metrics on this port (0: off)")
      ->capture_default_str();
  app.add_option("--probe-address", options.probe_address, "Address of the probe server")
      ->capture_default_str();
  app.add_flag("--probe-https", options.probe_https,
               "Serve the probes over HTTPS (a certificate made at start) instead of plain HTTP");
  app.add_flag("--leader-elect", options.leader_elect,
               "Run handlers only while holding a coordination.k8s.io Lease (several replicas)");
  app.add_option("--lease-name", options.lease_name, "The Lease (default: the operator's name)");
  app.add_option("--lease-namespace", options.lease_namespace,
                 "The Lease's namespace (default: the kubeconfig context's or the pod's)");
  app.add_option("--log-format", options.log_format, "text or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_flag("--verbose,-v", options.verbose, "Log debug lines too");
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
    app.parse(reversed);
  } catch (const CLI::ParseError& error) {
    // Usage errors exit 2, as with most Unix tools; --help exits 0.
    return app.exit(error, out, err) == 0 ? 0 : 2;
  }
  if (!options.lease_name.empty() || !options.lease_namespace.empty()) {
    if (!options.leader_elect) {
      err << fmt::format("{}: --lease-name and --lease-namespace need --leader-elect\n", program);
      return 2;
    }
  }
  return options;
}

LogSink runner_log_sink(const std::string& format, const std::string& logger, bool verbose, std::FILE* out) {
  if (format == "json") {
    return [logger, verbose, out](LogLevel level, const std::string& object, const std::string& message) {
      if (level == LogLevel::Debug && !verbose) return;
      Json line = {{"time", now_utc()}, {"level", kLevelNames[static_cast<int>(level)]}, {"logger", logger}};
      if (!object.empty()) line["object"] = object;
      line["msg"] = message;
      write_line(out, line.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n");
    };
  }
  if (format == "text") {
    return [verbose, out](LogLevel level, const std::string& object, const std::string& message) {
      if (level == LogLevel::Debug && !verbose) return;
      write_line(out, fmt::format("{} {} {}{}{}\n", now_utc(), kLevelNames[static_cast<int>(level)], object,
                                  object.empty() ? "" : ": ", message));
    };
  }
  throw std::invalid_argument(fmt::format("unknown log format \"{}\" (text or json)", format));
}

Runner::Runner(RunnerOptions options, OperatorOptions operator_options, OperatorSetup setup)
    : options_(std::move(options)),
      operator_options_(std::move(operator_options)),
      setup_(std::move(setup)) {}

int Runner::run() {
  // Taken by sigtimedwait below; the threads started from here on inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &signals, &previous);
  struct RestoreMask {
    sigset_t mask;
    ~RestoreMask() { pthread_sigmask(SIG_SETMASK, &mask, nullptr); }
  } restore{previous};

  const LogSink log = runner_log_sink(options_.log_format, operator_options_.name, options_.verbose);
  auto say = [&log](LogLevel level, const std::string& message) { log(level, {}, message); };

  client::ConfigOverrides overrides;
  overrides.context = options_.context;
  std::unique_ptr<client::Client> api;
  try {
    api = std::make_unique<client::Client>(options_.kubeconfig.empty()
                                               ? client::load_default_config(overrides)
                                               : client::load_kubeconfig({options_.kubeconfig}, overrides));
  } catch (const std::exception& error) {
    say(LogLevel::Error, fmt::format("cannot use the client configuration: {}", error.what()));
    return 1;
  }
  const std::string& server = api->config().server;
  try {
    const Json version = api->get_path("/version");
    say(LogLevel::Info,
        fmt::format("connected to {} (Kubernetes {})", server, string_member(version, "gitVersion")));
  } catch (const std::exception& error) {
    say(LogLevel::Error, fmt::format("cannot reach the API server at {}: {}", server, error.what()));
    return 1;
  }

  metrics::Registry registry;
  Metrics metrics(registry);
  OperatorOptions operator_options = operator_options_;
  if (!options_.namespace_name.empty()) operator_options.namespace_name = options_.namespace_name;
  operator_options.workers = options_.workers;
  operator_options.log = log;
  if (!operator_options.metrics) operator_options.metrics = &metrics;
  if (options_.leader_elect) {
    LeaderElectionOptions election = operator_options.leader_election.value_or(LeaderElectionOptions{});
    election.lease_name = options_.lease_name.empty() ? operator_options.name : options_.lease_name;
    election.lease_namespace =
        options_.lease_namespace.empty() ? api->config().namespace_name : options_.lease_namespace;
    operator_options.leader_election = std::move(election);
  }
  std::unique_ptr<Operator> operator_;
  try {
    operator_ = std::make_unique<Operator>(*api, operator_options);
    setup_(*operator_, *api);
  } catch (const std::exception& error) {
    say(LogLevel::Error, fmt::format("cannot register the handlers: {}", error.what()));
    return 1;
  }

  std::unique_ptr<ProbeServer> probes;
  if (options_.probe_port != 0) {
    probes = std::make_unique<ProbeServer>(ProbeServerOptions{.host = options_.probe_address,
                                                              .port = options_.probe_port,
                                                              .registry = &registry,
                                                              .tls = options_.probe_https});
    probes->add(*operator_);
    try {
      probes->start();
    } catch (const std::exception& error) {
      say(LogLevel::Error, fmt::format("cannot serve the probes on {}:{}: {}", options_.probe_address,
                                       options_.probe_port, error.what()));
      return 1;
    }
    probe_port_ = probes->port();
    say(LogLevel::Info,
        fmt::format("probes on {}://{}:{}/healthz and /metrics", options_.probe_https ? "https" : "http",
                    options_.probe_address, probes->port()));
  }

  try {
    operator_->start();
  } catch (const std::exception& error) {
    say(LogLevel::Error, fmt::format("cannot start: {}", error.what()));
    return 1;
  }
  say(LogLevel::Info,
      fmt::format("running: namespace {}, {} workers{}",
                  operator_options.namespace_name.empty() ? "(all)" : operator_options.namespace_name,
                  operator_options.workers,
                  options_.leader_elect ? fmt::format(", leader election on Lease {}/{}",
                                                      operator_options.leader_election->lease_namespace,
                                                      operator_options.leader_election->lease_name)
                                        : ""));

  int exit_code = 0;
  while (true) {
    timespec wait{0, 200'000'000};
    const int received = sigtimedwait(&signals, nullptr, &wait);
    if (received == SIGINT || received == SIGTERM) {
      say(LogLevel::Info, fmt::format("stopping on {}", received == SIGINT ? "SIGINT" : "SIGTERM"));
      break;
    }
    if (stop_requested_) {
      say(LogLevel::Info, "stopping");
      break;
    }
    // A lost Lease is final: exit, so that the replica is restarted and campaigns again.
    if (options_.leader_elect && !operator_->is_leader() && !operator_->healthy()) {
      say(LogLevel::Error, "leadership lost: stopping");
      exit_code = 1;
      break;
    }
  }
  operator_->stop();
  if (probes) probes->stop();
  say(LogLevel::Info, "stopped");
  return exit_code;
}

int run_operator(int argc, char** argv, OperatorOptions operator_options, OperatorSetup setup) {
  const std::string program = argc > 0 ? std::filesystem::path(argv[0]).filename().string() : "operator";
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  auto parsed = parse_runner_flags(program, args, std::cout, std::cerr);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  Runner runner(std::get<RunnerOptions>(std::move(parsed)), std::move(operator_options), std::move(setup));
  return runner.run();
}

}  // namespace riasc::op

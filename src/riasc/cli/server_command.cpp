#include <fmt/format.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>

#include <iostream>

#include "riasc/apiserver/api_server.hpp"
#include "riasc/cli/commands.hpp"
#include "riasc/core/json.hpp"
#include "riasc/core/units.hpp"

namespace riasc::cli {

namespace {

struct ServerOptions {
  std::string data_dir = "riasc-data";
  std::string listen = "127.0.0.1:6443";
  bool fsync = false;
  std::string compaction_interval = "5m";
  unsigned max_requests_per_client = 64;
  unsigned max_streams_per_client = 4096;
  bool no_http2 = false;
  std::string token_auth_file;
};

// One JSON object per line on standard error: what long-running commands log.
void log_line(std::string_view level, std::string_view message, Json fields = Json::object()) {
  Json line = {{"level", level}, {"msg", message}};
  for (auto& [key, value] : fields.items()) line[key] = value;
  std::cerr << line.dump() << std::endl;
}

// A server answers lists of megabytes again and again. With glibc's defaults each such buffer is
// a fresh mmap, or heap memory handed back and faulted in again, and on a virtual machine the page
// faults cost more than building the list (75 ms of CPU for a list of 10,000 objects, 20 ms
// without). Buffers below 16 MiB come from the heap, and up to 64 MiB of free heap is kept.
void tune_memory_allocator() {
  mallopt(M_MMAP_THRESHOLD, 16 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
}

// Every watch is a connection: allow as many as the hard limit does, not the soft 1,024.
void raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int run_server(const ServerOptions& options) {
  tune_memory_allocator();
  raise_open_file_limit();
  auto colon = options.listen.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << fmt::format("riasc server: --listen wants HOST:PORT, e.g. 127.0.0.1:6443, not \"{}\"\n",
                             options.listen);
    return 2;
  }
  apiserver::ApiServerOptions server_options;
  server_options.data_dir = options.data_dir;
  server_options.host = options.listen.substr(0, colon);
  try {
    server_options.port = static_cast<std::uint16_t>(std::stoul(options.listen.substr(colon + 1)));
  } catch (const std::exception&) {
    std::cerr << fmt::format("riasc server: the port in --listen \"{}\" is not a number\n", options.listen);
    return 2;
  }
  server_options.fsync = options.fsync;
  server_options.max_requests_per_client = options.max_requests_per_client;
  server_options.max_streams_per_client = options.max_streams_per_client;
  server_options.http2 = !options.no_http2;
  server_options.token_auth_file = options.token_auth_file;
  auto compaction = parse_duration_seconds(options.compaction_interval);
  if (!compaction || *compaction < 0) {
    std::cerr << fmt::format(
        "riasc server: --compaction-interval \"{}\" is not a duration (e.g. 5m, 30s, 0 for never)\n",
        options.compaction_interval);
    return 2;
  }
  server_options.compaction_interval =
      std::chrono::milliseconds(static_cast<std::int64_t>(*compaction * 1000.0));

  // Signals are taken by sigwait below, not by whichever thread they would interrupt.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  apiserver::ApiServer server(server_options);
  try {
    server.start();
  } catch (const std::exception& error) {
    log_line("error", "cannot start", {{"error", error.what()}});
    return 1;
  }
  log_line("info", "serving",
           {{"address", fmt::format("https://{}:{}", server_options.host, server.port())},
            {"kubeconfig", server.kubeconfig_path().string()}});
  int received = 0;
  sigwait(&signals, &received);
  log_line("info", "stopping", {{"signal", received == SIGINT ? "SIGINT" : "SIGTERM"}});
  server.stop();
  log_line("info", "stopped");
  return 0;
}

}  // namespace

void add_server_command(CLI::App& app) {
  auto options = std::make_shared<ServerOptions>();
  auto* command = app.add_subcommand(
      "server",
      "Run the embedded Kubernetes-compatible API server (SQLite store) that kubectl and the Python client "
      "use.\n"
      "Writes DATA_DIR/kubeconfig once it is ready: export KUBECONFIG=DATA_DIR/kubeconfig");
  command->add_option("--data-dir", options->data_dir, "Folder for the database, certificates and kubeconfig")
      ->capture_default_str();
  command
      ->add_option("--listen", options->listen,
                   "Address to serve HTTPS on, HOST:PORT (port 0: any free port)")
      ->capture_default_str();
  command->add_flag("--fsync", options->fsync,
                    "Make every write survive a power loss too (not only a crash of the process); slower");
  command
      ->add_option(
          "--compaction-interval", options->compaction_interval,
          "Forget the history of writes older than this (watches from before it get 410 Gone); 0: never")
      ->capture_default_str();
  command
      ->add_option(
          "--max-requests-per-client", options->max_requests_per_client,
          "Requests one client (certificate user, else address) may have answered at once; more get 429")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command
      ->add_option("--max-streams-per-client", options->max_streams_per_client,
                   "Watches and followed logs one client may have open; more get 429")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_flag("--no-http2", options->no_http2,
                    "Serve HTTP/1.1 only (HTTP/2 is offered by default; kubectl and client-go use it)");
  command->add_option("--token-auth-file", options->token_auth_file,
                      "Accept these bearer tokens too: CSV lines token,user,uid[,\"group1,group2\"], "
                      "as kube-apiserver's flag of the same name");
  command->callback([options] {
    if (int code = run_server(*options); code != 0) exit_with(code);
  });
}

}  // namespace riasc::cli

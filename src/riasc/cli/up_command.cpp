// `riasc up`: a whole experiment on one machine in one process (the API server, the pod runtime,
// the network-emulation agent and the workload controllers), and `riasc down`, which stops it.
// docs/riasc-up.md.

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "riasc/agent/agent.hpp"
#include "riasc/apiserver/api_server.hpp"
#include "riasc/cli/commands.hpp"
#include "riasc/cli/manifest_files.hpp"
#include "riasc/cli/manifest_validation.hpp"
#include "riasc/cli/network_backend.hpp"
#include "riasc/client/config.hpp"
#include "riasc/client/errors.hpp"
#include "riasc/client/informer.hpp"
#include "riasc/kinds/builtin_crds.hpp"
#include "riasc/operator/runner.hpp"
#include "riasc/runtime/runtime.hpp"
#include "riasc/tenancy/project_operator.hpp"
#include "riasc/workloads/controllers.hpp"

namespace riasc::cli {
namespace {

struct UpFlags {
  std::vector<std::string> files;
  std::string data_dir = ".riasc";
  std::string listen = "127.0.0.1:6443";
  std::string node;
  std::string pod_cidr = "10.79.0.0/16";
  std::string bridge = "riasc0";
  std::string log_format = "text";
  bool verbose = false;
  BackendFlags backend;
};

const char* kFieldManager = "riasc-up";

std::string host_name() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

// The lock that makes one `riasc up` per data folder, and the pid `riasc down` signals.
class PidFile {
 public:
  explicit PidFile(const std::filesystem::path& file) : path_(file) {
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  }
  ~PidFile() {
    if (locked_) std::filesystem::remove(path_);
    if (fd_ >= 0) ::close(fd_);
  }
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

  bool lock() {
    locked_ = fd_ >= 0 && ::flock(fd_, LOCK_EX | LOCK_NB) == 0;
    if (locked_) {
      const std::string pid = std::to_string(::getpid()) + "\n";
      [[maybe_unused]] int ignored = ::ftruncate(fd_, 0);
      [[maybe_unused]] auto written = ::pwrite(fd_, pid.data(), pid.size(), 0);
    }
    return locked_;
  }
  [[nodiscard]] pid_t holder() const {
    std::ifstream in(path_);
    pid_t pid = 0;
    in >> pid;
    return pid;
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  bool locked_ = false;
};

// Settings `riasc down` needs to clean up after a run that crashed.
void remember_network(const std::filesystem::path& data_dir, const runtime::PodNetworkOptions& network) {
  std::ofstream(data_dir / "network.json")
      << Json{{"bridge", network.bridge}, {"podCIDR", network.cidr.to_string()}}.dump() << '\n';
}

runtime::PodNetworkOptions remembered_network(const std::filesystem::path& data_dir) {
  runtime::PodNetworkOptions network;
  std::ifstream in(data_dir / "network.json");
  if (!in) return network;
  try {
    const Json saved = Json::parse(in);
    network.bridge = saved.value("bridge", network.bridge);
    if (auto cidr = net::IpPrefix::parse(saved.value("podCIDR", ""))) network.cidr = *cidr;
  } catch (const std::exception&) {
  }
  return network;
}

std::string where(const CheckedObject& object) {
  return fmt::format("{}:{}:{}", object.file, object.position.line, object.position.column);
}

std::string describe(const Json& object) {
  const Json metadata = object.value("metadata", Json::object());
  const std::string ns = metadata.value("namespace", "");
  return fmt::format("{} {}{}", object.value("kind", "?"), ns.empty() ? "" : ns + "/",
                     metadata.value("name", "?"));
}

// CRDs first (and served before what uses them), then namespaces, then the rest; each by
// server-side apply, so applying the same files again changes nothing.
std::size_t apply_objects(client::Client& api, const std::vector<CheckedObject>& objects, std::ostream& out) {
  auto rank = [](const CheckedObject& checked) {
    const std::string kind = checked.object.value("kind", "");
    if (kind == "CustomResourceDefinition") return 0;
    if (kind == "Namespace") return 1;
    return 2;
  };
  std::vector<const CheckedObject*> order;
  for (const auto& checked : objects) {
    if (checked.valid) order.push_back(&checked);
  }
  std::ranges::stable_sort(order, {}, [&](const CheckedObject* checked) { return rank(*checked); });
  std::size_t failed = 0;
  bool crds_waited = false;
  client::PatchOptions options;
  options.field_manager = kFieldManager;
  options.force = true;
  for (const CheckedObject* checked : order) {
    if (rank(*checked) > 0 && !crds_waited) {
      crds_waited = true;
      api.forget_discovery();
    }
    try {
      Json object = checked->object;
      auto resource = [&] {
        // A CRD applied a moment ago may take a moment to be served.
        for (int attempt = 0;; ++attempt) {
          try {
            return api.resource_for(object);
          } catch (const client::NotFound&) {
            if (attempt >= 50) throw;
            api.forget_discovery();
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
          }
        }
      }();
      if (resource.info().namespaced && resource.namespace_name().empty()) {
        object["metadata"]["namespace"] = "default";
        resource = api.resource_for(object);
      }
      resource.apply(object, options);
      out << fmt::format("applied {} ({})\n", describe(object), where(*checked));
    } catch (const std::exception& error) {
      ++failed;
      out << fmt::format("{}: {}: not applied: {}\n", where(*checked), describe(checked->object),
                         error.what());
    }
  }
  return failed;
}

// What the terminal shows while the experiment runs.
class Progress {
 public:
  Progress(client::Client& api, bool terminal)
      : terminal_(terminal),
        pods_(api.resource(client::GroupVersionResource{"", "v1", "pods"}), {}),
        profiles_(api.resource(client::GroupVersionResource{"k8s-netem.riasc.eu", "v1", "trafficprofiles"}),
                  {}) {
    pods_.start();
    profiles_.start();
  }
  ~Progress() {
    pods_.stop();
    profiles_.stop();
  }

  void show() {
    std::vector<std::string> lines;
    lines.push_back(fmt::format("{:<36} {:<6} {:<26} {:<9} {}", "POD", "READY", "STATUS", "RESTARTS", "IP"));
    for (const Json& pod : pods_.store().list()) lines.push_back(pod_line(pod));
    const auto profiles = profiles_.store().list();
    if (!profiles.empty()) {
      lines.push_back(fmt::format("{:<36} {:<8} {}", "TRAFFICPROFILE", "APPLIED", "REASON"));
      for (const Json& profile : profiles) lines.push_back(profile_line(profile));
    }
    if (terminal_) {
      std::string frame;
      if (shown_ > 0) frame += fmt::format("\x1b[{}A\x1b[J", shown_);  // back over the last frame
      for (const auto& line : lines) frame += line + "\n";
      std::cout << frame << std::flush;
      shown_ = lines.size();
      return;
    }
    // Not a terminal (a log, a test): each line once, when it changes.
    for (std::size_t i = 1; i < lines.size(); ++i) {
      const std::string key = lines[i].substr(0, lines[i].find(' '));
      if (last_[key] != lines[i]) {
        last_[key] = lines[i];
        std::cout << lines[i] << "\n";
      }
    }
    std::cout << std::flush;
  }

 private:
  static std::string pod_line(const Json& pod) {
    const Json metadata = pod.value("metadata", Json::object());
    const Json status = pod.value("status", Json::object());
    const auto containers = status.value("containerStatuses", Json::array());
    const auto total = pod.value("spec", Json::object()).value("containers", Json::array()).size();
    std::size_t ready = 0;
    std::int64_t restarts = 0;
    std::string reason = status.value("phase", "Pending");
    for (const auto& container : containers) {
      if (container.value("ready", false)) ++ready;
      restarts += container.value("restartCount", std::int64_t{0});
      const Json state = container.value("state", Json::object());
      if (state.contains("waiting")) reason = state["waiting"].value("reason", reason);
      if (state.contains("terminated") && reason == "Running")
        reason = state["terminated"].value("reason", reason);
    }
    for (const auto& condition : status.value("conditions", Json::array())) {
      if (condition.value("reason", "") == "Unschedulable") reason = "Unschedulable";
    }
    if (metadata.contains("deletionTimestamp")) reason = "Terminating";
    return fmt::format("{:<36} {:<6} {:<26} {:<9} {}",
                       metadata.value("namespace", "") + "/" + metadata.value("name", ""),
                       fmt::format("{}/{}", ready, total), reason, restarts, status.value("podIP", ""));
  }

  static std::string profile_line(const Json& profile) {
    std::string applied = "Unknown";
    std::string reason;
    for (const auto& condition : profile.value("status", Json::object()).value("conditions", Json::array())) {
      if (condition.value("type", "") != "Applied") continue;
      applied = condition.value("status", "Unknown");
      reason = condition.value("reason", "");
      const std::string message = condition.value("message", "");
      if (applied != "True" && !message.empty()) reason += ": " + message;
    }
    return fmt::format("{:<36} {:<8} {}", profile["metadata"].value("name", ""), applied, reason);
  }

  bool terminal_;
  client::Informer pods_;
  client::Informer profiles_;
  std::size_t shown_ = 0;
  std::map<std::string, std::string> last_;
};

int run_up(const UpFlags& flags) {
  if (::geteuid() != 0) {
    std::cerr << "riasc up: needs root: pods get network namespaces, veths and a bridge (CAP_NET_ADMIN, "
                 "CAP_SYS_ADMIN)\n";
    return 1;
  }
  const auto colon = flags.listen.rfind(':');
  const auto cidr = net::IpPrefix::parse(flags.pod_cidr);
  if (colon == std::string::npos) {
    std::cerr << fmt::format("riasc up: --listen wants HOST:PORT, not \"{}\"\n", flags.listen);
    return 2;
  }
  if (!cidr || cidr->address.family != net::Family::V4) {
    std::cerr << fmt::format("riasc up: --pod-cidr wants an IPv4 prefix such as 10.79.0.0/16, not \"{}\"\n",
                             flags.pod_cidr);
    return 2;
  }
  const std::filesystem::path data_dir = flags.data_dir;
  std::filesystem::create_directories(data_dir);
  PidFile pid_file(data_dir / "riasc.pid");
  if (!pid_file.lock()) {
    std::cerr << fmt::format(
        "riasc up: already running for {} (pid {}); stop it with: riasc down --data-dir {}\n",
        data_dir.string(), pid_file.holder(), data_dir.string());
    return 1;
  }

  // The manifests are checked before anything starts; bad ones are reported and left out.
  std::vector<CheckedObject> objects;
  if (!flags.files.empty()) {
    const ReadResult read = read_manifest_paths(flags.files);
    for (const auto& error : read.errors) std::cout << error << "\n";
    const ValidationReport report = validate_manifests(read.files, kinds::builtin_registry());
    for (const auto& diagnostic : report.diagnostics) std::cout << diagnostic.to_string() << "\n";
    objects = report.objects;
  }

  const bool terminal = ::isatty(STDOUT_FILENO) != 0;
  // On a terminal the progress table owns the screen and the log goes to a file.
  std::FILE* log_file = terminal ? std::fopen((data_dir / "riasc.log").c_str(), "a") : stderr;
  if (log_file == nullptr) log_file = stderr;
  const op::LogSink log = op::runner_log_sink(flags.log_format, "riasc-up", flags.verbose, log_file);
  auto say = [&](const std::string& message) {
    log(op::LogLevel::Info, {}, message);
    if (terminal) std::cout << message << "\n";
  };

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // every thread started below inherits it

  runtime::PodNetworkOptions network{.bridge = flags.bridge, .cidr = *cidr};
  // A run that crashed leaves the bridge; its namespaces went with its processes.
  runtime::PodNetwork::remove_leftovers(remembered_network(data_dir));
  remember_network(data_dir, network);

  const auto started = std::chrono::steady_clock::now();
  apiserver::ApiServerOptions server_options;
  server_options.data_dir = data_dir;
  server_options.host = flags.listen.substr(0, colon);
  server_options.port = static_cast<std::uint16_t>(std::stoul(flags.listen.substr(colon + 1)));
  apiserver::ApiServer server(server_options);
  try {
    server.start();
  } catch (const std::exception& error) {
    std::cerr << fmt::format("riasc up: cannot start the API server: {}\n", error.what());
    return 1;
  }
  client::Client api(client::load_kubeconfig({server.kubeconfig_path().string()}));
  const std::string node = flags.node.empty() ? host_name() : flags.node;
  runtime::Runtime pods(api, {.node = node,
                              .log_root = data_dir / "logs",
                              .hosts_root = data_dir / "hosts",
                              .network = network,
                              .log = log});
  netem::ChosenBackend chosen;
  try {
    chosen = start_network_backend(flags.backend, (data_dir / "traces").string(), log);
  } catch (const std::exception& error) {
    std::cerr << fmt::format("riasc up: cannot start the {} network-emulation backend: {}\n",
                             flags.backend.choice, error.what());
    server.stop();
    return 1;
  }
  say(fmt::format("riasc up: network emulation by the {} backend ({})", chosen.backend->name(), chosen.why));
  agent::Agent shaping(api, {.node = node, .log = log}, std::move(chosen.backend));
  try {
    pods.start();
  } catch (const std::exception& error) {
    std::cerr << fmt::format("riasc up: cannot start the pod runtime: {}\n", error.what());
    server.stop();
    return 1;
  }
  shaping.start();
  workloads::Controllers controllers(api, {.log = log});
  try {
    controllers.start();
  } catch (const std::exception& error) {
    say(fmt::format("riasc up: the Deployment and DaemonSet controllers did not start: {}", error.what()));
  }
  // Projects: the webhook server on 127.0.0.1 (any free port), with a CA made at start that the
  // webhook configurations carry; the embedded server calls it as kube-apiserver would.
  op::OperatorOptions project_options = tenancy::ProjectOperator::operator_options();
  project_options.log = log;
  op::Operator project_operator(api, project_options);
  tenancy::ProjectOperator projects(project_operator, api, {.log = log});
  try {
    project_operator.start();
  } catch (const std::exception& error) {
    say(fmt::format("riasc up: the Project operator did not start: {}", error.what()));
  }
  say(fmt::format("riasc up: ready in {:.2f} s; node {}; export KUBECONFIG={}",
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), node,
                  std::filesystem::absolute(server.kubeconfig_path()).string()));
  if (!pods.limits_unavailable_reason().empty()) say("note: " + pods.limits_unavailable_reason());

  if (!objects.empty()) {
    const std::size_t failed = apply_objects(api, objects, std::cout);
    const auto invalid = static_cast<std::size_t>(std::ranges::count(objects, false, &CheckedObject::valid));
    if (failed + invalid > 0) {
      std::cout << fmt::format("{} of {} object(s) not applied (see above); the rest runs\n",
                               failed + invalid, objects.size());
    }
    std::cout << std::flush;  // a log file or pipe sees what was applied now, not at the first redraw
  }

  int received = 0;
  {
    Progress progress(api, terminal);
    const timespec second{1, 0};
    while (true) {
      progress.show();
      received = sigtimedwait(&signals, nullptr, &second);
      if (received == SIGINT || received == SIGTERM) break;
    }
  }
  say(fmt::format("riasc up: stopping ({}): containers get SIGTERM, then SIGKILL after 10 s",
                  received == SIGINT ? "SIGINT" : "SIGTERM"));
  project_operator.stop();
  projects.stop();
  controllers.stop();
  shaping.stop();
  pods.stop();
  server.stop();
  say("riasc up: stopped; `riasc up` on the same --data-dir resumes the experiment");
  if (log_file != stderr) std::fclose(log_file);
  return 0;
}

int run_down(const std::string& data_dir) {
  PidFile pid_file(std::filesystem::path(data_dir) / "riasc.pid");
  if (pid_file.lock()) {
    std::cout << fmt::format("riasc down: nothing runs for {}\n", data_dir);
  } else {
    const pid_t pid = pid_file.holder();
    std::cout << fmt::format("riasc down: stopping riasc up (pid {})", pid) << std::flush;
    ::kill(pid, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!pid_file.lock()) {
      if (std::chrono::steady_clock::now() > deadline) {
        std::cout << fmt::format("\nriasc down: pid {} still runs after 60 s\n", pid);
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      std::cout << "." << std::flush;
    }
    std::cout << " stopped\n";
  }
  try {
    runtime::PodNetwork::remove_leftovers(remembered_network(data_dir));
  } catch (const std::exception& error) {
    std::cerr << fmt::format("riasc down: removing the pod bridge: {}\n", error.what());
    return 1;
  }
  return 0;
}

}  // namespace

void add_up_command(CLI::App& app) {
  auto flags = std::make_shared<UpFlags>();
  auto* command = app.add_subcommand(
      "up",
      "Run an experiment on this machine: the API server, the pod runtime, the network-emulation agent and "
      "the workload controllers in one process, with the given manifests applied. Shows progress until "
      "Ctrl-C; needs root.");
  command->add_option("files", flags->files, "Manifest files or folders (also with -f)");
  command->add_option("-f,--filename", flags->files, "Manifest file or folder; may be repeated");
  command->add_option("--data-dir", flags->data_dir, "Folder for the database, logs and kubeconfig")
      ->capture_default_str();
  command->add_option("--listen", flags->listen, "Address of the API server, HOST:PORT")
      ->capture_default_str();
  command->add_option("--node", flags->node, "Name of this node (default: the host name)");
  command->add_option("--pod-cidr", flags->pod_cidr, "Addresses for pods (IPv4)")->capture_default_str();
  command->add_option("--bridge", flags->bridge, "Name of the pod bridge")->capture_default_str();
  command->add_option("--log-format", flags->log_format, "text or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  command->add_flag("--verbose", flags->verbose, "Log debug lines too");
  add_backend_options(*command, flags->backend);
  command->callback([flags] {
    if (int code = run_up(*flags); code != 0) exit_with(code);
  });

  auto down_dir = std::make_shared<std::string>(".riasc");
  auto* down =
      app.add_subcommand("down",
                         "Stop the `riasc up` of a data folder and remove what it left (bridge); the "
                         "stored experiment stays for the next `riasc up`.");
  down->add_option("--data-dir", *down_dir, "The data folder riasc up runs with")->capture_default_str();
  down->callback([down_dir] {
    if (int code = run_down(*down_dir); code != 0) exit_with(code);
  });
}

}  // namespace riasc::cli

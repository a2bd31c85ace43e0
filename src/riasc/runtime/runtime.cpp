#include "riasc/runtime/runtime.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <fmt/format.h>

#include <fstream>

#include "riasc/client/errors.hpp"
#include "riasc/core/base64.hpp"
#include "riasc/core/rfc3339.hpp"
#include "riasc/core/units.hpp"
#include "riasc/runtime/cgroups.hpp"
#include "riasc/runtime/container_env.hpp"
#include "riasc/runtime/container_process.hpp"
#include "riasc/runtime/node_registration.hpp"
#include "riasc/runtime/scheduling.hpp"

namespace riasc::runtime {
namespace {

using Steady = std::chrono::steady_clock;

const client::GroupVersionResource kPods{"", "v1", "pods"};
constexpr const char* kNetnsAnnotation = "riasc.eu/netns";
// A run this long resets a container's back-off (kubelet's rule).
constexpr auto kBackoffReset = std::chrono::minutes(10);
// A pod whose namespace could not be made is tried again this often.
constexpr auto kSandboxRetry = std::chrono::seconds(5);
// Node status is refreshed every this many heartbeats (the Lease every heartbeat).
constexpr int kStatusEveryHeartbeats = 6;

std::string now_rfc3339() {
  return format_rfc3339(std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()));
}

std::int64_t integer_or(const Json& object, const char* key, std::int64_t fallback) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_number_integer()) return fallback;
  return object[key].get<std::int64_t>();
}

Limits limits_of(const Json& container) {
  Limits limits;
  const Json wanted = container.value("resources", Json::object()).value("limits", Json::object());
  if (wanted.contains("cpu") && wanted["cpu"].is_string())
    limits.cpu = parse_quantity(wanted["cpu"].get<std::string>());
  if (wanted.contains("cpu") && wanted["cpu"].is_number()) limits.cpu = wanted["cpu"].get<double>();
  if (wanted.contains("memory")) {
    const auto bytes = wanted["memory"].is_string()   ? parse_quantity(wanted["memory"].get<std::string>())
                       : wanted["memory"].is_number() ? std::optional<double>(wanted["memory"].get<double>())
                                                      : std::nullopt;
    if (bytes) limits.memory = static_cast<std::uint64_t>(*bytes);
  }
  return limits;
}

std::string qos_class(const Json& spec) {
  bool any = false;
  bool guaranteed = true;
  for (const auto& container : spec.value("containers", Json::array())) {
    const Json resources = container.value("resources", Json::object());
    const Json requests = resources.value("requests", Json::object());
    const Json limits = resources.value("limits", Json::object());
    any = any || !requests.empty() || !limits.empty();
    for (const char* resource : {"cpu", "memory"}) {
      if (!limits.contains(resource) ||
          (requests.contains(resource) && requests[resource] != limits[resource]))
        guaranteed = false;
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

// Log files of a pod name: a new pod of the same name starts with fresh logs, as kubectl logs
// of a new pod would show on a cluster.
std::filesystem::path prepare_log_folder(const std::filesystem::path& root, const std::string& namespace_name,
                                         const std::string& name, const std::string& uid) {
  const auto folder = root / namespace_name / name;
  std::error_code error;
  std::string owner;
  std::ifstream(folder / ".uid") >> owner;
  if (owner != uid) std::filesystem::remove_all(folder, error);
  std::filesystem::create_directories(folder, error);
  std::ofstream(folder / ".uid") << uid;
  return folder;
}

}  // namespace

struct Runtime::Container {
  std::string name;
  Json spec;
  ContainerProcess process;
  std::string cgroup;
  int restart_count = 0;
  Json state = Json{{"waiting", {{"reason", "ContainerCreating"}}}};
  Json last_state = Json::object();
  bool started_once = false;
  bool running = false;
  bool done = false;  // terminated and not started again
  pid_t last_pid = 0;
  Steady::time_point started;
  std::optional<Steady::time_point> restart_at;
  std::chrono::milliseconds backoff{0};
};

struct Runtime::Pod {
  std::string uid, namespace_name, name;
  Json object;
  std::optional<Sandbox> sandbox;
  std::optional<net::IpAddress> ip;  // kept after the sandbox goes, for the status
  std::vector<Container> containers;
  bool terminating = false;
  bool deleted = false;  // gone from the API: nothing more to write
  std::optional<Steady::time_point> kill_at;
  std::optional<Steady::time_point> sandbox_retry_at;
  std::string sandbox_error;
  std::string start_time;
  std::string written;                     // the status last written
  std::map<std::string, Json> conditions;  // type → the condition as last written
  [[nodiscard]] std::string key() const { return namespace_name + "/" + name; }
};

struct Runtime::Internals {
  std::unique_ptr<NodeRegistration> registration;
  Cgroups cgroups;
  Steady::time_point next_heartbeat;
  int heartbeats = 0;
};

Runtime::Runtime(client::Client& api, RuntimeOptions options)
    : api_(api),
      options_(std::move(options)),
      log_("runtime/" + options_.node, options_.log),
      pods_(api.resource(kPods), client::InformerOptions{}),
      internals_(std::make_unique<Internals>()) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  auto enqueue = [this](const Json& object, bool deleted) {
    {
      std::lock_guard lock(events_mutex_);
      events_.push_back({object, deleted});
    }
    wake();
  };
  pods_.on_add([enqueue](const Json& pod) { enqueue(pod, false); });
  pods_.on_update([enqueue](const Json&, const Json& pod) { enqueue(pod, false); });
  pods_.on_delete([enqueue](const Json& pod) { enqueue(pod, true); });
}

Runtime::~Runtime() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Runtime::start() {
  network_ = std::make_unique<PodNetwork>(options_.network);
  NodeDescription description{.name = options_.node,
                              .labels = options_.node_labels,
                              .pod_cidr = options_.network.cidr.to_string(),
                              .internal_ip = network_->gateway()};
  internals_->registration = std::make_unique<NodeRegistration>(api_, description);
  internals_->registration->register_node();
  internals_->next_heartbeat = Steady::now() + options_.heartbeat;
  if (const auto& reason = internals_->cgroups.unavailable_reason(); !reason.empty())
    log_.warning("container limits: {}", reason);
  worker_alive_ = true;
  worker_ = std::thread([this] { run(); });
  pods_.start();
  log_.info("node {} registered; pods get addresses from {} on bridge {}", options_.node,
            options_.network.cidr.to_string(), options_.network.bridge);
}

void Runtime::stop(std::chrono::seconds grace) {
  if (!worker_.joinable()) return;
  stop_grace_ = grace;
  pods_.stop();
  stopping_ = true;
  wake();
  worker_.join();
}

bool Runtime::healthy() const { return worker_alive_ && pods_.has_synced(); }

std::string Runtime::limits_unavailable_reason() const { return internals_->cgroups.unavailable_reason(); }

void Runtime::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto written = ::write(wake_fd_, &one, sizeof one);
}

void Runtime::run() {
  while (!stopping_) {
    const auto deadline = next_deadline();
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now());
    poll_once(std::clamp(wait, std::chrono::milliseconds(0), std::chrono::milliseconds(1000)));
    std::vector<Event> events;
    {
      std::lock_guard lock(events_mutex_);
      events.swap(events_);
    }
    for (const Event& event : events) {
      try {
        handle(event);
      } catch (const std::exception& error) {
        log_.error("handling pod {}: {}", event.object["metadata"].value("name", ""), error.what());
      }
    }
    try {
      run_timers();
    } catch (const std::exception& error) {
      log_.error("{}", error.what());
    }
    for (auto& [uid, pod] : pods_by_uid_) write_status(*pod);
    write_hosts();
  }

  // Stopping: every pod's containers get SIGTERM, then SIGKILL at the deadline; nothing is
  // written to the API about the pods, which run again on the next start.
  for (auto& [uid, pod] : pods_by_uid_) {
    pod->deleted = true;
    begin_termination(*pod, stop_grace_);
  }
  const auto give_up = Steady::now() + stop_grace_ + std::chrono::seconds(2);
  while (!pods_by_uid_.empty() && Steady::now() < give_up) {
    poll_once(std::chrono::milliseconds(100));
    run_timers();
    std::vector<std::string> uids;
    for (const auto& [uid, pod] : pods_by_uid_) uids.push_back(uid);
    for (const auto& uid : uids) finish_if_stopped(uid);
  }
  for (auto& [uid, pod] : pods_by_uid_) release(*pod);  // ~ContainerProcess kills what is left
  pods_by_uid_.clear();
  try {
    network_->shutdown();
    internals_->registration->mark_not_ready("RuntimeStopped", "riasc runtime stopped");
  } catch (const std::exception& error) {
    log_.warning("while stopping: {}", error.what());
  }
  worker_alive_ = false;
}

Steady::time_point Runtime::next_deadline() const {
  Steady::time_point next = internals_->next_heartbeat;
  for (const auto& [uid, pod] : pods_by_uid_) {
    if (pod->kill_at) next = std::min(next, *pod->kill_at);
    if (pod->sandbox_retry_at) next = std::min(next, *pod->sandbox_retry_at);
    for (const auto& container : pod->containers) {
      if (container.restart_at) next = std::min(next, *container.restart_at);
    }
  }
  return next;
}

void Runtime::poll_once(std::chrono::milliseconds timeout) {
  std::vector<pollfd> fds{{wake_fd_, POLLIN, 0}};
  for (const auto& [uid, pod] : pods_by_uid_) {
    for (const auto& container : pod->containers) {
      if (container.process.pidfd() >= 0) fds.push_back({container.process.pidfd(), POLLIN, 0});
    }
  }
  const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
  if (ready <= 0) return;
  if ((fds[0].revents & POLLIN) != 0) {
    std::uint64_t count = 0;
    [[maybe_unused]] auto got = ::read(wake_fd_, &count, sizeof count);
  }
  if (fds.size() == 1) return;
  std::vector<std::string> changed;
  for (auto& [uid, pod] : pods_by_uid_) {
    for (auto& container : pod->containers) {
      if (container.process.pidfd() < 0) continue;
      if (auto status = container.process.reap()) {
        container_exited(*pod, container, status->exit_code, status->signal);
        changed.push_back(uid);
      }
    }
  }
  for (const auto& uid : changed) finish_if_stopped(uid);
}

void Runtime::run_timers() {
  const auto now = Steady::now();
  if (now >= internals_->next_heartbeat && !stopping_) {
    internals_->next_heartbeat = now + options_.heartbeat;
    try {
      internals_->registration->heartbeat(++internals_->heartbeats % kStatusEveryHeartbeats == 0);
    } catch (const std::exception& error) {
      log_.warning("node heartbeat: {}", error.what());
    }
    retry_unscheduled();
  }
  for (auto& [uid, pod] : pods_by_uid_) {
    if (pod->kill_at && now >= *pod->kill_at) {
      pod->kill_at.reset();
      for (auto& container : pod->containers) {
        if (container.running) {
          log_.info("{}: container {} still running after the grace period: SIGKILL", pod->key(),
                    container.name);
          container.process.signal(SIGKILL);
        }
      }
    }
    if (pod->terminating) continue;
    if (pod->sandbox_retry_at && now >= *pod->sandbox_retry_at) {
      pod->sandbox_retry_at.reset();
      Json object = pod->object;
      pods_by_uid_.erase(uid);  // admitted again from scratch
      admit(object);
      break;  // the map changed; the rest waits for the next round
    }
    for (auto& container : pod->containers) {
      if (container.restart_at && now >= *container.restart_at) {
        container.restart_at.reset();
        ++container.restart_count;
        start_container(*pod, container);
      }
    }
  }
}

void Runtime::handle(const Event& event) {
  const Json& object = event.object;
  const Json metadata = object.value("metadata", Json::object());
  const std::string uid = metadata.value("uid", "");
  const std::string node = object.value("spec", Json::object()).value("nodeName", "");
  auto known = pods_by_uid_.find(uid);
  if (event.deleted) {
    if (known == pods_by_uid_.end()) return;
    Pod& pod = *known->second;
    pod.deleted = true;
    if (!pod.terminating) {
      begin_termination(pod, std::chrono::seconds(integer_or(object.value("spec", Json::object()),
                                                             "terminationGracePeriodSeconds", 30)));
    }
    finish_if_stopped(uid);
    return;
  }
  if (node.empty()) {
    schedule(object);
    return;
  }
  if (node != options_.node) return;
  const bool deleting = metadata.contains("deletionTimestamp");
  if (known == pods_by_uid_.end()) {
    if (deleting) {
      // Nothing of it runs here (it finished, or ran before a restart): it can go now.
      client::DeleteOptions now;
      now.grace_period_seconds = 0;
      now.precondition_uid = uid;
      try {
        api_.resource(kPods, metadata.value("namespace", "")).remove(metadata.value("name", ""), now);
      } catch (const client::NotFound&) {
      }
      return;
    }
    admit(object);
    return;
  }
  Pod& pod = *known->second;
  pod.object = object;
  if (pod.sandbox) {  // our own view of the addresses wins over a status not yet written
    pod.object["status"]["podIP"] = pod.sandbox->ip.to_string();
  }
  if (deleting) {
    const auto grace = std::chrono::seconds(integer_or(metadata, "deletionGracePeriodSeconds", 30));
    begin_termination(pod, grace);
    finish_if_stopped(uid);
  }
}

// Pods no node fitted are tried again with each heartbeat, as kube-scheduler retries its
// unschedulable pods: a label given to the node since (a Project's node label, `kubectl label
// node`) may fit them now, and no pod event would say so.
void Runtime::retry_unscheduled() {
  for (const Json& pod : pods_.store().list()) {
    const Json& spec = pod.value("spec", Json::object());
    if (!spec.value("nodeName", "").empty()) continue;
    try {
      schedule(pod);
    } catch (const std::exception& error) {
      log_.warning("{}: scheduling again: {}", client::Store::key_of(pod), error.what());
    }
  }
}

void Runtime::schedule(const Json& object) {
  const Json metadata = object.value("metadata", Json::object());
  if (metadata.contains("deletionTimestamp")) return;
  auto pods = api_.resource(kPods, metadata.value("namespace", ""));
  const std::string name = metadata.value("name", "");
  const NodeIdentity node{options_.node, internals_->registration->current_labels()};
  const auto reason = unschedulable_reason(object, node);
  if (!reason) {
    // Binding: kube-scheduler writes spec.nodeName through pods/binding; one node needs no more.
    pods.patch(name, client::PatchType::Merge, {{"spec", {{"nodeName", options_.node}}}});
    log_.debug("{}/{}: bound to {}", metadata.value("namespace", ""), name, options_.node);
    return;
  }
  const Json status = object.value("status", Json::object());
  for (const auto& condition : status.value("conditions", Json::array())) {
    if (condition.value("type", "") == "PodScheduled" && condition.value("message", "") == *reason) return;
  }
  client::PatchOptions status_only;
  status_only.subresource = "status";
  pods.patch(name, client::PatchType::Merge,
             {{"status",
               {{"phase", "Pending"},
                {"conditions",
                 {{{"type", "PodScheduled"},
                   {"status", "False"},
                   {"reason", "Unschedulable"},
                   {"message", *reason},
                   {"lastTransitionTime", now_rfc3339()}}}}}}},
             status_only);
  log_.info("{}/{}: not scheduled: {}", metadata.value("namespace", ""), name, *reason);
}

void Runtime::admit(const Json& object) {
  const Json metadata = object.value("metadata", Json::object());
  const std::string phase = object.value("status", Json::object()).value("phase", "");
  if (phase == "Succeeded" || phase == "Failed") return;  // finished before; never run again
  auto owned = std::make_unique<Pod>();
  Pod& pod = *owned;
  pod.uid = metadata.value("uid", "");
  pod.namespace_name = metadata.value("namespace", "");
  pod.name = metadata.value("name", "");
  pod.object = object;
  pod.start_time = object.value("status", Json::object()).value("startTime", now_rfc3339());
  std::map<std::string, int> restarts;  // from before a restart of the runtime
  for (const auto& status :
       object.value("status", Json::object()).value("containerStatuses", Json::array())) {
    restarts[status.value("name", "")] = static_cast<int>(integer_or(status, "restartCount", 0));
  }
  for (const auto& spec : object.value("spec", Json::object()).value("containers", Json::array())) {
    Container container;
    container.name = spec.value("name", "");
    container.spec = spec;
    container.restart_count = restarts[container.name];
    pod.containers.push_back(std::move(container));
  }
  pods_by_uid_[pod.uid] = std::move(owned);

  std::optional<net::IpAddress> preferred;
  if (auto ip = net::IpAddress::parse(object.value("status", Json::object()).value("podIP", "")))
    preferred = ip;
  try {
    pod.sandbox = network_->create(pod.uid, preferred);
    ++sandboxes_;
  } catch (const std::exception& error) {
    pod.sandbox_error = error.what();
    pod.sandbox_retry_at = Steady::now() + kSandboxRetry;
    for (auto& container : pod.containers) {
      container.state = {{"waiting", {{"reason", "CreatePodSandboxError"}, {"message", pod.sandbox_error}}}};
    }
    log_.error("{}: cannot make its network namespace: {}", pod.key(), pod.sandbox_error);
    return;
  }
  pod.ip = pod.sandbox->ip;
  pod.sandbox_error.clear();
  pod.object["status"]["podIP"] = pod.sandbox->ip.to_string();
  pod.object["status"]["hostIP"] = network_->gateway().to_string();
  try {
    // Where the network-emulation agent finds the pod (agent/netns_resolver.hpp).
    api_.resource(kPods, pod.namespace_name)
        .patch(pod.name, client::PatchType::Merge,
               {{"metadata", {{"annotations", {{kNetnsAnnotation, pod.sandbox->netns_path}}}}}});
  } catch (const client::ApiError& error) {
    log_.warning("{}: cannot record its namespace: {}", pod.key(), error.what());
  }
  prepare_log_folder(options_.log_root, pod.namespace_name, pod.name, pod.uid);
  write_hosts();
  const Json spec = object.value("spec", Json::object());
  if (!spec.value("initContainers", Json::array()).empty()) {
    // Running the main containers without their init containers could do harm (a schema not
    // migrated, a file not fetched): the pod waits, saying why.
    for (auto& container : pod.containers) {
      container.state = {{"waiting",
                          {{"reason", "InitContainersNotSupported"},
                           {"message",
                            "riasc's local runtime does not run initContainers yet; run them as a "
                            "separate pod or fold them into the container's command"}}}};
    }
    log_.warning("{}: has initContainers, which this runtime does not run; the pod waits", pod.key());
    return;
  }
  for (const auto& container : spec.value("containers", Json::array())) {
    if (!container.value("volumeMounts", Json::array()).empty()) {
      log_.warning("{}: container {}: volumeMounts are not mounted (containers see this machine's files)",
                   pod.key(), container.value("name", ""));
    }
  }
  for (auto& container : pod.containers) start_container(pod, container);
  log_.info("{}: started on {} ({} container(s))", pod.key(), pod.sandbox->ip.to_string(),
            pod.containers.size());
}

void Runtime::start_container(Pod& pod, Container& container) {
  const auto lookup = [&](const std::string& resource, const std::string& name) -> std::optional<Json> {
    try {
      Json object =
          api_.resource(client::GroupVersionResource{"", "v1", resource}, pod.namespace_name).get(name);
      Json data = object.value("data", Json::object());
      if (resource == "secrets") {
        for (auto& [key, value] : data.items()) {
          if (auto decoded = value.is_string() ? base64_decode(value.get<std::string>()) : std::nullopt)
            value = *decoded;
        }
      }
      const Json string_data = object.value("stringData", Json::object());
      for (const auto& [key, value] : string_data.items()) data[key] = value;
      return data;
    } catch (const client::NotFound&) {
      return std::nullopt;
    }
  };
  ResolvedCommand command;
  try {
    std::error_code error;
    static const std::string own_folder =
        std::filesystem::read_symlink("/proc/self/exe", error).parent_path().string();
    command = resolve_command(pod.object, container.spec, lookup, own_folder);
  } catch (const NoCommand& error) {
    container.state = {{"waiting", {{"reason", "NoCommand"}, {"message", error.what()}}}};
    container.done = false;
    log_.warning("{}: {}", pod.key(), error.what());
    return;
  } catch (const ConfigError& error) {
    container.state = {{"waiting", {{"reason", "CreateContainerConfigError"}, {"message", error.what()}}}};
    container.restart_at = Steady::now() + std::chrono::seconds(10);
    --container.restart_count;  // a configuration retry is not a restart
    log_.warning("{}: container {}: {}", pod.key(), container.name, error.what());
    return;
  }
  const auto folder = options_.log_root / pod.namespace_name / pod.name;
  const auto log_file = folder / (container.name + ".log");
  std::error_code error;
  std::filesystem::create_directories(folder, error);
  if (container.started_once || container.restart_count > 0) {
    std::filesystem::rename(log_file, folder / (container.name + ".previous.log"), error);
  }
  if (!container.cgroup.empty()) internals_->cgroups.remove(container.cgroup);
  container.cgroup.clear();
  try {
    container.cgroup = internals_->cgroups.create(
        fmt::format("{}_{}_{}_{}", pod.namespace_name, pod.name, pod.uid.substr(0, 8), container.name),
        limits_of(container.spec));
  } catch (const std::exception& failure) {
    log_.warning("{}: container {}: limits not set: {}", pod.key(), container.name, failure.what());
  }
  const std::string started_at = now_rfc3339();
  try {
    container.process =
        ContainerProcess::start({.argv = command.argv,
                                 .env = command.env,
                                 .working_dir = command.working_dir,
                                 .netns_fd = pod.sandbox->netns_fd,
                                 .log_path = log_file.string(),
                                 .cgroup_dir = container.cgroup,
                                 .hosts_file = (options_.hosts_root / pod.namespace_name).string(),
                                 .hostname = pod.name.substr(0, 63)});
  } catch (const StartError& failure) {
    std::ofstream(log_file, std::ios::app) << "riasc: " << failure.what() << '\n';
    container.started = Steady::now();
    container.state = {{"terminated",
                        {{"exitCode", 128},
                         {"reason", "StartError"},
                         {"message", failure.what()},
                         {"startedAt", started_at},
                         {"finishedAt", started_at}}}};
    log_.warning("{}: container {}: {}", pod.key(), container.name, failure.what());
    container_exited(pod, container, 128, std::nullopt);
    return;
  }
  container.running = true;
  container.started_once = true;
  container.last_pid = container.process.pid();
  container.started = Steady::now();
  container.state = {{"running", {{"startedAt", started_at}}}};
}

void Runtime::container_exited(Pod& pod, Container& container, int exit_code, std::optional<int> signal) {
  const bool start_failed = container.state.contains("terminated") && !container.running;
  container.running = false;
  Json terminated = start_failed ? container.state["terminated"] : Json::object();
  if (!start_failed) {
    terminated = {{"exitCode", exit_code},
                  {"reason", exit_code == 0 ? "Completed" : "Error"},
                  {"startedAt", container.state.value("running", Json::object()).value("startedAt", "")},
                  {"finishedAt", now_rfc3339()},
                  {"containerID", fmt::format("riasc://{}", container.last_pid)}};
    if (signal) terminated["signal"] = *signal;
    log_.info("{}: container {} exited with {}", pod.key(), container.name, exit_code);
  }
  const std::string policy = pod.object.value("spec", Json::object()).value("restartPolicy", "Always");
  const bool restart = !pod.terminating && (policy == "Always" || (policy == "OnFailure" && exit_code != 0));
  if (!restart) {
    container.state = {{"terminated", terminated}};
    container.done = true;
    internals_->cgroups.remove(container.cgroup);
    container.cgroup.clear();
    return;
  }
  container.last_state = {{"terminated", terminated}};
  if (Steady::now() - container.started >= kBackoffReset) container.backoff = std::chrono::milliseconds(0);
  const auto delay = container.backoff;
  container.backoff =
      delay.count() == 0 ? options_.initial_backoff : std::min(delay * 2, options_.max_backoff);
  container.restart_at = Steady::now() + delay;
  container.state = {
      {"waiting",
       {{"reason", "CrashLoopBackOff"},
        {"message", fmt::format("back-off {}s restarting failed container={} pod={}_{}({})",
                                std::chrono::duration_cast<std::chrono::seconds>(delay).count(),
                                container.name, pod.name, pod.namespace_name, pod.uid)}}}};
}

void Runtime::begin_termination(Pod& pod, std::chrono::seconds grace) {
  const auto deadline = Steady::now() + std::max(grace, std::chrono::seconds(0));
  if (!pod.terminating) {
    pod.terminating = true;
    log_.info("{}: stopping (grace period {}s)", pod.key(), grace.count());
    for (auto& container : pod.containers) {
      container.restart_at.reset();
      if (container.running) container.process.signal(SIGTERM);
    }
  }
  // A second delete may shorten the grace period.
  if (!pod.kill_at || deadline < *pod.kill_at) pod.kill_at = deadline;
}

void Runtime::finish_if_stopped(const std::string& uid) {
  auto found = pods_by_uid_.find(uid);
  if (found == pods_by_uid_.end()) return;
  Pod& pod = *found->second;
  const bool any_running =
      std::any_of(pod.containers.begin(), pod.containers.end(), [](const Container& c) { return c.running; });
  if (any_running) return;
  if (!pod.terminating) {
    // Every container finished for good: the pod's namespace is not needed any more.
    const bool all_done =
        std::all_of(pod.containers.begin(), pod.containers.end(), [](const Container& c) { return c.done; });
    if (all_done && pod.sandbox) {
      write_status(pod);
      release(pod);
    }
    return;
  }
  write_status(pod);
  release(pod);
  if (!pod.deleted && !stopping_) {
    client::DeleteOptions now;
    now.grace_period_seconds = 0;
    now.precondition_uid = pod.uid;
    try {
      api_.resource(kPods, pod.namespace_name).remove(pod.name, now);
    } catch (const client::NotFound&) {
    } catch (const client::ApiError& error) {
      log_.warning("{}: deleting after its containers stopped: {}", pod.key(), error.what());
    }
  }
  log_.info("{}: stopped and removed", pod.key());
  pods_by_uid_.erase(found);
}

void Runtime::release(Pod& pod) {
  for (auto& container : pod.containers) {
    container.process = ContainerProcess();  // kills and reaps one still running
    internals_->cgroups.remove(container.cgroup);
    container.cgroup.clear();
  }
  if (pod.sandbox) {
    network_->destroy(*pod.sandbox);
    pod.sandbox.reset();
    --sandboxes_;
  }
}

void Runtime::write_hosts() {
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> by_namespace;  // ns → (ip, name)
  for (const auto& [uid, pod] : pods_by_uid_) {
    if (pod->sandbox) by_namespace[pod->namespace_name].emplace_back(pod->sandbox->ip.to_string(), pod->name);
  }
  std::string all;
  for (const auto& [ns, pods] : by_namespace) {
    for (const auto& [ip, name] : pods) all += ip + " " + name + "." + ns + "\n";
  }
  const std::string signature = all + "|" + [&] {
    std::string names;
    for (const auto& [ns, pods] : by_namespace) names += ns + ",";
    return names;
  }();
  if (signature == hosts_written_) return;
  hosts_written_ = signature;
  std::error_code error;
  std::filesystem::create_directories(options_.hosts_root, error);
  for (const auto& [ns, pods] : by_namespace) {
    std::string text = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
    for (const auto& [ip, name] : pods) text += fmt::format("{}\t{} {}.{}\n", ip, name, name, ns);
    for (const auto& [other_ns, others] : by_namespace) {
      if (other_ns == ns) continue;
      for (const auto& [ip, name] : others) text += fmt::format("{}\t{}.{}\n", ip, name, other_ns);
    }
    // Rewritten in place: the containers' bind mounts hold this inode.
    std::ofstream(options_.hosts_root / ns, std::ios::out | std::ios::trunc) << text;
  }
}

void Runtime::write_status(Pod& pod) {
  if (pod.deleted || stopping_) return;
  Json statuses = Json::array();
  bool all_running = !pod.containers.empty();
  bool any_waiting_first = false;
  bool all_done = !pod.containers.empty();
  bool all_succeeded = true;
  for (const auto& container : pod.containers) {
    all_running = all_running && container.running;
    any_waiting_first = any_waiting_first || (!container.started_once && !container.done);
    all_done = all_done && container.done;
    if (container.done)
      all_succeeded = all_succeeded && integer_or(container.state["terminated"], "exitCode", 1) == 0;
    Json status{{"name", container.name},
                {"state", container.state},
                {"lastState", container.last_state},
                {"ready", container.running},
                {"started", container.running},
                {"restartCount", container.restart_count},
                {"image", container.spec.value("image", "")},
                {"imageID", ""}};
    if (container.last_pid > 0) status["containerID"] = fmt::format("riasc://{}", container.last_pid);
    statuses.push_back(std::move(status));
  }
  std::string phase = "Running";
  if (all_done) {
    phase = all_succeeded ? "Succeeded" : "Failed";
  } else if (any_waiting_first || !pod.sandbox) {
    phase = "Pending";
  }
  auto condition = [&](const std::string& type, bool status, const std::string& reason = "") {
    Json entry{{"type", type}, {"status", status ? "True" : "False"}};
    if (!reason.empty()) entry["reason"] = reason;
    auto previous = pod.conditions.find(type);
    entry["lastTransitionTime"] =
        previous != pod.conditions.end() && previous->second["status"] == entry["status"]
            ? previous->second["lastTransitionTime"]
            : Json(now_rfc3339());
    pod.conditions[type] = entry;
    return entry;
  };
  const bool ready = all_running && !pod.terminating;
  const std::string not_ready = all_done ? "PodCompleted" : "ContainersNotReady";
  Json status{
      {"phase", phase},
      {"conditions",
       {condition("PodReadyToStartContainers", pod.sandbox.has_value()), condition("Initialized", true),
        condition("Ready", ready, ready ? "" : not_ready),
        condition("ContainersReady", ready, ready ? "" : not_ready), condition("PodScheduled", true)}},
      {"hostIP", network_->gateway().to_string()},
      {"hostIPs", {{{"ip", network_->gateway().to_string()}}}},
      {"startTime", pod.start_time},
      {"containerStatuses", std::move(statuses)},
      {"qosClass", qos_class(pod.object.value("spec", Json::object()))}};
  if (pod.ip) {
    status["podIP"] = pod.ip->to_string();
    status["podIPs"] = {{{"ip", pod.ip->to_string()}}};
  }
  if (!pod.sandbox_error.empty()) status["message"] = pod.sandbox_error;
  // lastTransitionTime alone never makes a write.
  Json comparable = status;
  for (auto& entry : comparable["conditions"]) entry.erase("lastTransitionTime");
  const std::string text = comparable.dump();
  if (text == pod.written) return;
  client::PatchOptions status_only;
  status_only.subresource = "status";
  try {
    api_.resource(kPods, pod.namespace_name)
        .patch(pod.name, client::PatchType::Merge, {{"status", status}}, status_only);
    pod.written = text;
  } catch (const client::NotFound&) {
    pod.written = text;  // deleted meanwhile; the DELETED event follows
  } catch (const client::ApiError& error) {
    log_.warning("{}: writing status: {}", pod.key(), error.what());
  }
}

}  // namespace riasc::runtime

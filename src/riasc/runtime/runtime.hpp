#pragma once

// The local pod runtime: kubelet's job for the one machine `riasc up` runs on. It registers the
// node, binds pods that fit it, gives each pod a network namespace on the pod bridge, runs each
// container's command as a process there (env, workingDir, cgroup v2 limits, restartPolicy with
// back-off), keeps each container's log where the API server serves `kubectl logs` from, and
// reports pod status. Deleting a pod stops its processes (SIGTERM, the grace period, SIGKILL)
// and removes its namespace. docs/runtime.md.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "riasc/client/client.hpp"
#include "riasc/client/informer.hpp"
#include "riasc/operator/context.hpp"
#include "riasc/runtime/pod_network.hpp"

namespace riasc::runtime {

struct RuntimeOptions {
  std::string node;
  std::filesystem::path log_root;  // <log_root>/<namespace>/<pod>/<container>.log (apiserver/pod_logs.hpp)
  // <hosts_root>/<namespace>: the /etc/hosts of that namespace's pods, naming every pod with an
  // address (short names in the same namespace, NAME.NAMESPACE across).
  std::filesystem::path hosts_root;
  PodNetworkOptions network;
  Json node_labels = Json::object();
  op::LogSink log = op::stderr_sink();
  // A crashed container is started again at once the first time, then after this, doubling up
  // to max_backoff (kubelet: 10 s to 5 min); a run of 10 minutes resets it.
  std::chrono::milliseconds initial_backoff = std::chrono::seconds(10);
  std::chrono::milliseconds max_backoff = std::chrono::minutes(5);
  std::chrono::milliseconds heartbeat = std::chrono::seconds(10);
};

class Runtime {
 public:
  Runtime(client::Client& api, RuntimeOptions options);
  ~Runtime();  // stop()
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Registers the node, sets up the pod bridge and starts watching pods. Throws when the node
  // cannot be registered or the bridge cannot be made.
  void start();
  // Stops every container (SIGTERM, SIGKILL after at most `grace`), removes every pod namespace
  // and the bridge, and marks the node not ready. The pods stay stored: the next start runs them.
  void stop(std::chrono::seconds grace = std::chrono::seconds(10));

  [[nodiscard]] bool healthy() const;
  // Pods with a namespace right now.
  [[nodiscard]] std::size_t pods_with_sandbox() const { return sandboxes_.load(); }
  // Why container limits are not enforced here ("" when they are).
  [[nodiscard]] std::string limits_unavailable_reason() const;

 private:
  struct Container;
  struct Pod;
  struct Event {
    Json object;
    bool deleted = false;
  };

  void run();
  void wake();
  void handle(const Event& event);
  void retry_unscheduled();
  void schedule(const Json& pod);
  void admit(const Json& pod);
  void start_container(Pod& pod, Container& container);
  void container_exited(Pod& pod, Container& container, int exit_code, std::optional<int> signal);
  void begin_termination(Pod& pod, std::chrono::seconds grace);
  void finish_if_stopped(const std::string& uid);
  void release(Pod& pod);
  void write_status(Pod& pod);
  void write_hosts();
  void poll_once(std::chrono::milliseconds timeout);
  std::chrono::steady_clock::time_point next_deadline() const;
  void run_timers();

  client::Client& api_;
  RuntimeOptions options_;
  op::Logger log_;
  client::Informer pods_;
  std::unique_ptr<PodNetwork> network_;
  struct Internals;
  std::unique_ptr<Internals> internals_;

  std::mutex events_mutex_;
  std::vector<Event> events_;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> worker_alive_{false};
  std::atomic<std::size_t> sandboxes_{0};
  std::chrono::seconds stop_grace_{10};
  std::thread worker_;
  std::map<std::string, std::unique_ptr<Pod>> pods_by_uid_;  // worker-only
  std::string hosts_written_;                                // worker-only
};

}  // namespace riasc::runtime

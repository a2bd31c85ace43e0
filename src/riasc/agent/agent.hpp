#pragma once

// The node agent: watches TrafficProfiles, Pods and Namespaces and keeps the shaping of this
// node's pods at the plan (netem/plan.hpp) through a data-plane backend. One worker recomputes
// the plans after every change (changes that arrive together are handled together), applies what
// differs, switches Flexe sequences on time, and reports each profile's state in its status.
//
//   agent::Agent agent(api, {.node = "node-a"}, std::make_unique<netem::KernelBackend>());
//   agent.start();

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "riasc/agent/netns_resolver.hpp"
#include "riasc/client/client.hpp"
#include "riasc/client/informer.hpp"
#include "riasc/core/metrics.hpp"
#include "riasc/netem/backend.hpp"
#include "riasc/netem/plan.hpp"
#include "riasc/netem/traffic_profile.hpp"
#include "riasc/operator/context.hpp"

namespace riasc::agent {

struct AgentOptions {
  std::string node;
  op::LogSink log = op::stderr_sink();
  metrics::Registry* registry = nullptr;  // metrics go here when set
  bool write_status = true;
  // Hand the heap's free pages back to the kernel (malloc_trim) once the worker has been quiet
  // for a second after a pass. For a process that is the agent alone; a process that shares its
  // heap with a server that keeps freed memory on purpose leaves it off.
  bool trim_heap_when_quiet = false;
};

class Agent {
 public:
  Agent(client::Client& api, AgentOptions options, std::unique_ptr<netem::Backend> backend,
        std::unique_ptr<NetnsResolver> resolver = std::make_unique<NetnsResolver>());
  ~Agent();  // stop()
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  void start();
  // Stops watching; what is installed stays (a restarted agent adopts it).
  void stop();
  // Caches filled and the worker alive.
  [[nodiscard]] bool healthy() const;
  // Reconciles done (for tests and benchmarks: wait until it moves).
  [[nodiscard]] std::uint64_t passes() const;

 private:
  struct PodRecord;
  struct ProfileReport;
  void changed();
  void pod_changed(const Json& pod, bool deleted);
  void run();
  void reconcile(std::chrono::system_clock::time_point now);
  void report(const std::map<std::string, ProfileReport>& reports);
  void write_statuses();
  std::optional<std::chrono::system_clock::time_point> flexe_start(const Json& profile) const;

  client::Client& api_;
  AgentOptions options_;
  std::unique_ptr<netem::Backend> backend_;
  std::unique_ptr<NetnsResolver> resolver_;
  op::Logger log_;
  client::Informer profiles_;
  client::Informer pods_;
  client::Informer namespaces_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool dirty_ = true;
  bool stopping_ = false;
  std::thread worker_;
  std::atomic<std::uint64_t> passes_{0};
  std::atomic<bool> worker_alive_{false};

  struct CachedPod {
    netem::PodInfo info;
    bool host_network = false;
    Json identity;  // uid, annotations and podIP: what the netns resolver reads
    bool operator==(const CachedPod&) const = default;
  };
  std::mutex pods_mutex_;
  std::map<std::string, CachedPod> pod_cache_;

  // Worker-only state.
  std::map<std::string, std::pair<std::string, netem::ParsedTrafficProfile>> parsed_;  // name → (rv, parsed)
  std::map<std::string, PodRecord> applied_;                                           // pod key → record
  std::map<std::string, Json> reported_;  // profile → last status queued

  // The status writer's queue: the newest status of each profile.
  std::mutex status_mutex_;
  std::condition_variable status_wake_;
  std::map<std::string, Json> status_pending_;
  bool status_stopping_ = false;
  std::thread status_writer_;
  std::atomic<bool> forget_reported_{false};
  std::optional<std::chrono::system_clock::time_point> next_switch_;

  metrics::Histogram* apply_seconds_ = nullptr;
  metrics::Histogram* switch_error_seconds_ = nullptr;
  metrics::Counter* apply_failures_ = nullptr;
  metrics::Gauge* shaped_pods_ = nullptr;
};

}  // namespace riasc::agent

#pragma once

// The userspace backend: for kernels without sch_netem (and for what netem cannot do). The same
// plans and the same nftables classifiers as the kernel backend select the packets, but each
// band's rules forward them (`fwd to`) to a TAP of the band's own, where the node's one engine
// process (engine/engine.hpp) reads them, emulates the band's parameters and sends them on past
// all hooks, so nothing loops.
//
// Egress: rules on the pod interface's egress hook, in the pod's namespace (table `riasc`), TAPs
// "rseN-IF" there, packets sent on out of the pod's interface. Ingress: rules on the egress hook
// of the device that faces the pod (its veth peer in the agent's namespace, table
// `riasc_in_DEVICE`), TAPs "rsiN-..." beside it, packets sent on out of that device into the pod.
//
// Order of every change: TAPs and engine attachments first, then the rules (one nft transaction
// per namespace), then what is no longer used. A clean exit removes every rule and TAP it made, so
// a stopped agent leaves traffic unshaped rather than black-holed; after a crash the engine's
// supervisor has died too, the rules stay (diverted packets are dropped) until the next agent
// replaces them.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "riasc/engine/supervisor.hpp"
#include "riasc/netem/backend.hpp"

namespace riasc::netem {

struct UserspaceBackendOptions {
  engine::SupervisorOptions engine;
  // Per-packet traces go to DIR/PROFILE/NAMESPACE_POD_DIRECTION.csv; "" = none.
  std::string trace_dir;
};

class UserspaceBackend : public Backend {
 public:
  explicit UserspaceBackend(UserspaceBackendOptions options = {});
  ~UserspaceBackend() override;
  ApplyOutcome apply(const PodTarget& target, const std::vector<Band>& bands) override;
  void forget(const std::string& key) override;
  [[nodiscard]] std::string name() const override { return "userspace"; }
  // A change of parameters only goes to the engine with its due time, which the engine keeps to
  // the packet; a change that needs new rules waits in apply() until it is due.
  [[nodiscard]] bool schedules_changes() const override { return true; }
  // riasc_engine_* counters per attachment (pod, profile, direction), read from the engine at
  // each scrape, and the engine's restarts.
  void add_metrics(metrics::Registry& registry) override;

  // What an earlier agent's userspace backend left for a pod that the kernel backend shapes now
  // (the agent crashed while the pod was here): the `rse*` TAPs in the pod, and the table and
  // `rsi*` TAPs of the device facing it. The pod's own table is the shaping backend's to replace.
  // Needs no engine; quiet when there is nothing, or no pod any more.
  static void remove_leftovers(const std::string& netns_path);
  // The host side an earlier agent left for devices that are gone (pods deleted while no agent
  // ran). The constructor does this too; a node whose backend is the kernel's calls it at start.
  static void remove_orphans();

  [[nodiscard]] engine::Supervisor& engine() { return *engine_; }
  // The trace file of a band of a pod ("" when traces are off).
  [[nodiscard]] std::string trace_path(const std::string& pod_key, const Band& band) const;

  struct PodState;  // what is installed for one pod (userspace_backend.cpp)

 private:
  void tear_down(PodState& state, bool pod_namespace_exists);
  std::optional<ApplyOutcome> change_parameters_only(PodState& state, const std::vector<Band>& bands,
                                                     std::optional<std::int64_t> due_ns);

  UserspaceBackendOptions options_;
  std::mutex mutex_;
  std::unique_ptr<engine::Supervisor> engine_;
  std::string host_netns_path_;  // the agent's own namespace, as a path that stays valid
  int host_netns_fd_ = -1;
  // Taken once, so that an unchanged band converts to the same options on every pass (the wall
  // clock's slewing since the agent started moves a trace's replay by as much).
  const std::int64_t realtime_minus_monotonic_ns_;
  std::map<std::string, std::unique_ptr<PodState>> pods_;
};

// What the engine gets for a band: its netem parameters and its trace, the trace's origin moved
// from CLOCK_REALTIME to the engine's CLOCK_MONOTONIC by `realtime_minus_monotonic_ns`.
shaper::ShaperOptions shaper_options(const Band& band, std::int64_t realtime_minus_monotonic_ns);

// Whether this kernel has what the kernel backend needs (sch_prio, sch_netem, cls_fw, ifb), found
// by trying them in a throw-away network namespace: "" when it has, else the first module missing.
std::string missing_kernel_netem_module();

}  // namespace riasc::netem

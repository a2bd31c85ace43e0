#pragma once

// The DaemonSet controller's rules, apart from the API: which nodes should run the daemon pod
// (nodeSelector, required node affinity, taints and tolerations, as Kubernetes' DaemonSet
// controller decides it), which pods to create and delete (rolling update or OnDelete), and the
// status kubectl reads.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "riasc/core/json.hpp"
#include "riasc/core/label_selector.hpp"
#include "riasc/workloads/pods.hpp"

namespace riasc::workloads {

struct DaemonSetSpec {
  std::string name;
  LabelSelector selector;
  Json pod_template;
  std::string hash;
  bool on_delete = false;
  Json max_unavailable = 1;  // int or percent of the nodes that should run the pod
  std::chrono::seconds min_ready{0};
};

std::variant<DaemonSetSpec, std::string> read_daemonset(const Json& daemonset);

// The tolerations Kubernetes adds to every daemon pod, so that a daemon keeps running on a node
// that is cordoned, under pressure or unreachable (a node's agent must run there most of all).
Json daemon_tolerations(const Json& pod_spec);

struct Placement {
  bool should_run = false;    // a pod belongs there
  bool may_continue = false;  // a pod already there may stay (NoSchedule taints spare it)
};
// `pod_spec` is the pod's spec with daemon_tolerations() applied.
Placement place(const Json& pod_spec, const Json& node);

struct DaemonSetPlan {
  std::vector<std::string> create_on;  // node names
  std::vector<PodFacts> remove;
  std::optional<SystemClock::time_point> recheck;
};

// `nodes` by name; `pods` the owned pods (terminating ones count for nothing).
DaemonSetPlan plan_daemonset(const DaemonSetSpec& spec, const std::map<std::string, Placement>& nodes,
                             const std::vector<PodFacts>& pods, SystemClock::time_point now);

Json daemonset_status(const Json& daemonset, const DaemonSetSpec& spec,
                      const std::map<std::string, Placement>& nodes, const std::vector<PodFacts>& pods,
                      SystemClock::time_point now);

}  // namespace riasc::workloads

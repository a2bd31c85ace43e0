#pragma once

// The Deployment controller's rules, apart from the API: what a Deployment asks for, which pods
// to create and delete to get there (rolling update or recreate), and the status that reports
// it. The controller owns pods directly (no ReplicaSets: docs/workloads.md says why); a pod's
// "revision" is its pod-template-hash label.

#include <chrono>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "riasc/core/json.hpp"
#include "riasc/core/label_selector.hpp"
#include "riasc/workloads/pods.hpp"

namespace riasc::workloads {

struct DeploymentSpec {
  std::string name;
  long replicas = 1;
  LabelSelector selector;
  Json pod_template;  // spec.template, as written
  std::string hash;   // template_hash(pod_template)
  bool recreate = false;
  long max_surge = 0;        // resolved against replicas (rounded up)
  long max_unavailable = 0;  // resolved against replicas (rounded down; 1 when both are 0)
  std::chrono::seconds min_ready{0};
  std::chrono::seconds progress_deadline{600};
  bool paused = false;
};

// The spec, or a message saying what is wrong with it (as kube-apiserver's validation would
// have refused it).
std::variant<DeploymentSpec, std::string> read_deployment(const Json& deployment);

struct DeploymentPlan {
  long create = 0;                                 // pods of the current template
  std::vector<PodFacts> remove;                    // in the order they go
  std::optional<SystemClock::time_point> recheck;  // a pod becomes available then
};

// One step towards the spec from the owned pods (terminating ones included: they count for
// nothing but Recreate waits for them). Never more than `burst` creations in one step.
DeploymentPlan plan_deployment(const DeploymentSpec& spec, const std::vector<PodFacts>& pods,
                               SystemClock::time_point now, long burst = 64);

// The status for the pods as they are: counts, observedGeneration, conditions Available and
// Progressing (the latter with a progress deadline measured from the last change of counts).
// `old_status` keeps the conditions' times when nothing changed, so a steady state writes nothing.
Json deployment_status(const Json& deployment, const DeploymentSpec& spec, const std::vector<PodFacts>& pods,
                       const Json& old_status, SystemClock::time_point now);

// When the progress deadline of an unfinished rollout passes, if one is running.
std::optional<SystemClock::time_point> progress_deadline_at(const DeploymentSpec& spec, const Json& status);

}  // namespace riasc::workloads

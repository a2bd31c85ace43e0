#pragma once

// Whether a pod may run on this node: spec.nodeSelector and required node affinity
// (requiredDuringSchedulingIgnoredDuringExecution), with kube-scheduler's semantics: terms are
// ORed, a term's expressions and fields ANDed, an empty term matches nothing.

#include <optional>
#include <string>

#include "riasc/core/json.hpp"

namespace riasc::runtime {

struct NodeIdentity {
  std::string name;
  Json labels = Json::object();
};

// nullopt when the pod fits; else why not, in kube-scheduler's words for a one-node cluster
// ("0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.").
std::optional<std::string> unschedulable_reason(const Json& pod, const NodeIdentity& node);

}  // namespace riasc::runtime

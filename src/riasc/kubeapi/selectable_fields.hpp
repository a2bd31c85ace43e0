#pragma once

// Which fields a `?fieldSelector=` may name for each resource, and the value each compares as:
// kube-apiserver's per-resource field label conversion. Every resource has metadata.name and
// metadata.namespace; Pods, Events, Secrets, Namespaces and Nodes have a few more.

#include <string>
#include <string_view>
#include <vector>

#include "riasc/core/json.hpp"

namespace riasc::kubeapi {

// The fields of `resource` in `group` ("" for core) that field selectors support, sorted.
std::vector<std::string> selectable_fields(std::string_view group, std::string_view resource);

// The string `field` compares as in `object`; fields Kubernetes reads with a default (a Pod's
// spec.hostNetwork, a Node's spec.unschedulable) give "false" when absent.
std::string selectable_field_value(const Json& object, std::string_view field);

}  // namespace riasc::kubeapi

#include "riasc/workloads/daemonset.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

#include "riasc/core/field_error.hpp"

namespace riasc::workloads {

std::variant<DaemonSetSpec, std::string> read_daemonset(const Json& daemonset) {
  DaemonSetSpec result;
  result.name = string_member(object_member(daemonset, "metadata"), "name");
  if (!daemonset.is_object() || !daemonset.contains("spec") || !daemonset["spec"].is_object())
    return std::string("spec: Required value");
  const Json& spec = daemonset["spec"];
  if (!spec.contains("selector") || !spec["selector"].is_object())
    return std::string("spec.selector: Required value");
  FieldErrors errors;
  result.selector =
      LabelSelector::from_json(spec["selector"], FieldPath::parse_dotted("spec.selector"), errors);
  if (!errors.empty()) return errors.front().to_string();
  if (result.selector.empty())
    return std::string("spec.selector: Invalid value: {}: empty selector is invalid for daemonset");
  if (!spec.contains("template") || !spec["template"].is_object())
    return std::string("spec.template: Required value");
  result.pod_template = spec["template"];
  if (!result.selector.matches(object_member(object_member(result.pod_template, "metadata"), "labels")))
    return std::string(
        "spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`");
  if (!object_member(result.pod_template, "spec").contains("containers"))
    return std::string("spec.template.spec.containers: Required value");
  result.hash = template_hash(result.pod_template);
  const Json min_ready = spec.value("minReadySeconds", Json(0));
  if (!min_ready.is_number_integer() || min_ready.get<std::int64_t>() < 0)
    return std::string("spec.minReadySeconds: must be an integer greater than or equal to 0");
  result.min_ready = std::chrono::seconds(min_ready.get<std::int64_t>());
  const Json& strategy = object_member(spec, "updateStrategy");
  const std::string type = string_member(strategy, "type", "RollingUpdate");
  if (type == "OnDelete") {
    result.on_delete = true;
    return result;
  }
  if (type != "RollingUpdate")
    return fmt::format(
        "spec.updateStrategy.type: Unsupported value: \"{}\": supported values: \"OnDelete\", "
        "\"RollingUpdate\"",
        type);
  result.max_unavailable = object_member(strategy, "rollingUpdate").value("maxUnavailable", Json(1));
  std::string error;
  if (!scaled_value(result.max_unavailable, 1, true, error))
    return "spec.updateStrategy.rollingUpdate.maxUnavailable: " + error;
  return result;
}

Json daemon_tolerations(const Json& pod_spec) {
  Json tolerations = array_member(pod_spec, "tolerations");
  auto add = [&](const char* key, const char* effect) {
    const bool present = std::any_of(tolerations.begin(), tolerations.end(), [&](const Json& t) {
      return string_member(t, "key") == key && string_member(t, "effect") == effect &&
             string_member(t, "operator") == "Exists";
    });
    if (!present) tolerations.push_back({{"key", key}, {"operator", "Exists"}, {"effect", effect}});
  };
  add("node.kubernetes.io/not-ready", "NoExecute");
  add("node.kubernetes.io/unreachable", "NoExecute");
  add("node.kubernetes.io/disk-pressure", "NoSchedule");
  add("node.kubernetes.io/memory-pressure", "NoSchedule");
  add("node.kubernetes.io/pid-pressure", "NoSchedule");
  add("node.kubernetes.io/unschedulable", "NoSchedule");
  if (pod_spec.is_object() && pod_spec.value("hostNetwork", Json(false)) == Json(true))
    add("node.kubernetes.io/network-unavailable", "NoSchedule");
  return tolerations;
}

namespace {

std::optional<LabelSelector::Operator> node_selector_operator(const std::string& op) {
  if (op == "In") return LabelSelector::Operator::In;
  if (op == "NotIn") return LabelSelector::Operator::NotIn;
  if (op == "Exists") return LabelSelector::Operator::Exists;
  if (op == "DoesNotExist") return LabelSelector::Operator::DoesNotExist;
  if (op == "Gt") return LabelSelector::Operator::GreaterThan;
  if (op == "Lt") return LabelSelector::Operator::LessThan;
  return std::nullopt;
}

// Requirements of a NodeSelectorTerm's matchExpressions or matchFields over `values`; an invalid
// requirement makes the term match nothing, as kube-apiserver would have refused it.
bool requirements_hold(const Json& requirements, const Json& values) {
  LabelSelector selector;
  try {
    for (const Json& requirement : requirements) {
      auto op = node_selector_operator(string_member(requirement, "operator"));
      if (!op) return false;
      std::vector<std::string> list;
      for (const Json& value : array_member(requirement, "values")) {
        if (!value.is_string()) return false;
        list.push_back(value.get<std::string>());
      }
      // Gt and Lt take one integer; LabelSelector reads it the same way.
      selector.add(string_member(requirement, "key"), *op, std::move(list));
    }
  } catch (const std::exception&) {
    return false;
  }
  return selector.matches(values);
}

bool affinity_allows(const Json& pod_spec, const Json& node, const Json& labels) {
  const Json& required = object_member(object_member(object_member(pod_spec, "affinity"), "nodeAffinity"),
                                       "requiredDuringSchedulingIgnoredDuringExecution");
  if (!object_member(object_member(pod_spec, "affinity"), "nodeAffinity")
           .contains("requiredDuringSchedulingIgnoredDuringExecution"))
    return true;
  const Json fields = {{"metadata.name", string_member(object_member(node, "metadata"), "name")}};
  // Terms are ORed; a term's expressions and fields are ANDed; an empty term matches nothing.
  for (const Json& term : array_member(required, "nodeSelectorTerms")) {
    const Json& expressions = array_member(term, "matchExpressions");
    const Json& field_terms = array_member(term, "matchFields");
    if (expressions.empty() && field_terms.empty()) continue;
    if (requirements_hold(expressions, labels) && requirements_hold(field_terms, fields)) return true;
  }
  return false;
}

bool tolerates(const Json& toleration, const Json& taint) {
  const std::string effect = string_member(toleration, "effect");
  if (!effect.empty() && effect != string_member(taint, "effect")) return false;
  const std::string key = string_member(toleration, "key");
  if (!key.empty() && key != string_member(taint, "key")) return false;
  const std::string op = string_member(toleration, "operator", "Equal");
  if (op == "Exists") return true;
  return !key.empty() && op == "Equal" && string_member(toleration, "value") == string_member(taint, "value");
}

}  // namespace

Placement place(const Json& pod_spec, const Json& node) {
  const Json& labels = object_member(object_member(node, "metadata"), "labels");
  for (const auto& [key, value] : object_member(pod_spec, "nodeSelector").items()) {
    auto it = labels.find(key);
    if (it == labels.end() || *it != value) return {};
  }
  if (!affinity_allows(pod_spec, node, labels)) return {};
  const Json& node_spec = object_member(node, "spec");
  Json taints = array_member(node_spec, "taints");
  // Without a node controller to add it, cordoning is the taint Kubernetes would set for it.
  if (node_spec.value("unschedulable", Json(false)) == Json(true))
    taints.push_back({{"key", "node.kubernetes.io/unschedulable"}, {"effect", "NoSchedule"}});
  const Json& tolerations = array_member(pod_spec, "tolerations");
  Placement placement{true, true};
  for (const Json& taint : taints) {
    const std::string effect = string_member(taint, "effect");
    if (effect != "NoSchedule" && effect != "NoExecute") continue;
    if (std::any_of(tolerations.begin(), tolerations.end(),
                    [&](const Json& t) { return tolerates(t, taint); }))
      continue;
    placement.should_run = false;
    if (effect == "NoExecute") placement.may_continue = false;
  }
  return placement;
}

namespace {

bool older(const PodFacts& a, const PodFacts& b) {
  return a.created != b.created ? a.created < b.created : a.name < b.name;
}

// The active pods on each node, oldest first.
std::map<std::string, std::vector<PodFacts>> by_node(const std::vector<PodFacts>& pods) {
  std::map<std::string, std::vector<PodFacts>> result;
  for (const PodFacts& pod : pods)
    if (pod.active()) result[pod.node].push_back(pod);
  for (auto& [node, list] : result) std::sort(list.begin(), list.end(), older);
  return result;
}

}  // namespace

DaemonSetPlan plan_daemonset(const DaemonSetSpec& spec, const std::map<std::string, Placement>& nodes,
                             const std::vector<PodFacts>& pods, SystemClock::time_point now) {
  DaemonSetPlan plan;
  for (const PodFacts& pod : pods) {
    // A failed daemon is deleted and made again; a pod on a node that is gone cannot run.
    if (pod.terminating) continue;
    if (pod.terminal() || !nodes.contains(pod.node)) plan.remove.push_back(pod);
  }
  const auto on_nodes = by_node(pods);
  std::vector<std::pair<std::string, PodFacts>> kept;  // the pod each node that should run one keeps
  long desired = 0;
  long unavailable = 0;
  for (const auto& [node, placement] : nodes) {
    auto it = on_nodes.find(node);
    const std::vector<PodFacts> none;
    const std::vector<PodFacts>& here = it == on_nodes.end() ? none : it->second;
    if (placement.should_run) {
      ++desired;
      if (here.empty()) {
        plan.create_on.push_back(node);
        ++unavailable;
        continue;
      }
      plan.remove.insert(plan.remove.end(), here.begin() + 1, here.end());
      kept.emplace_back(node, here.front());
      if (!here.front().available(spec.min_ready, now)) ++unavailable;
      if (auto at = here.front().available_at(spec.min_ready, now);
          at && (!plan.recheck || *at < *plan.recheck))
        plan.recheck = at;
    } else if (!placement.may_continue) {
      plan.remove.insert(plan.remove.end(), here.begin(), here.end());
    }
  }
  if (spec.on_delete) return plan;
  std::string error;
  long budget =
      std::max(1L, scaled_value(spec.max_unavailable, desired, true, error).value_or(1)) - unavailable;
  for (const auto& [node, pod] : kept) {
    if (pod.hash == spec.hash) continue;
    if (!pod.available(spec.min_ready, now)) {
      plan.remove.push_back(pod);  // down already: replacing it costs nothing
    } else if (budget > 0) {
      plan.remove.push_back(pod);
      --budget;
    }
  }
  return plan;
}

Json daemonset_status(const Json& daemonset, const DaemonSetSpec& spec,
                      const std::map<std::string, Placement>& nodes, const std::vector<PodFacts>& pods,
                      SystemClock::time_point now) {
  const auto on_nodes = by_node(pods);
  long desired = 0;
  long current = 0;
  long misscheduled = 0;
  long ready = 0;
  long available = 0;
  long updated = 0;
  for (const auto& [node, placement] : nodes) {
    auto it = on_nodes.find(node);
    const bool scheduled = it != on_nodes.end();
    if (!placement.should_run) {
      if (scheduled) ++misscheduled;
      continue;
    }
    ++desired;
    if (!scheduled) continue;
    ++current;
    const auto& here = it->second;
    if (std::any_of(here.begin(), here.end(), [](const PodFacts& p) { return p.ready; })) ++ready;
    if (std::any_of(here.begin(), here.end(),
                    [&](const PodFacts& p) { return p.available(spec.min_ready, now); }))
      ++available;
    if (std::any_of(here.begin(), here.end(), [&](const PodFacts& p) { return p.hash == spec.hash; }))
      ++updated;
  }
  const Json generation = object_member(daemonset, "metadata").value("generation", Json(1));
  return {{"observedGeneration", generation.is_number_integer() ? generation : Json(1)},
          {"desiredNumberScheduled", desired},
          {"currentNumberScheduled", current},
          {"numberMisscheduled", misscheduled},
          {"numberReady", ready},
          {"numberAvailable", available},
          {"numberUnavailable", desired - available},
          {"updatedNumberScheduled", updated}};
}

}  // namespace riasc::workloads

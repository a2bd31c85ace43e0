#include "riasc/workloads/deployment.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

#include "riasc/core/field_error.hpp"
#include "riasc/core/rfc3339.hpp"

namespace riasc::workloads {

namespace {

// A non-negative integer member: `fallback` when absent or null, nullopt when anything else.
std::optional<long> count_member(const Json& object, std::string_view key, long fallback) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_number_integer() || it->get<std::int64_t>() < 0 || it->get<std::int64_t>() > 2147483647)
    return std::nullopt;
  return static_cast<long>(it->get<std::int64_t>());
}

std::string must_be_count(std::string_view path) {
  return fmt::format("{}: must be an integer greater than or equal to 0", path);
}

}  // namespace

std::variant<DeploymentSpec, std::string> read_deployment(const Json& deployment) {
  DeploymentSpec result;
  result.name = string_member(object_member(deployment, "metadata"), "name");
  if (!deployment.is_object() || !deployment.contains("spec") || !deployment["spec"].is_object())
    return std::string("spec: Required value");
  const Json& spec = deployment["spec"];

  auto replicas = count_member(spec, "replicas", 1);
  if (!replicas) return must_be_count("spec.replicas");
  result.replicas = *replicas;

  if (!spec.contains("selector") || !spec["selector"].is_object())
    return std::string("spec.selector: Required value");
  FieldErrors errors;
  result.selector =
      LabelSelector::from_json(spec["selector"], FieldPath::parse_dotted("spec.selector"), errors);
  if (!errors.empty()) return errors.front().to_string();
  if (result.selector.empty())
    return std::string("spec.selector: Invalid value: {}: empty selector is invalid for deployment");

  if (!spec.contains("template") || !spec["template"].is_object())
    return std::string("spec.template: Required value");
  result.pod_template = spec["template"];
  if (!result.selector.matches(object_member(object_member(result.pod_template, "metadata"), "labels")))
    return std::string(
        "spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`");
  if (!object_member(result.pod_template, "spec").contains("containers"))
    return std::string("spec.template.spec.containers: Required value");
  result.hash = template_hash(result.pod_template);

  auto min_ready = count_member(spec, "minReadySeconds", 0);
  if (!min_ready) return must_be_count("spec.minReadySeconds");
  result.min_ready = std::chrono::seconds(*min_ready);
  auto deadline = count_member(spec, "progressDeadlineSeconds", 600);
  if (!deadline || *deadline == 0) return std::string("spec.progressDeadlineSeconds: must be greater than 0");
  if (*deadline <= *min_ready)
    return std::string("spec.progressDeadlineSeconds: must be greater than minReadySeconds");
  result.progress_deadline = std::chrono::seconds(*deadline);
  if (spec.contains("paused") && !spec["paused"].is_null()) {
    if (!spec["paused"].is_boolean()) return std::string("spec.paused: must be a boolean");
    result.paused = spec["paused"].get<bool>();
  }

  const Json& strategy = object_member(spec, "strategy");
  const std::string type = string_member(strategy, "type", "RollingUpdate");
  if (type == "Recreate") {
    result.recreate = true;
    return result;
  }
  if (type != "RollingUpdate")
    return fmt::format(
        "spec.strategy.type: Unsupported value: \"{}\": supported values: \"Recreate\", \"RollingUpdate\"",
        type);
  const Json& rolling = object_member(strategy, "rollingUpdate");
  std::string error;
  auto surge = scaled_value(rolling.value("maxSurge", Json("25%")), result.replicas, true, error);
  if (!surge) return "spec.strategy.rollingUpdate.maxSurge: " + error;
  auto unavailable =
      scaled_value(rolling.value("maxUnavailable", Json("25%")), result.replicas, false, error);
  if (!unavailable) return "spec.strategy.rollingUpdate.maxUnavailable: " + error;
  // Kubernetes' fenceposts: a rollout must be able to move, and cannot take away more than all.
  if (*surge == 0 && *unavailable == 0) unavailable = 1;
  result.max_surge = *surge;
  result.max_unavailable = std::min(*unavailable, result.replicas);
  return result;
}

DeploymentPlan plan_deployment(const DeploymentSpec& spec, const std::vector<PodFacts>& pods,
                               SystemClock::time_point now, long burst) {
  DeploymentPlan plan;
  std::vector<PodFacts> current;  // active, this template
  std::vector<PodFacts> old;      // active, another template
  bool old_terminating = false;
  for (const PodFacts& pod : pods) {
    if (pod.terminal() && !pod.terminating) {
      plan.remove.push_back(pod);  // replaced like any missing pod; nothing runs in it any more
    } else if (pod.active()) {
      (pod.hash == spec.hash ? current : old).push_back(pod);
    } else if (pod.terminating && pod.hash != spec.hash) {
      old_terminating = true;
    }
    if (pod.active()) {
      if (auto at = pod.available_at(spec.min_ready, now); at && (!plan.recheck || *at < *plan.recheck))
        plan.recheck = at;
    }
  }
  if (spec.paused) return plan;
  sort_for_removal(current);
  sort_for_removal(old);
  auto available = [&](const PodFacts& pod) { return pod.available(spec.min_ready, now); };
  const long current_count = static_cast<long>(current.size());
  const long old_count = static_cast<long>(old.size());

  if (current_count > spec.replicas) {
    plan.remove.insert(plan.remove.end(), current.begin(), current.begin() + (current_count - spec.replicas));
  }
  if (spec.recreate) {
    // Every old pod goes, and is gone (not only terminating), before a new one starts.
    if (!old.empty()) {
      plan.remove.insert(plan.remove.end(), old.begin(), old.end());
      return plan;
    }
    if (old_terminating) return plan;
    plan.create = std::clamp(spec.replicas - current_count, 0L, burst);
    return plan;
  }

  // Rolling update, as Kubernetes' deployment controller does it with ReplicaSets: first scale the
  // new template up within maxSurge, then the old ones down while minAvailable holds.
  if (current_count < spec.replicas) {
    const long room = spec.replicas + spec.max_surge - (current_count + old_count);
    plan.create = std::clamp(std::min(spec.replicas - current_count, room), 0L, burst);
  }
  if (old.empty()) return plan;
  const long min_available = std::max(0L, spec.replicas - spec.max_unavailable);
  const long all = current_count + old_count + plan.create;
  const long current_available = std::count_if(current.begin(), current.end(), available);
  const long old_available = std::count_if(old.begin(), old.end(), available);
  const long current_unavailable = current_count + plan.create - current_available;
  long may_remove = all - min_available - current_unavailable;
  // Old pods that are not available cost no availability: they go first.
  std::vector<PodFacts> old_ready;
  for (const PodFacts& pod : old) {
    if (available(pod)) {
      old_ready.push_back(pod);
    } else if (may_remove > 0) {
      plan.remove.push_back(pod);
      --may_remove;
    }
  }
  const long surplus = current_available + old_available - min_available;
  for (long i = 0; i < std::min<long>(surplus, static_cast<long>(old_ready.size())); ++i)
    plan.remove.push_back(old_ready[static_cast<std::size_t>(i)]);
  return plan;
}

Json deployment_status(const Json& deployment, const DeploymentSpec& spec, const std::vector<PodFacts>& pods,
                       const Json& old_status_in, SystemClock::time_point now) {
  static const Json kNone = Json::object();
  const Json& old_status = old_status_in.is_object() ? old_status_in : kNone;
  long replicas = 0;
  long updated = 0;
  long ready = 0;
  long available = 0;
  for (const PodFacts& pod : pods) {
    if (!pod.active()) continue;
    ++replicas;
    if (pod.hash == spec.hash) ++updated;
    if (pod.ready) ++ready;
    if (pod.available(spec.min_ready, now)) ++available;
  }
  const Json& metadata = object_member(deployment, "metadata");
  const Json generation = metadata.value("generation", Json(1));
  Json status = Json::object();
  status["observedGeneration"] = generation.is_number_integer() ? generation : Json(1);
  status["replicas"] = replicas;
  status["updatedReplicas"] = updated;
  status["readyReplicas"] = ready;
  status["availableReplicas"] = available;
  status["unavailableReplicas"] = std::max(0L, std::max(replicas, spec.replicas) - available);
  Json conditions = array_member(old_status, "conditions");

  const long min_available = std::max(0L, spec.replicas - (spec.recreate ? 0 : spec.max_unavailable));
  if (available >= min_available) {
    set_condition(conditions, "Available", "True", "MinimumReplicasAvailable",
                  "Deployment has minimum availability.", now, true);
  } else {
    set_condition(conditions, "Available", "False", "MinimumReplicasUnavailable",
                  "Deployment does not have minimum availability.", now, true);
  }

  const std::string replica_set = fmt::format("{}-{}", spec.name, spec.hash);
  const bool complete = updated == spec.replicas && replicas == spec.replicas && available == spec.replicas;
  // Progress: anything counted changed, or a new generation. Each resets the deadline.
  bool progressed = old_status.value("observedGeneration", Json()) != status["observedGeneration"];
  for (const char* field : {"replicas", "updatedReplicas", "readyReplicas", "availableReplicas"})
    progressed = progressed || old_status.value(field, Json(0)) != status[field];
  const Json previous = find_condition(conditions, "Progressing");
  if (spec.paused) {
    set_condition(conditions, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now,
                  true);
  } else if (complete) {
    set_condition(conditions, "Progressing", "True", "NewReplicaSetAvailable",
                  fmt::format("ReplicaSet \"{}\" has successfully progressed.", replica_set), now, true);
  } else if (progressed || previous.is_null() || string_member(previous, "reason") == "DeploymentPaused" ||
             string_member(previous, "reason") == "NewReplicaSetAvailable") {
    set_condition(conditions, "Progressing", "True", "ReplicaSetUpdated",
                  fmt::format("ReplicaSet \"{}\" is progressing.", replica_set), now, true);
    for (Json& condition : conditions)
      if (string_member(condition, "type") == "Progressing") condition["lastUpdateTime"] = format_time(now);
  } else if (auto deadline = progress_deadline_at(spec, Json{{"conditions", conditions}});
             deadline && *deadline <= now) {
    set_condition(conditions, "Progressing", "False", "ProgressDeadlineExceeded",
                  fmt::format("ReplicaSet \"{}\" has timed out progressing.", replica_set), now, true);
  }
  status["conditions"] = std::move(conditions);
  if (old_status.contains("collisionCount")) status["collisionCount"] = old_status["collisionCount"];
  return status;
}

std::optional<SystemClock::time_point> progress_deadline_at(const DeploymentSpec& spec, const Json& status) {
  const Json progressing = find_condition(array_member(status, "conditions"), "Progressing");
  if (string_member(progressing, "reason") != "ReplicaSetUpdated") return std::nullopt;
  auto since = parse_rfc3339(string_member(progressing, "lastUpdateTime"));
  if (!since) return std::nullopt;
  return *since + spec.progress_deadline;
}

}  // namespace riasc::workloads

#include "riasc/tenancy/project_operator.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "riasc/client/errors.hpp"
#include "riasc/client/informer.hpp"
#include "riasc/core/rfc3339.hpp"
#include "riasc/tenancy/rules.hpp"

namespace riasc::tenancy {

namespace {

const client::GroupVersionResource kNamespaces{"", "v1", "namespaces"};
const client::GroupVersionResource kNodes{"", "v1", "nodes"};
const client::GroupVersionResource kPods{"", "v1", "pods"};
const client::GroupVersionResource kRoleBindings{"rbac.authorization.k8s.io", "v1", "rolebindings"};

// The value of the node annotation that marks a project label as the operator's own.
constexpr const char* kLabelledByOperator = "labelled by the Project operator";

Json labels_of(const Json& object) {
  const Json metadata = object.value("metadata", Json::object());
  return metadata.value("labels", Json::object());
}
Json annotations_of(const Json& object) {
  const Json metadata = object.value("metadata", Json::object());
  return metadata.value("annotations", Json::object());
}
std::string name_of(const Json& object) {
  return string_member(object.value("metadata", Json::object()), "name");
}
bool being_deleted(const Json& object) {
  const Json metadata = object.value("metadata", Json::object());
  return metadata.contains("deletionTimestamp") && !metadata["deletionTimestamp"].is_null();
}

std::string managed_selector(const std::string& project) {
  return fmt::format("{}={},{}={}", kProjectLabel, project, kManagedByLabel, kManagedBy);
}

// What one pass over a project found; becomes its status.
struct Outcome {
  std::vector<std::string> users;          // bound
  std::vector<std::string> nodes;          // labelled
  std::vector<std::string> missing_nodes;  // not in the cluster
  std::string reason = "Ready";
  std::string message = "namespace, role bindings and node labels match the spec";
  bool ready = true;
  bool retry = false;  // a conflict someone else must resolve: look again later

  void fail(std::string why, std::string text, bool again) {
    if (ready) {  // the first problem names the condition; later ones add to the message
      reason = std::move(why);
      message = std::move(text);
    } else {
      message += "; " + text;
    }
    ready = false;
    retry = retry || again;
  }
};

}  // namespace

class ProjectOperator::Impl {
 public:
  Impl(const client::Client& api, ProjectOperatorOptions options)
      : client_(api.config()), options_(std::move(options)) {}
  ~Impl() { stop(); }

  void stop() {
    stop_node_watch();
    stop_admission_caches();
  }

  // Makes the cluster match the project's spec and writes its status. A project that cannot be
  // made Ready for a reason outside the operator's hands throws TemporaryError, so that the SDK
  // looks again (and reports it as an event) until someone resolves it.
  void converge(const std::string& project) {
    start_node_watch();
    pass(project);
  }

 private:
  // One pass over a project (converge without starting the node watch: the watch's own
  // callbacks call this, and must not wait for the watch's start, which waits for them).
  void pass(const std::string& project) {
    std::lock_guard lock(project_mutex(project));
    Json object;
    try {
      object = client_.resource(kProjects).get(project);
    } catch (const client::NotFound&) {
      forget(project);
      return;
    }
    if (being_deleted(object)) return;  // the delete handler's turn
    const Json spec_json = object.value("spec", Json::object());
    ProjectSpec spec;
    Outcome outcome;
    try {
      spec = read_project_spec(spec_json);
    } catch (const std::invalid_argument& error) {
      outcome.fail("InvalidSpec", error.what(), false);
      write_status(object, outcome);
      throw op::PermanentError(error.what());
    }
    remember(project, spec.nodes);
    if (ensure_namespace(project, outcome)) {
      ensure_bindings(project, spec, outcome);
      ensure_node_labels(project, spec, outcome);
    }
    write_status(object, outcome);
    if (outcome.retry) throw op::TemporaryError(outcome.message, options_.retry_delay);
  }

 public:
  // Removes what the operator made for the project: bindings, node labels, the namespace.
  void remove(const std::string& project) {
    std::lock_guard lock(project_mutex(project));
    forget(project);
    const op::Logger log(project, options_.log);
    Json ns;
    try {
      ns = client_.resource(kNamespaces).get(project);
    } catch (const client::NotFound&) {
      ns = nullptr;
    }
    const bool ours = !ns.is_null() && string_member(labels_of(ns), kProjectLabel) == project;
    // Bindings go first and explicitly: the users lose access now, not when the namespace's
    // contents are finally gone.
    if (ours) {
      client::ListOptions selector;
      selector.label_selector = managed_selector(project);
      for (const Json& binding : client_.resource(kRoleBindings, project).list(selector).items)
        remove_ignoring_absence(client_.resource(kRoleBindings, project), name_of(binding));
    }
    for (const Json& node : client_.resource(kNodes).list().items)
      if (annotations_of(node).contains(node_label(project))) unlabel(project, name_of(node));
    if (ours && !being_deleted(ns)) {
      remove_ignoring_absence(client_.resource(kNamespaces), project);
      log.info("deleted namespace {}", project);
    }
  }

  // The pod webhooks read Projects and pods from caches of their own, started with the operator on
  // every replica (webhooks serve on all of them, leader or not). Not from the API: a webhook that
  // calls the API server while that server waits for its answer ties up one of the server's
  // request threads, and a burst of pod creates then deadlocks the embedded server until the
  // webhook times out (docs/tenancy.md, "Admission").
  void start_admission_caches() {
    admission_projects_ = std::make_unique<client::Informer>(client_.resource(kProjects));
    admission_pods_ = std::make_unique<client::Informer>(client_.resource(kPods));
    admission_projects_->start();
    admission_pods_->start();
  }
  void stop_admission_caches() {
    if (admission_projects_) admission_projects_->stop();
    if (admission_pods_) admission_pods_->stop();
  }

  void mutate_pod(op::AdmissionContext& ctx) {
    const std::optional<Json> required = required_selector(ctx.namespace_name());
    if (!required) return;
    const Json pod_selector = ctx.spec().value("nodeSelector", Json::object());
    reject_conflicts(ctx.namespace_name(), pod_selector, *required);
    for (const auto& [key, value] : required->items())
      if (!pod_selector.contains(key)) ctx.patch()["spec"]["nodeSelector"][key] = value;
  }

  void validate_pod(op::AdmissionContext& ctx) {
    const std::string project = ctx.namespace_name();
    std::optional<Json> object = project_of(project);
    if (!object) return;
    const ProjectSpec spec = read_project_spec(object->value("spec", Json::object()));
    const Json required = project_node_selector(project, spec);
    const Json pod_selector = ctx.spec().value("nodeSelector", Json::object());
    reject_conflicts(project, pod_selector, required);
    for (const auto& [key, value] : required.items())
      if (!pod_selector.contains(key))
        throw op::AdmissionError(fmt::format(
            "pod {} in project {}: spec.nodeSelector lacks {}={} (the project's mutating webhook adds it; "
            "was it skipped?)",
            ctx.name(), project, key, value.dump()));
    const std::string node = string_member(ctx.spec(), "nodeName");
    if (!node.empty() && !spec.nodes.empty() && std::ranges::find(spec.nodes, node) == spec.nodes.end())
      throw op::AdmissionError(
          fmt::format("pod {} in project {}: spec.nodeName {} is not one of the project's "
                      "nodes ({})",
                      ctx.name(), project, node, fmt::join(spec.nodes, ", ")));
    if (spec.pod_limit) admit_within_limit(ctx, project, *spec.pod_limit);
  }

 private:
  // ---- namespace, bindings, node labels

  // False when the namespace is not the project's to use (reported in `outcome`).
  bool ensure_namespace(const std::string& project, Outcome& outcome) {
    const client::Resource namespaces = client_.resource(kNamespaces);
    Json ns;
    try {
      ns = namespaces.get(project);
    } catch (const client::NotFound&) {
      ns = nullptr;
    }
    if (ns.is_null()) {
      try {
        namespaces.create(
            {{"apiVersion", "v1"},
             {"kind", "Namespace"},
             {"metadata",
              {{"name", project}, {"labels", {{kProjectLabel, project}, {kManagedByLabel, kManagedBy}}}}}});
        op::Logger(project, options_.log).info("created namespace {}", project);
        return true;
      } catch (const client::AlreadyExists&) {
        ns = namespaces.get(project);  // made meanwhile: judge it as any existing one
      }
    }
    if (string_member(labels_of(ns), kProjectLabel) != project) {
      outcome.fail(
          "NamespaceConflict",
          fmt::format("namespace {} exists without the label {}={}; the operator does not take over a "
                      "namespace it did not make (label it so to hand it over, or delete it)",
                      project, kProjectLabel, project),
          true);
      return false;
    }
    if (being_deleted(ns)) {
      outcome.fail("NamespaceTerminating", fmt::format("namespace {} is being deleted", project), true);
      return false;
    }
    if (string_member(labels_of(ns), kManagedByLabel) != kManagedBy)  // adopted: say who manages it now
      namespaces.patch(project, client::PatchType::Merge,
                       {{"metadata", {{"labels", {{kManagedByLabel, kManagedBy}}}}}});
    return true;
  }

  void ensure_bindings(const std::string& project, const ProjectSpec& spec, Outcome& outcome) {
    const client::Resource bindings = client_.resource(kRoleBindings, project);
    client::ListOptions selector;
    selector.label_selector = managed_selector(project);
    std::map<std::string, Json> ours;  // by name
    for (Json& binding : bindings.list(selector).items) {
      std::string name = name_of(binding);  // not in the same expression as the move: g++ moves first
      ours[std::move(name)] = std::move(binding);
    }
    std::set<std::string> wanted;
    for (const std::string& user : spec.users) {
      const std::string name = binding_name(user);
      wanted.insert(name);
      auto found = ours.find(name);
      if (found != ours.end() && string_member(annotations_of(found->second), kUserAnnotation) == user &&
          found->second.value("roleRef", Json::object()).value("name", "") == "admin") {
        outcome.users.push_back(user);
        continue;
      }
      // roleRef cannot change: one of ours that is wrong is made again.
      if (found != ours.end()) remove_ignoring_absence(bindings, name);
      try {
        bindings.create(admin_binding(project, name, user));
        op::Logger(project, options_.log).info("bound user {} as admin ({})", user, name);
        outcome.users.push_back(user);
      } catch (const client::AlreadyExists&) {
        outcome.fail("BindingConflict",
                     fmt::format("RoleBinding {}/{} for user {} exists and was not made by the operator",
                                 project, name, user),
                     true);
      }
    }
    for (const auto& [name, binding] : ours)
      if (!wanted.contains(name)) {
        remove_ignoring_absence(bindings, name);
        op::Logger(project, options_.log)
            .info("unbound user {} ({})", string_member(annotations_of(binding), kUserAnnotation), name);
      }
  }

  static Json admin_binding(const std::string& project, const std::string& name, const std::string& user) {
    return {
        {"apiVersion", "rbac.authorization.k8s.io/v1"},
        {"kind", "RoleBinding"},
        {"metadata",
         {{"name", name},
          {"namespace", project},
          {"labels", {{kProjectLabel, project}, {kManagedByLabel, kManagedBy}}},
          {"annotations", {{kUserAnnotation, user}}}}},
        {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", "admin"}}},
        {"subjects",
         Json::array({{{"kind", "User"}, {"apiGroup", "rbac.authorization.k8s.io"}, {"name", user}}})}};
  }

  void ensure_node_labels(const std::string& project, const ProjectSpec& spec, Outcome& outcome) {
    const std::string label = node_label(project);
    std::map<std::string, Json> nodes;
    for (Json& node : client_.resource(kNodes).list().items) {
      std::string name = name_of(node);
      nodes[std::move(name)] = std::move(node);
    }
    for (const std::string& name : spec.nodes) {
      auto found = nodes.find(name);
      if (found == nodes.end()) {
        outcome.missing_nodes.push_back(name);
        continue;
      }
      // A label someone else set serves as well; it stays theirs (no annotation), so the
      // operator never removes it.
      if (!labels_of(found->second).contains(label)) {
        client_.resource(kNodes).patch(
            name, client::PatchType::Merge,
            {{"metadata", {{"labels", {{label, ""}}}, {"annotations", {{label, kLabelledByOperator}}}}}});
        op::Logger(project, options_.log).info("labelled node {}", name);
      }
      outcome.nodes.push_back(name);
    }
    for (const auto& [name, node] : nodes)
      if (annotations_of(node).contains(label) && std::ranges::find(spec.nodes, name) == spec.nodes.end())
        unlabel(project, name);
    if (!outcome.missing_nodes.empty())
      outcome.fail("NodeNotFound",
                   fmt::format("node(s) {} not found; they are labelled when they join",
                               fmt::join(outcome.missing_nodes, ", ")),
                   false);
  }

  void unlabel(const std::string& project, const std::string& node) {
    const std::string label = node_label(project);
    try {
      client_.resource(kNodes).patch(
          node, client::PatchType::Merge,
          {{"metadata", {{"labels", {{label, nullptr}}}, {"annotations", {{label, nullptr}}}}}});
      op::Logger(project, options_.log).info("unlabelled node {}", node);
    } catch (const client::NotFound&) {
    }
  }

  static void remove_ignoring_absence(const client::Resource& resource, const std::string& name) {
    try {
      resource.remove(name);
    } catch (const client::NotFound&) {
    }
  }

  // ---- status

  void write_status(const Json& project, const Outcome& outcome) {
    const Json metadata = project.value("metadata", Json::object());
    const Json old = project.value("status", Json::object());
    const std::int64_t generation = metadata.value("generation", std::int64_t{0});
    Json ready = {
        {"type", "Ready"},
        {"status", outcome.ready ? "True" : "False"},
        {"reason", outcome.reason},
        {"message", outcome.message},
        {"lastTransitionTime",
         format_rfc3339(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()))},
        {"observedGeneration", generation}};
    Json conditions = Json::array();
    for (const Json& condition : old.value("conditions", Json::array())) {
      if (string_member(condition, "type") != "Ready") {
        conditions.push_back(condition);
      } else if (string_member(condition, "status") == ready["status"]) {
        ready["lastTransitionTime"] = condition.value("lastTransitionTime", ready["lastTransitionTime"]);
      }
    }
    conditions.push_back(std::move(ready));
    const Json status = {
        {"namespace", name_of(project)}, {"observedGeneration", generation},      {"users", outcome.users},
        {"nodes", outcome.nodes},        {"missingNodes", outcome.missing_nodes}, {"conditions", conditions}};
    bool same = true;
    for (const auto& [key, value] : status.items())
      if (!old.contains(key) || old[key] != value) same = false;
    if (same) return;  // a pass that changes nothing writes nothing
    client::PatchOptions options;
    options.subresource = "status";
    client_.resource(kProjects).patch(name_of(project), client::PatchType::Merge, {{"status", status}},
                                      options);
  }

  // ---- the node watch: a node that joins after its project gets its label at once

  void remember(const std::string& project, const std::vector<std::string>& nodes) {
    std::lock_guard lock(mutex_);
    project_nodes_[project] = std::set<std::string>(nodes.begin(), nodes.end());
  }
  void forget(const std::string& project) {
    std::lock_guard lock(mutex_);
    project_nodes_.erase(project);
  }
  std::vector<std::string> projects_listing(const std::string& node) {
    std::lock_guard lock(mutex_);
    std::vector<std::string> projects;
    for (const auto& [project, nodes] : project_nodes_)
      if (nodes.contains(node)) projects.push_back(project);
    return projects;
  }

  // Started by the first handler call, not at construction: handlers run only on the leader, and
  // only the leader may label nodes.
  void start_node_watch() {
    std::call_once(node_watch_started_, [this] {
      auto informer = std::make_unique<client::Informer>(client_.resource(kNodes));
      informer->on_add([this](const Json& node) { node_changed(node, false); });
      informer->on_update([this](const Json&, const Json& node) { node_changed(node, false); });
      informer->on_delete([this](const Json& node) { node_changed(node, true); });
      informer->start();
      std::lock_guard lock(mutex_);
      node_watch_ = std::move(informer);
    });
  }
  void stop_node_watch() {
    std::unique_ptr<client::Informer> informer;
    {
      std::lock_guard lock(mutex_);
      informer = std::move(node_watch_);
    }
    if (informer) informer->stop();
  }

  // On the informer's thread: cheap unless a project lists the node and its label or status is
  // out of date.
  void node_changed(const Json& node, bool deleted) {
    const std::string name = name_of(node);
    for (const std::string& project : projects_listing(name)) {
      if (!deleted && labels_of(node).contains(node_label(project))) continue;
      try {
        pass(project);
      } catch (const op::TemporaryError&) {
        // Reported in the status; the project's own retry takes it up again.
      } catch (const std::exception& error) {
        op::Logger(project, options_.log).error("node {} changed: {}", name, error.what());
      }
    }
  }

  std::mutex& project_mutex(const std::string& project) {
    std::lock_guard lock(mutex_);
    auto& slot = project_mutexes_[project];
    if (!slot) slot = std::make_unique<std::mutex>();
    return *slot;
  }

  // ---- admission

  std::optional<Json> project_of(const std::string& namespace_name) {
    // Until both caches hold their first list, an answer could let a pod escape its project.
    constexpr auto kSyncWait = std::chrono::seconds(5);
    if (!admission_projects_->wait_for_sync(kSyncWait) || !admission_pods_->wait_for_sync(kSyncWait))
      throw op::AdmissionError("the Project operator has not read the Projects and pods yet; try again", 503);
    std::optional<Json> project = admission_projects_->store().get(namespace_name);
    // None: a namespace labelled by hand, no project to enforce. One being deleted: its namespace
    // goes with it.
    if (!project || being_deleted(*project)) return std::nullopt;
    return project;
  }

  std::optional<Json> required_selector(const std::string& namespace_name) {
    std::optional<Json> project = project_of(namespace_name);
    if (!project) return std::nullopt;
    return project_node_selector(namespace_name, read_project_spec(project->value("spec", Json::object())));
  }

  static void reject_conflicts(const std::string& project, const Json& pod_selector, const Json& required) {
    const std::vector<std::string> conflicts = selector_conflicts(pod_selector, required);
    if (!conflicts.empty())
      throw op::AdmissionError(
          fmt::format("conflicting nodeSelector for project {}: {}", project, fmt::join(conflicts, "; ")));
  }

  // Counts the namespace's live pods in the cache plus the pods this process admitted that the
  // cache does not hold yet, under one lock per namespace: concurrent creates through this replica
  // cannot overshoot the limit (docs/tenancy.md says what several replicas give).
  void admit_within_limit(op::AdmissionContext& ctx, const std::string& project, std::int64_t limit) {
    std::mutex& lock_of_namespace = limit_mutex(project);
    std::lock_guard lock(lock_of_namespace);
    const auto now = std::chrono::steady_clock::now();
    std::set<std::string> live;
    for (const Json& pod : admission_pods_->store().by_index(client::Store::kNamespaceIndex, project))
      if (counts_against_limit(pod)) live.insert(name_of(pod));
    std::map<std::string, std::chrono::steady_clock::time_point>& held = held_[project];
    std::erase_if(held, [&](const auto& entry) {
      return live.contains(entry.first) || now - entry.second > options_.admission_hold;
    });
    // A pod is named by now (the API server resolves generateName before validating webhooks).
    const std::string name = ctx.name().empty() ? string_member(ctx.request(), "uid") : ctx.name();
    const auto count = static_cast<std::int64_t>(live.size() + held.size());
    if (count + 1 > limit)
      throw op::AdmissionError(fmt::format("pod {} would exceed spec.limits.pods of project {}: {} of {} "
                                           "pods exist or are being created",
                                           name, project, count, limit),
                               403);
    if (!ctx.dry_run()) held[name] = now;
  }

  std::mutex& limit_mutex(const std::string& project) {
    std::lock_guard lock(mutex_);
    auto& slot = limit_mutexes_[project];
    if (!slot) slot = std::make_unique<std::mutex>();
    return *slot;
  }

  client::Client client_;
  ProjectOperatorOptions options_;
  std::mutex mutex_;  // guards the maps below and node_watch_, never held across API calls
  std::map<std::string, std::unique_ptr<std::mutex>> project_mutexes_;
  std::map<std::string, std::unique_ptr<std::mutex>> limit_mutexes_;
  std::map<std::string, std::map<std::string, std::chrono::steady_clock::time_point>> held_;
  std::map<std::string, std::set<std::string>> project_nodes_;
  std::once_flag node_watch_started_;
  std::unique_ptr<client::Informer> node_watch_;
  std::unique_ptr<client::Informer> admission_projects_;
  std::unique_ptr<client::Informer> admission_pods_;
};

op::OperatorOptions ProjectOperator::operator_options(op::OperatorOptions base) {
  base.name = "project";
  return base;
}

ProjectOperator::ProjectOperator(op::Operator& operator_, const client::Client& api,
                                 ProjectOperatorOptions options)
    : impl_(std::make_shared<Impl>(api, std::move(options))) {
  Impl* impl = impl_.get();
  impl->start_admission_caches();
  auto converge = [impl](op::Context& ctx) { impl->converge(ctx.name()); };
  // One level-triggered pass for every reason: each reads the project afresh and compares the
  // whole cluster state with it, so a re-run (restart, resume, retry) is harmless.
  operator_.on_create(kProjects, converge, {.id = "converge"});
  operator_.on_update(kProjects, converge, {.id = "converge-update"});
  operator_.on_resume(kProjects, converge, {.id = "converge-resume"});
  operator_.on_delete(kProjects, [impl](op::Context& ctx) { impl->remove(ctx.name()); }, {.id = "cleanup"});

  // Only namespaces of projects are sent here; a webhook that cannot be reached rejects their pods
  // (failurePolicy Fail) rather than letting them run on any node.
  const Json project_namespaces = {
      {"matchExpressions", Json::array({{{"key", kProjectLabel}, {"operator", "Exists"}}})}};
  operator_.on_mutate(
      kPods, [impl](op::AdmissionContext& ctx) { impl->mutate_pod(ctx); },
      {.id = "pod-node-selector", .operations = {"CREATE"}, .namespace_selector = project_namespaces});
  operator_.on_validate(kPods, [impl](op::AdmissionContext& ctx) { impl->validate_pod(ctx); },
                        {.id = "pod-placement",
                         .operations = {"CREATE"},
                         .side_effects = true,  // the limit's hold on admitted pods; skipped on dry runs
                         .namespace_selector = project_namespaces});
}

ProjectOperator::~ProjectOperator() = default;

void ProjectOperator::stop() { impl_->stop(); }

}  // namespace riasc::tenancy

#include "riasc/workloads/controllers.hpp"

#include <fmt/format.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "riasc/client/errors.hpp"
#include "riasc/client/work_queue.hpp"
#include "riasc/operator/events.hpp"
#include "riasc/workloads/daemonset.hpp"
#include "riasc/workloads/deployment.hpp"

namespace riasc::workloads {

namespace {

using namespace std::chrono_literals;

const client::GroupVersionResource kDeployments{"apps", "v1", "deployments"};
const client::GroupVersionResource kDaemonSets{"apps", "v1", "daemonsets"};
const client::GroupVersionResource kPods{"", "v1", "pods"};
const client::GroupVersionResource kNodes{"", "v1", "nodes"};

constexpr std::string_view kDeployment = "Deployment";
constexpr std::string_view kDaemonSet = "DaemonSet";
constexpr const char* kByController = "controller-uid";

// Queue keys name the kind, so one queue and one set of workers serve both controllers.
std::string queue_key(std::string_view kind, const std::string& object_key) {
  return fmt::format("{}:{}", kind, object_key);
}

// Pods created or deleted by a reconcile that the cache does not show yet. Until it does, the
// owner's next reconcile would count wrong (create the same pods again, or delete more), so it
// only writes status: client-go's ControllerExpectations, by pod name.
class Expectations {
 public:
  void expect(const std::string& key, std::set<std::string> adds, std::set<std::string> deletes) {
    if (adds.empty() && deletes.empty()) return;
    std::lock_guard lock(mutex_);
    Pending& pending = pending_[key];
    pending.adds.merge(adds);
    pending.deletes.merge(deletes);
    pending.since = std::chrono::steady_clock::now();
  }
  // True when every expected change is in `pods` (the owner's pods in the cache), or they are
  // older than `timeout`.
  bool settled(const std::string& key, const std::vector<PodFacts>& pods, std::chrono::milliseconds timeout) {
    std::lock_guard lock(mutex_);
    auto it = pending_.find(key);
    if (it == pending_.end()) return true;
    Pending& pending = it->second;
    std::map<std::string, const PodFacts*> by_name;
    for (const PodFacts& pod : pods) by_name[pod.name] = &pod;
    std::erase_if(pending.adds, [&](const std::string& name) { return by_name.contains(name); });
    std::erase_if(pending.deletes, [&](const std::string& name) {
      auto found = by_name.find(name);
      return found == by_name.end() || found->second->terminating;
    });
    if ((pending.adds.empty() && pending.deletes.empty()) ||
        std::chrono::steady_clock::now() - pending.since > timeout) {
      pending_.erase(it);
      return true;
    }
    return false;
  }
  void forget(const std::string& key) {
    std::lock_guard lock(mutex_);
    pending_.erase(key);
  }

 private:
  struct Pending {
    std::set<std::string> adds;
    std::set<std::string> deletes;
    std::chrono::steady_clock::time_point since;
  };
  std::mutex mutex_;
  std::map<std::string, Pending> pending_;
};

// Whether the members a status write sets differ from what is stored.
bool differs(const Json& stored, const Json& wanted) {
  if (!stored.is_object()) return true;
  for (const auto& [key, value] : wanted.items()) {
    auto it = stored.find(key);
    if (it == stored.end() || *it != value) return true;
  }
  return false;
}

}  // namespace

class Controllers::Impl {
 public:
  Impl(client::Client& api, ControllerOptions options) : api_(api), options_(std::move(options)) {}

  void start();
  void stop();
  [[nodiscard]] bool healthy() const {
    return running_ && deployments_ && deployments_->has_synced() && daemonsets_->has_synced() &&
           pods_->has_synced() && nodes_->has_synced();
  }
  std::atomic<std::uint64_t> reconciles_{0};

 private:
  void reconcile(const std::string& key);
  void reconcile_deployment(const std::string& key, const std::string& object_key);
  void reconcile_daemonset(const std::string& key, const std::string& object_key);
  void pod_changed(const Json& pod);
  void enqueue_daemonsets();
  // The pods whose controller is `owner` (by uid), as facts with the owner kind's hash label.
  std::vector<PodFacts> owned_pods(const Json& owner, const LabelSelector& selector,
                                   std::string_view hash_label, std::vector<PodFacts>& all);
  // Creates pods from `make(i)`, deletes `remove`; records what the cache must show next.
  void act(const std::string& key, const Json& owner, long creates, const std::function<Json(long)>& make,
           const std::vector<PodFacts>& remove);
  void write_status(const client::Resource& resource, const Json& object, const Json& status);
  // A spec kube-apiserver would have refused: reported in a condition and an event, not acted on.
  void report_invalid(const client::Resource& resource, const Json& object, const std::string& message);
  void event(const Json& object, std::string_view type, std::string_view reason, std::string message);
  [[nodiscard]] op::Logger logger(const std::string& object) const { return {object, options_.log}; }
  [[nodiscard]] client::Resource resource(const client::GroupVersionResource& gvr, const Json& object) const {
    return api_.resource(gvr, string_member(object_member(object, "metadata"), "namespace"));
  }

  client::Client& api_;
  ControllerOptions options_;
  std::unique_ptr<client::Informer> deployments_;
  std::unique_ptr<client::Informer> daemonsets_;
  std::unique_ptr<client::Informer> pods_;
  std::unique_ptr<client::Informer> nodes_;
  client::WorkQueue queue_{client::WorkQueueOptions{.base_delay = 50ms, .max_delay = 5min}};
  Expectations expectations_;
  std::thread workers_;
  std::atomic<bool> running_{false};
  bool started_ = false;
};

void Controllers::Impl::start() {
  if (started_) return;
  started_ = true;
  const std::string& ns = options_.namespace_name;
  deployments_ = std::make_unique<client::Informer>(api_.resource(kDeployments, ns), options_.informer);
  daemonsets_ = std::make_unique<client::Informer>(api_.resource(kDaemonSets, ns), options_.informer);
  pods_ = std::make_unique<client::Informer>(api_.resource(kPods, ns), options_.informer);
  nodes_ = std::make_unique<client::Informer>(api_.resource(kNodes), options_.informer);

  auto own = [this](std::string_view kind) {
    return [this, kind](const Json& object) { queue_.add(queue_key(kind, client::Store::key_of(object))); };
  };
  deployments_->on_add(own(kDeployment));
  deployments_->on_update([enqueue = own(kDeployment)](const Json&, const Json& object) { enqueue(object); });
  deployments_->on_delete([this](const Json& object) {
    expectations_.forget(queue_key(kDeployment, client::Store::key_of(object)));
  });
  daemonsets_->on_add(own(kDaemonSet));
  daemonsets_->on_update([enqueue = own(kDaemonSet)](const Json&, const Json& object) { enqueue(object); });
  daemonsets_->on_delete([this](const Json& object) {
    expectations_.forget(queue_key(kDaemonSet, client::Store::key_of(object)));
  });
  pods_->store().add_index(kByController, [](const Json& pod) {
    auto owner = controller_of(pod);
    return owner ? std::vector<std::string>{owner->uid} : std::vector<std::string>{};
  });
  pods_->on_add([this](const Json& pod) { pod_changed(pod); });
  pods_->on_update([this](const Json& old_pod, const Json& pod) {
    pod_changed(pod);
    // A pod whose controller changed (released, adopted elsewhere) is news to its old owner too.
    auto before = controller_of(old_pod);
    auto after = controller_of(pod);
    if (before && (!after || after->uid != before->uid)) pod_changed(old_pod);
  });
  pods_->on_delete([this](const Json& pod) { pod_changed(pod); });
  nodes_->on_add([this](const Json&) { enqueue_daemonsets(); });
  nodes_->on_update([this](const Json& old_node, const Json& node) {
    // Heartbeats and status change often and decide nothing here.
    if (object_member(object_member(old_node, "metadata"), "labels") !=
            object_member(object_member(node, "metadata"), "labels") ||
        object_member(old_node, "spec") != object_member(node, "spec"))
      enqueue_daemonsets();
  });
  nodes_->on_delete([this](const Json&) { enqueue_daemonsets(); });

  for (auto* informer : {nodes_.get(), pods_.get(), deployments_.get(), daemonsets_.get()}) informer->start();
  for (auto* informer : {nodes_.get(), pods_.get(), deployments_.get(), daemonsets_.get()}) {
    if (!informer->wait_for_sync(options_.sync_timeout)) {
      stop();
      throw std::runtime_error("workload controllers: the caches did not fill in time");
    }
  }
  running_ = true;
  workers_ = std::thread([this] {
    queue_.run(options_.workers, [this](const std::string& key) { reconcile(key); });
    running_ = false;
  });
}

void Controllers::Impl::stop() {
  queue_.shut_down();
  if (workers_.joinable()) workers_.join();
  for (auto* informer : {deployments_.get(), daemonsets_.get(), pods_.get(), nodes_.get()})
    if (informer != nullptr) informer->stop();
  running_ = false;
}

void Controllers::Impl::pod_changed(const Json& pod) {
  auto owner = controller_of(pod);
  if (!owner || !owner->api_version.starts_with("apps/")) return;
  if (owner->kind != kDeployment && owner->kind != kDaemonSet) return;
  const std::string ns = string_member(object_member(pod, "metadata"), "namespace");
  queue_.add(queue_key(owner->kind, ns.empty() ? owner->name : ns + "/" + owner->name));
}

void Controllers::Impl::enqueue_daemonsets() {
  for (const std::string& key : daemonsets_->store().keys()) queue_.add(queue_key(kDaemonSet, key));
}

void Controllers::Impl::reconcile(const std::string& key) {
  const auto colon = key.find(':');
  const std::string kind = key.substr(0, colon);
  const std::string object_key = key.substr(colon + 1);
  try {
    if (kind == kDeployment) reconcile_deployment(key, object_key);
    if (kind == kDaemonSet) reconcile_daemonset(key, object_key);
    ++reconciles_;
  } catch (const std::exception& error) {
    ++reconciles_;
    logger(object_key).warning("{} reconcile failed, will retry: {}", kind, error.what());
    throw;  // the work queue retries it with backoff
  }
}

std::vector<PodFacts> Controllers::Impl::owned_pods(const Json& owner, const LabelSelector& selector,
                                                    std::string_view hash_label, std::vector<PodFacts>& all) {
  const Json& metadata = object_member(owner, "metadata");
  const std::string ns = string_member(metadata, "namespace");
  std::vector<PodFacts> selected;
  for (const Json& pod : pods_->store().by_index(kByController, string_member(metadata, "uid"))) {
    if (string_member(object_member(pod, "metadata"), "namespace") != ns) continue;
    all.push_back(read_pod(pod, hash_label));
    // A pod relabelled out of the selector is no longer counted (Kubernetes would release it).
    if (selector.matches_object(pod)) selected.push_back(all.back());
  }
  return selected;
}

void Controllers::Impl::act(const std::string& key, const Json& owner, long creates,
                            const std::function<Json(long)>& make, const std::vector<PodFacts>& remove) {
  const op::Logger log = logger(client::Store::key_of(owner));
  const client::Resource pods = resource(kPods, owner);
  std::set<std::string> added;
  std::set<std::string> deleted;
  std::optional<std::string> failure;
  client::WriteOptions write;
  write.field_manager = options_.name;
  for (long i = 0; i < creates && !failure; ++i) {
    try {
      const Json created = pods.create(make(i), write);
      const std::string name = string_member(object_member(created, "metadata"), "name");
      added.insert(name);
      log.info("created pod {}", name);
      event(owner, "Normal", "SuccessfulCreate", fmt::format("Created pod: {}", name));
    } catch (const client::ApiError& error) {
      failure = error.what();
      event(owner, "Warning", "FailedCreate", fmt::format("Error creating: {}", error.what()));
    }
  }
  for (const PodFacts& pod : remove) {
    try {
      client::DeleteOptions only_this;
      only_this.precondition_uid = pod.uid;
      pods.remove(pod.name, only_this);
      log.info("deleted pod {}", pod.name);
      event(owner, "Normal", "SuccessfulDelete", fmt::format("Deleted pod: {}", pod.name));
    } catch (const client::NotFound&) {
    } catch (const client::Conflict&) {
      // Another incarnation by that name: not ours to delete.
    } catch (const client::ApiError& error) {
      if (!failure) failure = error.what();
      event(owner, "Warning", "FailedDelete", fmt::format("Error deleting: {}", error.what()));
      continue;
    }
    deleted.insert(pod.name);
  }
  expectations_.expect(key, std::move(added), std::move(deleted));
  if (failure) throw std::runtime_error(*failure);
}

void Controllers::Impl::write_status(const client::Resource& resource, const Json& object,
                                     const Json& status) {
  if (!differs(object.value("status", Json()), status)) return;
  client::PatchOptions options;
  options.subresource = "status";
  options.field_manager = options_.name;
  try {
    resource.patch(string_member(object_member(object, "metadata"), "name"), client::PatchType::Merge,
                   {{"status", status}}, options);
  } catch (const client::NotFound&) {
    // Deleted meanwhile: nothing to report on.
  }
}

void Controllers::Impl::report_invalid(const client::Resource& resource, const Json& object,
                                       const std::string& message) {
  const Json old_status = object.value("status", Json::object());
  Json conditions = array_member(old_status, "conditions");
  set_condition(conditions, "ReplicaFailure", "True", "InvalidSpec", message, SystemClock::now(), false);
  const Json generation = object_member(object, "metadata").value("generation", Json(1));
  const Json status = {{"observedGeneration", generation}, {"conditions", conditions}};
  if (!differs(old_status, status)) return;
  logger(client::Store::key_of(object)).warning("invalid spec: {}", message);
  event(object, "Warning", "InvalidSpec", message);
  write_status(resource, object, status);
}

void Controllers::Impl::event(const Json& object, std::string_view type, std::string_view reason,
                              std::string message) {
  if (!options_.events) return;
  try {
    op::post_event(api_, object, type, reason, std::move(message), options_.name);
  } catch (const std::exception& error) {
    logger(client::Store::key_of(object)).warning("event not recorded: {}", error.what());
  }
}

namespace {

// The pod a controller makes from its template: the template's labels (with the hash),
// annotations and finalizers, an owner reference, and its spec.
Json pod_from_template(const Json& owner, std::string_view kind, const Json& pod_template,
                       std::string_view hash_label, const std::string& hash, const std::string& prefix) {
  const Json& template_metadata = object_member(pod_template, "metadata");
  Json labels = object_member(template_metadata, "labels");
  labels[std::string(hash_label)] = hash;
  Json metadata = {{"generateName", generate_name_prefix(prefix)},
                   {"namespace", string_member(object_member(owner, "metadata"), "namespace")},
                   {"labels", std::move(labels)}};
  if (template_metadata.contains("annotations") && template_metadata["annotations"].is_object())
    metadata["annotations"] = template_metadata["annotations"];
  if (template_metadata.contains("finalizers") && template_metadata["finalizers"].is_array())
    metadata["finalizers"] = template_metadata["finalizers"];
  metadata["ownerReferences"] = Json::array({owner_reference(owner, kind)});
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", std::move(metadata)},
          {"spec", object_member(pod_template, "spec")}};
}

bool terminating(const Json& object) {
  const Json& metadata = object_member(object, "metadata");
  return metadata.contains("deletionTimestamp") && !metadata["deletionTimestamp"].is_null();
}

}  // namespace

void Controllers::Impl::reconcile_deployment(const std::string& key, const std::string& object_key) {
  auto found = deployments_->store().get(object_key);
  if (!found) {
    expectations_.forget(key);
    return;
  }
  const Json& deployment = *found;
  if (terminating(deployment)) return;  // the garbage collector takes the pods
  const client::Resource api = resource(kDeployments, deployment);
  auto parsed = read_deployment(deployment);
  if (auto* error = std::get_if<std::string>(&parsed)) {
    report_invalid(api, deployment, *error);
    return;
  }
  const DeploymentSpec& spec = std::get<DeploymentSpec>(parsed);
  std::vector<PodFacts> all;
  const std::vector<PodFacts> pods = owned_pods(deployment, spec.selector, kPodTemplateHash, all);
  const auto now = SystemClock::now();
  if (expectations_.settled(key, all, options_.expectation_timeout)) {
    const DeploymentPlan plan = plan_deployment(spec, pods, now);
    const std::string prefix = fmt::format("{}-{}-", spec.name, spec.hash);
    act(
        key, deployment, plan.create,
        [&](long) {
          return pod_from_template(deployment, kDeployment, spec.pod_template, kPodTemplateHash, spec.hash,
                                   prefix);
        },
        plan.remove);
    if (plan.recheck)
      queue_.add_after(key, std::chrono::ceil<std::chrono::milliseconds>(*plan.recheck - now) + 10ms);
  } else {
    queue_.add_after(key, options_.expectation_timeout);
  }
  Json status = deployment_status(deployment, spec, pods, deployment.value("status", Json::object()), now);
  if (auto deadline = progress_deadline_at(spec, status))
    queue_.add_after(key, std::chrono::ceil<std::chrono::milliseconds>(*deadline - now) + 10ms);
  write_status(api, deployment, status);
}

void Controllers::Impl::reconcile_daemonset(const std::string& key, const std::string& object_key) {
  auto found = daemonsets_->store().get(object_key);
  if (!found) {
    expectations_.forget(key);
    return;
  }
  const Json& daemonset = *found;
  if (terminating(daemonset)) return;
  const client::Resource api = resource(kDaemonSets, daemonset);
  auto parsed = read_daemonset(daemonset);
  if (auto* error = std::get_if<std::string>(&parsed)) {
    report_invalid(api, daemonset, *error);
    return;
  }
  const DaemonSetSpec& spec = std::get<DaemonSetSpec>(parsed);
  if (!object_member(daemonset, "spec").contains("updateStrategy")) {
    // kube-apiserver defaults it, and `kubectl rollout status` refuses a DaemonSet without it.
    client::PatchOptions options;
    options.field_manager = options_.name;
    api.patch(
        spec.name, client::PatchType::Merge,
        {{"spec",
          {{"updateStrategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", 1}}}}}}}},
        options);
    return;  // the change comes back as an event
  }
  Json pod_spec = object_member(spec.pod_template, "spec");
  pod_spec["tolerations"] = daemon_tolerations(pod_spec);
  std::map<std::string, Placement> nodes;
  for (const Json& node : nodes_->store().list())
    nodes[string_member(object_member(node, "metadata"), "name")] = place(pod_spec, node);
  std::vector<PodFacts> all;
  const std::vector<PodFacts> pods = owned_pods(daemonset, spec.selector, kControllerRevisionHash, all);
  const auto now = SystemClock::now();
  if (expectations_.settled(key, all, options_.expectation_timeout)) {
    const DaemonSetPlan plan = plan_daemonset(spec, nodes, pods, now);
    act(
        key, daemonset, static_cast<long>(plan.create_on.size()),
        [&](long i) {
          Json pod = pod_from_template(daemonset, kDaemonSet, spec.pod_template, kControllerRevisionHash,
                                       spec.hash, spec.name + "-");
          pod["spec"] = pod_spec;
          pod["spec"]["nodeName"] = plan.create_on[static_cast<std::size_t>(i)];
          return pod;
        },
        plan.remove);
    if (plan.recheck)
      queue_.add_after(key, std::chrono::ceil<std::chrono::milliseconds>(*plan.recheck - now) + 10ms);
  } else {
    queue_.add_after(key, options_.expectation_timeout);
  }
  write_status(api, daemonset, daemonset_status(daemonset, spec, nodes, pods, now));
}

Controllers::Controllers(client::Client& api, ControllerOptions options)
    : impl_(std::make_unique<Impl>(api, std::move(options))) {}

Controllers::~Controllers() { stop(); }

void Controllers::start() { impl_->start(); }

void Controllers::stop() { impl_->stop(); }

bool Controllers::healthy() const { return impl_->healthy(); }

std::uint64_t Controllers::reconciles() const { return impl_->reconciles_; }

}  // namespace riasc::workloads

#include "riasc/agent/agent.hpp"

#include <fmt/format.h>
#include <malloc.h>

#include <algorithm>
#include <set>

#include "riasc/client/errors.hpp"
#include "riasc/core/rfc3339.hpp"
#include "riasc/netem/plan.hpp"

namespace riasc::agent {
namespace {

using Clock = std::chrono::system_clock;
using netem::Band;
using netem::BandOutcome;
using netem::Direction;

const client::GroupVersionResource kTrafficProfiles{"k8s-netem.riasc.eu", "v1", "trafficprofiles"};
const client::GroupVersionResource kPods{"", "v1", "pods"};
const client::GroupVersionResource kNamespaces{"", "v1", "namespaces"};

client::InformerOptions informer_options() {
  client::InformerOptions options;
  options.backoff_max = std::chrono::seconds(5);
  return options;
}

// A pod whose shaping failed is tried again this often (a module may be loaded meanwhile).
constexpr auto kRetryInterval = std::chrono::seconds(10);
// How long before a timed change the worker wakes to compute it (more than a pass takes).
constexpr auto kSwitchLead = std::chrono::milliseconds(50);
// How long the worker waits after a pass before it hands freed memory back to the kernel.
constexpr auto kQuietBeforeTrim = std::chrono::seconds(1);

Json condition(const std::string& type, bool status, const std::string& reason, const std::string& message,
               std::int64_t generation) {
  return Json{{"type", type},
              {"status", status ? "True" : "False"},
              {"reason", reason},
              {"message", message},
              {"observedGeneration", generation}};
}

// What a pass on `node` reads of a TrafficProfile: its spec, generation, the times a Flexe
// sequence and deletion go by, and other nodes' status entries (they decide the conditions).
Json pass_input(const Json& profile, const std::string& node) {
  const Json metadata = profile.value("metadata", Json::object());
  Json others = Json::array();
  for (const Json& entry : profile.value("status", Json::object()).value("nodes", Json::array())) {
    if (entry.value("name", "") != node) others.push_back(entry);
  }
  return Json{{"spec", profile.value("spec", Json::object())},
              {"generation", metadata.value("generation", Json())},
              {"creationTimestamp", metadata.value("creationTimestamp", Json())},
              {"deletionTimestamp", metadata.value("deletionTimestamp", Json())},
              {"otherNodes", std::move(others)}};
}

}  // namespace

struct Agent::PodRecord {
  std::string netns;
  std::vector<Band> bands;
  std::vector<BandOutcome> outcome;
  std::map<std::string, std::size_t> flexe_steps;  // profile/direction → step in force
  std::optional<Clock::time_point> retry_at;       // set while a band failed
};

struct Agent::ProfileReport {
  std::int64_t generation = 0;
  std::size_t matched = 0;  // cluster-wide
  FieldErrors errors;
  struct Local {
    std::string namespace_name, name, interface, reason, message;
    bool applied = false;
    std::string backend{};  // "" when no backend was reached (no namespace yet)
  };
  std::vector<Local> local;  // this node's selected pods
};

Agent::Agent(client::Client& api, AgentOptions options, std::unique_ptr<netem::Backend> backend,
             std::unique_ptr<NetnsResolver> resolver)
    : api_(api),
      options_(std::move(options)),
      backend_(std::move(backend)),
      resolver_(std::move(resolver)),
      log_("agent/" + options_.node, options_.log),
      profiles_(api.resource(kTrafficProfiles), informer_options()),
      pods_(api.resource(kPods), informer_options()),
      namespaces_(api.resource(kNamespaces), informer_options()) {
  // Pods are read into PodInfo as they change, not on every pass: a pass then costs little
  // more with a hundred peer pods than with one.
  pods_.on_add([this](const Json& pod) { pod_changed(pod, false); });
  pods_.on_update([this](const Json&, const Json& pod) { pod_changed(pod, false); });
  pods_.on_delete([this](const Json& pod) { pod_changed(pod, true); });
  for (client::Informer* informer : {&profiles_, &namespaces_}) {
    informer->on_add([this](const Json&) { changed(); });
    informer->on_delete([this](const Json&) { changed(); });
  }
  // The agent's own status writes come back as profile updates; a pass for each would delay the
  // next real change.
  profiles_.on_update([this](const Json& old_profile, const Json& profile) {
    if (pass_input(old_profile, options_.node) != pass_input(profile, options_.node)) changed();
  });
  namespaces_.on_update([this](const Json& old_namespace, const Json& namespace_object) {
    if (old_namespace["metadata"].value("labels", Json::object()) !=
        namespace_object["metadata"].value("labels", Json::object()))
      changed();
  });
  if (options_.registry) {
    auto& registry = *options_.registry;
    backend_->add_metrics(registry);
    apply_seconds_ = &registry
                          .histogram("riasc_agent_apply_seconds",
                                     "Time to bring one pod's shaping to its plan (kernel calls included).",
                                     {}, metrics::latency_buckets())
                          .with({});
    switch_error_seconds_ =
        &registry
             .histogram("riasc_agent_flexe_switch_error_seconds",
                        "How late a Flexe step was in force in the kernel, after its schedule.", {},
                        metrics::latency_buckets())
             .with({});
    apply_failures_ =
        &registry.counter("riasc_agent_apply_failures_total", "Bands that could not be installed.", {})
             .with({});
    shaped_pods_ =
        &registry.gauge("riasc_agent_shaped_pods", "Pods of this node with shaping installed.", {}).with({});
  }
}

Agent::~Agent() { stop(); }

void Agent::start() {
  profiles_.start();
  pods_.start();
  namespaces_.start();
  worker_alive_ = true;
  worker_ = std::thread([this] { run(); });
  if (options_.write_status) status_writer_ = std::thread([this] { write_statuses(); });
}

void Agent::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  {
    std::lock_guard lock(status_mutex_);
    status_stopping_ = true;
  }
  status_wake_.notify_all();
  if (status_writer_.joinable()) status_writer_.join();
  profiles_.stop();
  pods_.stop();
  namespaces_.stop();
}

bool Agent::healthy() const {
  return worker_alive_ && profiles_.has_synced() && pods_.has_synced() && namespaces_.has_synced();
}

std::uint64_t Agent::passes() const { return passes_; }

void Agent::pod_changed(const Json& pod, bool deleted) {
  const Json metadata = pod.value("metadata", Json::object());
  const std::string key = metadata.value("namespace", "") + "/" + metadata.value("name", "");
  log_.debug("pod {} {} (resourceVersion {})", key, deleted ? "deleted" : "changed",
             metadata.value("resourceVersion", ""));
  {
    std::lock_guard lock(pods_mutex_);
    if (deleted) {
      if (pod_cache_.erase(key) == 0) return;
    } else {
      CachedPod fresh{
          .info = netem::PodInfo::from_object(pod),
          .host_network = pod.value("spec", Json::object()).value("hostNetwork", false),
          // What the netns resolver reads.
          .identity = Json{{"metadata",
                            {{"uid", metadata.value("uid", "")},
                             {"annotations", metadata.value("annotations", Json::object())}}},
                           {"status", {{"podIP", pod.value("status", Json::object()).value("podIP", "")}}}}};
      // Most pod updates (conditions, container states) change nothing a plan reads: no pass.
      auto [entry, added] = pod_cache_.try_emplace(key, std::move(fresh));
      if (!added) {
        if (entry->second == fresh) return;
        entry->second = std::move(fresh);
      }
    }
  }
  changed();
}

void Agent::changed() {
  {
    std::lock_guard lock(mutex_);
    dirty_ = true;
  }
  wake_.notify_one();
}

void Agent::run() {
  for (client::Informer* informer : {&profiles_, &pods_, &namespaces_}) {
    while (!informer->wait_for_sync(std::chrono::seconds(1))) {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
  }
  log_.info("caches synced; shaping the pods of node {}", options_.node);
  std::unique_lock lock(mutex_);
  bool worked_since_trim = false;
  while (!stopping_) {
    // A timed change (a Flexe step) is prepared kSwitchLead ahead: the plans are computed for the
    // switch time, and the kernel is changed at that time (reconcile waits for it before applying).
    auto wake_at = [&] { return *next_switch_ - kSwitchLead; };
    auto due = [&] { return stopping_ || dirty_ || (next_switch_ && Clock::now() >= wake_at()); };
    if (worked_since_trim) {
      // What a burst of work freed (the parsed list of every pod at sync, a pass over many peers)
      // stays in glibc's arenas, counted in the agent's RSS, until it is trimmed. Trimming costs
      // a walk of the heap, so it waits until the agent has been quiet for a moment.
      Clock::time_point quiet_until = Clock::now() + kQuietBeforeTrim;
      if (next_switch_) quiet_until = std::min(quiet_until, wake_at());
      if (!wake_.wait_until(lock, quiet_until, due)) {
        worked_since_trim = false;
        lock.unlock();
        const bool released = ::malloc_trim(0) == 1;
        log_.debug("quiet for {} s after a pass: heap trimmed{}", kQuietBeforeTrim.count(),
                   released ? "" : " (nothing to hand back)");
        lock.lock();
        continue;
      }
    } else if (next_switch_) {
      wake_.wait_until(lock, wake_at(), due);
    } else {
      wake_.wait(lock, due);
    }
    if (stopping_) break;
    const bool timed = !dirty_ && next_switch_ && Clock::now() >= wake_at();
    const Clock::time_point at = timed ? std::max(*next_switch_, Clock::now()) : Clock::now();
    dirty_ = false;
    lock.unlock();
    try {
      const auto started = std::chrono::steady_clock::now();
      reconcile(at);
      log_.debug(
          "pass done in {:.2f} ms",
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
    } catch (const std::exception& error) {
      log_.error("reconcile failed: {}", error.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      changed();
    }
    ++passes_;
    worked_since_trim = options_.trim_heap_when_quiet;
    lock.lock();
  }
  worker_alive_ = false;
}

std::optional<Clock::time_point> Agent::flexe_start(const Json& profile) const {
  const Json metadata = profile.value("metadata", Json::object());
  return parse_rfc3339(metadata.value("creationTimestamp", ""));
}

void Agent::reconcile(Clock::time_point now) {
  // Profiles, parsed once per resourceVersion.
  std::map<std::string, Json> profile_objects;
  std::vector<const netem::TrafficProfile*> usable;
  std::map<std::string, ProfileReport> reports;
  std::set<std::string> present;
  for (Json& object : profiles_.store().list()) {
    const std::string name = object["metadata"].value("name", "");
    const std::string version = object["metadata"].value("resourceVersion", "");
    present.insert(name);
    auto& cached = parsed_[name];
    if (cached.first != version || version.empty()) cached = {version, netem::parse_traffic_profile(object)};
    ProfileReport& report = reports[name];
    report.generation = cached.second.profile.generation;
    report.errors = cached.second.errors;
    if (cached.second.errors.empty()) usable.push_back(&cached.second.profile);
    profile_objects[name] = std::move(object);
  }
  std::erase_if(parsed_, [&](const auto& entry) { return !present.contains(entry.first); });

  netem::ClusterView cluster;
  std::vector<CachedPod> cached_pods;
  {
    std::lock_guard lock(pods_mutex_);
    cached_pods.reserve(pod_cache_.size());
    for (const auto& [key, pod] : pod_cache_) cached_pods.push_back(pod);
  }
  cluster.pods.reserve(cached_pods.size());
  for (const CachedPod& pod : cached_pods) cluster.pods.push_back(pod.info);
  for (const Json& ns : namespaces_.store().list()) {
    cluster.namespaces.push_back(
        {ns["metadata"].value("name", ""), ns["metadata"].value("labels", Json::object())});
  }
  for (const netem::PodInfo& pod : cluster.pods) {
    if (!pod.running) continue;
    for (const netem::TrafficProfile* profile : usable) {
      if (profile->pod_selector.matches(pod.labels)) ++reports[profile->name].matched;
    }
  }

  next_switch_.reset();
  std::set<std::string> local;
  std::size_t shaped = 0;
  for (std::size_t i = 0; i < cluster.pods.size(); ++i) {
    const netem::PodInfo& pod = cluster.pods[i];
    const Json& object = cached_pods[i].identity;
    if (pod.node != options_.node || cached_pods[i].host_network) continue;
    const std::string key = pod.namespace_name + "/" + pod.name;
    std::vector<Band> bands = netem::plan_pod(pod, usable, cluster);

    // Flexe bands carry the step in force now.
    std::map<std::string, std::pair<std::size_t, Clock::time_point>> steps;  // band → step, its start
    for (Band& band : bands) {
      const auto& parsed = parsed_.at(band.profile).second.profile;
      if (parsed.type != netem::TrafficProfile::Type::Flexe || parsed.flexe.steps.empty()) continue;
      const Clock::time_point start = flexe_start(profile_objects[band.profile]).value_or(now);
      const auto elapsed = std::max(std::chrono::nanoseconds(0), std::chrono::nanoseconds(now - start));
      const auto position = parsed.flexe.at(elapsed);
      const netem::FlexeStep& step = parsed.flexe.steps[position.step];
      band.options = band.direction == Direction::Egress ? step.egress : step.ingress;
      const std::string band_id = band.profile + "/" + to_string(band.direction);
      steps[band_id] = {position.step,
                        start + std::chrono::duration_cast<Clock::duration>(position.step_start)};
      if (position.next_switch) {
        const auto next = start + std::chrono::duration_cast<Clock::duration>(*position.next_switch);
        if (!next_switch_ || next < *next_switch_) next_switch_ = next;
      }
    }

    // A pod seen for the first time is applied even without bands: that removes whatever an
    // earlier agent left in it.
    auto netns = resolver_->resolve(object);
    if (!netns) {
      for (const Band& band : bands) {
        reports[band.profile].local.push_back({pod.namespace_name, pod.name, "", "NoNetworkNamespace",
                                               "the pod's network namespace was not found (yet)", false});
      }
      continue;
    }
    local.insert(key);
    PodRecord& record = applied_[key];
    const bool first = record.netns.empty();
    const bool retry = record.retry_at && now >= *record.retry_at;
    if (first || retry || record.netns != *netns || record.bands != bands) {
      // A pass prepared ahead of a timed change applies at that time, not before: the backend
      // keeps the time itself when it can, else the pass waits for it here.
      const bool timed = now > Clock::now();
      const bool scheduled = timed && backend_->schedules_changes();
      if (timed && !scheduled) std::this_thread::sleep_until(now);
      const auto started = std::chrono::steady_clock::now();
      netem::ApplyOutcome outcome;
      try {
        outcome = backend_->apply({key, *netns, timed ? std::optional(now) : std::nullopt}, bands);
      } catch (const std::exception& error) {
        for (const Band& band : bands) {
          outcome.bands.push_back({band.profile, band.direction, "", false, "ApplyFailed", error.what()});
        }
      }
      const auto finished = Clock::now();
      const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      if (apply_seconds_) apply_seconds_->observe(took);
      log_.debug("{}: {} band(s) applied in {:.2f} ms", key, bands.size(), took * 1e3);
      for (const auto& [band_id, step] : steps) {
        auto previous = record.flexe_steps.find(band_id);
        if (previous == record.flexe_steps.end() || previous->second == step.first) continue;
        // Handed over before it was due, a scheduled step is in force at its time exactly (the
        // engine decides by each packet's arrival time); handed over late, when it arrived.
        const Clock::time_point in_force = scheduled ? std::max(finished, now) : finished;
        const double late = std::chrono::duration<double>(in_force - step.second).count();
        if (switch_error_seconds_) switch_error_seconds_->observe(late);
        log_.info("flexe {} on {}: step {} in force {:.3f} ms after its schedule{}", band_id, key, step.first,
                  late * 1e3,
                  scheduled && finished < now
                      ? fmt::format(" (handed to the backend {:.3f} ms ahead)",
                                    std::chrono::duration<double, std::milli>(now - finished).count())
                      : std::string());
      }
      for (const BandOutcome& band : outcome.bands) {
        if (!band.applied) {
          if (apply_failures_) apply_failures_->increment();
          log_.warning("{} {} on {}: {}: {}", band.profile, to_string(band.direction), key, band.reason,
                       band.message);
        }
      }
      record.netns = *netns;
      record.bands = std::move(bands);
      record.outcome = std::move(outcome.bands);
      record.retry_at.reset();
      for (const BandOutcome& band : record.outcome) {
        if (!band.applied) record.retry_at = now + kRetryInterval;
      }
    }
    if (record.retry_at && (!next_switch_ || *record.retry_at < *next_switch_))
      next_switch_ = record.retry_at;
    record.flexe_steps.clear();
    for (const auto& [band_id, step] : steps) record.flexe_steps[band_id] = step.first;
    if (!record.bands.empty()) ++shaped;
    // One entry per (profile, pod): applied when every direction is.
    std::map<std::string, ProfileReport::Local> per_profile;
    for (const BandOutcome& band : record.outcome) {
      auto [it, inserted] = per_profile.try_emplace(
          band.profile, ProfileReport::Local{pod.namespace_name, pod.name, band.interface, band.reason,
                                             band.message, band.applied, band.backend});
      if (!inserted && !band.applied) {
        it->second.applied = false;
        it->second.reason = band.reason;
        it->second.message = band.message;
      }
    }
    for (auto& [profile, entry] : per_profile) reports[profile].local.push_back(std::move(entry));
  }

  // Pods that left this node's view: their namespace went with them, or they are not shaped.
  for (auto it = applied_.begin(); it != applied_.end();) {
    if (local.contains(it->first)) {
      ++it;
      continue;
    }
    backend_->forget(it->first);
    it = applied_.erase(it);
  }
  if (shaped_pods_) shaped_pods_->set(static_cast<double>(shaped));
  if (options_.write_status) report(reports);
}

void Agent::report(const std::map<std::string, ProfileReport>& reports) {
  if (forget_reported_.exchange(false)) reported_.clear();
  for (const auto& [name, report] : reports) {
    auto object = profiles_.store().get(name);
    if (!object) continue;
    const Json current = object->value("status", Json::object());

    // The backend of this profile's pods here: the node's, unless the pods' profiles asked for
    // the other (spec.backend, a trace), for all of them or for some ("mixed").
    std::set<std::string> backends;
    for (const auto& local : report.local) {
      if (!local.backend.empty()) backends.insert(local.backend);
    }
    const std::string backend = backends.empty()       ? backend_->name()
                                : backends.size() == 1 ? *backends.begin()
                                                       : "mixed";
    Json node{{"name", options_.node},
              {"backend", backend},
              {"observedGeneration", report.generation},
              {"matchedPods", report.local.size()},
              {"appliedPods", std::count_if(report.local.begin(), report.local.end(),
                                            [](const auto& local) { return local.applied; })}};
    std::string failure_reason;
    std::string failure_message;
    for (const auto& local : report.local) {
      if (local.applied || !failure_reason.empty()) continue;
      failure_reason = local.reason;
      failure_message = fmt::format("{}/{}: {}", local.namespace_name, local.name, local.message);
    }
    if (!failure_reason.empty()) {
      node["reason"] = failure_reason;
      node["message"] = failure_message;
    }
    // Other nodes' entries, as they last wrote them, decide the profile-wide conditions too.
    std::vector<Json> nodes{node};
    for (const Json& other : current.value("nodes", Json::array())) {
      if (other.value("name", "") != options_.node) nodes.push_back(other);
    }

    Json applied;
    Json degraded;
    if (!report.errors.empty()) {
      std::string message;
      for (const auto& error : report.errors) message += (message.empty() ? "" : "; ") + error.to_string();
      applied = condition("Applied", false, "InvalidSpec", message, report.generation);
      degraded = condition("Degraded", true, "InvalidSpec", message, report.generation);
    } else {
      std::string reason;
      std::string message;
      std::int64_t shaped = 0;
      std::int64_t selected = 0;
      for (const Json& entry : nodes) {
        shaped += entry.value("appliedPods", std::int64_t{0});
        selected += entry.value("matchedPods", std::int64_t{0});
        if (reason.empty() && entry.contains("reason")) {
          reason = entry.value("reason", "");
          message = fmt::format("node {}: {}", entry.value("name", ""), entry.value("message", ""));
        }
      }
      const bool all = shaped == selected && reason.empty();
      applied =
          all ? condition("Applied", true, selected == 0 ? "NoPodsSelected" : "Applied",
                          fmt::format("shaping installed on {} pod(s)", shaped), report.generation)
              : condition("Applied", false, reason.empty() ? "Pending" : reason, message, report.generation);
      degraded = reason.empty() ? condition("Degraded", false, "AsPlanned", "", report.generation)
                                : condition("Degraded", true, reason, message, report.generation);
    }
    Json ready = applied;
    ready["type"] = "Ready";
    Json conditions = Json::array({ready, applied, degraded});
    for (Json& entry : conditions) {
      // The time a condition last changed its status, as Kubernetes keeps it.
      std::string since = format_rfc3339(std::chrono::time_point_cast<std::chrono::seconds>(Clock::now()));
      for (const Json& old : current.value("conditions", Json::array())) {
        if (old.value("type", "") == entry["type"] && old.value("status", "") == entry["status"]) {
          since = old.value("lastTransitionTime", since);
        }
      }
      entry["lastTransitionTime"] = since;
    }
    Json pods = Json::array();
    for (const auto& local : report.local) {
      if (!local.applied || pods.size() >= 100) continue;
      pods.push_back({{"namespace", local.namespace_name},
                      {"name", local.name},
                      {"node", options_.node},
                      {"interface", local.interface}});
    }
    Json status{{"observedGeneration", report.generation},
                {"matchedPods", report.matched},
                {"nodes", Json::array({node})},
                {"pods", std::move(pods)},
                {"conditions", std::move(conditions)}};
    auto last = reported_.find(name);
    if (last != reported_.end() && last->second == status) continue;
    reported_[name] = status;
    {
      std::lock_guard lock(status_mutex_);
      status_pending_[name] = std::move(status);
    }
    status_wake_.notify_one();
  }
  std::erase_if(reported_, [&](const auto& entry) { return !reports.contains(entry.first); });
}

// Status writes go through their own thread, so that a change never waits for the API server to
// take the status of the one before.
void Agent::write_statuses() {
  auto profiles = api_.resource(kTrafficProfiles);
  client::PatchOptions options;
  options.field_manager = "riasc-agent." + options_.node;
  options.force = true;
  options.subresource = "status";
  std::unique_lock lock(status_mutex_);
  while (true) {
    status_wake_.wait(lock, [&] { return status_stopping_ || !status_pending_.empty(); });
    if (status_stopping_) return;
    std::map<std::string, Json> batch = std::move(status_pending_);
    status_pending_.clear();
    lock.unlock();
    bool failed = false;
    for (auto& [name, status] : batch) {
      const Json body{{"apiVersion", "k8s-netem.riasc.eu/v1"},
                      {"kind", "TrafficProfile"},
                      {"metadata", {{"name", name}}},
                      {"status", status}};
      try {
        profiles.apply(body, options);
      } catch (const client::ApiError& error) {
        if (error.code() != 404) {  // a profile deleted meanwhile has no status to write
          log_.warning("status of {}: {}", name, error.what());
          failed = true;
        }
      } catch (const std::exception& error) {
        log_.warning("status of {}: {}", name, error.what());
        failed = true;
      }
    }
    lock.lock();
    if (failed) {
      // The worker computes and queues every status again, a second from now.
      status_wake_.wait_for(lock, std::chrono::seconds(1), [&] { return status_stopping_; });
      forget_reported_ = true;
      lock.unlock();
      changed();
      lock.lock();
    }
  }
}

}  // namespace riasc::agent

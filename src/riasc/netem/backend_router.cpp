#include "riasc/netem/backend_router.hpp"

#include <fmt/format.h>

#include <set>
#include <thread>

namespace riasc::netem {
namespace {

const char* name_of(BackendChoice choice) { return choice == BackendChoice::Kernel ? "kernel" : "userspace"; }

}  // namespace

BackendRouter::BackendRouter(std::unique_ptr<Backend> node, Factory other, LeftoverRemover remove_leftovers)
    : node_(std::move(node)), make_other_(std::move(other)), remove_leftovers_(std::move(remove_leftovers)) {}

std::string BackendRouter::name() const { return node_->name(); }

Backend& BackendRouter::backend_named(const std::string& name) {
  if (name == node_->name()) return *node_;
  if (!other_) {
    other_ = make_other_();
    if (registry_ != nullptr) other_->add_metrics(*registry_);
  }
  return *other_;
}

ApplyOutcome BackendRouter::apply(const PodTarget& target, const std::vector<Band>& bands) {
  // What the pod's profiles ask for: explicitly (spec.backend), or by a trace under auto.
  std::set<std::string> asked;
  bool wants_engine = false;
  for (const Band& band : bands) {
    if (band.backend != BackendChoice::Auto) asked.insert(name_of(band.backend));
    if (band.backend == BackendChoice::Auto && band.trace) wants_engine = true;
  }
  std::string chosen = node_->name();
  if (asked.size() == 1) {
    chosen = *asked.begin();
  } else if (asked.empty() && wants_engine) {
    chosen = "userspace";
  }

  ApplyOutcome conflicts;
  std::vector<Band> routed;
  for (const Band& band : bands) {
    if (asked.size() > 1 && band.backend != BackendChoice::Auto && name_of(band.backend) != chosen) {
      conflicts.bands.push_back(
          {band.profile, band.direction, "", false, "BackendConflict",
           fmt::format("profile {} asks for the {} backend, but other profiles that select this pod ask for "
                       "another; a pod has one backend, and it stays on the node's ({})",
                       band.profile, name_of(band.backend), chosen)});
    } else {
      routed.push_back(band);
    }
  }

  Backend& backend = backend_named(chosen);
  const bool first_seen = !pods_.contains(target.key);
  if (auto held = pods_.find(target.key); held != pods_.end() && held->second != chosen) {
    Backend& previous = backend_named(held->second);
    previous.apply({target.key, target.netns_path, std::nullopt}, {});
    previous.forget(target.key);
    pods_.erase(held);
  }
  pods_[target.key] = chosen;
  if (target.due && !backend.schedules_changes()) std::this_thread::sleep_until(*target.due);
  ApplyOutcome outcome = backend.apply(target, routed);
  if (first_seen && remove_leftovers_)
    remove_leftovers_(chosen == "kernel" ? "userspace" : "kernel", target.netns_path);
  for (BandOutcome& band : outcome.bands) band.backend = chosen;
  for (BandOutcome& band : conflicts.bands) {
    band.backend = chosen;
    outcome.bands.push_back(std::move(band));
  }
  return outcome;
}

void BackendRouter::forget(const std::string& key) {
  auto held = pods_.find(key);
  if (held == pods_.end()) return;
  backend_named(held->second).forget(key);
  pods_.erase(held);
}

void BackendRouter::add_metrics(metrics::Registry& registry) {
  registry_ = &registry;
  node_->add_metrics(registry);
  if (other_) other_->add_metrics(registry);
}

}  // namespace riasc::netem

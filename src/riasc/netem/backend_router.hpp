#pragma once

// Per-pod choice of data plane. The node has its backend (the agent's --backend); a profile's
// spec.backend, or a trace (which only the userspace engine replays), can ask for the other one
// for the pods it selects. One backend shapes all of a pod's bands, since both install their
// classifiers in the pod's one nftables table: when a pod moves, the backend it leaves first takes
// out everything it installed there.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "riasc/netem/backend.hpp"

namespace riasc::netem {

class BackendRouter : public Backend {
 public:
  using Factory = std::function<std::unique_ptr<Backend>()>;
  // Removes what an earlier agent's backend of this name ("kernel", "userspace") left in a pod's
  // namespace; it needs no instance of that backend.
  using LeftoverRemover = std::function<void(const std::string& backend, const std::string& netns_path)>;

  // `other` makes the second backend when a pod first needs it (an engine is started only when
  // some profile asks for it); it throws when that backend cannot run here. An agent that crashed
  // while a pod was on one backend may find it on the other when it starts again, so the first
  // time this process shapes (or clears) a pod, `remove_leftovers` is called for the backend the
  // pod did not get, after the one it got has replaced the pod's rules.
  BackendRouter(std::unique_ptr<Backend> node, Factory other, LeftoverRemover remove_leftovers = {});

  // Bands whose spec.backend conflicts with another profile's on the pod are not applied
  // (BackendConflict); the rest go to the backend the bands ask for, or the node's. Each outcome
  // names the backend. A backend that does not schedule changes is called at the due time.
  ApplyOutcome apply(const PodTarget& target, const std::vector<Band>& bands) override;
  void forget(const std::string& key) override;
  // The node's.
  [[nodiscard]] std::string name() const override;
  [[nodiscard]] bool schedules_changes() const override { return true; }
  void add_metrics(metrics::Registry& registry) override;

 private:
  Backend& backend_named(const std::string& name);

  std::unique_ptr<Backend> node_;
  Factory make_other_;
  LeftoverRemover remove_leftovers_;
  std::unique_ptr<Backend> other_;
  metrics::Registry* registry_ = nullptr;
  std::map<std::string, std::string> pods_;  // key → the name of the backend that holds the pod
};

}  // namespace riasc::netem

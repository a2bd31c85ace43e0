#pragma once

// What a data-plane backend does with plans: bring one pod's network namespace to its bands,
// and take everything out again. The kernel backend (netem qdiscs) is one; a userspace engine
// is another (docs/architecture.md). Backends keep what they installed per pod, so calls with
// unchanged bands do nothing and changed ones touch only what changed.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "riasc/core/metrics.hpp"
#include "riasc/netem/plan.hpp"

namespace riasc::netem {

struct PodTarget {
  std::string key;         // "namespace/name"
  std::string netns_path;  // /proc/PID/ns/net, /run/netns/NAME, ...
  // A timed change (a Flexe step): the bands are due at this time. A backend that
  // schedules_changes() may be called ahead of it and makes them take effect then; others are
  // called at that time.
  std::optional<std::chrono::system_clock::time_point> due{};
};

// How one band fared.
struct BandOutcome {
  std::string profile;
  Direction direction = Direction::Egress;
  std::string interface;  // "" when none was found
  bool applied = false;
  std::string reason;     // CamelCase, for conditions: NoInterface, KernelModuleMissing, ...
  std::string message;    // for people
  std::string backend{};  // "kernel" or "userspace": what shapes (or was to shape) it
};

struct ApplyOutcome {
  std::vector<BandOutcome> bands;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // `bands` empty: the pod is not shaped; anything installed earlier, by this process or an
  // earlier agent, is removed and the pod's original qdiscs restored.
  virtual ApplyOutcome apply(const PodTarget& target, const std::vector<Band>& bands) = 0;
  // The pod is gone (its namespace too): forget it without touching the kernel.
  virtual void forget(const std::string& key) = 0;
  // "kernel" or "userspace", as TrafficProfile status reports it.
  [[nodiscard]] virtual std::string name() const = 0;
  // True when apply() can make a parameter change take effect at PodTarget::due, to the packet,
  // rather than when it is called.
  [[nodiscard]] virtual bool schedules_changes() const { return false; }
  // Metrics of the backend's own, exposed with the agent's.
  virtual void add_metrics(metrics::Registry& /*registry*/) {}
};

}  // namespace riasc::netem

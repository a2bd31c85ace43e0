#pragma once

// What the workload controllers share: the facts they read from a pod, the order in which pods go
// when some must, the template hash, owner references, int-or-percent values and conditions.
// Everything here is pure (the time is a parameter), so the rules are tested without a server.
// Input comes from the API unvalidated (the embedded server does not validate apps/v1 kinds):
// members of the wrong type read as absent, nothing here throws on bad input.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "riasc/core/json.hpp"

namespace riasc::workloads {

using SystemClock = std::chrono::system_clock;

inline constexpr std::string_view kPodTemplateHash = "pod-template-hash";
inline constexpr std::string_view kControllerRevisionHash = "controller-revision-hash";

struct PodFacts {
  std::string name;
  std::string uid;
  std::string node;   // spec.nodeName
  std::string hash;   // the template hash label of the owner's kind
  std::string phase;  // status.phase
  bool terminating = false;
  bool ready = false;  // condition Ready is True
  // Since when the Ready condition is True: its lastTransitionTime, or the creation time when the
  // runtime wrote none (Kubernetes would then never count the pod available with minReadySeconds).
  SystemClock::time_point ready_since{};
  SystemClock::time_point created{};
  long restarts = 0;

  // Failed or Succeeded: the pod will not run again and is replaced.
  [[nodiscard]] bool terminal() const { return phase == "Failed" || phase == "Succeeded"; }
  [[nodiscard]] bool active() const { return !terminating && !terminal(); }
  [[nodiscard]] bool available(std::chrono::seconds min_ready, SystemClock::time_point now) const {
    return ready && (min_ready.count() <= 0 || ready_since + min_ready <= now);
  }
  // When a ready pod becomes available; nullopt when it is not ready or already available.
  [[nodiscard]] std::optional<SystemClock::time_point> available_at(std::chrono::seconds min_ready,
                                                                    SystemClock::time_point now) const;
};

PodFacts read_pod(const Json& pod, std::string_view hash_label);

// Kubernetes' order for scaling down (controller.ActivePods): pods not yet on a node, then
// pending before running, not ready before ready, ready for a shorter time first, more restarts
// first, newer first; the name last, so the choice does not depend on the cache's order.
bool goes_first(const PodFacts& a, const PodFacts& b);
void sort_for_removal(std::vector<PodFacts>& pods);

// Ten lowercase alphanumerics from the template's canonical JSON (keys sorted, so the order in
// which a manifest writes them does not matter): FNV-1a (64 bit) in Kubernetes' alphabet for
// generated names, which has no vowels and so spells no words.
std::string template_hash(const Json& pod_template);

// The controller ownerReference of an object (controller: true), if any.
struct ControllerRef {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string uid;
};
std::optional<ControllerRef> controller_of(const Json& object);
// The ownerReference an apps/v1 controller of `kind` puts on the pods it makes.
Json owner_reference(const Json& owner, std::string_view kind);

// An IntOrString of a rolling update (maxSurge, maxUnavailable): an integer, or "N%" of `total`
// rounded up or down. nullopt, with `error` set, for anything else (negative, not a number).
std::optional<long> scaled_value(const Json& value, long total, bool round_up, std::string& error);

// The `generateName` Kubernetes would use: at most 58 characters, so that the name with the
// five generated ones stays a valid label value (63).
std::string generate_name_prefix(std::string prefix);

// A standard condition in `conditions` (an array, replaced when not one): the times are kept when
// status, reason and message are unchanged, lastTransitionTime moves only when the status does.
// lastUpdateTime (Deployments) is set when `update_time` is true.
void set_condition(Json& conditions, const std::string& type, const std::string& status,
                   const std::string& reason, const std::string& message, SystemClock::time_point now,
                   bool update_time);
// The condition of that type, or null.
Json find_condition(const Json& conditions, std::string_view type);

std::string format_time(SystemClock::time_point time);

// A member of an object when it has that type, else the fallback: for unvalidated input.
const Json& object_member(const Json& object, std::string_view key);
const Json& array_member(const Json& object, std::string_view key);

}  // namespace riasc::workloads

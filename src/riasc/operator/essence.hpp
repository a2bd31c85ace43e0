#pragma once

// The SDK's inside: what of an object counts as a change, diffs, and the progress record kept in
// an annotation per handler.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "riasc/core/json.hpp"
#include "riasc/operator/context.hpp"

namespace riasc::op::detail {

// What a change handler reacts to: the object without status and without metadata other than
// labels and annotations, and without the annotations under `prefix` (the SDK's own, which change
// on every handler run). `status_fields` (paths under status that field handlers watch) are kept.
Json essence_of(const Json& object, std::string_view prefix,
                const std::vector<std::vector<std::string>>& status_fields);

std::vector<std::string> split_path(std::string_view dotted);
// The value at `path`, null when any step is missing.
Json value_at(const Json& object, const std::vector<std::string>& path);
// Equal as JSON values, whatever the order of object members (the server may reorder them).
bool same(const Json& a, const Json& b);

// Leaf by leaf; objects are compared member by member, anything else as a whole.
Diff diff(const Json& old_value, const Json& new_value);

using SystemClock = std::chrono::system_clock;

// RFC 3339 in UTC with milliseconds, as persisted times must outlive the process.
std::string format_time(SystemClock::time_point time);
// metav1.MicroTime (Leases): Go parses exactly six fraction digits there.
std::string format_micro_time(SystemClock::time_point time);

// One handler's state in the current handling cycle, as its annotation's JSON value.
struct Progress {
  std::string started;        // first attempt
  int retries = 0;            // failed attempts
  std::string delayed_until;  // no attempt before this
  bool success = false;
  bool failure = false;  // permanently failed: not retried in this cycle
  std::string message;
  // Kept after its cycle finished (a failure, to show why); a new cycle starts it over.
  bool final = false;

  [[nodiscard]] bool done() const { return success || failure; }
  static Progress parse(const Json& annotations, const std::string& key);
  [[nodiscard]] std::string dump() const;
};

// Orders resourceVersions when both are integers (kube-apiserver's and ours are); false otherwise.
bool newer(const Json& candidate, const Json& than);

}  // namespace riasc::op::detail

#pragma once

// core/v1 Events, as kubectl describe and `kubectl get events` show them: what the SDK posts
// about the objects it handles, and what other controllers of the project post about theirs.

#include <string>
#include <string_view>

#include "riasc/client/client.hpp"
#include "riasc/core/json.hpp"

namespace riasc::op {

// Posts an Event about `object` (involvedObject: its apiVersion, kind, name, uid and
// resourceVersion) in the object's namespace, or in `default` for a cluster-scoped object, as
// kubectl looks for them there. `type` is "Normal" or "Warning"; `component` names the reporter
// (source.component). Throws what the client throws: callers decide whether a lost event matters.
void post_event(client::Client& client, const Json& object, std::string_view type, std::string_view reason,
                std::string message, const std::string& component);

}  // namespace riasc::op

#include "riasc/operator/events.hpp"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdint>

#include "riasc/operator/essence.hpp"

namespace riasc::op {

using detail::format_time;
using detail::SystemClock;

void post_event(client::Client& client, const Json& object, std::string_view type, std::string_view reason,
                std::string message, const std::string& component) {
  static std::atomic<std::uint64_t> posted{0};
  const Json metadata = object.is_object() ? object.value("metadata", Json::object()) : Json::object();
  std::string namespace_name = string_member(metadata, "namespace");
  if (namespace_name.empty()) namespace_name = "default";  // cluster-scoped objects: as kubectl shows them
  const std::string name = string_member(metadata, "name");
  if (message.size() > 1024) message.resize(1024);  // Kubernetes' limit for event messages
  const std::string now = format_time(SystemClock::now()).substr(0, 19) + "Z";
  Json involved = {{"apiVersion", string_member(object, "apiVersion")},
                   {"kind", string_member(object, "kind")},
                   {"name", name},
                   {"uid", string_member(metadata, "uid")},
                   {"resourceVersion", string_member(metadata, "resourceVersion")}};
  if (metadata.contains("namespace")) involved["namespace"] = namespace_name;
  // Unique within the process and, by the clock, across restarts.
  const auto unique = static_cast<std::uint64_t>(SystemClock::now().time_since_epoch().count()) + ++posted;
  Json body = {{"apiVersion", "v1"},
               {"kind", "Event"},
               {"metadata", {{"name", fmt::format("{}.{:x}", name, unique)}, {"namespace", namespace_name}}},
               {"involvedObject", std::move(involved)},
               {"reason", reason},
               {"message", message},
               {"type", type},
               {"source", {{"component", component}}},
               {"reportingComponent", component},
               {"firstTimestamp", now},
               {"lastTimestamp", now},
               {"count", 1}};
  client.resource(client::GroupVersionResource{"", "v1", "events"}, namespace_name).create(body);
}

}  // namespace riasc::op

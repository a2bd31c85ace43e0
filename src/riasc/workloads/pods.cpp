#include "riasc/workloads/pods.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <tuple>

#include "riasc/core/rfc3339.hpp"

namespace riasc::workloads {

const Json& object_member(const Json& object, std::string_view key) {
  static const Json kEmpty = Json::object();
  if (!object.is_object()) return kEmpty;
  auto it = object.find(key);
  return it != object.end() && it->is_object() ? *it : kEmpty;
}

const Json& array_member(const Json& object, std::string_view key) {
  static const Json kEmpty = Json::array();
  if (!object.is_object()) return kEmpty;
  auto it = object.find(key);
  return it != object.end() && it->is_array() ? *it : kEmpty;
}

namespace {

SystemClock::time_point time_member(const Json& object, std::string_view key) {
  auto parsed = parse_rfc3339(string_member(object, key));
  return parsed ? *parsed : SystemClock::time_point{};
}

}  // namespace

std::string format_time(SystemClock::time_point time) {
  return format_rfc3339(std::chrono::floor<std::chrono::seconds>(time));
}

std::optional<SystemClock::time_point> PodFacts::available_at(std::chrono::seconds min_ready,
                                                              SystemClock::time_point now) const {
  if (!ready || available(min_ready, now)) return std::nullopt;
  return ready_since + min_ready;
}

PodFacts read_pod(const Json& pod, std::string_view hash_label) {
  PodFacts facts;
  const Json& metadata = object_member(pod, "metadata");
  const Json& status = object_member(pod, "status");
  facts.name = string_member(metadata, "name");
  facts.uid = string_member(metadata, "uid");
  facts.node = string_member(object_member(pod, "spec"), "nodeName");
  facts.hash = string_member(object_member(metadata, "labels"), hash_label);
  facts.phase = string_member(status, "phase");
  facts.terminating = metadata.contains("deletionTimestamp") && !metadata["deletionTimestamp"].is_null();
  facts.created = time_member(metadata, "creationTimestamp");
  for (const Json& condition : array_member(status, "conditions")) {
    if (string_member(condition, "type") != "Ready") continue;
    facts.ready = string_member(condition, "status") == "True";
    auto since = parse_rfc3339(string_member(condition, "lastTransitionTime"));
    facts.ready_since = since ? *since : facts.created;
  }
  for (const Json& container : array_member(status, "containerStatuses")) {
    if (container.is_object() && container.contains("restartCount") &&
        container["restartCount"].is_number_integer())
      facts.restarts += container["restartCount"].get<long>();
  }
  return facts;
}

bool goes_first(const PodFacts& a, const PodFacts& b) {
  auto phase_rank = [](const std::string& phase) {
    if (phase == "Pending" || phase.empty()) return 0;
    if (phase == "Unknown") return 1;
    return 2;
  };
  // Smaller goes first: unassigned, earlier phase, not ready, ready more recently, more restarts,
  // newer.
  auto rank = [&](const PodFacts& p) {
    return std::make_tuple(!p.node.empty(), phase_rank(p.phase), p.ready,
                           p.ready ? -p.ready_since.time_since_epoch().count() : 0, -p.restarts,
                           -p.created.time_since_epoch().count());
  };
  auto ra = rank(a);
  auto rb = rank(b);
  if (ra != rb) return ra < rb;
  return a.name < b.name;
}

void sort_for_removal(std::vector<PodFacts>& pods) { std::sort(pods.begin(), pods.end(), goes_first); }

std::string template_hash(const Json& pod_template) {
  // nlohmann::json keeps object members in a std::map: its text is the canonical form.
  const auto replace = Json::error_handler_t::replace;  // a lone invalid byte must not throw
  const std::string canonical =
      nlohmann::json::parse(pod_template.dump(-1, ' ', false, replace)).dump(-1, ' ', false, replace);
  std::uint64_t hash = 14695981039346656037ULL;
  for (char c : canonical) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::string text;
  for (int i = 0; i < 10; ++i) {
    text += kAlphabet[hash % kAlphabet.size()];
    hash /= kAlphabet.size();
  }
  return text;
}

std::optional<ControllerRef> controller_of(const Json& object) {
  for (const Json& reference : array_member(object_member(object, "metadata"), "ownerReferences")) {
    if (!reference.is_object() || !reference.value("controller", Json(false)).is_boolean() ||
        !reference.value("controller", false))
      continue;
    return ControllerRef{string_member(reference, "apiVersion"), string_member(reference, "kind"),
                         string_member(reference, "name"), string_member(reference, "uid")};
  }
  return std::nullopt;
}

Json owner_reference(const Json& owner, std::string_view kind) {
  const Json& metadata = object_member(owner, "metadata");
  return {{"apiVersion", "apps/v1"},
          {"kind", kind},
          {"name", string_member(metadata, "name")},
          {"uid", string_member(metadata, "uid")},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

std::optional<long> scaled_value(const Json& value, long total, bool round_up, std::string& error) {
  if (value.is_number_integer()) {
    if (value.get<std::int64_t>() < 0) {
      error = fmt::format("{} must be greater than or equal to 0", value.dump());
      return std::nullopt;
    }
    return static_cast<long>(std::min<std::int64_t>(value.get<std::int64_t>(), 1'000'000'000));
  }
  if (value.is_string()) {
    const std::string text = value.get<std::string>();
    const bool digits =
        text.size() >= 2 && text.size() <= 10 && text.back() == '%' &&
        std::all_of(text.begin(), text.end() - 1, [](char c) { return c >= '0' && c <= '9'; });
    if (digits) {
      const long percent = std::stol(text.substr(0, text.size() - 1));
      const long scaled = percent * total;
      return round_up ? (scaled + 99) / 100 : scaled / 100;
    }
  }
  error = fmt::format("{} must be an integer or a percentage (\"25%\")", value.dump());
  return std::nullopt;
}

std::string generate_name_prefix(std::string prefix) {
  if (prefix.size() > 58) prefix.resize(58);
  return prefix;
}

Json find_condition(const Json& conditions, std::string_view type) {
  if (!conditions.is_array()) return nullptr;
  for (const Json& condition : conditions)
    if (string_member(condition, "type") == type) return condition;
  return nullptr;
}

void set_condition(Json& conditions, const std::string& type, const std::string& status,
                   const std::string& reason, const std::string& message, SystemClock::time_point now,
                   bool update_time) {
  if (!conditions.is_array()) conditions = Json::array();
  const std::string stamp = format_time(now);
  auto it = std::find_if(conditions.begin(), conditions.end(),
                         [&](const Json& c) { return string_member(c, "type") == type; });
  if (it == conditions.end() || !it->is_object()) {
    Json condition = {{"type", type}, {"status", status}};
    if (update_time) condition["lastUpdateTime"] = stamp;
    condition["lastTransitionTime"] = stamp;
    condition["reason"] = reason;
    condition["message"] = message;
    if (it == conditions.end()) {
      conditions.push_back(std::move(condition));
    } else {
      *it = std::move(condition);
    }
    return;
  }
  Json& condition = *it;
  const bool same = string_member(condition, "status") == status &&
                    string_member(condition, "reason") == reason &&
                    string_member(condition, "message") == message;
  if (string_member(condition, "status") != status) condition["lastTransitionTime"] = stamp;
  if (update_time && (!same || !condition.contains("lastUpdateTime"))) condition["lastUpdateTime"] = stamp;
  condition["status"] = status;
  condition["reason"] = reason;
  condition["message"] = message;
}

}  // namespace riasc::workloads

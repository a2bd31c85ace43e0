#include "riasc/runtime/scheduling.hpp"

#include <charconv>

namespace riasc::runtime {
namespace {

std::optional<std::int64_t> integer(const std::string& text) {
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// One NodeSelectorRequirement against a value that may be absent.
bool requirement_holds(const Json& requirement, const std::optional<std::string>& value) {
  const std::string op = requirement.value("operator", "");
  const Json values = requirement.value("values", Json::array());
  auto listed = [&] {
    for (const auto& candidate : values) {
      if (candidate.is_string() && value && candidate.get<std::string>() == *value) return true;
    }
    return false;
  };
  if (op == "In") return value && listed();
  if (op == "NotIn") return !value || !listed();
  if (op == "Exists") return value.has_value();
  if (op == "DoesNotExist") return !value.has_value();
  if (op == "Gt" || op == "Lt") {
    if (!value || values.size() != 1 || !values[0].is_string()) return false;
    const auto have = integer(*value);
    const auto bound = integer(values[0].get<std::string>());
    if (!have || !bound) return false;
    return op == "Gt" ? *have > *bound : *have < *bound;
  }
  return false;  // an unknown operator matches nothing, as the API server would have refused it
}

bool term_matches(const Json& term, const NodeIdentity& node) {
  const Json expressions = term.value("matchExpressions", Json::array());
  const Json fields = term.value("matchFields", Json::array());
  if (expressions.empty() && fields.empty()) return false;
  for (const auto& expression : expressions) {
    const std::string key = expression.value("key", "");
    std::optional<std::string> value;
    if (node.labels.contains(key) && node.labels[key].is_string())
      value = node.labels[key].get<std::string>();
    if (!requirement_holds(expression, value)) return false;
  }
  for (const auto& field : fields) {
    // metadata.name is the only field kube-scheduler supports here.
    if (field.value("key", "") != "metadata.name" || !requirement_holds(field, node.name)) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> unschedulable_reason(const Json& pod, const NodeIdentity& node) {
  const Json spec = pod.value("spec", Json::object());
  const std::string mismatch =
      "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.";
  const Json selector = spec.value("nodeSelector", Json::object());
  for (const auto& [key, wanted] : selector.items()) {
    if (!node.labels.contains(key) || node.labels[key] != wanted) return mismatch;
  }
  const Json required = spec.value("affinity", Json::object())
                            .value("nodeAffinity", Json::object())
                            .value("requiredDuringSchedulingIgnoredDuringExecution", Json());
  if (required.is_object()) {
    bool any = false;
    for (const auto& term : required.value("nodeSelectorTerms", Json::array()))
      any = any || term_matches(term, node);
    if (!any) return mismatch;
  }
  return std::nullopt;
}

}  // namespace riasc::runtime

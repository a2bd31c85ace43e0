#include "riasc/tenancy/rules.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace riasc::tenancy {

namespace {

constexpr std::size_t kMaxName = 253;  // a DNS subdomain, as RoleBinding names should be
constexpr std::string_view kBindingPrefix = "admin-";

bool dns_subdomain(std::string_view name) {
  if (name.empty() || name.size() > kMaxName) return false;
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  std::size_t start = 0;
  while (start <= name.size()) {
    const std::size_t dot = std::min(name.find('.', start), name.size());
    const std::string_view label = name.substr(start, dot - start);
    if (label.empty() || !alnum(label.front()) || !alnum(label.back())) return false;
    if (!std::ranges::all_of(label, [&](char c) { return alnum(c) || c == '-'; })) return false;
    start = dot + 1;
  }
  return true;
}

// 32-bit FNV-1a: stable across builds and platforms, which std::hash is not, and a binding's
// name must not change when the operator is rebuilt.
std::uint32_t fnv1a(std::string_view text) {
  std::uint32_t hash = 2166136261U;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 16777619U;
  }
  return hash;
}

std::vector<std::string> string_list(const Json& spec, const char* field) {
  std::vector<std::string> values;
  if (!spec.contains(field) || spec[field].is_null()) return values;
  if (!spec[field].is_array())
    throw std::invalid_argument(fmt::format("spec.{}: must be a list of strings", field));
  for (std::size_t i = 0; i < spec[field].size(); ++i) {
    const Json& value = spec[field][i];
    if (!value.is_string() || value.get<std::string>().empty())
      throw std::invalid_argument(fmt::format("spec.{}[{}]: must be a non-empty string", field, i));
    if (std::ranges::find(values, value.get<std::string>()) != values.end())
      throw std::invalid_argument(fmt::format("spec.{}[{}]: duplicate value {}", field, i, value.dump()));
    values.push_back(value.get<std::string>());
  }
  return values;
}

}  // namespace

std::string node_label(std::string_view project) { return fmt::format("project.riasc.eu/{}", project); }

std::string binding_name(std::string_view user) {
  std::string plain = fmt::format("{}{}", kBindingPrefix, user);
  if (dns_subdomain(plain)) return plain;
  std::string sanitised;
  for (char c : user) {
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    const bool keep = (lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9');
    // Runs of other characters become one '-', so "jane@example.org" reads "jane-example-org".
    if (keep)
      sanitised += lower;
    else if (!sanitised.empty() && sanitised.back() != '-')
      sanitised += '-';
  }
  const std::string suffix = fmt::format("-{:08x}", fnv1a(user));
  const std::size_t room = kMaxName - kBindingPrefix.size() - suffix.size();
  if (sanitised.size() > room) sanitised.resize(room);
  while (!sanitised.empty() && sanitised.back() == '-') sanitised.pop_back();
  return fmt::format("{}{}{}", kBindingPrefix, sanitised.empty() ? "user" : sanitised, suffix);
}

ProjectSpec read_project_spec(const Json& spec) {
  ProjectSpec result;
  if (spec.is_null()) return result;
  if (!spec.is_object()) throw std::invalid_argument("spec: must be an object");
  result.users = string_list(spec, "users");
  result.nodes = string_list(spec, "nodes");
  if (spec.contains("nodeSelector") && !spec["nodeSelector"].is_null()) {
    if (!spec["nodeSelector"].is_object())
      throw std::invalid_argument("spec.nodeSelector: must be an object");
    for (const auto& [key, value] : spec["nodeSelector"].items()) {
      if (!value.is_string())
        throw std::invalid_argument(fmt::format("spec.nodeSelector.{}: must be a string", key));
      result.node_selector[key] = value;
    }
  }
  if (spec.contains("limits") && spec["limits"].is_object() && spec["limits"].contains("pods")) {
    const Json& pods = spec["limits"]["pods"];
    if (!pods.is_number_integer() || pods.get<std::int64_t>() < 0)
      throw std::invalid_argument(
          fmt::format("spec.limits.pods: must be an integer >= 0, not {}", pods.dump()));
    result.pod_limit = pods.get<std::int64_t>();
  }
  return result;
}

Json project_node_selector(std::string_view project, const ProjectSpec& spec) {
  Json selector = spec.node_selector;
  if (!spec.nodes.empty()) selector[node_label(project)] = "";
  return selector;
}

std::vector<std::string> selector_conflicts(const Json& pod_selector, const Json& required) {
  std::vector<std::string> conflicts;
  if (!pod_selector.is_object()) return conflicts;
  for (const auto& [key, value] : required.items()) {
    auto it = pod_selector.find(key);
    if (it != pod_selector.end() && *it != value)
      conflicts.push_back(fmt::format("nodeSelector {} is {} in the pod, the project requires {}", key,
                                      it->dump(), value.dump()));
  }
  return conflicts;
}

bool counts_against_limit(const Json& pod) {
  const Json metadata = pod.value("metadata", Json::object());
  if (metadata.contains("deletionTimestamp") && !metadata["deletionTimestamp"].is_null()) return false;
  const std::string phase = string_member(pod.value("status", Json::object()), "phase");
  return phase != "Succeeded" && phase != "Failed";
}

}  // namespace riasc::tenancy

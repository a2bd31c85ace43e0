#include "riasc/apiserver/rbac_rules.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <tuple>

#include "riasc/core/go_quote.hpp"

namespace riasc::apiserver::rbac {

namespace {

bool has(const std::vector<std::string>& values, const std::string& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

bool has_all(const std::vector<std::string>& values, const std::vector<std::string>& wanted) {
  return std::all_of(wanted.begin(), wanted.end(), [&](const std::string& one) { return has(values, one); });
}

std::vector<std::string> strings_of(const Json& object, const char* field) {
  std::vector<std::string> out;
  auto found = object.find(field);
  if (found == object.end() || !found->is_array()) return out;
  for (const auto& value : *found) {
    if (value.is_string()) out.push_back(value.get<std::string>());
  }
  return out;
}

// Go's %q of a []string: ["a" "b"].
std::string go_quote_list(const std::vector<std::string>& values) {
  std::string out = "[";
  for (const auto& value : values) out += (out.size() > 1 ? " " : "") + go_quote(value);
  return out + "]";
}

bool verb_matches(const PolicyRule& rule, const std::string& verb) {
  return has(rule.verbs, "*") || has(rule.verbs, verb);
}

bool resource_matches(const PolicyRule& rule, const std::string& combined, const std::string& subresource) {
  for (const auto& resource : rule.resources) {
    if (resource == "*" || resource == combined) return true;
    // "*/status" matches the status subresource of everything.
    if (!subresource.empty() && resource.size() == subresource.size() + 2 && resource.starts_with("*/") &&
        resource.ends_with(subresource)) {
      return true;
    }
  }
  return false;
}

bool non_resource_url_matches(const std::string& pattern, const std::string& path) {
  if (pattern == "*" || pattern == path) return true;
  return pattern.ends_with('*') && path.starts_with(std::string_view(pattern).substr(0, pattern.size() - 1));
}

// kube's ruleCovers, on a rule broken down to single values.
bool rule_covers(const PolicyRule& owner, const PolicyRule& sub) {
  const bool verbs = has(owner.verbs, "*") || has_all(owner.verbs, sub.verbs);
  const bool groups = has(owner.api_groups, "*") || has_all(owner.api_groups, sub.api_groups);
  bool resources = has(owner.resources, "*") || has_all(owner.resources, sub.resources);
  if (!resources) {
    resources = std::all_of(sub.resources.begin(), sub.resources.end(), [&](const std::string& resource) {
      if (has(owner.resources, resource)) return true;
      const auto slash = resource.find('/');
      return slash != std::string::npos && has(owner.resources, "*/" + resource.substr(slash + 1));
    });
  }
  const bool urls =
      std::all_of(sub.non_resource_urls.begin(), sub.non_resource_urls.end(), [&](const auto& path) {
        return std::any_of(
            owner.non_resource_urls.begin(), owner.non_resource_urls.end(), [&](const auto& pattern) {
              return pattern == path ||
                     (pattern.ends_with('*') &&
                      path.starts_with(std::string_view(pattern).substr(0, pattern.size() - 1)));
            });
      });
  const bool names = owner.resource_names.empty() ||
                     (!sub.resource_names.empty() && has_all(owner.resource_names, sub.resource_names));
  return verbs && groups && resources && urls && names;
}

std::vector<PolicyRule> breakdown(const PolicyRule& rule) {
  std::vector<PolicyRule> out;
  for (const auto& group : rule.api_groups) {
    for (const auto& resource : rule.resources) {
      for (const auto& verb : rule.verbs) {
        if (rule.resource_names.empty()) {
          out.push_back({{verb}, {group}, {resource}, {}, {}});
        } else {
          for (const auto& name : rule.resource_names)
            out.push_back({{verb}, {group}, {resource}, {name}, {}});
        }
      }
    }
  }
  for (const auto& url : rule.non_resource_urls) {
    for (const auto& verb : rule.verbs) out.push_back({{verb}, {}, {}, {}, {url}});
  }
  return out;
}

std::string field_selector_name(const std::string& selector) {
  std::size_t start = 0;
  while (start <= selector.size()) {
    const std::size_t end = std::min(selector.find(',', start), selector.size());
    const std::string_view term = std::string_view(selector).substr(start, end - start);
    for (const std::string_view prefix : {"metadata.name==", "metadata.name="}) {
      if (term.starts_with(prefix)) return std::string(term.substr(prefix.size()));
    }
    start = end + 1;
  }
  return {};
}

}  // namespace

PolicyRule PolicyRule::from_json(const Json& rule) {
  if (!rule.is_object()) return {};
  return {strings_of(rule, "verbs"), strings_of(rule, "apiGroups"), strings_of(rule, "resources"),
          strings_of(rule, "resourceNames"), strings_of(rule, "nonResourceURLs")};
}

Json PolicyRule::to_json() const {
  Json out = {{"verbs", verbs}};
  if (!api_groups.empty()) out["apiGroups"] = api_groups;
  if (!resources.empty()) out["resources"] = resources;
  if (!resource_names.empty()) out["resourceNames"] = resource_names;
  if (!non_resource_urls.empty()) out["nonResourceURLs"] = non_resource_urls;
  return out;
}

std::string PolicyRule::compact_string() const {
  std::vector<std::string> parts;
  if (!api_groups.empty()) parts.push_back("APIGroups:" + go_quote_list(api_groups));
  if (!resources.empty()) parts.push_back("Resources:" + go_quote_list(resources));
  if (!non_resource_urls.empty()) parts.push_back("NonResourceURLs:" + go_quote_list(non_resource_urls));
  if (!resource_names.empty()) parts.push_back("ResourceNames:" + go_quote_list(resource_names));
  if (!verbs.empty()) parts.push_back("Verbs:" + go_quote_list(verbs));
  return fmt::format("{{{}}}", fmt::join(parts, ", "));
}

Binding Binding::from_json(const Json& binding) {
  Binding out;
  const Json metadata = binding.value("metadata", Json::object());
  out.name = string_member(metadata, "name");
  if (binding.value("kind", "") == "RoleBinding") out.namespace_name = string_member(metadata, "namespace");
  const Json role = binding.value("roleRef", Json::object());
  out.role_kind = string_member(role, "kind");
  out.role_name = string_member(role, "name");
  const Json subjects = binding.value("subjects", Json::array());
  if (subjects.is_array()) {
    for (const auto& subject : subjects) {
      if (!subject.is_object()) continue;
      out.subjects.push_back({string_member(subject, "kind"), string_member(subject, "name"),
                              string_member(subject, "namespace")});
    }
  }
  return out;
}

void Policy::add(const Json& object) {
  const std::string kind = string_member(object, "kind");
  const Json metadata = object.value("metadata", Json::object());
  auto rules = [&] {
    std::vector<PolicyRule> out;
    const Json list = object.value("rules", Json::array());
    if (list.is_array()) {
      for (const auto& rule : list) out.push_back(PolicyRule::from_json(rule));
    }
    return out;
  };
  if (kind == "ClusterRole") {
    cluster_roles[string_member(metadata, "name")] = rules();
  } else if (kind == "Role") {
    roles[{string_member(metadata, "namespace"), string_member(metadata, "name")}] = rules();
  } else if (kind == "ClusterRoleBinding") {
    cluster_role_bindings.push_back(Binding::from_json(object));
  } else if (kind == "RoleBinding") {
    role_bindings.push_back(Binding::from_json(object));
  }
}

bool rule_allows(const PolicyRule& rule, const Attributes& a) {
  if (!verb_matches(rule, a.verb)) return false;
  if (!a.resource_request) {
    return std::any_of(rule.non_resource_urls.begin(), rule.non_resource_urls.end(),
                       [&](const std::string& pattern) { return non_resource_url_matches(pattern, a.path); });
  }
  const std::string combined = a.subresource.empty() ? a.resource : a.resource + "/" + a.subresource;
  return (has(rule.api_groups, "*") || has(rule.api_groups, a.group)) &&
         resource_matches(rule, combined, a.subresource) &&
         (rule.resource_names.empty() || has(rule.resource_names, a.name));
}

bool subject_matches(const Subject& subject, const std::string& user, const std::vector<std::string>& groups,
                     const std::string& binding_namespace) {
  if (subject.kind == "User") return subject.name == user;
  if (subject.kind == "Group") return has(groups, subject.name);
  if (subject.kind == "ServiceAccount") {
    // kube defaults the namespace to the binding's, so RoleBindings may name their own SAs bare.
    const std::string& namespace_name =
        subject.namespace_name.empty() ? binding_namespace : subject.namespace_name;
    if (namespace_name.empty()) return false;
    return user == fmt::format("system:serviceaccount:{}:{}", namespace_name, subject.name);
  }
  return false;
}

bool privileged(const std::vector<std::string>& groups) { return has(groups, "system:masters"); }

std::optional<std::vector<PolicyRule>> role_rules(const Policy& policy, const std::string& role_kind,
                                                  const std::string& role_name,
                                                  const std::string& binding_namespace) {
  if (role_kind == "ClusterRole") {
    auto found = policy.cluster_roles.find(role_name);
    if (found != policy.cluster_roles.end()) return found->second;
  } else if (role_kind == "Role" && !binding_namespace.empty()) {
    auto found = policy.roles.find({binding_namespace, role_name});
    if (found != policy.roles.end()) return found->second;
  }
  return std::nullopt;
}

namespace {

std::string describe_subject(const Subject& subject, const std::string& binding_namespace) {
  if (subject.kind == "ServiceAccount") {
    return fmt::format(
        "{} {}", subject.kind,
        go_quote(subject.name + "/" +
                 (subject.namespace_name.empty() ? binding_namespace : subject.namespace_name)));
  }
  return fmt::format("{} {}", subject.kind, go_quote(subject.name));
}

// kube's VisitRulesFor: ClusterRoleBindings, then the RoleBindings of the namespace. `visit`
// returns false to stop; it gets a description of where the rule came from.
template <typename Visit>
void visit_rules(const Policy& policy, const std::string& user, const std::vector<std::string>& groups,
                 const std::string& namespace_name, Visit visit) {
  auto walk = [&](const Binding& binding) {
    for (const auto& subject : binding.subjects) {
      if (!subject_matches(subject, user, groups, binding.namespace_name)) continue;
      auto rules = role_rules(policy, binding.role_kind, binding.role_name, binding.namespace_name);
      if (!rules) return true;
      auto source = [&] {
        const std::string name =
            binding.namespace_name.empty() ? binding.name : binding.name + "/" + binding.namespace_name;
        return fmt::format("{} {} of {} {} to {}",
                           binding.namespace_name.empty() ? "ClusterRoleBinding" : "RoleBinding",
                           go_quote(name), binding.role_kind, go_quote(binding.role_name),
                           describe_subject(subject, binding.namespace_name));
      };
      for (const auto& rule : *rules) {
        if (!visit(rule, source)) return false;
      }
      return true;  // one matching subject is enough: the same rules again would add nothing
    }
    return true;
  };
  for (const auto& binding : policy.cluster_role_bindings) {
    if (!walk(binding)) return;
  }
  if (namespace_name.empty()) return;
  for (const auto& binding : policy.role_bindings) {
    if (binding.namespace_name == namespace_name && !walk(binding)) return;
  }
}

}  // namespace

Decision authorize(const Policy& policy, const Attributes& attributes) {
  Decision decision;
  if (privileged(attributes.groups)) {
    decision.allowed = true;
    return decision;
  }
  visit_rules(policy, attributes.user, attributes.groups, attributes.namespace_name,
              [&](const PolicyRule& rule, const auto& source) {
                if (!rule_allows(rule, attributes)) return true;
                decision.allowed = true;
                decision.reason = "RBAC: allowed by " + source();
                return false;
              });
  return decision;
}

std::vector<PolicyRule> rules_for(const Policy& policy, const std::string& user,
                                  const std::vector<std::string>& groups, const std::string& namespace_name) {
  std::vector<PolicyRule> out;
  visit_rules(policy, user, groups, namespace_name, [&](const PolicyRule& rule, const auto&) {
    out.push_back(rule);
    return true;
  });
  return out;
}

std::vector<PolicyRule> uncovered(const std::vector<PolicyRule>& owner,
                                  const std::vector<PolicyRule>& requested) {
  std::vector<PolicyRule> missing;
  for (const auto& rule : requested) {
    for (auto& sub : breakdown(rule)) {
      const bool covered = std::any_of(owner.begin(), owner.end(),
                                       [&](const PolicyRule& held) { return rule_covers(held, sub); });
      if (!covered) missing.push_back(std::move(sub));
    }
  }
  // kube's CompactRules: single-group, single-resource rules with at most one name merge their verbs.
  std::vector<PolicyRule> compacted;
  std::map<std::tuple<std::string, std::string, std::string>, std::size_t> simple;
  for (auto& rule : missing) {
    if (rule.non_resource_urls.empty() && rule.api_groups.size() == 1 && rule.resources.size() == 1 &&
        rule.resource_names.size() <= 1) {
      auto key = std::make_tuple(rule.api_groups[0], rule.resources[0],
                                 rule.resource_names.empty() ? std::string() : rule.resource_names[0]);
      if (auto found = simple.find(key); found != simple.end()) {
        auto& verbs = compacted[found->second].verbs;
        verbs.insert(verbs.end(), rule.verbs.begin(), rule.verbs.end());
        continue;
      }
      simple.emplace(key, compacted.size());
    }
    compacted.push_back(std::move(rule));
  }
  return compacted;
}

Attributes request_attributes(const std::string& method, const kubeapi::RequestTarget& target,
                              const std::string& raw_path, std::string user,
                              std::vector<std::string> groups) {
  Attributes a;
  a.user = std::move(user);
  a.groups = std::move(groups);
  const kubeapi::ResourcePath& path = target.path;
  if (path.kind != kubeapi::ResourcePath::Kind::Resource) {
    a.resource_request = false;
    a.path = raw_path;
    a.verb = method;
    std::transform(a.verb.begin(), a.verb.end(), a.verb.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return a;
  }
  a.group = path.group;
  a.resource = path.resource;
  a.subresource = path.subresource;
  a.namespace_name = path.namespace_name;
  a.name = path.name;
  if (method == "POST") {
    a.verb = "create";
  } else if (method == "GET" || method == "HEAD") {
    a.verb = "get";
  } else if (method == "PUT") {
    a.verb = "update";
  } else if (method == "PATCH") {
    a.verb = "patch";
  } else if (method == "DELETE") {
    a.verb = "delete";
  } else {
    a.verb = method;
    std::transform(a.verb.begin(), a.verb.end(), a.verb.begin(),
                   [](unsigned char c) { return std::tolower(c); });
  }
  if (path.watch_prefix) {
    a.verb = "watch";
  } else if (a.name.empty() && a.verb == "get") {
    a.verb = target.query.watch ? "watch" : "list";
  } else if (a.name.empty() && a.verb == "delete") {
    a.verb = "deletecollection";
  }
  // A list or watch of one object by field selector is authorized as that object, so
  // resourceNames rules allow `kubectl get pod x --watch`.
  if (a.name.empty() && (a.verb == "list" || a.verb == "watch"))
    a.name = field_selector_name(target.query.field_selector);
  return a;
}

void append_unique(std::vector<PolicyRule>& into, const std::vector<PolicyRule>& rules) {
  for (const auto& rule : rules) {
    if (std::find(into.begin(), into.end(), rule) == into.end()) into.push_back(rule);
  }
}

}  // namespace riasc::apiserver::rbac

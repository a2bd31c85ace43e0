#pragma once

// RBAC as kube-apiserver's RBAC authorizer evaluates it, as pure functions over parsed roles and
// bindings (no store, no HTTP): which rules a user holds where, whether a rule allows a request,
// whether one set of rules covers another (escalation prevention), and what a request's
// attributes are (kube's RequestInfoFactory: verb, resource, subresource, namespace, name).
//
// Matching is kube's (k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac): "*" in verbs,
// apiGroups, resources and nonResourceURLs; "pods/log" and "*/log" for subresources (kube has no
// "pods/*" form: such a rule names a literal resource and matches nothing); resourceNames only
// match requests that carry a name (so never list, watch or create without one); a
// nonResourceURL ending in "*" matches by prefix.

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "riasc/core/json.hpp"
#include "riasc/kubeapi/resource_path.hpp"

namespace riasc::apiserver::rbac {

inline constexpr const char* kGroup = "rbac.authorization.k8s.io";

struct PolicyRule {
  std::vector<std::string> verbs;
  std::vector<std::string> api_groups;
  std::vector<std::string> resources;
  std::vector<std::string> resource_names;
  std::vector<std::string> non_resource_urls;

  static PolicyRule from_json(const Json& rule);
  [[nodiscard]] Json to_json() const;
  // kube's rbacv1helpers.CompactString, used in escalation messages:
  // {APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}
  [[nodiscard]] std::string compact_string() const;
  bool operator==(const PolicyRule&) const = default;
};

// A request as the authorizer sees it (kube's authorizer.Attributes).
struct Attributes {
  std::string user;
  std::vector<std::string> groups;
  std::string verb;
  bool resource_request = true;
  std::string group;
  std::string resource;
  std::string subresource;
  std::string namespace_name;
  std::string name;
  std::string path;  // non-resource requests
};

struct Subject {
  std::string kind;  // User, Group, ServiceAccount
  std::string name;
  std::string namespace_name;  // ServiceAccount
};

struct Binding {
  std::string name;
  std::string namespace_name;  // empty: a ClusterRoleBinding
  std::string role_kind;       // Role or ClusterRole
  std::string role_name;
  std::vector<Subject> subjects;

  // A RoleBinding or ClusterRoleBinding object.
  static Binding from_json(const Json& binding);
};

// Every Role, ClusterRole and binding, parsed once (RbacAuthorizer keeps one per store state).
struct Policy {
  std::map<std::string, std::vector<PolicyRule>> cluster_roles;
  std::map<std::pair<std::string, std::string>, std::vector<PolicyRule>> roles;  // (namespace, name)
  std::vector<Binding> cluster_role_bindings;
  std::vector<Binding> role_bindings;

  // Adds a stored Role, ClusterRole, RoleBinding or ClusterRoleBinding by its kind.
  void add(const Json& object);
};

struct Decision {
  bool allowed = false;
  // Why it was allowed, as kube words it: `RBAC: allowed by ClusterRoleBinding "x" of
  // ClusterRole "y" to Group "z"`. Empty for a denial (kube's RBAC has "no opinion").
  std::string reason;
};

bool rule_allows(const PolicyRule& rule, const Attributes& attributes);
bool subject_matches(const Subject& subject, const std::string& user, const std::vector<std::string>& groups,
                     const std::string& binding_namespace);

// kube-apiserver's privileged-groups authorizer, which runs before RBAC: system:masters may do
// everything, whatever the bindings say.
bool privileged(const std::vector<std::string>& groups);

Decision authorize(const Policy& policy, const Attributes& attributes);

// The rules `user` holds in `namespace_name` (cluster-wide ones too; empty: cluster-wide only),
// as kube's RulesFor: SelfSubjectRulesReview and escalation checks.
std::vector<PolicyRule> rules_for(const Policy& policy, const std::string& user,
                                  const std::vector<std::string>& groups, const std::string& namespace_name);

// The rules a binding's roleRef grants (nullopt: the role does not exist).
std::optional<std::vector<PolicyRule>> role_rules(const Policy& policy, const std::string& role_kind,
                                                  const std::string& role_name,
                                                  const std::string& binding_namespace);

// kube's validation.Covers: the parts of `requested` (broken down to one verb, group, resource,
// name or URL each, then compacted) that no rule of `owner` covers. Empty: covered.
std::vector<PolicyRule> uncovered(const std::vector<PolicyRule>& owner,
                                  const std::vector<PolicyRule>& requested);

// The request attributes of an API request (kube's RequestInfoFactory plus the user).
Attributes request_attributes(const std::string& method, const kubeapi::RequestTarget& target,
                              const std::string& raw_path, std::string user, std::vector<std::string> groups);

// The union of rules without repeats, in first-seen order (aggregation).
void append_unique(std::vector<PolicyRule>& into, const std::vector<PolicyRule>& rules);

}  // namespace riasc::apiserver::rbac

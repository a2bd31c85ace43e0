// The bootstrap RBAC policy: kube-apiserver's default ClusterRoles and ClusterRoleBindings
// (plugin/pkg/auth/authorizer/rbac/bootstrappolicy), cut down to the resources this server
// serves, plus leases in edit (coordination.k8s.io is what operators here use for leader
// election; kube grants leases to no default role).

#include <fmt/format.h>

#include <sstream>

#include "riasc/apiserver/rbac_authorizer.hpp"

namespace riasc::apiserver {

namespace {

// One rule: space-separated verbs, API groups ("core" for ""), resources, nonResourceURLs.
struct Rule {
  const char* verbs;
  const char* groups;
  const char* resources;
  const char* urls = "";
};

struct Role {
  const char* name;
  // "view" for label rbac.authorization.k8s.io/aggregate-to-view=true; "" for none.
  const char* aggregate_to;
  // Non-empty: an aggregated role, its rules gathered from roles labelled aggregate-to-<this>.
  const char* aggregated_from;
  std::vector<Rule> rules;
};

constexpr const char* kRead = "get list watch";
constexpr const char* kWrite = "create delete deletecollection patch update";

const std::vector<Role>& roles() {
  static const std::vector<Role> table = {
      {"cluster-admin", "", "", {{"*", "*", "*"}, {"*", "", "", "*"}}},
      {"admin", "", "admin", {}},
      {"edit", "admin", "edit", {}},
      {"view", "edit", "view", {}},
      {"system:aggregate-to-admin",
       "admin",
       "",
       {{"create delete deletecollection get list patch update watch", "rbac.authorization.k8s.io",
         "roles rolebindings"}}},
      {"system:aggregate-to-edit",
       "edit",
       "",
       {{kWrite, "core", "pods configmaps secrets serviceaccounts events"},
        {"create", "core", "serviceaccounts/token"},
        {kRead, "core", "secrets"},
        {kWrite, "apps", "deployments deployments/scale daemonsets"},
        {"create delete deletecollection get list patch update watch", "coordination.k8s.io", "leases"}}},
      {"system:aggregate-to-view",
       "view",
       "",
       {{kRead, "core",
         "pods pods/log pods/status configmaps serviceaccounts events namespaces namespaces/status"},
        {kRead, "apps", "deployments deployments/scale deployments/status daemonsets daemonsets/status"}}},
      {"system:discovery",
       "",
       "",
       {{"get", "", "",
         "/api /api/* /apis /apis/* /healthz /livez /openapi /openapi/* /readyz /version /version/"}}},
      {"system:basic-user",
       "",
       "",
       {{"create", "authorization.k8s.io", "selfsubjectaccessreviews selfsubjectrulesreviews"},
        {"create", "authentication.k8s.io", "selfsubjectreviews"}}},
      {"system:public-info-viewer", "", "", {{"get", "", "", "/healthz /livez /readyz /version /version/"}}},
      {"system:monitoring",
       "",
       "",
       {{"get", "", "", "/metrics /metrics/slis /healthz /healthz/* /livez /livez/* /readyz /readyz/*"}}},
  };
  return table;
}

// ClusterRoleBinding name (the role's), then subjects: "Group:NAME" or "User:NAME".
const std::vector<std::pair<const char*, std::vector<const char*>>>& bindings() {
  static const std::vector<std::pair<const char*, std::vector<const char*>>> table = {
      {"cluster-admin", {"system:masters"}},
      {"system:discovery", {"system:authenticated"}},
      {"system:basic-user", {"system:authenticated"}},
      {"system:public-info-viewer", {"system:authenticated", "system:unauthenticated"}},
      {"system:monitoring", {"system:monitoring"}},
  };
  return table;
}

Json words(const std::string& text) {
  Json out = Json::array();
  std::istringstream in(text);
  for (std::string word; in >> word;) out.push_back(word == "core" ? "" : word);
  return out;
}

Json metadata(const char* name) {
  return {{"name", name},
          {"labels", {{"kubernetes.io/bootstrapping", "rbac-defaults"}}},
          {"annotations", {{"rbac.authorization.kubernetes.io/autoupdate", "true"}}}};
}

}  // namespace

std::vector<Json> bootstrap_policy() {
  std::vector<Json> out;
  for (const auto& role : roles()) {
    Json object = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                   {"kind", "ClusterRole"},
                   {"metadata", metadata(role.name)}};
    if (*role.aggregate_to)
      object["metadata"]["labels"]
            [fmt::format("rbac.authorization.k8s.io/aggregate-to-{}", role.aggregate_to)] = "true";
    if (*role.aggregated_from) {
      object["aggregationRule"] = {
          {"clusterRoleSelectors",
           {{{"matchLabels",
              {{fmt::format("rbac.authorization.k8s.io/aggregate-to-{}", role.aggregated_from), "true"}}}}}}};
    }
    Json rules = Json::array();
    for (const auto& rule : role.rules) {
      Json json = {{"verbs", words(rule.verbs)}};
      if (*rule.resources) {
        json["apiGroups"] = words(rule.groups);
        json["resources"] = words(rule.resources);
      }
      if (*rule.urls) json["nonResourceURLs"] = words(rule.urls);
      rules.push_back(std::move(json));
    }
    object["rules"] = std::move(rules);
    out.push_back(std::move(object));
  }
  for (const auto& [name, groups] : bindings()) {
    Json subjects = Json::array();
    for (const char* group : groups)
      subjects.push_back({{"kind", "Group"}, {"apiGroup", "rbac.authorization.k8s.io"}, {"name", group}});
    out.push_back(
        {{"apiVersion", "rbac.authorization.k8s.io/v1"},
         {"kind", "ClusterRoleBinding"},
         {"metadata", metadata(name)},
         {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", name}}},
         {"subjects", std::move(subjects)}});
  }
  return out;
}

}  // namespace riasc::apiserver

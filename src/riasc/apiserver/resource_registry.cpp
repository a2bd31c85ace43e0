#include "riasc/apiserver/resource_registry.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <mutex>

namespace riasc::apiserver {

std::string ResourceType::api_version() const { return group.empty() ? version : group + "/" + version; }

std::string ResourceType::key_prefix(std::string_view namespace_name) const {
  std::string prefix = fmt::format("/registry/{}/{}/", group.empty() ? "core" : group, resource);
  if (namespaced && !namespace_name.empty()) prefix += fmt::format("{}/", namespace_name);
  return prefix;
}

std::string ResourceType::key(std::string_view namespace_name, std::string_view name) const {
  return key_prefix(namespace_name) + std::string(name);
}

std::string ResourceType::qualified_resource() const {
  return group.empty() ? resource : resource + "." + group;
}

namespace {

ResourceType builtin(std::string group, std::string version, std::string resource, std::string singular,
                     std::string kind, bool namespaced, std::vector<std::string> short_names = {},
                     bool status = false, std::vector<std::string> categories = {}) {
  ResourceType type;
  type.group = std::move(group);
  type.version = std::move(version);
  type.resource = std::move(resource);
  type.singular = std::move(singular);
  type.kind = std::move(kind);
  type.namespaced = namespaced;
  type.short_names = std::move(short_names);
  type.status_subresource = status;
  type.categories = std::move(categories);
  return type;
}

Json string_list(const std::vector<std::string>& values) {
  Json list = Json::array();
  for (const auto& value : values) list.push_back(value);
  return list;
}

Json resource_entry(const ResourceType& type) {
  Json entry = {{"name", type.resource},
                {"singularName", type.singular},
                {"namespaced", type.namespaced},
                {"kind", type.kind},
                {"verbs", string_list(type.verbs)}};
  if (!type.short_names.empty()) entry["shortNames"] = string_list(type.short_names);
  if (!type.categories.empty()) entry["categories"] = string_list(type.categories);
  return entry;
}

Json status_entry(const ResourceType& type) {
  return {{"name", type.resource + "/status"},
          {"singularName", ""},
          {"namespaced", type.namespaced},
          {"kind", type.kind},
          {"verbs", {"get", "patch", "update"}}};
}

}  // namespace

std::unique_ptr<ResourceRegistry> ResourceRegistry::with_builtins() {
  auto registry = std::make_unique<ResourceRegistry>();
  registry->add(builtin("", "v1", "namespaces", "namespace", "Namespace", false, {"ns"}, true));
  registry->add(builtin("", "v1", "nodes", "node", "Node", false, {"no"}, true));
  registry->add(builtin("", "v1", "pods", "pod", "Pod", true, {"po"}, true, {"all"}));
  registry->add(builtin("", "v1", "configmaps", "configmap", "ConfigMap", true, {"cm"}));
  registry->add(builtin("", "v1", "secrets", "secret", "Secret", true));
  registry->add(builtin("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, {"sa"}));
  registry->add(builtin("", "v1", "events", "event", "Event", true, {"ev"}));
  auto deployments =
      builtin("apps", "v1", "deployments", "deployment", "Deployment", true, {"deploy"}, true, {"all"});
  deployments.scale_subresource = true;
  registry->add(std::move(deployments));
  registry->add(builtin("apps", "v1", "daemonsets", "daemonset", "DaemonSet", true, {"ds"}, true, {"all"}));
  registry->add(builtin("coordination.k8s.io", "v1", "leases", "lease", "Lease", true));
  registry->add(builtin("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", true));
  registry->add(
      builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", true));
  registry->add(
      builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", false));
  registry->add(builtin("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding",
                        "ClusterRoleBinding", false));
  registry->add(builtin("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
                        "mutatingwebhookconfiguration", "MutatingWebhookConfiguration", false));
  registry->add(builtin("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
                        "validatingwebhookconfiguration", "ValidatingWebhookConfiguration", false));
  registry->add(builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
                        "CustomResourceDefinition", false, {"crd", "crds"}, true));
  auto review = builtin("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "selfsubjectaccessreview",
                        "SelfSubjectAccessReview", false);
  review.verbs = {"create"};
  registry->add(std::move(review));
  auto whoami = builtin("authentication.k8s.io", "v1", "selfsubjectreviews", "selfsubjectreview",
                        "SelfSubjectReview", false);
  whoami.verbs = {"create"};
  registry->add(std::move(whoami));
  auto rules_review = builtin("authorization.k8s.io", "v1", "selfsubjectrulesreviews",
                              "selfsubjectrulesreview", "SelfSubjectRulesReview", false);
  rules_review.verbs = {"create"};
  registry->add(std::move(rules_review));
  return registry;
}

void ResourceRegistry::add(ResourceType type) {
  std::unique_lock lock(mutex_);
  std::erase_if(types_, [&](const ResourceType& known) {
    return known.group == type.group && known.version == type.version && known.resource == type.resource;
  });
  types_.push_back(std::move(type));
}

void ResourceRegistry::add_crd(const schema::CustomResourceDefinition& crd) {
  auto shared = std::make_shared<const schema::CustomResourceDefinition>(crd);
  const Json& spec = crd.source()["spec"];
  const Json& names = spec["names"];
  std::vector<ResourceType> added;
  for (const auto& version : spec["versions"]) {
    if (!version.value("served", false)) continue;
    ResourceType type;
    type.group = crd.group();
    type.version = version["name"].get<std::string>();
    type.resource = crd.plural();
    type.singular = string_member(names, "singular");
    if (type.singular.empty()) {
      type.singular = crd.kind();
      std::ranges::transform(type.singular, type.singular.begin(),
                             [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    }
    type.kind = crd.kind();
    type.namespaced = crd.namespaced();
    for (const auto& name : names.value("shortNames", Json::array()))
      type.short_names.push_back(name.get<std::string>());
    for (const auto& name : names.value("categories", Json::array()))
      type.categories.push_back(name.get<std::string>());
    type.status_subresource = version.contains("subresources") && version["subresources"].contains("status");
    type.crd = shared;
    added.push_back(std::move(type));
  }
  std::unique_lock lock(mutex_);
  std::erase_if(types_,
                [&](const ResourceType& known) { return known.crd && known.crd->name() == crd.name(); });
  for (auto& type : added) types_.push_back(std::move(type));
}

void ResourceRegistry::remove_crd(std::string_view crd_name) {
  std::unique_lock lock(mutex_);
  std::erase_if(types_,
                [&](const ResourceType& known) { return known.crd && known.crd->name() == crd_name; });
}

std::optional<ResourceType> ResourceRegistry::find(std::string_view group, std::string_view version,
                                                   std::string_view resource) const {
  std::shared_lock lock(mutex_);
  for (const auto& type : types_) {
    if (type.group == group && type.version == version && type.resource == resource) return type;
  }
  return std::nullopt;
}

std::optional<ResourceType> ResourceRegistry::find_kind(std::string_view group, std::string_view version,
                                                        std::string_view kind) const {
  std::shared_lock lock(mutex_);
  for (const auto& type : types_) {
    if (type.group == group && type.version == version && type.kind == kind) return type;
  }
  return std::nullopt;
}

std::vector<ResourceType> ResourceRegistry::all() const {
  std::shared_lock lock(mutex_);
  return types_;
}

Json ResourceRegistry::core_versions(std::string_view server_address) const {
  return {{"kind", "APIVersions"},
          {"versions", {"v1"}},
          {"serverAddressByClientCIDRs", {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", server_address}}}}};
}

Json ResourceRegistry::group_list() const {
  // Groups in the order they were first registered, each with its versions in that order; the
  // first version listed is the preferred one.
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;
  for (const auto& type : all()) {
    if (type.group.empty()) continue;
    auto group = std::ranges::find_if(groups, [&](const auto& g) { return g.first == type.group; });
    if (group == groups.end()) {
      groups.push_back({type.group, {}});
      group = std::prev(groups.end());
    }
    if (std::ranges::find(group->second, type.version) == group->second.end())
      group->second.push_back(type.version);
  }
  Json list = {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", Json::array()}};
  for (const auto& [name, versions] : groups) {
    Json entry = {{"name", name}, {"versions", Json::array()}};
    for (const auto& version : versions) {
      entry["versions"].push_back({{"groupVersion", name + "/" + version}, {"version", version}});
    }
    entry["preferredVersion"] = entry["versions"][0];
    list["groups"].push_back(std::move(entry));
  }
  return list;
}

std::optional<Json> ResourceRegistry::resource_list(std::string_view group, std::string_view version) const {
  Json resources = Json::array();
  for (const auto& type : all()) {
    if (type.group != group || type.version != version) continue;
    resources.push_back(resource_entry(type));
    if (type.status_subresource) resources.push_back(status_entry(type));
    if (type.scale_subresource) {
      resources.push_back({{"name", type.resource + "/scale"},
                           {"singularName", ""},
                           {"namespaced", type.namespaced},
                           {"group", "autoscaling"},
                           {"version", "v1"},
                           {"kind", "Scale"},
                           {"verbs", {"get", "patch", "update"}}});
    }
    if (type.group.empty() && type.resource == "serviceaccounts") {
      resources.push_back({{"name", "serviceaccounts/token"},
                           {"singularName", ""},
                           {"namespaced", true},
                           {"group", "authentication.k8s.io"},
                           {"version", "v1"},
                           {"kind", "TokenRequest"},
                           {"verbs", {"create"}}});
    }
    if (type.group.empty() && type.resource == "pods") {
      resources.push_back({{"name", "pods/log"},
                           {"singularName", ""},
                           {"namespaced", true},
                           {"kind", "Pod"},
                           {"verbs", {"get"}}});
    }
  }
  if (resources.empty()) return std::nullopt;
  std::string group_version = group.empty() ? std::string(version) : fmt::format("{}/{}", group, version);
  return Json{{"kind", "APIResourceList"},
              {"apiVersion", "v1"},
              {"groupVersion", group_version},
              {"resources", std::move(resources)}};
}

Json ResourceRegistry::aggregated(bool core, std::string_view discovery_version) const {
  Json items = Json::array();
  for (const auto& type : all()) {
    if (type.group.empty() != core) continue;
    auto item =
        std::ranges::find_if(items, [&](const Json& i) { return i["metadata"]["name"] == type.group; });
    if (item == items.end()) {
      items.push_back({{"metadata", {{"name", type.group}, {"creationTimestamp", nullptr}}},
                       {"versions", Json::array()}});
      item = std::prev(items.end());
    }
    Json& versions = (*item)["versions"];
    auto version =
        std::ranges::find_if(versions, [&](const Json& v) { return v["version"] == type.version; });
    if (version == versions.end()) {
      versions.push_back({{"version", type.version}, {"freshness", "Current"}, {"resources", Json::array()}});
      version = std::prev(versions.end());
    }
    Json kind = {{"group", type.group}, {"version", type.version}, {"kind", type.kind}};
    Json resource = {{"resource", type.resource},
                     {"responseKind", kind},
                     {"scope", type.namespaced ? "Namespaced" : "Cluster"},
                     {"singularResource", type.singular},
                     {"verbs", string_list(type.verbs)}};
    if (!type.short_names.empty()) resource["shortNames"] = string_list(type.short_names);
    if (!type.categories.empty()) resource["categories"] = string_list(type.categories);
    resource["subresources"] = Json::array();
    if (type.status_subresource) {
      resource["subresources"].push_back(
          {{"subresource", "status"}, {"responseKind", kind}, {"verbs", {"get", "patch", "update"}}});
    }
    if (type.scale_subresource) {
      resource["subresources"].push_back(
          {{"subresource", "scale"},
           {"responseKind", {{"group", "autoscaling"}, {"version", "v1"}, {"kind", "Scale"}}},
           {"verbs", {"get", "patch", "update"}}});
    }
    if (type.group.empty() && type.resource == "serviceaccounts") {
      resource["subresources"].push_back(
          {{"subresource", "token"},
           {"responseKind",
            {{"group", "authentication.k8s.io"}, {"version", "v1"}, {"kind", "TokenRequest"}}},
           {"verbs", {"create"}}});
    }
    if (resource["subresources"].empty()) resource.erase("subresources");
    (*version)["resources"].push_back(std::move(resource));
  }
  return {{"kind", "APIGroupDiscoveryList"},
          {"apiVersion", fmt::format("apidiscovery.k8s.io/{}", discovery_version)},
          {"metadata", Json::object()},
          {"items", std::move(items)}};
}

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::string negotiate_discovery(std::string_view accept) {
  while (!accept.empty()) {
    auto comma = accept.find(',');
    std::string_view range = trim(accept.substr(0, comma));
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    auto semicolon = range.find(';');
    std::string_view media_type = trim(range.substr(0, semicolon));
    std::map<std::string, std::string, std::less<>> parameters;
    while (semicolon != std::string_view::npos) {
      range = range.substr(semicolon + 1);
      semicolon = range.find(';');
      std::string_view parameter = trim(range.substr(0, semicolon));
      auto equals = parameter.find('=');
      if (equals == std::string_view::npos) continue;
      parameters[std::string(trim(parameter.substr(0, equals)))] =
          std::string(trim(parameter.substr(equals + 1)));
    }
    if (media_type != "application/json" && media_type != "*/*" && media_type != "application/*") continue;
    if (parameters.empty()) return "";  // plain JSON first: legacy discovery
    if (parameters["g"] == "apidiscovery.k8s.io" && parameters["as"] == "APIGroupDiscoveryList" &&
        (parameters["v"] == "v2" || parameters["v"] == "v2beta1")) {
      return parameters["v"];
    }
  }
  return "";
}

}  // namespace riasc::apiserver

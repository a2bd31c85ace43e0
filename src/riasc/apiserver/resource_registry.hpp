#pragma once

// The resource types the API server serves, built-in and from CustomResourceDefinitions, and the
// discovery documents clients read to find them.

#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "riasc/core/json.hpp"
#include "riasc/schema/crd.hpp"

namespace riasc::apiserver {

struct ResourceType {
  std::string group;  // "" for the core group
  std::string version;
  std::string resource;  // plural, lower case: "trafficprofiles"
  std::string singular;
  std::string kind;
  bool namespaced = false;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  std::vector<std::string> verbs = {"create", "delete", "deletecollection", "get",
                                    "list",   "patch",  "update",           "watch"};
  bool status_subresource = false;
  // /scale (autoscaling/v1 Scale over spec.replicas): what `kubectl scale` uses.
  bool scale_subresource = false;
  // Set for custom resources: their schema, printer columns and names come from it.
  std::shared_ptr<const schema::CustomResourceDefinition> crd;

  [[nodiscard]] std::string api_version() const;  // "v1" or "group/version"
  // Where objects of this type live in the store: /registry/<group>/<resource>/[<namespace>/]
  [[nodiscard]] std::string key_prefix(std::string_view namespace_name = {}) const;
  [[nodiscard]] std::string key(std::string_view namespace_name, std::string_view name) const;
  // For messages: "trafficprofiles.k8s-netem.riasc.eu", "namespaces"
  [[nodiscard]] std::string qualified_resource() const;
};

class ResourceRegistry {
 public:
  // Namespaces, ConfigMaps, Secrets, ServiceAccounts, Events, Pods, Nodes, Leases, RBAC kinds and
  // CustomResourceDefinitions. Their schemas are not checked here (Kubernetes validates
  // built-ins with Go code; we store them as given).
  static std::unique_ptr<ResourceRegistry> with_builtins();

  void add(ResourceType type);
  // Serves every served version of `crd`, replacing what an earlier version of it served.
  void add_crd(const schema::CustomResourceDefinition& crd);
  void remove_crd(std::string_view crd_name);

  [[nodiscard]] std::optional<ResourceType> find(std::string_view group, std::string_view version,
                                                 std::string_view resource) const;
  [[nodiscard]] std::optional<ResourceType> find_kind(std::string_view group, std::string_view version,
                                                      std::string_view kind) const;
  [[nodiscard]] std::vector<ResourceType> all() const;

  // Legacy discovery: /api, /apis, /api/v1 and /apis/<group>/<version>.
  [[nodiscard]] Json core_versions(std::string_view server_address) const;
  [[nodiscard]] Json group_list() const;
  [[nodiscard]] std::optional<Json> resource_list(std::string_view group, std::string_view version) const;
  // Aggregated discovery (apidiscovery.k8s.io v2 or v2beta1) for /api (core) or /apis.
  [[nodiscard]] Json aggregated(bool core, std::string_view discovery_version) const;

 private:
  mutable std::shared_mutex mutex_;
  std::vector<ResourceType> types_;
};

// Which discovery document an Accept header asks for: "v2", "v2beta1", or "" for legacy. Walks the
// media ranges in order and compares the g/v/as parameters exactly (a substring test takes
// v=v2beta1 for v=v2, which breaks kubectl 1.27-1.29).
std::string negotiate_discovery(std::string_view accept);

}  // namespace riasc::apiserver

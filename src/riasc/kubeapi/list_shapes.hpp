#pragma once

// How the lists inside an object merge, for the patch engines (strategic merge patch and
// server-side apply). Kubernetes records this per field: built-in kinds in their Go types
// (patchStrategy/patchMergeKey tags and +listType/+listMapKey markers), custom resources in their
// schema (x-kubernetes-list-type, x-kubernetes-list-map-keys). A list nobody describes is atomic:
// a patch or an apply replaces it as a whole.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "riasc/core/json.hpp"

namespace riasc::schema {
class Schema;
}

namespace riasc::kubeapi {

struct ListShape {
  enum class Kind {
    Atomic,  // replaced as a whole
    Set,     // scalars, merged as a set (metadata.finalizers)
    Map,     // objects, merged item by item, identified by `keys` (containers by name)
  };
  Kind kind = Kind::Atomic;
  // Map: the list-map keys. Strategic merge patch merges by the first one only (kube's
  // patchMergeKey): container ports merge by containerPort there, by containerPort and protocol
  // in apply.
  std::vector<std::string> keys;
  // Map: values of keys an item may leave out (a port's protocol defaults to "TCP"), so that apply
  // takes `{containerPort: 80}` and a stored `{containerPort: 80, protocol: TCP}` for one item.
  Json key_defaults = Json::object();
  // Strategic merge patch replaces this list although apply merges it: the Go type declares list
  // map keys but no patchStrategy (node spec.taints).
  bool patch_replaces = false;
};

// `path`: object member names from the root; the items of a list appear as "[]", e.g.
// {"spec", "template", "spec", "containers", "[]", "ports"}.
using ListShapes = std::function<ListShape(const std::vector<std::string>& path)>;

// The built-in kinds the API server serves: Namespace, Node, Pod, ConfigMap, Secret,
// ServiceAccount, Event, Lease (coordination.k8s.io), Role, ClusterRole, RoleBinding,
// ClusterRoleBinding (rbac.authorization.k8s.io), Deployment and DaemonSet (apps; their
// spec.template shares the Pod's table), Validating/MutatingWebhookConfiguration
// (admissionregistration.k8s.io) and CustomResourceDefinition (apiextensions.k8s.io). Any kind
// gets the ObjectMeta lists (ownerReferences by uid, finalizers as a set); other lists are atomic.
ListShapes builtin_list_shapes(std::string_view group, std::string_view kind);

// Custom resources: the schema's x-kubernetes-list-type and x-kubernetes-list-map-keys (atomic when
// unset), plus the ObjectMeta lists. The returned function keeps its own copy of `schema`.
ListShapes schema_list_shapes(const schema::Schema& schema);

}  // namespace riasc::kubeapi

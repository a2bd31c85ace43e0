#include "riasc/kubeapi/list_shapes.hpp"

#include <initializer_list>
#include <utility>

#include "riasc/schema/schema.hpp"

namespace riasc::kubeapi {

namespace {

using Kind = ListShape::Kind;

ListShape map_by(std::initializer_list<const char*> keys) {
  ListShape shape{Kind::Map, {}, Json::object(), false};
  for (const char* key : keys) shape.keys.emplace_back(key);
  return shape;
}

ListShape set_of_scalars() { return ListShape{Kind::Set, {}, Json::object(), false}; }

// "spec.template.spec.containers.[].ports": the path as one string, so the tables below read like
// the field paths in the API reference.
std::string joined(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& segment : path) {
    if (!out.empty()) out += '.';
    out += segment;
  }
  return out;
}

// Removes `prefix` from the front of `path`; false (and `path` unchanged) when it is not there.
bool strip_prefix(std::string_view& path, std::string_view prefix) {
  if (!path.starts_with(prefix)) return false;
  path.remove_prefix(prefix.size());
  return true;
}

// ObjectMeta (k8s.io/apimachinery meta/v1), below "metadata.".
ListShape object_meta_shape(std::string_view rest) {
  if (rest == "ownerReferences") return map_by({"uid"});
  if (rest == "finalizers") return set_of_scalars();
  return {};
}

// Container and EphemeralContainer, below one item of a containers list.
ListShape container_shape(std::string_view rest) {
  if (rest == "ports") {
    // patchMergeKey containerPort; listMapKeys containerPort and protocol, which defaults to TCP.
    ListShape shape = map_by({"containerPort", "protocol"});
    shape.key_defaults["protocol"] = "TCP";
    return shape;
  }
  if (rest == "env") return map_by({"name"});
  if (rest == "volumeMounts") return map_by({"mountPath"});
  if (rest == "volumeDevices") return map_by({"devicePath"});
  if (rest == "resources.claims") return map_by({"name"});
  return {};  // command, args, envFrom, resizePolicy, capabilities ...: atomic
}

// PodSpec, below "spec." of a Pod or "spec.template.spec." of a workload.
ListShape pod_spec_shape(std::string_view rest) {
  for (std::string_view containers : {"containers.[].", "initContainers.[].", "ephemeralContainers.[]."}) {
    if (strip_prefix(rest, containers)) return container_shape(rest);
  }
  if (rest == "containers" || rest == "initContainers" || rest == "ephemeralContainers")
    return map_by({"name"});
  if (rest == "volumes" || rest == "imagePullSecrets" || rest == "resourceClaims" ||
      rest == "schedulingGates") {
    return map_by({"name"});
  }
  if (rest == "hostAliases") return map_by({"ip"});
  if (rest == "topologySpreadConstraints") return map_by({"topologyKey", "whenUnsatisfiable"});
  return {};  // tolerations, readinessGates, affinity terms, dnsConfig ...: atomic
}

ListShape pod_status_shape(std::string_view rest) {
  if (rest == "conditions") return map_by({"type"});
  if (rest == "podIPs" || rest == "hostIPs") return map_by({"ip"});
  if (rest == "resourceClaimStatuses") return map_by({"name"});
  return {};  // containerStatuses and friends: atomic
}

enum class Builtin {
  Other,
  Pod,
  Workload,  // Deployment, DaemonSet: a pod template in spec.template
  Node,
  Namespace,
  ServiceAccount,
  WebhookConfiguration,
  CustomResourceDefinition,
};

Builtin builtin_kind(std::string_view group, std::string_view kind) {
  if (group.empty()) {
    if (kind == "Pod") return Builtin::Pod;
    if (kind == "Node") return Builtin::Node;
    if (kind == "Namespace") return Builtin::Namespace;
    if (kind == "ServiceAccount") return Builtin::ServiceAccount;
    return Builtin::Other;  // ConfigMap, Secret, Event: no lists beyond ObjectMeta's
  }
  if (group == "apps" && (kind == "Deployment" || kind == "DaemonSet")) return Builtin::Workload;
  if (group == "admissionregistration.k8s.io" &&
      (kind == "ValidatingWebhookConfiguration" || kind == "MutatingWebhookConfiguration")) {
    return Builtin::WebhookConfiguration;
  }
  if (group == "apiextensions.k8s.io" && kind == "CustomResourceDefinition") {
    return Builtin::CustomResourceDefinition;
  }
  // Lease, RBAC roles (rules atomic) and bindings (subjects atomic): ObjectMeta's lists only.
  return Builtin::Other;
}

ListShape builtin_shape(Builtin kind, const std::vector<std::string>& path) {
  const std::string whole = joined(path);
  std::string_view rest = whole;
  if (strip_prefix(rest, "metadata.")) return object_meta_shape(rest);
  switch (kind) {
    case Builtin::Pod:
      if (strip_prefix(rest, "spec.")) return pod_spec_shape(rest);
      if (strip_prefix(rest, "status.")) return pod_status_shape(rest);
      return {};
    case Builtin::Workload:
      if (strip_prefix(rest, "spec.template.metadata.")) return object_meta_shape(rest);
      if (strip_prefix(rest, "spec.template.spec.")) return pod_spec_shape(rest);
      if (rest == "status.conditions") return map_by({"type"});
      return {};
    case Builtin::Node:
      if (rest == "spec.taints") {
        ListShape shape = map_by({"key", "effect"});
        shape.patch_replaces = true;
        return shape;
      }
      if (rest == "spec.podCIDRs") return set_of_scalars();
      if (rest == "status.conditions" || rest == "status.addresses") return map_by({"type"});
      return {};
    case Builtin::Namespace:
      if (rest == "status.conditions") return map_by({"type"});
      return {};
    case Builtin::ServiceAccount:
      if (rest == "secrets") return map_by({"name"});
      return {};
    case Builtin::WebhookConfiguration:
      if (rest == "webhooks") return map_by({"name"});
      return {};
    case Builtin::CustomResourceDefinition:
      if (rest == "status.conditions") return map_by({"type"});
      return {};
    case Builtin::Other:
      return {};
  }
  return {};
}

}  // namespace

ListShapes builtin_list_shapes(std::string_view group, std::string_view kind) {
  const Builtin builtin = builtin_kind(group, kind);
  return [builtin](const std::vector<std::string>& path) { return builtin_shape(builtin, path); };
}

ListShapes schema_list_shapes(const schema::Schema& schema) {
  return [schema](const std::vector<std::string>& path) -> ListShape {
    if (!path.empty() && path.front() == "metadata") {
      return builtin_shape(Builtin::Other, path);
    }
    auto list_type = schema.list_type(path);
    if (list_type.type == "set") return set_of_scalars();
    if (list_type.type == "map" && !list_type.map_keys.empty()) {
      return ListShape{Kind::Map, std::move(list_type.map_keys), std::move(list_type.map_key_defaults),
                       false};
    }
    return {};
  };
}

}  // namespace riasc::kubeapi

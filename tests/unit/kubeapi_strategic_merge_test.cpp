#include "riasc/kubeapi/strategic_merge.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "riasc/kubeapi/list_shapes.hpp"
#include "riasc/schema/schema.hpp"
#include "test_support.hpp"

namespace riasc::kubeapi {
namespace {

using test::yaml;

const Json kPod = yaml(R"(
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web, tier: front}
  finalizers: [a, b]
spec:
  containers:
  - name: nginx
    image: nginx:1.25
    env:
    - {name: A, value: "1"}
    - {name: B, value: "2"}
    ports:
    - {containerPort: 80, protocol: TCP}
  - name: sidecar
    image: busybox
  volumes:
  - name: data
    emptyDir: {}
  tolerations:
  - {key: k1, operator: Exists}
)");

Json pod_patch(const Json& patch) {
  return strategic_merge_patch(kPod, patch, builtin_list_shapes("", "Pod"));
}

// The names of the items of a list of objects, in order.
std::vector<std::string> names(const Json& list, const std::string& key = "name") {
  std::vector<std::string> out;
  for (const auto& item : list) out.push_back(item.at(key).get<std::string>());
  return out;
}

std::string patch_error(const Json& original, const Json& patch, const ListShapes& shapes) {
  try {
    strategic_merge_patch(original, patch, shapes);
  } catch (const PatchError& error) {
    return error.what();
  }
  return "no error";
}

TEST(StrategicMergeTest, BuiltinListShapes) {
  using Kind = ListShape::Kind;
  const auto deployment = builtin_list_shapes("apps", "Deployment");
  const auto ports = deployment({"spec", "template", "spec", "initContainers", "[]", "ports"});
  EXPECT_EQ(ports.kind, Kind::Map);
  EXPECT_EQ(ports.keys, (std::vector<std::string>{"containerPort", "protocol"}));
  EXPECT_EQ(ports.key_defaults, yaml("{protocol: TCP}"));
  EXPECT_EQ(deployment({"spec", "template", "metadata", "finalizers"}).kind, Kind::Set);
  EXPECT_EQ(deployment({"spec", "template", "spec", "tolerations"}).kind, Kind::Atomic);
  EXPECT_EQ(deployment({"status", "conditions"}).keys, (std::vector<std::string>{"type"}));

  const auto node = builtin_list_shapes("", "Node");
  EXPECT_EQ(node({"spec", "taints"}).keys, (std::vector<std::string>{"key", "effect"}));
  EXPECT_TRUE(node({"spec", "taints"}).patch_replaces);
  EXPECT_EQ(node({"status", "addresses"}).keys, (std::vector<std::string>{"type"}));

  // Any kind has ObjectMeta's lists; rules and subjects are atomic.
  const auto binding = builtin_list_shapes("rbac.authorization.k8s.io", "RoleBinding");
  EXPECT_EQ(binding({"metadata", "ownerReferences"}).keys, (std::vector<std::string>{"uid"}));
  EXPECT_EQ(binding({"subjects"}).kind, Kind::Atomic);
  EXPECT_EQ(
      builtin_list_shapes("admissionregistration.k8s.io", "ValidatingWebhookConfiguration")({"webhooks"})
          .keys,
      (std::vector<std::string>{"name"}));
}

TEST(StrategicMergeTest, ContainerMergedByNameKeepsTheOthers) {
  Json out = pod_patch(yaml("spec: {containers: [{name: sidecar, image: busybox:1.36}]}"));
  ASSERT_EQ(names(out["spec"]["containers"]), (std::vector<std::string>{"nginx", "sidecar"}));
  EXPECT_EQ(out["spec"]["containers"][0], kPod["spec"]["containers"][0]);
  EXPECT_EQ(out["spec"]["containers"][1]["image"], "busybox:1.36");
  EXPECT_EQ(out["metadata"], kPod["metadata"]);
  EXPECT_EQ(out["spec"]["volumes"], kPod["spec"]["volumes"]);
}

TEST(StrategicMergeTest, EnvMergedByName) {
  Json out = pod_patch(yaml(R"(
spec:
  containers:
  - name: nginx
    env: [{name: B, value: "3"}, {name: C, value: "4"}]
)"));
  const Json& env = out["spec"]["containers"][0]["env"];
  EXPECT_EQ(env, yaml(R"([{name: A, value: "1"}, {name: B, value: "3"}, {name: C, value: "4"}])"));
  EXPECT_EQ(out["spec"]["containers"][0]["image"], "nginx:1.25");
}

// kube's order: the patch's items in its order, the original's others where they were relative
// to them, so a new item follows the patch item before it rather than going to the end.
TEST(StrategicMergeTest, MergedListOrderFollowsKube) {
  Json original = yaml("spec: {containers: [{name: a}, {name: b}, {name: c}]}");
  Json out = strategic_merge_patch(original, yaml("spec: {containers: [{name: b, image: x}, {name: d}]}"),
                                   builtin_list_shapes("", "Pod"));
  EXPECT_EQ(names(out["spec"]["containers"]), (std::vector<std::string>{"a", "b", "d", "c"}));
}

TEST(StrategicMergeTest, SetElementOrderReorders) {
  Json out = pod_patch(yaml(R"(
spec:
  $setElementOrder/containers: [{name: sidecar}, {name: nginx}]
  containers: [{name: nginx, image: nginx:1.26}]
)"));
  EXPECT_EQ(names(out["spec"]["containers"]), (std::vector<std::string>{"sidecar", "nginx"}));
  EXPECT_EQ(out["spec"]["containers"][1]["image"], "nginx:1.26");
  EXPECT_FALSE(out["spec"].contains("$setElementOrder/containers"));
}

TEST(StrategicMergeTest, NullDeletesAMember) {
  Json out = pod_patch(yaml("metadata: {labels: {tier: null, new: x, absent: null}}"));
  EXPECT_EQ(out["metadata"]["labels"], yaml("{app: web, new: x}"));
}

TEST(StrategicMergeTest, PatchDeleteRemovesAListItem) {
  Json out = pod_patch(yaml("spec: {containers: [{name: sidecar, $patch: delete}]}"));
  EXPECT_EQ(names(out["spec"]["containers"]), (std::vector<std::string>{"nginx"}));
}

TEST(StrategicMergeTest, PatchReplaceOnAList) {
  Json out = pod_patch(yaml("spec: {containers: [{name: only, image: x}, {$patch: replace}]}"));
  EXPECT_EQ(out["spec"]["containers"], yaml("[{name: only, image: x}]"));
}

TEST(StrategicMergeTest, PatchReplaceAndDeleteOnAnObject) {
  Json out = pod_patch(yaml("metadata: {labels: {$patch: replace, fresh: yes-really}}"));
  EXPECT_EQ(out["metadata"]["labels"], yaml("{fresh: yes-really}"));
  out = pod_patch(yaml("metadata: {labels: {$patch: delete}}"));
  EXPECT_EQ(out["metadata"]["labels"], Json::object());  // kube empties the object
}

TEST(StrategicMergeTest, RetainKeysDropsOtherMembers) {
  Json out = pod_patch(yaml(R"(
spec:
  volumes:
  - name: data
    $retainKeys: [name, hostPath]
    hostPath: {path: /srv}
)"));
  EXPECT_EQ(out["spec"]["volumes"], yaml("[{name: data, hostPath: {path: /srv}}]"));
}

TEST(StrategicMergeTest, FinalizersMergeAsASet) {
  Json out = pod_patch(yaml("metadata: {finalizers: [b, c]}"));
  EXPECT_EQ(out["metadata"]["finalizers"], yaml("[a, b, c]"));
}

TEST(StrategicMergeTest, DeleteFromPrimitiveList) {
  Json out = pod_patch(yaml(R"({metadata: {$deleteFromPrimitiveList/finalizers: [a, zzz]}})"));
  EXPECT_EQ(out["metadata"]["finalizers"], yaml("[b]"));
}

TEST(StrategicMergeTest, ListsWithoutMergeStrategyAreReplaced) {
  Json out = pod_patch(yaml("spec: {tolerations: [{key: k2, operator: Exists}]}"));
  EXPECT_EQ(out["spec"]["tolerations"], yaml("[{key: k2, operator: Exists}]"));
  // Node taints have list-map keys for apply but no patchStrategy: a patch replaces them.
  Json node = yaml("spec: {taints: [{key: a, effect: NoSchedule}]}");
  out = strategic_merge_patch(node, yaml("spec: {taints: [{key: b, effect: NoExecute}]}"),
                              builtin_list_shapes("", "Node"));
  EXPECT_EQ(out["spec"]["taints"], yaml("[{key: b, effect: NoExecute}]"));
}

TEST(StrategicMergeTest, PortsMergeByContainerPort) {
  Json out = pod_patch(yaml(R"(
spec:
  containers:
  - name: nginx
    ports: [{containerPort: 80, name: http}, {containerPort: 443}]
)"));
  EXPECT_EQ(out["spec"]["containers"][0]["ports"],
            yaml("[{containerPort: 80, protocol: TCP, name: http}, {containerPort: 443}]"));
}

TEST(StrategicMergeTest, DeploymentTemplateSharesThePodTable) {
  Json deployment = yaml(R"(
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    metadata: {finalizers: [x]}
    spec:
      containers: [{name: app, image: app:1}, {name: log, image: log:1}]
)");
  Json out = strategic_merge_patch(deployment, yaml(R"(
spec: {template: {spec: {containers: [{name: app, image: app:2}]}}}
)"),
                                   builtin_list_shapes("apps", "Deployment"));
  EXPECT_EQ(out["spec"]["template"]["spec"]["containers"],
            yaml("[{name: app, image: app:2}, {name: log, image: log:1}]"));
}

TEST(StrategicMergeTest, NewMembersLoseTheirDirectivesAndNulls) {
  Json out = pod_patch(yaml("spec: {securityContext: {runAsUser: 1, fsGroup: null, sysctls: [{name: a}]}}"));
  EXPECT_EQ(out["spec"]["securityContext"], yaml("{runAsUser: 1, sysctls: [{name: a}]}"));
}

TEST(StrategicMergeTest, CustomResourceListsFromTheSchema) {
  auto schema = test::compile(R"(
type: object
properties:
  spec:
    type: object
    properties:
      items:
        type: array
        x-kubernetes-list-type: map
        x-kubernetes-list-map-keys: [id]
        items: {type: object, properties: {id: {type: string}, v: {type: integer}}}
      tags: {type: array, x-kubernetes-list-type: set, items: {type: string}}
)",
                              schema::Schema::Root::Resource);
  Json original = yaml("spec: {items: [{id: a, v: 1}], tags: [red]}");
  Json out = strategic_merge_patch(original, yaml("spec: {items: [{id: b, v: 2}], tags: [blue]}"),
                                   schema_list_shapes(schema));
  // As in kube, an item only the patch has goes in front of the original items after it.
  EXPECT_EQ(out["spec"], yaml("{items: [{id: b, v: 2}, {id: a, v: 1}], tags: [blue, red]}"));
}

TEST(StrategicMergeTest, MalformedPatchesNameThePath) {
  const auto shapes = builtin_list_shapes("", "Pod");
  EXPECT_EQ(patch_error(kPod, yaml("[1]"), shapes), "a strategic merge patch must be a JSON object");
  EXPECT_EQ(patch_error(kPod, yaml("spec: {containers: [{image: x}]}"), shapes),
            R"(spec.containers[0]: does not contain declared merge key "name")");
  EXPECT_EQ(patch_error(kPod, yaml("spec: {containers: [{name: x, $patch: frobnicate}]}"), shapes),
            R"(spec.containers[0]: unknown patch type "frobnicate" in list item)");
  EXPECT_EQ(patch_error(kPod, yaml("metadata: {labels: {$patch: frobnicate}}"), shapes),
            R"(metadata.labels: unknown patch type "frobnicate" in map)");
  EXPECT_EQ(patch_error(kPod, yaml("metadata: {labels: {$patch: merge}}"), shapes),
            R"(metadata.labels: unknown patch type "merge" in map)");
  EXPECT_EQ(patch_error(kPod, yaml("spec: {volumes: [{name: data, $retainKeys: name}]}"), shapes),
            "spec.volumes[0].$retainKeys: invalid patch format of $retainKeys: must be a list");
  EXPECT_EQ(
      patch_error(kPod, yaml("spec: {volumes: [{name: data, $retainKeys: [name], hostPath: {}}]}"), shapes),
      R"(spec.volumes[0]: invalid patch format of $retainKeys: "hostPath" is not in the list)");
  EXPECT_EQ(
      patch_error(kPod, yaml(R"({metadata: {$deleteFromPrimitiveList/finalizers: a}})"), shapes),
      "metadata.$deleteFromPrimitiveList/finalizers: invalid patch format of $deleteFromPrimitiveList: must "
      "be a list");
  EXPECT_EQ(patch_error(kPod, yaml("metadata: {finalizers: [{a: 1}]}"), shapes),
            "metadata.finalizers[0]: list items are not all of one type");
  EXPECT_EQ(patch_error(kPod, yaml("spec: {containers: [{name: x}, {$patch: merge}]}"), shapes),
            "spec.containers[1]: merging lists cannot yet be specified in the patch");
}

}  // namespace
}  // namespace riasc::kubeapi

#include "riasc/kubeapi/server_side_apply.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "riasc/kubeapi/list_shapes.hpp"
#include "riasc/kubeapi/status.hpp"
#include "riasc/schema/schema.hpp"
#include "test_support.hpp"

namespace riasc::kubeapi {
namespace {

using test::yaml;

constexpr const char* kT1 = "2024-05-01T10:00:00Z";
constexpr const char* kT2 = "2024-05-01T11:00:00Z";

ApplyOptions options(const std::string& manager, const ListShapes& shapes,
                     const std::string& api_version = "v1", bool force = false) {
  ApplyOptions out;
  out.manager = manager;
  out.force = force;
  out.api_version = api_version;
  out.now = kT1;
  out.shapes = shapes;
  return out;
}

// Applies and expects no conflicts.
Json apply(const Json* live, const Json& applied, const ApplyOptions& opts) {
  ApplyOutcome outcome = server_side_apply(live, applied, opts);
  EXPECT_TRUE(outcome.conflicts.empty()) << status_apply_conflict(outcome.conflicts).dump();
  return outcome.object;
}

// The fieldsV1 of `manager`'s entry (null when it has none).
Json fields_of(const Json& object, const std::string& manager, const std::string& operation = "Apply") {
  for (const auto& entry : object["metadata"].value("managedFields", Json::array())) {
    if (entry.value("manager", "") == manager && entry.value("operation", "") == operation)
      return entry["fieldsV1"];
  }
  return nullptr;
}

std::vector<std::string> managers(const Json& object) {
  std::vector<std::string> out;
  for (const auto& entry : object["metadata"].value("managedFields", Json::array())) {
    out.push_back(entry.value("manager", "") + "/" + entry.value("operation", ""));
  }
  return out;
}

std::string apply_error(const Json* live, const Json& applied, const ApplyOptions& opts) {
  try {
    server_side_apply(live, applied, opts);
  } catch (const PatchError& error) {
    return error.what();
  }
  return "no error";
}

const ListShapes kPodShapes = builtin_list_shapes("", "Pod");
const ListShapes kDeploymentShapes = builtin_list_shapes("apps", "Deployment");

const Json kPodConfig = yaml(R"(
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: default
  labels: {app: nginx}
spec:
  containers:
  - name: nginx
    image: nginx:1.25
)");

const Json kDeploymentConfig = yaml(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports: [{containerPort: 80}]
)");

// The managedFields entry exactly as kube-apiserver writes it for `kubectl apply --server-side`.
TEST(ServerSideApplyTest, CreateRecordsManagedFieldsAsKubeWritesThem) {
  Json object = apply(nullptr, kPodConfig, options("kubectl", kPodShapes));
  EXPECT_EQ(
      object["metadata"]["managedFields"].dump(),
      R"([{"manager":"kubectl","operation":"Apply","apiVersion":"v1","time":"2024-05-01T10:00:00Z",)"
      R"("fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":)"
      R"({"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:name":{}}}}}}])");
  Json without = object;
  without["metadata"].erase("managedFields");
  EXPECT_EQ(without, kPodConfig);
}

TEST(ServerSideApplyTest, PortsAreKeyedByContainerPortAndDefaultedProtocol) {
  Json object = apply(nullptr, kDeploymentConfig, options("kubectl", kDeploymentShapes, "apps/v1"));
  const Json container = fields_of(
      object, "kubectl")["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"];
  EXPECT_EQ(container["f:ports"].dump(),
            R"({"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}})");
  // The stored port carries the defaulted protocol; applying the same configuration again
  // finds the one port instead of adding a second.
  object["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = "TCP";
  Json again = apply(&object, kDeploymentConfig, options("kubectl", kDeploymentShapes, "apps/v1"));
  EXPECT_EQ(again["spec"]["template"]["spec"]["containers"][0]["ports"],
            yaml("[{containerPort: 80, protocol: TCP}]"));
}

TEST(ServerSideApplyTest, FieldsNoLongerAppliedAreRemoved) {
  Json config = kPodConfig;
  config["metadata"]["labels"]["tier"] = "front";
  config["spec"]["containers"].push_back(yaml("{name: sidecar, image: busybox}"));
  Json object = apply(nullptr, config, options("kubectl", kPodShapes));

  Json object2 = apply(&object, kPodConfig, options("kubectl", kPodShapes));
  EXPECT_EQ(object2["metadata"]["labels"], yaml("{app: nginx}"));
  EXPECT_EQ(object2["spec"]["containers"].size(), 1U);

  Json no_labels = kPodConfig;
  no_labels["metadata"].erase("labels");
  Json object3 = apply(&object2, no_labels, options("kubectl", kPodShapes));
  EXPECT_FALSE(object3["metadata"].contains("labels"));
  EXPECT_EQ(fields_of(object3, "kubectl").dump(),
            R"({"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:name":{}}}}})");
}

TEST(ServerSideApplyTest, ANullRemovesTheMemberAndIsOwned) {
  Json object = apply(nullptr, kPodConfig, options("kubectl", kPodShapes));
  Json config = kPodConfig;
  config["metadata"]["labels"]["app"] = nullptr;
  object = apply(&object, config, options("kubectl", kPodShapes));
  EXPECT_EQ(object["metadata"]["labels"], Json::object());
  EXPECT_EQ(fields_of(object, "kubectl")["f:metadata"].dump(), R"({"f:labels":{"f:app":{}}})");
}

TEST(ServerSideApplyTest, TwoManagersShareAFieldWithEqualValues) {
  const auto shapes = kDeploymentShapes;
  Json object = apply(nullptr, kDeploymentConfig, options("alice", shapes, "apps/v1"));
  Json bob_config =
      yaml("{apiVersion: apps/v1, kind: Deployment, metadata: {name: web}, spec: {replicas: 3}}");
  object = apply(&object, bob_config, options("bob", shapes, "apps/v1"));
  EXPECT_EQ(fields_of(object, "bob").dump(), R"({"f:spec":{"f:replicas":{}}})");
  EXPECT_TRUE(fields_of(object, "alice")["f:spec"].contains("f:replicas"));

  // alice stops applying replicas: bob still owns it, so it stays.
  Json alice_config = kDeploymentConfig;
  alice_config["spec"].erase("replicas");
  object = apply(&object, alice_config, options("alice", shapes, "apps/v1"));
  EXPECT_EQ(object["spec"]["replicas"], 3);
  EXPECT_FALSE(fields_of(object, "alice")["f:spec"].contains("f:replicas"));
}

TEST(ServerSideApplyTest, ADifferentValueConflicts) {
  const auto shapes = kDeploymentShapes;
  Json object = apply(nullptr, kDeploymentConfig, options("alice", shapes, "apps/v1"));
  Json bob_config =
      yaml("{apiVersion: apps/v1, kind: Deployment, metadata: {name: web}, spec: {replicas: 5}}");
  ApplyOutcome outcome = server_side_apply(&object, bob_config, options("bob", shapes, "apps/v1"));
  ASSERT_EQ(outcome.conflicts.size(), 1U);
  EXPECT_EQ(outcome.conflicts[0].manager, "alice");
  EXPECT_EQ(outcome.conflicts[0].field, ".spec.replicas");
  EXPECT_TRUE(outcome.object.is_null());

  Json status = status_apply_conflict(outcome.conflicts);
  EXPECT_EQ(status.dump(),
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
            R"("message":"Apply failed with 1 conflict: conflict with \"alice\": .spec.replicas",)"
            R"("reason":"Conflict","details":{"causes":[{"reason":"FieldManagerConflict",)"
            R"("message":"conflict with \"alice\"","field":".spec.replicas"}]},"code":409})");
  EXPECT_EQ(status_code(status), 409);
}

TEST(ServerSideApplyTest, ForceTakesTheFieldOver) {
  const auto shapes = kDeploymentShapes;
  Json object = apply(nullptr, kDeploymentConfig, options("alice", shapes, "apps/v1"));
  Json bob_config =
      yaml("{apiVersion: apps/v1, kind: Deployment, metadata: {name: web}, spec: {replicas: 5}}");
  object = apply(&object, bob_config, options("bob", shapes, "apps/v1", /*force=*/true));
  EXPECT_EQ(object["spec"]["replicas"], 5);
  EXPECT_EQ(fields_of(object, "bob").dump(), R"({"f:spec":{"f:replicas":{}}})");
  EXPECT_FALSE(fields_of(object, "alice")["f:spec"].contains("f:replicas"));

  // alice applies her unchanged configuration: now she conflicts with bob.
  ApplyOutcome outcome = server_side_apply(&object, kDeploymentConfig, options("alice", shapes, "apps/v1"));
  ASSERT_EQ(outcome.conflicts.size(), 1U);
  EXPECT_EQ(outcome.conflicts[0].manager, "bob");
}

// kubectl create (an Update), then kubectl edit (another Update), then an apply changing what
// they set.
TEST(ServerSideApplyTest, UpdateThenApplyConflictsWithTheUpdater) {
  const auto shapes = kDeploymentShapes;
  Json created = track_update(nullptr, kDeploymentConfig, "kubectl-create", "apps/v1", kT1, shapes);
  EXPECT_EQ(managers(created), (std::vector<std::string>{"kubectl-create/Update"}));

  Json edited = created;
  edited["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26";
  edited = track_update(&created, edited, "kubectl-edit", "apps/v1", kT2, shapes);
  EXPECT_EQ(managers(edited), (std::vector<std::string>{"kubectl-create/Update", "kubectl-edit/Update"}));

  Json config = kDeploymentConfig;
  config["spec"]["replicas"] = 2;
  ApplyOutcome outcome = server_side_apply(&edited, config, options("kubectl", shapes, "apps/v1"));
  ASSERT_EQ(outcome.conflicts.size(), 2U);
  EXPECT_EQ(status_apply_conflict(outcome.conflicts)["message"],
            "Apply failed with 2 conflicts: conflicts with \"kubectl-create\" using apps/v1:\n"
            "- .spec.replicas\n"
            "conflicts with \"kubectl-edit\" using apps/v1:\n"
            "- .spec.template.spec.containers[name=\"nginx\"].image");
  EXPECT_EQ(status_apply_conflict(outcome.conflicts)["details"]["causes"][1],
            yaml(R"({reason: FieldManagerConflict, message: 'conflict with "kubectl-edit" using apps/v1',
                     field: '.spec.template.spec.containers[name="nginx"].image'})"));

  Json forced = apply(&edited, config, options("kubectl", shapes, "apps/v1", true));
  EXPECT_EQ(forced["spec"]["replicas"], 2);
  EXPECT_EQ(forced["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.25");
  EXPECT_EQ(managers(forced),
            (std::vector<std::string>{"kubectl/Apply", "kubectl-create/Update"}));  // kubectl-edit lost all
}

TEST(ServerSideApplyTest, MapListsFromACustomResourceSchema) {
  auto schema = test::compile(R"(
type: object
properties:
  spec: {type: object, properties: {size: {type: integer}}}
  status:
    type: object
    properties:
      conditions:
        type: array
        x-kubernetes-list-type: map
        x-kubernetes-list-map-keys: [type]
        items:
          type: object
          properties: {type: {type: string}, status: {type: string}}
)",
                              schema::Schema::Root::Resource);
  const ListShapes shapes = schema_list_shapes(schema);
  Json live =
      apply(nullptr, yaml("{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}, spec: {size: 1}}"),
            options("kubectl", shapes, "example.com/v1"));

  ApplyOptions ready = options("ready-controller", shapes, "example.com/v1");
  ready.only_status = true;
  live = apply(&live, yaml(R"({apiVersion: example.com/v1, kind: Widget, metadata: {name: w},
                                spec: {size: 99}, status: {conditions: [{type: Ready, status: "True"}]}})"),
               ready);
  EXPECT_EQ(live["spec"]["size"], 1);  // the status subresource applies the status only

  ApplyOptions synced = options("sync-controller", shapes, "example.com/v1");
  synced.only_status = true;
  live = apply(&live, yaml(R"({apiVersion: example.com/v1, kind: Widget, metadata: {name: w},
                                status: {conditions: [{type: Synced, status: "False"}]}})"),
               synced);
  EXPECT_EQ(live["status"]["conditions"],
            yaml(R"([{type: Ready, status: "True"}, {type: Synced, status: "False"}])"));
  const Json& entry = live["metadata"]["managedFields"][2];
  EXPECT_EQ(entry["manager"], "sync-controller");
  EXPECT_EQ(entry["subresource"], "status");
  EXPECT_EQ(
      entry["fieldsV1"].dump(),
      R"({"f:status":{"f:conditions":{"k:{\"type\":\"Synced\"}":{".":{},"f:status":{},"f:type":{}}}}})");

  // ready-controller changing Synced's status conflicts with sync-controller, on the status
  // subresource's entry.
  ApplyOutcome outcome = server_side_apply(
      &live,
      yaml(R"({status: {conditions: [{type: Ready, status: "True"}, {type: Synced, status: "True"}]}})"),
      ready);
  ASSERT_EQ(outcome.conflicts.size(), 1U);
  EXPECT_EQ(status_apply_conflict(outcome.conflicts)["message"],
            "Apply failed with 1 conflict: conflict with \"sync-controller\" with subresource \"status\": "
            ".status.conditions[type=\"Synced\"].status");

  // The main resource ignores the configuration's status.
  ApplyOptions main = options("kubectl", shapes, "example.com/v1");
  main.ignore_status = true;
  Json ignored =
      apply(&live,
            yaml("{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}, spec: {size: 2}, "
                 "status: {conditions: []}}"),
            main);
  EXPECT_EQ(ignored["status"], live["status"]);
  EXPECT_EQ(ignored["spec"]["size"], 2);
}

TEST(ServerSideApplyTest, ObjectsWithoutManagedFieldsBelongToBeforeFirstApply) {
  Json live = kPodConfig;
  Json config = kPodConfig;
  config["spec"]["containers"][0]["image"] = "nginx:1.26";
  ApplyOutcome outcome = server_side_apply(&live, config, options("kubectl", kPodShapes));
  ASSERT_EQ(outcome.conflicts.size(), 1U);
  EXPECT_EQ(status_apply_conflict(outcome.conflicts)["message"],
            "Apply failed with 1 conflict: conflict with \"before-first-apply\" using v1: "
            ".spec.containers[name=\"nginx\"].image");
  Json same = apply(&live, kPodConfig, options("kubectl", kPodShapes));
  EXPECT_EQ(managers(same), (std::vector<std::string>{"kubectl/Apply", "before-first-apply/Update"}));
}

TEST(ServerSideApplyTest, MalformedConfigurations) {
  EXPECT_EQ(apply_error(nullptr, yaml("[1]"), options("m", kPodShapes)),
            "the apply configuration must be a JSON object");
  EXPECT_EQ(
      apply_error(nullptr, yaml("spec: {containers: [{image: x}]}"), options("m", kPodShapes)),
      ".spec.containers: element 0: associative list with keys has an element that omits key field \"name\" "
      "(and doesn't have default value)");
  EXPECT_EQ(
      apply_error(nullptr, yaml("spec: {containers: [{name: a}, {name: a}]}"), options("m", kPodShapes)),
      ".spec.containers: duplicate entries for key [name=\"a\"]");
  EXPECT_EQ(apply_error(nullptr, yaml("metadata: {finalizers: [x, x]}"), options("m", kPodShapes)),
            ".metadata.finalizers: duplicate entries for value [=\"x\"]");
  EXPECT_EQ(apply_error(nullptr, yaml("metadata: {managedFields: [{manager: x}]}"), options("m", kPodShapes)),
            "metadata.managedFields must be nil");
}

TEST(ManagedFieldsTest, UpdatesMoveOwnershipOfWhatChanged) {
  Json created = track_update(nullptr, kPodConfig, "kubectl-create", "v1", kT1, kPodShapes);
  EXPECT_EQ(
      created["metadata"]["managedFields"].dump(),
      R"([{"manager":"kubectl-create","operation":"Update","apiVersion":"v1","time":"2024-05-01T10:00:00Z",)"
      R"("fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":)"
      R"({"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:name":{}}}}}}])");

  Json labelled = created;
  labelled["metadata"]["labels"]["app"] = "web";
  labelled["metadata"]["labels"]["team"] = "a";
  labelled["metadata"]["resourceVersion"] = "7";  // never tracked
  labelled = track_update(&created, labelled, "kubectl-label", "v1", kT2, kPodShapes);
  EXPECT_EQ(fields_of(labelled, "kubectl-label", "Update").dump(),
            R"({"f:metadata":{"f:labels":{"f:app":{},"f:team":{}}}})");
  EXPECT_EQ(fields_of(labelled, "kubectl-create", "Update")["f:metadata"].dump(), R"({"f:labels":{}})");

  // A write that changes nothing leaves managedFields alone.
  EXPECT_EQ(track_update(&labelled, labelled, "other", "v1", kT2, kPodShapes), labelled);

  // Removing a container removes it from its owner.
  Json removed = labelled;
  removed["spec"]["containers"] = Json::array();
  removed = track_update(&labelled, removed, "kubectl-edit", "v1", kT2, kPodShapes);
  EXPECT_FALSE(fields_of(removed, "kubectl-create", "Update").contains("f:spec"));
}

TEST(ManagedFieldsTest, StatusWritesAreRecordedWithTheirSubresource) {
  Json created = track_update(nullptr, kPodConfig, "kubectl-create", "v1", kT1, kPodShapes);
  Json reported = created;
  reported["status"] = yaml(R"({phase: Running, conditions: [{type: Ready, status: "True"}]})");
  reported["metadata"]["managedFields"] = yaml("[{}]");  // ignored on a subresource
  reported = track_update(&created, reported, "kubelet", "v1", kT2, kPodShapes, "status");
  const Json& entry = reported["metadata"]["managedFields"][1];
  EXPECT_EQ(entry["manager"], "kubelet");
  EXPECT_EQ(entry["subresource"], "status");
  EXPECT_EQ(entry["fieldsV1"].dump(),
            R"({"f:status":{"f:conditions":{"k:{\"type\":\"Ready\"}":{".":{},"f:status":{},"f:type":{}}},)"
            R"("f:phase":{}}})");
  EXPECT_EQ(reported["metadata"]["managedFields"][0], created["metadata"]["managedFields"][0]);
}

TEST(ManagedFieldsTest, ClientsCanClearOrResetManagedFields) {
  Json created = track_update(nullptr, kPodConfig, "kubectl-create", "v1", kT1, kPodShapes);
  Json cleared = created;
  cleared["metadata"]["managedFields"] = yaml("[{}]");
  cleared = track_update(&created, cleared, "kubectl-patch", "v1", kT2, kPodShapes);
  EXPECT_FALSE(cleared["metadata"].contains("managedFields"));

  // Unreadable managedFields sent with a write fall back to the stored ones.
  Json garbage = created;
  garbage["metadata"]["managedFields"] = yaml("[{fieldsType: FieldsV2, fieldsV1: {}}]");
  EXPECT_EQ(track_update(&created, garbage, "x", "v1", kT2, kPodShapes)["metadata"]["managedFields"],
            created["metadata"]["managedFields"]);
  // Unreadable stored ones are reset.
  Json broken = created;
  broken["metadata"]["managedFields"] = yaml(R"([{fieldsType: FieldsV1, fieldsV1: {"x:bad": {}}}])");
  Json next = broken;
  next["metadata"].erase("managedFields");
  next["metadata"]["labels"]["app"] = "other";
  EXPECT_EQ(fields_of(track_update(&broken, next, "x", "v1", kT2, kPodShapes), "x", "Update").dump(),
            R"({"f:metadata":{"f:labels":{"f:app":{}}}})");
}

}  // namespace
}  // namespace riasc::kubeapi

#include "riasc/core/rfc3339.hpp"
#include "riasc/kubeapi/table.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "riasc/schema/crd.hpp"
#include "test_support.hpp"

namespace riasc::kubeapi {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using test::yaml;

constexpr std::string_view kNameDescription =
    "Name must be unique within a namespace. Is required when creating resources, although some resources "
    "may "
    "allow a client to request the generation of an appropriate name automatically. Name is primarily "
    "intended "
    "for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
constexpr std::string_view kCreationTimestampDescription =
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this "
    "value. "
    "It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. "
    "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

Clock::time_point at(std::string_view rfc3339) {
  return std::chrono::floor<std::chrono::seconds>(parse_rfc3339(rfc3339).value());
}

// The widgets CRD of the kubectl transcripts (shared/reference/kubectl-transcripts).
Json widget_crd() {
  return yaml(R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, shortNames: [wd]}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {jsonPath: .spec.size, name: Size, type: integer}
    - {jsonPath: .spec.color, name: Color, priority: 1, type: string}
    - {jsonPath: .metadata.creationTimestamp, name: Age, type: date}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              color: {type: string}
              size: {type: integer}
    subresources: {status: {}}
  - name: v2
    served: true
    storage: false
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
)");
}

Json widget(std::string_view name, std::string_view created, int size) {
  return {{"apiVersion", "example.com/v1"},
          {"kind", "Widget"},
          {"metadata",
           {{"labels", {{"tier", "back"}}},
            {"name", name},
            {"namespace", "default"},
            {"uid", "e4920b15-0734-45d6-a659-d190ba75a2d4"},
            {"creationTimestamp", created},
            {"generation", 2},
            {"resourceVersion", "108"}}},
          {"spec", {{"size", size}}}};
}

TEST(HumanDurationTest, KubernetesThresholds) {
  auto h = [](std::int64_t s) { return human_duration(seconds(s)); };
  EXPECT_EQ(h(-3), "<invalid>");
  EXPECT_EQ(h(-2), "<invalid>");
  EXPECT_EQ(h(-1), "0s");
  EXPECT_EQ(h(0), "0s");
  EXPECT_EQ(h(45), "45s");
  EXPECT_EQ(h(119), "119s");
  EXPECT_EQ(h(120), "2m");
  EXPECT_EQ(h(150), "2m30s");
  EXPECT_EQ(h(599), "9m59s");
  EXPECT_EQ(h(600), "10m");
  EXPECT_EQ(h(659), "10m");
  EXPECT_EQ(h(3 * 3600 - 1), "179m");
  EXPECT_EQ(h(3 * 3600), "3h");
  EXPECT_EQ(h(3 * 3600 + 20 * 60 + 59), "3h20m");
  EXPECT_EQ(h(8 * 3600 - 1), "7h59m");
  EXPECT_EQ(h(8 * 3600), "8h");
  EXPECT_EQ(h(8 * 3600 + 30 * 60), "8h");
  EXPECT_EQ(h(48 * 3600 - 1), "47h");
  EXPECT_EQ(h(48 * 3600), "2d");
  EXPECT_EQ(h(51 * 3600), "2d3h");
  EXPECT_EQ(h(8 * 86400 - 1), "7d23h");
  EXPECT_EQ(h(8 * 86400), "8d");
  EXPECT_EQ(h(45 * 86400), "45d");
  EXPECT_EQ(h(729 * 86400), "729d");
  EXPECT_EQ(h(730 * 86400), "2y");
  EXPECT_EQ(h((3 * 365 + 45) * 86400LL), "3y45d");
  EXPECT_EQ(h(8 * 365 * 86400LL - 1), "7y364d");
  EXPECT_EQ(h(8 * 365 * 86400LL), "8y");
  EXPECT_EQ(h((8 * 365 + 200) * 86400LL), "8y");
}

TEST(Rfc3339Test, ParsesWhatGoParses) {
  using std::chrono::sys_seconds;
  const sys_seconds base{seconds(1795607245)};  // 2026-11-25T11:47:25Z
  EXPECT_EQ(parse_rfc3339("2026-11-25T11:47:25Z"), base);
  EXPECT_EQ(parse_rfc3339("2026-11-25T11:47:25.999Z"), base + std::chrono::milliseconds(999));
  EXPECT_EQ(parse_rfc3339("2026-11-25T11:47:25.000000001Z"), base + std::chrono::nanoseconds(1));
  EXPECT_EQ(parse_rfc3339("2026-11-25T12:47:25+01:00"), base);
  EXPECT_EQ(parse_rfc3339("2026-11-25T06:17:25-05:30"), base);
  EXPECT_EQ(parse_rfc3339("2026-11-25T11:17:25-00:30"), base);
  EXPECT_EQ(parse_rfc3339("2024-02-29T00:00:00Z"), sys_seconds{seconds(1709164800)});
  for (const char* bad :
       {"", "2026-11-25", "2026-11-25 11:47:25Z", "2026-11-25T11:47:25", "2026-13-01T00:00:00Z",
        "2026-02-29T00:00:00Z", "2026-11-25T24:00:00Z", "2026-11-25T11:47:25.Z", "2026-11-25T11:47:25+0100",
        "2026-11-25T11:47:25Zjunk", "2026-11-25T11:47:25.1234567890Z", "yesterday"}) {
    EXPECT_EQ(parse_rfc3339(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(format_rfc3339(base), "2026-11-25T11:47:25Z");
  EXPECT_EQ(format_rfc3339(sys_seconds{seconds(0)}), "1970-01-01T00:00:00Z");
}

TEST(IncludeObjectTest, Values) {
  EXPECT_EQ(parse_include_object(""), IncludeObject::Metadata);
  EXPECT_EQ(parse_include_object("Metadata"), IncludeObject::Metadata);
  EXPECT_EQ(parse_include_object("Object"), IncludeObject::Object);
  EXPECT_EQ(parse_include_object("None"), IncludeObject::None);
  EXPECT_EQ(parse_include_object("object"), std::nullopt);
}

// The `kubectl get widgets` answer of the transcripts, as kube-apiserver builds it.
TEST(CustomResourceTableTest, WidgetList) {
  auto layout = custom_resource_table(widget_crd(), "v1");
  Json table = layout.table(std::vector<Json>{widget("wa", "2026-11-25T11:47:25Z", 5)},
                            {"110", "", std::nullopt}, {}, at("2026-11-25T11:47:27Z"));
  Json expected =
      Json::parse(R"({"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"110"},
    "columnDefinitions":[
      {"name":"Name","type":"string","format":"name","description":"NAME_DESCRIPTION","priority":0},
      {"name":"Size","type":"integer","format":"",
       "description":"Custom resource definition column (in JSONPath format): .spec.size","priority":0},
      {"name":"Color","type":"string","format":"",
       "description":"Custom resource definition column (in JSONPath format): .spec.color","priority":1},
      {"name":"Age","type":"date","format":"",
       "description":"Custom resource definition column (in JSONPath format): .metadata.creationTimestamp",
       "priority":0}],
    "rows":[{"cells":["wa",5,null,"2s"],
             "object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1",
                       "metadata":{"labels":{"tier":"back"},"name":"wa","namespace":"default",
                                   "uid":"e4920b15-0734-45d6-a659-d190ba75a2d4",
                                   "creationTimestamp":"2026-11-25T11:47:25Z","generation":2,
                                   "resourceVersion":"108"}}}]})");
  expected["columnDefinitions"][0]["description"] = kNameDescription;
  EXPECT_EQ(table.dump(), expected.dump());
}

TEST(CustomResourceTableTest, AgeOnlyWhenNoColumnsAreDeclared) {
  auto layout = custom_resource_table(widget_crd(), "v2");
  ASSERT_EQ(layout.columns().size(), 2U);
  EXPECT_EQ(layout.columns()[1].name, "Age");
  EXPECT_EQ(layout.columns()[1].type, "date");
  EXPECT_EQ(layout.columns()[1].description, kCreationTimestampDescription);
  EXPECT_EQ(
      Json(layout.row(widget("wa", "2026-11-25T11:47:25Z", 5), at("2026-11-25T15:50:25Z")).cells).dump(),
      R"(["wa","4h3m"])");

  // With columns but none for the creation time, there is no Age column.
  Json crd = widget_crd();
  crd["spec"]["versions"][0]["additionalPrinterColumns"].erase(2);
  auto without_age = custom_resource_table(crd, "v1");
  ASSERT_EQ(without_age.columns().size(), 3U);
  EXPECT_EQ(without_age.columns()[2].name, "Color");
}

TEST(CustomResourceTableTest, FromTheSchemaType) {
  auto crd = schema::CustomResourceDefinition::from_json(widget_crd());
  auto layout = custom_resource_table(crd, "v1");
  ASSERT_EQ(layout.columns().size(), 4U);
  EXPECT_EQ(layout.columns()[1].name, "Size");
  EXPECT_EQ(layout.columns()[2].priority, 1);
  EXPECT_THROW(custom_resource_table(crd, "v9"), std::invalid_argument);
}

TEST(CustomResourceTableTest, CellsAreRenderedLikeKubeApiserver) {
  Json crd = widget_crd();
  crd["spec"]["versions"][0]["additionalPrinterColumns"] = yaml(R"(
- {name: Int, type: integer, jsonPath: .spec.int}
- {name: IntFromFloat, type: integer, jsonPath: .spec.float}
- {name: IntFromString, type: integer, jsonPath: .spec.text}
- {name: Number, type: number, jsonPath: .spec.float}
- {name: NumberFromInt, type: number, jsonPath: .spec.int}
- {name: Bool, type: boolean, jsonPath: .spec.flag}
- {name: BoolFromString, type: boolean, jsonPath: .spec.text}
- {name: Text, type: string, jsonPath: .spec.text}
- {name: TextFromInt, type: string, jsonPath: .spec.int}
- {name: TextFromFloat, type: string, jsonPath: .spec.float}
- {name: TextFromBig, type: string, jsonPath: .spec.big}
- {name: TextFromSmall, type: string, jsonPath: .spec.small}
- {name: TextFromBool, type: string, jsonPath: .spec.flag}
- {name: TextFromList, type: string, jsonPath: .spec.list}
- {name: TextFromObject, type: string, jsonPath: .spec.object}
- {name: FirstOfMany, type: string, jsonPath: '.spec.ports[*].name'}
- {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type=="Ready")].status'}
- {name: Missing, type: string, jsonPath: .spec.missing}
- {name: Null, type: string, jsonPath: .spec.nothing}
- {name: Created, type: date, jsonPath: .metadata.creationTimestamp}
- {name: BadDate, type: date, jsonPath: .spec.text}
- {name: EmptyDate, type: date, jsonPath: .spec.empty}
- {name: DateFromInt, type: date, jsonPath: .spec.int}
)");
  auto layout = custom_resource_table(crd, "v1");
  Json object = Json::parse(R"({"metadata":{"name":"w","creationTimestamp":"2026-11-20T11:47:25Z"},
    "spec":{"int":42,"float":3.75,"text":"yesterday","flag":true,"big":1000000.0,"small":0.00001,
            "list":["b","a"],"object":{"z":1,"a":"<x>&","m":[0.5,1e-7]},"nothing":null,"empty":"",
            "ports":[{"name":"http"},{"name":"https"}]},
    "status":{"conditions":[{"type":"Synced","status":"False"},{"type":"Ready","status":"True"}]}})");
  auto cells = layout.row(object, at("2026-11-25T14:47:25Z")).cells;
  EXPECT_EQ(Json(cells).dump(),
            R"(["w",42,3,null,3.75,42,true,null,"yesterday","42","3.75","1e+06","1e-05","true",)"
            R"("[\"b\",\"a\"]","{\"a\":\"\\u003cx\\u003e\\u0026\",\"m\":[0.5,1e-7],\"z\":1}","http","True",)"
            R"(null,null,"5d3h","<invalid>","<unknown>",null])");
}

TEST(CustomResourceTableTest, DescriptionsAndFormatsAreKept) {
  Json crd = widget_crd();
  crd["spec"]["versions"][0]["additionalPrinterColumns"] = yaml(R"(
- {name: Size, type: integer, format: int32, description: How big., jsonPath: .spec.size, priority: 2}
)");
  auto columns = custom_resource_table(crd, "v1").columns();
  ASSERT_EQ(columns.size(), 2U);
  EXPECT_EQ(columns[1].format, "int32");
  EXPECT_EQ(columns[1].description, "How big.");
  EXPECT_EQ(columns[1].priority, 2);
}

TEST(CustomResourceTableTest, ColumnsFromAnUnparsablePathOnAreLeftOut) {
  Json crd = widget_crd();
  crd["spec"]["versions"][0]["additionalPrinterColumns"][1]["jsonPath"] = ".spec..color";
  auto layout = custom_resource_table(crd, "v1");
  ASSERT_EQ(layout.columns().size(), 2U);
  EXPECT_EQ(layout.columns()[1].name, "Size");
}

TEST(TableTest, IncludeObjectHeadersAndListMetadata) {
  auto layout = custom_resource_table(widget_crd(), "v2");
  std::vector<Json> objects = {widget("wa", "2026-11-25T11:47:25Z", 5),
                               widget("wb", "2026-11-25T11:47:26Z", 7)};
  auto now = at("2026-11-25T11:47:30Z");

  TableOptions full;
  full.include_object = IncludeObject::Object;
  full.no_headers = true;
  Json table = layout.table(objects, {"120", "token", 3}, full, now);
  EXPECT_FALSE(table.contains("columnDefinitions"));
  EXPECT_EQ(table["metadata"].dump(),
            R"({"resourceVersion":"120","continue":"token","remainingItemCount":3})");
  ASSERT_EQ(table["rows"].size(), 2U);
  EXPECT_EQ(table["rows"][1]["object"], objects[1]);
  EXPECT_EQ(table["rows"][1]["cells"].dump(), R"(["wb","4s"])");

  TableOptions none;
  none.include_object = IncludeObject::None;
  none.api_version = "meta.k8s.io/v1beta1";
  table = layout.table(objects, {}, none, now);
  EXPECT_EQ(table["apiVersion"], "meta.k8s.io/v1beta1");
  EXPECT_EQ(table["metadata"].dump(), "{}");
  EXPECT_TRUE(table["rows"][0]["object"].is_null());
  EXPECT_TRUE(table["rows"][0].contains("object"));

  table = layout.table(std::vector<Json>{}, {"7", "", std::nullopt}, {}, now);
  EXPECT_EQ(table["rows"].dump(), "[]");
  EXPECT_EQ(table["columnDefinitions"].size(), 2U);

  TableOptions v1beta1;
  v1beta1.api_version = "meta.k8s.io/v1beta1";
  table = layout.table(objects, {}, v1beta1, now);
  EXPECT_EQ(table["rows"][0]["object"]["apiVersion"], "meta.k8s.io/v1beta1");
}

TEST(BuiltinTableTest, Namespaces) {
  Json ns = Json::parse(R"({"apiVersion":"v1","kind":"Namespace",
    "metadata":{"name":"team","creationTimestamp":"2026-11-25T11:47:25Z","resourceVersion":"9"},
    "spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}})");
  Json table =
      namespace_table().table(std::vector<Json>{ns}, {"9", "", std::nullopt}, {}, at("2026-11-28T12:00:00Z"));
  Json expected =
      Json::parse(R"({"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"9"},
    "columnDefinitions":[
      {"name":"Name","type":"string","format":"name","description":"","priority":0},
      {"name":"Status","type":"string","format":"","description":"The status of the namespace","priority":0},
      {"name":"Age","type":"string","format":"","description":"","priority":0}],
    "rows":[{"cells":["team","Active","3d"],
             "object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1",
                       "metadata":{"name":"team","creationTimestamp":"2026-11-25T11:47:25Z",
                                   "resourceVersion":"9"}}}]})");
  expected["columnDefinitions"][0]["description"] = kNameDescription;
  expected["columnDefinitions"][2]["description"] = kCreationTimestampDescription;
  EXPECT_EQ(table.dump(), expected.dump());
}

std::vector<std::string> column_names(const TableLayout& layout) {
  std::vector<std::string> out;
  for (const auto& column : layout.columns()) {
    out.push_back(column.name + (column.priority > 0 ? " (wide)" : "") + ":" + column.type);
  }
  return out;
}

TEST(BuiltinTableTest, PodColumns) {
  EXPECT_THAT(column_names(pod_table()),
              ::testing::ElementsAre("Name:string", "Ready:string", "Status:string", "Restarts:string",
                                     "Age:string", "IP (wide):string", "Node (wide):string",
                                     "Nominated Node (wide):string", "Readiness Gates (wide):string"));
}

Json pod(std::string_view status_yaml, std::string_view spec_yaml = "{containers: [{name: a}]}") {
  Json out = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", "p"}, {"namespace", "default"}, {"creationTimestamp", "2026-11-25T11:00:00Z"}}}};
  out["spec"] = yaml(spec_yaml);
  out["status"] = yaml(status_yaml);
  return out;
}

std::string pod_cells(const Json& object) {
  return Json(pod_table().row(object, at("2026-11-25T12:00:00Z")).cells).dump();
}

TEST(BuiltinTableTest, PodRows) {
  EXPECT_EQ(pod_cells(pod("{phase: Pending}")),
            R"(["p","0/1","Pending","0","60m","<none>","<none>","<none>","<none>"])");

  // Two containers, one ready and running; the other restarted three times, last 5 minutes ago.
  Json running = pod(R"(
phase: Running
podIP: 10.0.0.5
podIPs: [{ip: 10.0.0.7}]
conditions: [{type: Ready, status: "False"}]
containerStatuses:
- name: a
  ready: true
  restartCount: 0
  state: {running: {startedAt: "2026-11-25T11:00:05Z"}}
- name: b
  ready: false
  restartCount: 3
  state: {running: {startedAt: "2026-11-25T11:55:00Z"}}
  lastState: {terminated: {exitCode: 1, finishedAt: "2026-11-25T11:55:00Z"}}
)",
                     "{containers: [{name: a}, {name: b}], nodeName: lab-1}");
  EXPECT_EQ(pod_cells(running),
            R"x(["p","1/2","Running","3 (5m ago)","60m","10.0.0.7","lab-1","<none>","<none>"])x");

  Json crashing = pod(R"(
phase: Running
containerStatuses:
- {name: a, ready: false, restartCount: 7, state: {waiting: {reason: CrashLoopBackOff}}}
)");
  EXPECT_EQ(pod_cells(crashing),
            R"(["p","0/1","CrashLoopBackOff","7","60m","<none>","<none>","<none>","<none>"])");

  Json exited = pod(R"(
phase: Running
containerStatuses:
- {name: a, state: {terminated: {exitCode: 2}}}
)");
  EXPECT_EQ(Json(pod_table().row(exited, at("2026-11-25T12:00:00Z")).cells)[2], "ExitCode:2");

  Json initializing = pod(R"(
phase: Pending
initContainerStatuses:
- {name: init, state: {waiting: {reason: PodInitializing}}}
)",
                          "{initContainers: [{name: init}], containers: [{name: a}]}");
  EXPECT_EQ(Json(pod_table().row(initializing, at("2026-11-25T12:00:00Z")).cells)[2], "Init:0/1");

  Json init_failed = pod(R"(
phase: Pending
initContainerStatuses:
- {name: init, state: {terminated: {exitCode: 3}}}
)",
                         "{initContainers: [{name: init}], containers: [{name: a}]}");
  EXPECT_EQ(Json(pod_table().row(init_failed, at("2026-11-25T12:00:00Z")).cells)[2], "Init:ExitCode:3");

  // A sidecar (restartable init container) counts as a container.
  Json sidecar = pod(R"(
phase: Running
initContainerStatuses:
- {name: proxy, started: true, ready: true, state: {running: {}}}
containerStatuses:
- {name: a, ready: true, state: {running: {}}}
)",
                     "{initContainers: [{name: proxy, restartPolicy: Always}], containers: [{name: a}]}");
  EXPECT_EQ(Json(pod_table().row(sidecar, at("2026-11-25T12:00:00Z")).cells)[1], "2/2");

  Json terminating = running;
  terminating["metadata"]["deletionTimestamp"] = "2026-11-25T11:59:00Z";
  EXPECT_EQ(Json(pod_table().row(terminating, at("2026-11-25T12:00:00Z")).cells)[2], "Terminating");

  Json gated = pod(
      R"({phase: Pending, conditions: [{type: PodScheduled, status: "False", reason: SchedulingGated}]})");
  EXPECT_EQ(Json(pod_table().row(gated, at("2026-11-25T12:00:00Z")).cells)[2], "SchedulingGated");

  Json gates =
      pod("{phase: Running, conditions: [{type: example.com/ok, status: 'True'}]}",
          "{containers: [{name: a}], readinessGates: [{conditionType: example.com/ok}, {conditionType: x}]}");
  EXPECT_EQ(Json(pod_table().row(gates, at("2026-11-25T12:00:00Z")).cells)[8], "1/2");
}

TEST(BuiltinTableTest, FinishedPodsCarryTheCompletedCondition) {
  auto row = pod_table().row(pod(R"(
phase: Succeeded
containerStatuses:
- {name: a, state: {terminated: {exitCode: 0, reason: Completed}}}
)"),
                             at("2026-11-25T12:00:00Z"));
  EXPECT_EQ(row.cells[2], "Completed");
  EXPECT_EQ(
      row.conditions.dump(),
      R"([{"type":"Completed","status":"True","reason":"Succeeded","message":"The pod has completed successfully."}])");

  Json table =
      pod_table().table(std::vector<Json>{pod("{phase: Failed}")}, {}, {}, at("2026-11-25T12:00:00Z"));
  EXPECT_EQ(table["rows"][0]["conditions"].dump(),
            R"([{"type":"Completed","status":"True","reason":"Failed","message":"The pod failed."}])");
  EXPECT_FALSE(
      pod_table()
          .table(std::vector<Json>{pod("{phase: Running}")}, {}, {}, at("2026-11-25T12:00:00Z"))["rows"][0]
          .contains("conditions"));
}

TEST(BuiltinTableTest, ConfigMaps) {
  Json cm = Json::parse(R"({"metadata":{"name":"settings","creationTimestamp":"2026-11-25T11:00:00Z"},
                            "data":{"a":"1","b":"2"},"binaryData":{"c":"AAH/"}})");
  EXPECT_THAT(column_names(config_map_table()),
              ::testing::ElementsAre("Name:string", "Data:string", "Age:string"));
  EXPECT_EQ(Json(config_map_table().row(cm, at("2026-11-25T11:00:45Z")).cells).dump(),
            R"(["settings",3,"45s"])");
  EXPECT_EQ(Json(config_map_table()
                     .row(Json::parse(R"({"metadata":{"name":"empty"}})"), at("2026-11-25T11:00:45Z"))
                     .cells)
                .dump(),
            R"(["empty",0,"<unknown>"])");
}

TEST(BuiltinTableTest, Nodes) {
  EXPECT_THAT(column_names(node_table()),
              ::testing::ElementsAre("Name:string", "Status:string", "Roles:string", "Age:string",
                                     "Version:string", "Internal-IP (wide):string",
                                     "External-IP (wide):string", "OS-Image (wide):string",
                                     "Kernel-Version (wide):string", "Container-Runtime (wide):string"));
  Json node = Json::parse(R"({"metadata":{"name":"lab-1","creationTimestamp":"2026-11-01T00:00:00Z",
      "labels":{"node-role.kubernetes.io/worker":"","node-role.kubernetes.io/control-plane":"",
                "node-role.kubernetes.io/":"","kubernetes.io/role":"edge","kubernetes.io/hostname":"lab-1"}},
    "spec":{"unschedulable":true},
    "status":{"conditions":[{"type":"MemoryPressure","status":"False"},{"type":"Ready","status":"True"}],
              "addresses":[{"type":"Hostname","address":"lab-1"},{"type":"InternalIP","address":"192.168.1.10"}],
              "nodeInfo":{"kubeletVersion":"v1.32.0","kernelVersion":"6.1.0-13-amd64"}}})");
  EXPECT_EQ(
      Json(node_table().row(node, at("2026-11-25T12:00:00Z")).cells).dump(),
      R"(["lab-1","Ready,SchedulingDisabled","control-plane,edge,worker","24d","v1.32.0","192.168.1.10",)"
      R"("<none>","<unknown>","6.1.0-13-amd64","<unknown>"])");

  Json bare = Json::parse(R"({"metadata":{"name":"lab-2"}})");
  EXPECT_EQ(
      Json(node_table().row(bare, at("2026-11-25T12:00:00Z")).cells).dump(),
      R"(["lab-2","Unknown","<none>","<unknown>","","<none>","<none>","<unknown>","<unknown>","<unknown>"])");
  bare["status"]["conditions"] = Json::parse(R"([{"type":"Ready","status":"Unknown"}])");
  EXPECT_EQ(node_table().row(bare, at("2026-11-25T12:00:00Z")).cells[1], "NotReady");
}

TEST(BuiltinTableTest, DeploymentsAndDaemonSets) {
  EXPECT_THAT(column_names(builtin_table("apps", "deployments")),
              ::testing::ElementsAre("Name:string", "Ready:string", "Up-to-date:string", "Available:string",
                                     "Age:string", "Containers (wide):string", "Images (wide):string",
                                     "Selector (wide):string"));
  Json deployment = Json::parse(R"({"metadata":{"name":"web","creationTimestamp":"2026-11-25T11:00:00Z"},
      "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},
              "template":{"spec":{"containers":[{"name":"a","image":"x:1"},{"name":"b","image":"y:2"}]}}},
      "status":{"readyReplicas":2,"updatedReplicas":3,"availableReplicas":1}})");
  EXPECT_EQ(Json(deployment_table().row(deployment, at("2026-11-25T11:00:45Z")).cells).dump(),
            R"(["web","2/3",3,1,"45s","a,b","x:1,y:2","app=web"])");
  // No status yet, replicas defaulted, a selector with expressions.
  EXPECT_EQ(Json(deployment_table()
                     .row(Json::parse(R"({"metadata":{"name":"new"},"spec":{"selector":{"matchExpressions":[
                        {"key":"tier","operator":"In","values":["a","b"]},{"key":"x","operator":"DoesNotExist"}]}}})"),
                          at("2026-11-25T11:00:45Z"))
                     .cells)
                .dump(),
            R"(["new","0/1",0,0,"<unknown>","","","tier in (a,b),!x"])");

  EXPECT_THAT(
      column_names(builtin_table("apps", "daemonsets")),
      ::testing::ElementsAre("Name:string", "Desired:integer", "Current:integer", "Ready:integer",
                             "Up-to-date:integer", "Available:integer", "Node Selector:string", "Age:string",
                             "Containers (wide):string", "Images (wide):string", "Selector (wide):string"));
  Json daemonset = Json::parse(R"({"metadata":{"name":"agent"},
      "spec":{"selector":{"matchLabels":{"app":"agent"}},
              "template":{"spec":{"nodeSelector":{"role":"lab"},"containers":[{"name":"a","image":"x:1"}]}}},
      "status":{"desiredNumberScheduled":2,"currentNumberScheduled":2,"numberReady":1,
                "updatedNumberScheduled":2,"numberAvailable":1}})");
  EXPECT_EQ(Json(daemonset_table().row(daemonset, at("2026-11-25T11:00:45Z")).cells).dump(),
            R"(["agent",2,2,1,2,1,"role=lab","<unknown>","a","x:1","app=agent"])");
}

TEST(BuiltinTableTest, CustomResourceDefinitionsAndOthersGetTheDefaultTable) {
  auto layout = builtin_table("apiextensions.k8s.io", "customresourcedefinitions");
  EXPECT_THAT(column_names(layout), ::testing::ElementsAre("Name:string", "Created At:date"));
  EXPECT_EQ(layout.columns()[1].description, kCreationTimestampDescription);
  Json crd = Json::parse(
      R"({"metadata":{"name":"widgets.example.com","creationTimestamp":"2026-11-25T12:47:24+01:00"}})");
  EXPECT_EQ(Json(layout.row(crd, at("2026-11-25T12:00:00Z")).cells).dump(),
            R"(["widgets.example.com","2026-11-25T11:47:24Z"])");
  EXPECT_EQ(
      Json(layout.row(Json::parse(R"({"metadata":{"name":"x"}})"), at("2026-11-25T12:00:00Z")).cells).dump(),
      R"(["x","0001-01-01T00:00:00Z"])");

  EXPECT_THAT(column_names(builtin_table("", "namespaces")),
              ::testing::ElementsAre("Name:string", "Status:string", "Age:string"));
  EXPECT_EQ(builtin_table("", "pods").columns().size(), 9U);
  EXPECT_EQ(builtin_table("", "configmaps").columns().size(), 3U);
  EXPECT_EQ(builtin_table("", "nodes").columns().size(), 10U);
  EXPECT_THAT(column_names(builtin_table("authorization.k8s.io", "selfsubjectaccessreviews")),
              ::testing::ElementsAre("Name:string", "Created At:date"));
  EXPECT_THAT(column_names(builtin_table("apps", "pods")),
              ::testing::ElementsAre("Name:string", "Created At:date"));
}

}  // namespace
}  // namespace riasc::kubeapi

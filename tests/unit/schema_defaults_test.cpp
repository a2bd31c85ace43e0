// Schema::apply_defaults, Schema::prune and Schema::unknown_fields, with Kubernetes' semantics.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "riasc/schema/crd.hpp"
#include "riasc/schema/schema.hpp"
#include "test_support.hpp"

namespace riasc::schema {
namespace {

using test::compile;
using test::yaml;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// `value_yaml` with the defaults of `schema_yaml` applied, as compact JSON.
std::string defaulted(std::string_view schema_yaml, std::string_view value_yaml) {
  Json value = yaml(value_yaml);
  compile(schema_yaml).apply_defaults(value);
  return value.dump();
}

struct Pruned {
  std::string value;                 // the pruned value, as compact JSON
  std::vector<std::string> removed;  // the unknown fields removed
};

Pruned pruned(std::string_view schema_yaml, std::string_view value_yaml,
              Schema::Root root = Schema::Root::Value) {
  Json value = yaml(value_yaml);
  auto removed = compile(schema_yaml, root).prune(value);
  return {value.dump(), test::path_strings(removed)};
}

// ---------------------------------------------------------------------------------------------
// Defaulting

TEST(SchemaDefaultsTest, AbsentFieldGetsItsDefault) {
  const char* schema =
      "{type: object, properties: {type: {type: string, default: Builtin}, limit: {type: integer}}}";
  EXPECT_EQ(defaulted(schema, "{}"), R"({"type":"Builtin"})");
  EXPECT_EQ(defaulted(schema, "{limit: 5}"), R"({"limit":5,"type":"Builtin"})");
  EXPECT_EQ(defaulted(schema, "{type: Flexe}"), R"({"type":"Flexe"})");
}

TEST(SchemaDefaultsTest, PresentValuesAreKeptEvenIfInvalid) {
  const char* schema = "{type: object, properties: {type: {type: string, default: Builtin}}}";
  EXPECT_EQ(defaulted(schema, "{type: 5}"), R"({"type":5})");
  EXPECT_EQ(defaulted(schema, "{type: ''}"), R"({"type":""})");
}

TEST(SchemaDefaultsTest, NullOfANonNullableFieldIsDefaulted) {
  const char* schema = "{type: object, properties: {type: {type: string, default: Builtin}}}";
  EXPECT_EQ(defaulted(schema, "{type: null}"), R"({"type":"Builtin"})");
  EXPECT_EQ(defaulted(schema, "{type: }"), R"({"type":"Builtin"})");
}

TEST(SchemaDefaultsTest, NullOfANullableFieldStaysNull) {
  const char* schema = "{type: object, properties: {type: {type: string, nullable: true, default: Builtin}}}";
  EXPECT_EQ(defaulted(schema, "{type: null}"), R"({"type":null})");
  EXPECT_EQ(defaulted(schema, "{}"), R"({"type":"Builtin"})");
}

TEST(SchemaDefaultsTest, DefaultedObjectsAreDefaultedInside) {
  const char* schema = R"(
type: object
properties:
  parameters:
    type: object
    default: {}
    properties:
      netem:
        type: object
        default: {}
        properties:
          delay: {x-kubernetes-preserve-unknown-fields: true, default: 0}
          distribution: {type: string, default: normal}
          ecn: {type: boolean, default: false}
      segments:
        type: array
        items: {type: object, properties: {repeat: {type: boolean, default: false}}}
)";
  EXPECT_EQ(defaulted(schema, "{}"),
            R"({"parameters":{"netem":{"delay":0,"distribution":"normal","ecn":false}}})");
  EXPECT_EQ(defaulted(schema, "{parameters: {netem: {delay: 200ms}}}"),
            R"({"parameters":{"netem":{"delay":"200ms","distribution":"normal","ecn":false}}})");
  EXPECT_EQ(
      defaulted(schema, "{parameters: {segments: [{}]}}"),
      R"({"parameters":{"segments":[{"repeat":false}],"netem":{"delay":0,"distribution":"normal","ecn":false}}})");
}

TEST(SchemaDefaultsTest, FieldsOfADefaultAreKeptAndTheRestDefaulted) {
  const char* schema = R"(
type: object
properties:
  server:
    type: object
    default: {allow: ["10.0.0.0/8"]}
    properties:
      enabled: {type: boolean, default: false}
      allow: {type: array, items: {type: string}, default: ["0.0.0.0/0", "::/0"]}
)";
  EXPECT_EQ(defaulted(schema, "{}"), R"({"server":{"allow":["10.0.0.0/8"],"enabled":false}})");
  EXPECT_EQ(defaulted(schema, "{server: {}}"),
            R"({"server":{"enabled":false,"allow":["0.0.0.0/0","::/0"]}})");
}

TEST(SchemaDefaultsTest, AbsentParentWithoutDefaultGetsNoChildren) {
  const char* schema =
      "{type: object, properties: {spec: {type: object, properties: {x: {type: integer, default: 1}}}}}";
  EXPECT_EQ(defaulted(schema, "{}"), "{}");
  EXPECT_EQ(defaulted(schema, "{spec: {}}"), R"({"spec":{"x":1}})");
  // Not an object: nothing to default inside.
  EXPECT_EQ(defaulted(schema, "{spec: [1]}"), R"({"spec":[1]})");
}

TEST(SchemaDefaultsTest, DefaultsInArrayItems) {
  const char* schema = R"(
type: array
items:
  type: object
  properties:
    port: {x-kubernetes-int-or-string: true}
    protocol: {type: string, default: TCP}
)";
  EXPECT_EQ(defaulted(schema, "[{port: 80}, {port: 53, protocol: UDP}, {}]"),
            R"([{"port":80,"protocol":"TCP"},{"port":53,"protocol":"UDP"},{"protocol":"TCP"}])");
  EXPECT_EQ(defaulted(schema, "[]"), "[]");
  EXPECT_EQ(defaulted(schema, "[x]"), R"(["x"])");
}

TEST(SchemaDefaultsTest, DefaultsInMapValues) {
  const char* schema = R"(
type: object
additionalProperties:
  type: object
  properties:
    weight: {type: integer, default: 1}
)";
  EXPECT_EQ(defaulted(schema, "{a: {}, b: {weight: 5}}"), R"({"a":{"weight":1},"b":{"weight":5}})");
}

TEST(SchemaDefaultsTest, DefaultsAreNotAppliedInsideJunctors) {
  const char* schema =
      "{type: object, properties: {a: {type: integer}}, anyOf: [{properties: {a: {minimum: 1}}}]}";
  EXPECT_EQ(defaulted(schema, "{}"), "{}");
}

TEST(SchemaDefaultsTest, RequiredIsSatisfiedByDefaulting) {
  const Json crd_json = test::widget_crd(yaml(R"(
type: object
required: [spec]
properties:
  spec:
    type: object
    required: [type, replicas]
    properties:
      type: {type: string, default: Builtin, enum: [Builtin, Flexe]}
      replicas: {type: integer}
)"));
  const auto crd = CustomResourceDefinition::from_json(crd_json);
  auto check = check_custom_object(
      crd, yaml("{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}, spec: {replicas: 1}}"));
  EXPECT_THAT(test::messages(check.errors), IsEmpty());
  EXPECT_EQ(check.object["spec"].dump(), R"({"replicas":1,"type":"Builtin"})");

  // A null that is not nullable is dropped and then defaulted too.
  check = check_custom_object(crd, yaml("{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}, "
                                        "spec: {type: null, replicas: 1}}"));
  EXPECT_THAT(test::messages(check.errors), IsEmpty());
  EXPECT_EQ(check.object["spec"].dump(), R"({"replicas":1,"type":"Builtin"})");

  // Without a default, the field stays missing.
  check = check_custom_object(
      crd, yaml("{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}, spec: {replicas: null}}"));
  EXPECT_THAT(test::messages(check.errors), ElementsAre("spec.replicas: Required value"));
  EXPECT_EQ(check.object["spec"].dump(), R"({"type":"Builtin"})");
}

// ---------------------------------------------------------------------------------------------
// Pruning

constexpr const char* kSpecSchema = R"(
type: object
properties:
  spec:
    type: object
    properties:
      a: {type: string}
      list:
        type: array
        items: {type: object, properties: {x: {type: integer}}}
      map:
        type: object
        additionalProperties: {type: object, properties: {y: {type: integer}}}
)";

TEST(SchemaPruneTest, UnknownFieldsAreRemovedAtEveryLevel) {
  const Pruned result = pruned(
      kSpecSchema, "{top: 1, spec: {a: s, b: 2, list: [{x: 1, z: 2}, {x: 2}], map: {k: {y: 1, w: 3}}}}");
  EXPECT_EQ(result.value, R"({"spec":{"a":"s","list":[{"x":1},{"x":2}],"map":{"k":{"y":1}}}})");
  EXPECT_THAT(result.removed, ElementsAre("top", "spec.b", "spec.list[0].z", "spec.map[k].w"));
}

TEST(SchemaPruneTest, KnownValuesAreUntouched) {
  const Pruned result = pruned(kSpecSchema, "{spec: {a: s, list: [], map: {}}}");
  EXPECT_EQ(result.value, R"({"spec":{"a":"s","list":[],"map":{}}})");
  EXPECT_THAT(result.removed, IsEmpty());
}

TEST(SchemaPruneTest, ValuesOfTheWrongTypeAreNotPrunedInto) {
  // Validation reports them; their contents are not "unknown fields".
  Pruned result = pruned(kSpecSchema, "{spec: [{a: 1, b: 2}]}");
  EXPECT_EQ(result.value, R"({"spec":[{"a":1,"b":2}]})");
  EXPECT_THAT(result.removed, IsEmpty());
  result = pruned(kSpecSchema, "{spec: {list: {x: 1, z: 2}, map: [{w: 1}]}}");
  EXPECT_EQ(result.value, R"({"spec":{"list":{"x":1,"z":2},"map":[{"w":1}]}})");
  EXPECT_THAT(result.removed, IsEmpty());
}

TEST(SchemaPruneTest, NullsOfNonNullableFieldsAreDroppedButNotReported) {
  const Pruned result =
      pruned("{type: object, properties: {a: {type: string}, b: {type: string, nullable: true}}}",
             "{a: null, b: null}");
  EXPECT_EQ(result.value, R"({"b":null})");
  EXPECT_THAT(result.removed, IsEmpty());
}

TEST(SchemaPruneTest, NullMapValuesThatAreNotNullableAreDropped) {
  const auto schema = compile(
      "{type: object, properties: {nodeSelector: {type: object, additionalProperties: {type: string}}}}");
  Json value = yaml("{nodeSelector: {lab: null, arch: arm64}}");
  EXPECT_THAT(test::path_strings(schema.prune(value)), IsEmpty());
  EXPECT_EQ(value.dump(), R"({"nodeSelector":{"arch":"arm64"}})");
  EXPECT_THAT(test::messages(schema.validate(value)), IsEmpty());
}

TEST(SchemaPruneTest, PreserveUnknownFieldsKeepsThem) {
  const Pruned result = pruned(R"(
type: object
x-kubernetes-preserve-unknown-fields: true
properties:
  a:
    type: object
    properties:
      b: {type: string}
)",
                               "{a: {b: x, c: y}, free: {anything: [1, {deep: true}]}}");
  // Declared properties switch pruning back on below them.
  EXPECT_EQ(result.value, R"({"a":{"b":"x"},"free":{"anything":[1,{"deep":true}]}})");
  EXPECT_THAT(result.removed, ElementsAre("a.c"));
}

TEST(SchemaPruneTest, TypelessPreservedValuesAreKeptWhole) {
  const Pruned result =
      pruned("{type: object, properties: {delay: {x-kubernetes-preserve-unknown-fields: true}}}",
             "{delay: {value: 1, unit: s}}");
  EXPECT_EQ(result.value, R"({"delay":{"value":1,"unit":"s"}})");
  EXPECT_THAT(result.removed, IsEmpty());
}

TEST(SchemaPruneTest, AdditionalPropertiesTrueKeepsAndFalsePrunes) {
  Pruned result =
      pruned("{type: object, properties: {a: {type: string}}, additionalProperties: true}", "{a: x, b: 1}");
  EXPECT_EQ(result.value, R"({"a":"x","b":1})");
  EXPECT_THAT(result.removed, IsEmpty());
  result = pruned("{type: object, additionalProperties: false}", "{a: 1}");
  EXPECT_EQ(result.value, "{}");
  EXPECT_THAT(result.removed, ElementsAre("a"));
}

TEST(SchemaPruneTest, ObjectWithoutPropertiesTakesNoFields) {
  const Pruned result = pruned("{type: object, properties: {spec: {type: object}}}", "{spec: {a: 1}}");
  EXPECT_EQ(result.value, R"({"spec":{}})");
  EXPECT_THAT(result.removed, ElementsAre("spec.a"));
}

TEST(SchemaPruneTest, EmbeddedResourcesKeepApiVersionKindAndMetadata) {
  const Pruned result = pruned(R"(
type: object
properties:
  template:
    type: object
    x-kubernetes-embedded-resource: true
    properties:
      spec:
        type: object
        properties:
          replicas: {type: integer}
)",
                               "{template: {apiVersion: v1, kind: Pod, metadata: {name: x, labels: {a: b}}, "
                               "spec: {replicas: 1, extra: 1}, status: {}}}");
  EXPECT_EQ(
      result.value,
      R"({"template":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","labels":{"a":"b"}},"spec":{"replicas":1}}})");
  EXPECT_THAT(result.removed, ElementsAre("template.spec.extra", "template.status"));
}

TEST(SchemaPruneTest, ResourceRootKeepsApiVersionKindAndMetadata) {
  const char* schema = "{type: object, properties: {spec: {type: object, properties: {a: {type: string}}}}}";
  const char* value =
      "{apiVersion: x.io/v1, kind: K, metadata: {name: nm, annotations: {z: zz}}, spec: {a: s, b: 1}, extra: "
      "1}";
  Pruned result = pruned(schema, value, Schema::Root::Resource);
  EXPECT_EQ(
      result.value,
      R"({"apiVersion":"x.io/v1","kind":"K","metadata":{"name":"nm","annotations":{"z":"zz"}},"spec":{"a":"s"}})");
  EXPECT_THAT(result.removed, ElementsAre("spec.b", "extra"));
  // As a plain value, the same schema knows nothing of apiVersion, kind and metadata.
  result = pruned(schema, value, Schema::Root::Value);
  EXPECT_EQ(result.value, R"({"spec":{"a":"s"}})");
  EXPECT_THAT(result.removed, ElementsAre("apiVersion", "kind", "metadata", "spec.b", "extra"));
}

// ---------------------------------------------------------------------------------------------
// unknown_fields

constexpr const char* kNetemSchema = R"(
type: object
properties:
  spec:
    type: object
    properties:
      podSelector: {type: object, x-kubernetes-preserve-unknown-fields: true}
      parameters:
        type: object
        properties:
          netem:
            type: object
            properties:
              delay: {x-kubernetes-preserve-unknown-fields: true}
              loss_ratio: {type: number}
              loss_correlation: {type: number}
)";

TEST(SchemaUnknownFieldsTest, SuggestsTheClosestDeclaredField) {
  const auto schema = compile(kNetemSchema);
  const Json value = yaml("{spec: {parameters: {netem: {lose_ratio: 0.2, delay: 1}}}}");
  EXPECT_THAT(
      test::messages(schema.unknown_fields(value)),
      ElementsAre(
          R"(spec.parameters.netem.lose_ratio: Unknown field: not declared in the schema; did you mean "loss_ratio"?)"));
  // The value itself is left alone.
  EXPECT_EQ(value.dump(), R"({"spec":{"parameters":{"netem":{"lose_ratio":0.2,"delay":1}}}})");
}

TEST(SchemaUnknownFieldsTest, SuggestionIgnoresCase) {
  const auto schema = compile(kNetemSchema);
  EXPECT_THAT(
      test::messages(schema.unknown_fields(yaml("{spec: {PodSelector: {}}}"))),
      ElementsAre(
          R"(spec.PodSelector: Unknown field: not declared in the schema; did you mean "podSelector"?)"));
}

TEST(SchemaUnknownFieldsTest, ListsKnownFieldsWhenNothingIsClose) {
  const auto schema = compile(kNetemSchema);
  EXPECT_THAT(
      test::messages(
          schema.unknown_fields(yaml("{spec: {parameters: {netem: {bandwidth: 1}}, egress: []}}"))),
      ElementsAre(
          "spec.parameters.netem.bandwidth: Unknown field: not declared in the schema; known fields: "
          "delay, loss_ratio, loss_correlation",
          "spec.egress: Unknown field: not declared in the schema; known fields: podSelector, parameters"));
}

TEST(SchemaUnknownFieldsTest, ObjectWithoutFields) {
  EXPECT_THAT(test::messages(compile("{type: object, properties: {spec: {type: object}}}")
                                 .unknown_fields(yaml("{spec: {x: 1}}"))),
              ElementsAre("spec.x: Unknown field: not declared in the schema; this object takes no fields"));
}

TEST(SchemaUnknownFieldsTest, ResourceRootSuggestsImplicitFieldsToo) {
  const auto schema = compile("{type: object, properties: {spec: {type: object}}}", Schema::Root::Resource);
  EXPECT_THAT(test::messages(schema.unknown_fields(
                  yaml("{apiVersion: a/v1, kind: K, metadata: {}, spc: {}, metdata: 1}"))),
              ElementsAre(R"(spc: Unknown field: not declared in the schema; did you mean "spec"?)",
                          R"(metdata: Unknown field: not declared in the schema; did you mean "metadata"?)"));
  EXPECT_THAT(test::messages(schema.unknown_fields(yaml("{xyzxyzxyz: 1}"))),
              ElementsAre("xyzxyzxyz: Unknown field: not declared in the schema; known fields: spec, "
                          "apiVersion, kind, metadata"));
}

TEST(SchemaUnknownFieldsTest, AgreesWithPrune) {
  const auto schema = compile(kSpecSchema);
  Json value = yaml("{top: 1, spec: {b: 2, list: [{z: 1}], map: {k: {w: 1}}}}");
  const auto errors = schema.unknown_fields(value);
  const auto removed = schema.prune(value);
  ASSERT_EQ(errors.size(), removed.size());
  for (std::size_t i = 0; i < errors.size(); ++i) {
    EXPECT_EQ(errors[i].path, removed[i]);
    EXPECT_EQ(errors[i].type, FieldError::Type::Unknown);
    EXPECT_TRUE(errors[i].value.is_null());
  }
  EXPECT_THAT(test::messages(schema.unknown_fields(value)), IsEmpty());  // nothing left after pruning
}

TEST(SchemaUnknownFieldsTest, NothingUnknownInValidValues) {
  EXPECT_THAT(
      test::messages(
          compile(kNetemSchema)
              .unknown_fields(
                  yaml("{spec: {podSelector: {matchLabels: {a: b}}, parameters: {netem: {delay: 200ms}}}}"))),
      IsEmpty());
}

}  // namespace
}  // namespace riasc::schema

// validate_crd, CustomResourceDefinition, check_custom_object, CrdRegistry and the ObjectMeta rules.

#include "riasc/schema/crd.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "riasc/kinds/builtin_crds.hpp"
#include "riasc/schema/object_meta.hpp"
#include "test_support.hpp"

namespace riasc::schema {
namespace {

using test::messages;
using test::Messages;
using test::yaml;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr const char* kWidgetSchema = R"(
type: object
required: [spec]
properties:
  spec:
    type: object
    required: [replicas]
    properties:
      replicas: {type: integer, minimum: 0}
      mode: {type: string, enum: [fast, slow], default: slow}
      name: {type: string, pattern: '^[a-z]+$'}
      options:
        type: object
        default: {}
        properties:
          retries: {type: integer, default: 3}
  status:
    type: object
    properties:
      ready: {type: boolean}
)";

Json widget_crd(const std::string& scope = "Namespaced") {
  return test::widget_crd(yaml(kWidgetSchema), scope);
}

const std::string kSchemaAt = "spec.versions[0].schema.openAPIV3Schema";

// ---------------------------------------------------------------------------------------------
// validate_crd and from_json

TEST(ValidateCrdTest, ValidCrdHasNoErrors) { EXPECT_THAT(messages(validate_crd(widget_crd())), IsEmpty()); }

TEST(ValidateCrdTest, FromJsonExposesTheNames) {
  const Json source = widget_crd();
  const auto crd = CustomResourceDefinition::from_json(source);
  EXPECT_EQ(crd.name(), "widgets.example.com");
  EXPECT_EQ(crd.group(), "example.com");
  EXPECT_EQ(crd.kind(), "Widget");
  EXPECT_EQ(crd.plural(), "widgets");
  EXPECT_TRUE(crd.namespaced());
  ASSERT_EQ(crd.versions().size(), 1U);
  EXPECT_EQ(crd.versions()[0].name, "v1");
  EXPECT_TRUE(crd.versions()[0].served);
  EXPECT_TRUE(crd.versions()[0].storage);
  EXPECT_EQ(crd.source(), source);
  EXPECT_FALSE(CustomResourceDefinition::from_json(widget_crd("Cluster")).namespaced());
}

TEST(ValidateCrdTest, NameMustBePluralDotGroup) {
  // The original Chroma4Q CRD's name, which Kubernetes refuses.
  Json crd;
  for (const auto& builtin : kinds::builtin_crds()) {
    if (builtin.kind() == "Chroma4Q") crd = builtin.source();
  }
  ASSERT_TRUE(crd.is_object());
  crd["metadata"]["name"] = "chromq4qs.device.riasc.eu";
  const std::string expected =
      R"(metadata.name: Invalid value: "chromq4qs.device.riasc.eu": must be spec.names.plural+"."+spec.group: "chroma4qs.device.riasc.eu")";
  EXPECT_THAT(messages(validate_crd(crd)), ElementsAre(expected));
  try {
    (void)CustomResourceDefinition::from_json(crd);
    ADD_FAILURE() << "from_json accepted a misnamed CRD";
  } catch (const SchemaError& error) {
    EXPECT_EQ(std::string(error.what()), expected);
    EXPECT_THAT(messages(error.errors()), ElementsAre(expected));
  }
}

TEST(ValidateCrdTest, ApiVersionMustBeV1) {
  Json crd = widget_crd();
  crd["apiVersion"] = "apiextensions.k8s.io/v1beta1";
  EXPECT_THAT(
      messages(validate_crd(crd)),
      ElementsAre(
          R"(apiVersion: Unsupported value: "apiextensions.k8s.io/v1beta1": supported values: "apiextensions.k8s.io/v1")"));
}

TEST(ValidateCrdTest, ScopeIsClusterOrNamespaced) {
  Json crd = widget_crd();
  crd["spec"]["scope"] = "Global";
  EXPECT_THAT(
      messages(validate_crd(crd)),
      ElementsAre(R"(spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced")"));
  crd["spec"].erase("scope");
  EXPECT_THAT(messages(validate_crd(crd)), ElementsAre("spec.scope: Required value"));
}

TEST(ValidateCrdTest, GroupNeedsADot) {
  Json crd = widget_crd();
  crd["spec"]["group"] = "example";
  EXPECT_THAT(
      messages(validate_crd(crd)),
      ElementsAre(
          R"(spec.group: Invalid value: "example": should be a domain with at least one dot)",
          R"(metadata.name: Invalid value: "widgets.example.com": must be spec.names.plural+"."+spec.group: "widgets.example")"));
}

TEST(ValidateCrdTest, NamesAreChecked) {
  Json crd = widget_crd();
  crd["spec"]["names"]["kind"] = "my-kind";
  crd["spec"]["names"]["shortNames"] = Json::array({"wg", "W"});
  EXPECT_THAT(
      messages(validate_crd(crd)),
      ElementsAre(
          R"(spec.names.kind: Invalid value: "my-kind": must be an alphanumeric identifier starting with a letter, e.g. TrafficProfile)",
          R"(spec.names.shortNames[1]: Invalid value: "W": must be a lowercase RFC 1123 label)"));
  crd = widget_crd();
  crd["spec"]["names"].erase("kind");
  crd["spec"]["names"]["plural"] = "Widgets";
  EXPECT_THAT(
      messages(validate_crd(crd)),
      ElementsAre(
          R"(spec.names.plural: Invalid value: "Widgets": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name' or '123-abc'))",
          "spec.names.kind: Required value",
          R"(metadata.name: Invalid value: "widgets.example.com": must be spec.names.plural+"."+spec.group: "Widgets.example.com")"));
}

TEST(ValidateCrdTest, UnknownFieldsOfTheCrdAreReported) {
  Json crd = widget_crd();
  crd["spec"]["validation"] = Json::object();
  crd["spec"]["versions"][0]["schemas"] = Json::object();
  EXPECT_THAT(
      messages(validate_crd(crd)),
      ElementsAre("spec.validation: Unknown field: known fields: group, names, scope, versions, conversion, "
                  "preserveUnknownFields",
                  "spec.versions[0].schemas: Unknown field: known fields: name, served, storage, deprecated, "
                  "deprecationWarning, schema, subresources, additionalPrinterColumns, selectableFields"));
}

TEST(ValidateCrdTest, PreserveUnknownFieldsMustBeFalse) {
  Json crd = widget_crd();
  crd["spec"]["preserveUnknownFields"] = false;
  EXPECT_THAT(messages(validate_crd(crd)), IsEmpty());
  crd["spec"]["preserveUnknownFields"] = true;
  EXPECT_THAT(
      messages(validate_crd(crd)),
      ElementsAre(
          "spec.preserveUnknownFields: Invalid value: true: must be false in apiextensions.k8s.io/v1"));
}

TEST(ValidateCrdTest, ExactlyOneStorageVersion) {
  Json crd = widget_crd();
  Json v2 = crd["spec"]["versions"][0];
  v2["name"] = "v2";
  crd["spec"]["versions"].push_back(v2);
  EXPECT_THAT(
      messages(validate_crd(crd)),
      ElementsAre(
          "spec.versions: Invalid value: null: must have exactly one version marked as storage version"));
  crd["spec"]["versions"][0]["storage"] = false;
  EXPECT_THAT(messages(validate_crd(crd)), IsEmpty());
  crd["spec"]["versions"][1]["storage"] = false;
  EXPECT_THAT(
      messages(validate_crd(crd)),
      ElementsAre(
          "spec.versions: Invalid value: null: must have exactly one version marked as storage version"));
}

TEST(ValidateCrdTest, VersionsAreChecked) {
  Json crd = widget_crd();
  Json again = crd["spec"]["versions"][0];
  again["storage"] = false;
  again["served"] = "yes";
  crd["spec"]["versions"].push_back(again);
  EXPECT_THAT(messages(validate_crd(crd)),
              ElementsAre(R"(spec.versions[1].name: Duplicate value: "v1")",
                          R"(spec.versions[1].served: Invalid value: "yes": must be true or false)"));
  crd = widget_crd();
  crd["spec"]["versions"] = Json::array();
  EXPECT_THAT(messages(validate_crd(crd)),
              ElementsAre("spec.versions: Required value: must have at least one version"));
  crd = widget_crd();
  crd["spec"]["versions"][0]["name"] = "1beta";
  EXPECT_THAT(
      messages(validate_crd(crd)),
      ElementsAre(
          R"(spec.versions[0].name: Invalid value: "1beta": must be a DNS-1035 label, e.g. v1 or v1beta1)"));
}

TEST(ValidateCrdTest, EveryVersionNeedsASchema) {
  Json crd = widget_crd();
  crd["spec"]["versions"][0].erase("schema");
  EXPECT_THAT(messages(validate_crd(crd)),
              ElementsAre(kSchemaAt + ": Required value: every version needs a structural schema"));
}

TEST(ValidateCrdTest, NonStructuralSchemaIsReportedAtItsPath) {
  const Json crd =
      test::widget_crd(yaml("{type: object, properties: {spec: {type: object, properties: {size: {}}}}}"));
  EXPECT_THAT(messages(validate_crd(crd)),
              ElementsAre(kSchemaAt +
                          ".properties[spec].properties[size].type: Required value: must not be empty for "
                          "specified object fields"));
}

TEST(ValidateCrdTest, InvalidPatternIsReportedAtItsSchemaPath) {
  const Json crd =
      test::widget_crd(yaml("{type: object, properties: {spec: {type: object, properties: {name: {type: "
                            "string, pattern: '(['}}}}}"));
  EXPECT_THAT(
      messages(validate_crd(crd)),
      ElementsAre(
          kSchemaAt +
          R"(.properties[spec].properties[name].pattern: Invalid value: "([": must be a valid regular expression: missing ]: [)"));
}

TEST(ValidateCrdTest, DefaultMustBeValidForItsOwnSchema) {
  const Json crd = test::widget_crd(yaml(R"(
type: object
properties:
  spec:
    type: object
    properties:
      count: {type: integer, minimum: 1, default: 0}
      mode: {type: string, default: 5}
      size: {type: object, properties: {width: {type: integer}}, default: {colour: red}}
      server:
        type: object
        required: [host]
        properties: {host: {type: string}}
        default: {}
      ok:
        type: object
        required: [host]
        properties: {host: {type: string, default: localhost}}
        default: {}
)"));
  const std::string at = kSchemaAt + ".properties[spec].properties";
  EXPECT_THAT(
      messages(validate_crd(crd)),
      ElementsAre(
          at + "[count].default: Invalid value: 0: default is not valid for its schema: Invalid value: 0: "
               "must be greater than or equal to 1",
          at + "[mode].default: Invalid value: 5: default is not valid for its schema: Invalid value: 5: "
               "must be of type string",
          at +
              R"([size].default: Invalid value: {"colour":"red"}: default is not valid for its schema: colour: Unknown field: not declared in the schema; known fields: width)",
          at + "[server].default: Invalid value: {}: default is not valid for its schema: host: Required "
               "value"));
}

TEST(ValidateCrdTest, PrinterColumnsAreChecked) {
  Json crd = widget_crd();
  crd["spec"]["versions"][0]["additionalPrinterColumns"] = yaml(R"(
- {name: Replicas, type: integer, jsonPath: .spec.replicas}
- {name: Ratio, type: float, jsonPath: .spec.ratio}
- {name: Mode, type: string, jsonPath: spec.mode, priority: -1}
- {type: date, jsonPath: .metadata.creationTimestamp, colour: red}
)");
  const std::string at = "spec.versions[0].additionalPrinterColumns";
  EXPECT_THAT(
      messages(validate_crd(crd)),
      ElementsAre(
          at +
              R"([1].type: Unsupported value: "float": supported values: "integer", "number", "string", "boolean", "date")",
          at +
              R"([2].jsonPath: Invalid value: "spec.mode": must be a JSONPath such as .spec.type: invalid JSONPath "spec.mode" at position 0: a path starts with '.', '[' or '$', e.g. .spec.replicas)",
          at + "[2].priority: Invalid value: -1: must be a non-negative integer",
          at + "[3].colour: Unknown field: known fields: name, type, format, description, priority, jsonPath",
          at + "[3].name: Required value"));
}

TEST(ValidateCrdTest, StatusSubresourceMustBeEmpty) {
  Json crd = widget_crd();
  crd["spec"]["versions"][0]["subresources"] = yaml("{status: {a: 1}, scale: {}}");
  EXPECT_THAT(
      messages(validate_crd(crd)),
      ElementsAre(
          R"(spec.versions[0].subresources.status: Invalid value: {"a":1}: must be an empty object: {})"));
  crd["spec"]["versions"][0]["subresources"] = yaml("{status: {}}");
  EXPECT_THAT(messages(validate_crd(crd)), IsEmpty());
}

TEST(ValidateCrdTest, CrdMustBeAnObjectWithSpecAndMetadata) {
  EXPECT_THAT(messages(validate_crd(Json::array())), ElementsAre("Invalid value: []: must be an object"));
  Json crd = widget_crd();
  crd.erase("spec");
  crd.erase("metadata");
  EXPECT_THAT(messages(validate_crd(crd)), ElementsAre("metadata: Required value", "spec: Required value"));
}

// ---------------------------------------------------------------------------------------------
// check_custom_object

class CustomObjectTest : public ::testing::Test {
 protected:
  CustomResourceDefinition namespaced_ = CustomResourceDefinition::from_json(widget_crd("Namespaced"));
  CustomResourceDefinition cluster_ = CustomResourceDefinition::from_json(widget_crd("Cluster"));

  static Json widget(const std::string& metadata, const std::string& spec) {
    return yaml("{apiVersion: example.com/v1, kind: Widget, metadata: " + metadata + ", spec: " + spec + "}");
  }
};

TEST_F(CustomObjectTest, ValidObjectIsPrunedAndDefaulted) {
  const auto check = check_custom_object(
      namespaced_, widget("{name: w, namespace: lab}", "{replicas: 2, extra: 1, options: {}}"),
      ObjectCheckOptions{.reject_unknown_fields = false});
  EXPECT_THAT(messages(check.errors), IsEmpty());
  EXPECT_THAT(check.warnings, IsEmpty());
  EXPECT_EQ(check.object.dump(),
            R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":"lab"},)"
            R"("spec":{"replicas":2,"options":{"retries":3},"mode":"slow"}})");
}

TEST_F(CustomObjectTest, UnknownFieldsAreErrorsByDefault) {
  const auto check = check_custom_object(namespaced_, widget("{name: w}", "{replicas: 2, replica: 3}"));
  EXPECT_THAT(
      messages(check.errors),
      ElementsAre(R"(spec.replica: Unknown field: not declared in the schema; did you mean "replicas"?)"));
  // The object is still pruned and defaulted.
  EXPECT_EQ(check.object["spec"].dump(), R"({"replicas":2,"mode":"slow","options":{"retries":3}})");
}

TEST_F(CustomObjectTest, ValidationErrorsAfterDefaulting) {
  const auto check =
      check_custom_object(namespaced_, widget("{name: w}", "{replicas: -1, mode: medium, name: Abc}"));
  EXPECT_THAT(
      messages(check.errors),
      ElementsAre("spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                  R"(spec.mode: Unsupported value: "medium": supported values: "fast", "slow")",
                  R"(spec.name: Invalid value: "Abc": must match the regular expression '^[a-z]+$')"));
  const auto missing = check_custom_object(
      namespaced_, yaml("{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}}"));
  EXPECT_THAT(messages(missing.errors), ElementsAre("spec: Required value"));
}

TEST_F(CustomObjectTest, ErrorsComeInOrderMetadataUnknownFieldsValidation) {
  const auto check = check_custom_object(namespaced_, widget("{name: W}", "{replicas: x, colour: red}"));
  EXPECT_THAT(
      messages(check.errors),
      ElementsAre(
          R"(metadata.name: Invalid value: "W": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'))",
          "spec.colour: Unknown field: not declared in the schema; known fields: replicas, mode, name, "
          "options",
          R"(spec.replicas: Invalid value: "x": must be of type integer)"));
}

TEST_F(CustomObjectTest, MetadataNameRules) {
  EXPECT_THAT(
      messages(check_custom_object(namespaced_, widget("{name: grid-3ph.lab}", "{replicas: 1}")).errors),
      IsEmpty());
  EXPECT_THAT(
      messages(check_custom_object(namespaced_, widget("{generateName: grid-}", "{replicas: 1}")).errors),
      IsEmpty());
  EXPECT_THAT(messages(check_custom_object(namespaced_, widget("{labels: {a: b}}", "{replicas: 1}")).errors),
              ElementsAre("metadata.name: Required value: name or generateName is required"));
  EXPECT_THAT(messages(check_custom_object(namespaced_, widget("{name: ''}", "{replicas: 1}")).errors),
              ElementsAre("metadata.name: Required value: name or generateName is required"));
  EXPECT_THAT(messages(check_custom_object(namespaced_, widget("{name: 42}", "{replicas: 1}")).errors),
              ElementsAre("metadata.name: Invalid value: 42: must be a string"));
  EXPECT_THAT(messages(check_custom_object(namespaced_,
                                           widget("{name: " + std::string(254, 'a') + "}", "{replicas: 1}"))
                           .errors),
              ElementsAre("metadata.name: Invalid value: \"" + std::string(76, 'a') +
                          "...: must be no more than 253 characters"));
  EXPECT_THAT(
      messages(check_custom_object(namespaced_,
                                   yaml("{apiVersion: example.com/v1, kind: Widget, spec: {replicas: 1}}"))
                   .errors),
      ElementsAre("metadata: Required value"));
  EXPECT_THAT(
      messages(check_custom_object(
                   namespaced_,
                   yaml("{apiVersion: example.com/v1, kind: Widget, metadata: [], spec: {replicas: 1}}"))
                   .errors),
      // (The schema's own "must be of type object" may follow: not asserted.)
      ::testing::Contains("metadata: Invalid value: []: must be an object"));
}

TEST_F(CustomObjectTest, NamespaceLabelsAndAnnotationsRules) {
  EXPECT_THAT(
      messages(
          check_custom_object(namespaced_, widget("{name: w, namespace: My_NS}", "{replicas: 1}")).errors),
      ElementsAre(
          R"(metadata.namespace: Invalid value: "My_NS": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name' or '123-abc'))"));
  EXPECT_THAT(
      messages(
          check_custom_object(namespaced_,
                              widget("{name: w, labels: {riasc.eu/lab: ait, app: 'bad value', n: 1, -x: v}}",
                                     "{replicas: 1}"))
              .errors),
      ElementsAre(
          R"(metadata.labels[app]: Invalid value: "bad value": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?'))",
          "metadata.labels[n]: Invalid value: 1: must be a string (quote numbers and booleans)",
          R"(metadata.labels: Invalid value: "-x": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]'))"));
  EXPECT_THAT(
      messages(check_custom_object(namespaced_,
                                   widget("{name: w, annotations: {note: 'free text, any: thing', n: true}}",
                                          "{replicas: 1}"))
                   .errors),
      ElementsAre(
          "metadata.annotations[n]: Invalid value: true: must be a string (quote numbers and booleans)"));
}

TEST_F(CustomObjectTest, ClusterScopedObjectWithNamespaceIsAWarning) {
  const auto check = check_custom_object(cluster_, widget("{name: w, namespace: lab}", "{replicas: 1}"));
  EXPECT_THAT(messages(check.errors), IsEmpty());
  EXPECT_THAT(
      check.warnings,
      ElementsAre(
          "metadata.namespace: ignored: Widget is cluster-scoped, so the API server drops the namespace"));
  EXPECT_THAT(check_custom_object(cluster_, widget("{name: w}", "{replicas: 1}")).warnings, IsEmpty());
  EXPECT_THAT(check_custom_object(namespaced_, widget("{name: w, namespace: lab}", "{replicas: 1}")).warnings,
              IsEmpty());
}

TEST_F(CustomObjectTest, UnknownMetadataFieldsAreUnknownFields) {
  const auto check = check_custom_object(namespaced_, widget("{name: w, labelz: {a: b}}", "{replicas: 1}"));
  ASSERT_EQ(check.errors.size(), 1U);
  EXPECT_THAT(check.errors[0].to_string(), ::testing::StartsWith("metadata.labelz: Unknown field"));
  EXPECT_FALSE(check.object["metadata"].contains("labelz"));
}

TEST_F(CustomObjectTest, ApiVersionMustBeAServedVersionOfTheGroup) {
  for (const char* api_version : {"example.com/v2", "other.com/v1", "v1"}) {
    Json object = widget("{name: w}", "{replicas: 1, extra: 1}");
    object["apiVersion"] = api_version;
    const auto check = check_custom_object(namespaced_, object);
    EXPECT_THAT(messages(check.errors),
                ElementsAre(std::string(R"(apiVersion: Unsupported value: ")") + api_version +
                            R"(": supported values: "example.com/v1")"));
    EXPECT_EQ(check.object, object);  // not pruned: it was not checked
  }
}

TEST_F(CustomObjectTest, VersionThatIsNotServedIsRejected) {
  Json crd_json = widget_crd();
  Json v2 = crd_json["spec"]["versions"][0];
  v2["name"] = "v2";
  v2["served"] = false;
  v2["storage"] = false;
  crd_json["spec"]["versions"].push_back(v2);
  const auto crd = CustomResourceDefinition::from_json(crd_json);
  Json object = widget("{name: w}", "{replicas: 1}");
  EXPECT_THAT(messages(check_custom_object(crd, object).errors), IsEmpty());
  object["apiVersion"] = "example.com/v2";
  EXPECT_THAT(
      messages(check_custom_object(crd, object).errors),
      ElementsAre(R"(apiVersion: Unsupported value: "example.com/v2": supported values: "example.com/v1")"));
}

TEST_F(CustomObjectTest, MalformedApiVersionIsReportedNotThrown) {
  Json object = widget("{name: w}", "{replicas: 1}");
  object["apiVersion"] = 1;
  ObjectCheck check;
  EXPECT_NO_THROW(check = check_custom_object(namespaced_, object));
  EXPECT_THAT(messages(check.errors),
              ElementsAre(R"(apiVersion: Unsupported value: 1: supported values: "example.com/v1")"));
  EXPECT_NO_THROW((void)check_custom_object(namespaced_, Json::array()));
}

// ---------------------------------------------------------------------------------------------
// CrdRegistry and split_api_version

TEST(CrdRegistryTest, FindsByGroupAndKind) {
  CrdRegistry registry;
  EXPECT_EQ(registry.find("example.com/v1", "Widget"), nullptr);
  registry.add(CustomResourceDefinition::from_json(widget_crd()));
  const auto* found = registry.find("example.com/v1", "Widget");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->name(), "widgets.example.com");
  // Any version of the group: check_custom_object decides whether it is served.
  EXPECT_EQ(registry.find("example.com/v9", "Widget"), found);
  EXPECT_EQ(registry.find("other.com/v1", "Widget"), nullptr);
  EXPECT_EQ(registry.find("example.com/v1", "Gadget"), nullptr);
  EXPECT_EQ(registry.find("example.com/v1", "widget"), nullptr);  // kinds are case-sensitive
  EXPECT_EQ(registry.find("v1", "Widget"), nullptr);
}

TEST(CrdRegistryTest, AddingACrdOfTheSameNameReplacesIt) {
  CrdRegistry registry;
  registry.add(CustomResourceDefinition::from_json(widget_crd("Namespaced")));
  registry.add(CustomResourceDefinition::from_json(widget_crd("Cluster")));
  ASSERT_EQ(registry.all().size(), 1U);
  EXPECT_FALSE(registry.find("example.com/v1", "Widget")->namespaced());

  Json gadget = widget_crd();
  gadget["metadata"]["name"] = "gadgets.example.com";
  gadget["spec"]["names"] = yaml("{plural: gadgets, singular: gadget, kind: Gadget}");
  registry.add(CustomResourceDefinition::from_json(gadget));
  ASSERT_EQ(registry.all().size(), 2U);
  EXPECT_EQ(registry.find("example.com/v1", "Gadget")->name(), "gadgets.example.com");
  EXPECT_EQ(registry.find("example.com/v1", "Widget")->name(), "widgets.example.com");
}

TEST(CrdRegistryTest, BuiltinRegistryCanBeExtended) {
  CrdRegistry registry = kinds::builtin_registry();
  registry.add(CustomResourceDefinition::from_json(widget_crd()));
  EXPECT_EQ(registry.all().size(), 6U);
  EXPECT_NE(registry.find("riasc.eu/v1", "Project"), nullptr);
  EXPECT_EQ(kinds::builtin_registry().all().size(), 5U);  // the built-in one is unchanged
}

TEST(SplitApiVersionTest, GroupAndVersion) {
  EXPECT_EQ(split_api_version("apps/v1"), std::make_pair(std::string("apps"), std::string("v1")));
  EXPECT_EQ(split_api_version("k8s-netem.riasc.eu/v1"),
            std::make_pair(std::string("k8s-netem.riasc.eu"), std::string("v1")));
  EXPECT_EQ(split_api_version("v1"), std::make_pair(std::string(), std::string("v1")));
  EXPECT_EQ(split_api_version(""), std::make_pair(std::string(), std::string()));
}

// ---------------------------------------------------------------------------------------------
// ObjectMeta helpers

TEST(ObjectMetaTest, DnsLabel) {
  EXPECT_EQ(check_dns_label("my-name"), "");
  EXPECT_EQ(check_dns_label("123-abc"), "");
  EXPECT_EQ(check_dns_label(std::string(63, 'a')), "");
  EXPECT_EQ(check_dns_label(std::string(64, 'a')), "must be no more than 63 characters");
  const std::string why =
      "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
      "and end "
      "with an alphanumeric character (e.g. 'my-name' or '123-abc')";
  for (const char* bad : {"", "My-name", "-name", "name-", "a.b", "a_b"}) {
    EXPECT_EQ(check_dns_label(bad), why) << bad;
  }
}

TEST(ObjectMetaTest, DnsSubdomain) {
  EXPECT_EQ(check_dns_subdomain("example.com"), "");
  EXPECT_EQ(check_dns_subdomain("k8s-netem.riasc.eu"), "");
  EXPECT_EQ(check_dns_subdomain(std::string(253, 'a')), "");
  EXPECT_EQ(check_dns_subdomain(std::string(254, 'a')), "must be no more than 253 characters");
  const std::string why =
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
      "must start "
      "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
      "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
  for (const char* bad : {"", "Example.com", "a..b", ".a", "a.", "a_b.com"}) {
    EXPECT_EQ(check_dns_subdomain(bad), why) << bad;
  }
}

TEST(ObjectMetaTest, LabelKeyPrefixesAndLengths) {
  const FieldPath at = FieldPath().child("metadata");
  EXPECT_THAT(messages(validate_object_meta(
                  yaml("{name: a, labels: {example.com/name: x, app.kubernetes.io/part-of: riasc}}"), at)),
              IsEmpty());
  EXPECT_THAT(messages(validate_object_meta(yaml("{name: a, labels: {/name: x}}"), at)),
              ElementsAre(R"(metadata.labels: Invalid value: "/name": prefix part must be non-empty)"));
  EXPECT_THAT(
      messages(validate_object_meta(yaml("{name: a, labels: {Example.com/name: x}}"), at)),
      ElementsAre(
          R"(metadata.labels: Invalid value: "Example.com/name": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'))"));
  EXPECT_THAT(
      messages(validate_object_meta(yaml("{name: a, labels: {example.com/: x}}"), at)),
      ElementsAre(
          R"(metadata.labels: Invalid value: "example.com/": name part must be non-empty; name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]'))"));
  const std::string long_name(64, 'n');
  EXPECT_THAT(messages(validate_object_meta(yaml("{name: a, labels: {" + long_name + ": x}}"), at)),
              ElementsAre("metadata.labels: Invalid value: \"" + long_name +
                          "\": name part must be no more than 63 characters"));
  EXPECT_THAT(
      messages(validate_object_meta(yaml("{name: a, labels: {k: " + std::string(64, 'v') + "}}"), at)),
      ElementsAre("metadata.labels[k]: Invalid value: \"" + std::string(64, 'v') +
                  "\": must be no more than 63 characters"));
  EXPECT_THAT(messages(validate_object_meta(yaml("{name: a, labels: {k: ''}, annotations: null}"), at)),
              IsEmpty());
  EXPECT_THAT(messages(validate_object_meta(yaml("{name: a, labels: [a]}"), at)),
              ElementsAre(R"(metadata.labels: Invalid value: ["a"]: must be a map of strings to strings)"));
}

TEST(ObjectMetaTest, AnnotationsAreLimitedTo256KiB) {
  Json metadata = yaml("{name: a}");
  metadata["annotations"]["big"] = std::string(256 * 1024, 'x');
  EXPECT_THAT(messages(validate_object_meta(metadata, FieldPath().child("metadata"))),
              ElementsAre("metadata.annotations: Too long: may not be more than 262144 bytes"));
  metadata["annotations"]["big"] = std::string(256 * 1024 - 3, 'x');  // plus the 3 bytes of "big"
  EXPECT_THAT(messages(validate_object_meta(metadata, FieldPath().child("metadata"))), IsEmpty());
}

}  // namespace
}  // namespace riasc::schema

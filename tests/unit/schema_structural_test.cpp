// check_structural: the rules that make a CRD schema structural, and the CRD-specific restrictions.
// Also: every built-in CRD is valid.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "riasc/kinds/builtin_crds.hpp"
#include "riasc/schema/crd.hpp"
#include "riasc/schema/schema.hpp"
#include "test_support.hpp"

namespace riasc::schema {
namespace {

using test::Messages;
using test::yaml;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const FieldPath& schema_path() {
  static const FieldPath path =
      FieldPath::parse_dotted("spec.versions").index(0).child("schema").child("openAPIV3Schema");
  return path;
}

// check_structural's messages for `schema_yaml`, reported under spec.versions[0].schema.openAPIV3Schema,
// with that prefix cut off so the tests stay readable.
Messages check(std::string_view schema_yaml) {
  const std::string prefix = schema_path().to_string();
  Messages out;
  for (auto message : test::structural(schema_yaml, schema_path())) {
    if (message.starts_with(prefix)) {
      message.erase(0, prefix.size());
    } else {
      message = "(not under the schema path) " + message;
    }
    out.push_back(message);
  }
  return out;
}

// A root schema with one property `p` written as `p_schema`.
std::string with_property(const std::string& p_schema) {
  return "{type: object, properties: {p: " + p_schema + "}}";
}

TEST(StructuralTest, StructuralSchemaHasNoErrors) {
  EXPECT_THAT(check(R"(
type: object
description: A thing.
required: [spec]
properties:
  spec:
    type: object
    description: The spec.
    properties:
      name: {type: string, minLength: 1, maxLength: 63, pattern: '^[a-z]+$', title: Name, example: abc}
      count: {type: integer, format: int32, minimum: 0, default: 1, nullable: true}
      ratio: {type: number, multipleOf: 0.5, exclusiveMaximum: true, maximum: 1}
      tags: {type: array, x-kubernetes-list-type: set, items: {type: string}, uniqueItems: false}
      labels: {type: object, additionalProperties: {type: string}, x-kubernetes-map-type: granular}
      free: {type: object, x-kubernetes-preserve-unknown-fields: true}
      any: {x-kubernetes-preserve-unknown-fields: true}
      rules:
        type: array
        items: {type: object, properties: {x: {type: integer}}}
        x-kubernetes-validations: [{rule: "self.size() > 0"}]
    externalDocs: {url: "https://example.org"}
)"),
              IsEmpty());
}

TEST(StructuralTest, ErrorsAreReportedUnderTheGivenPath) {
  EXPECT_THAT(
      test::structural("{type: object, properties: {a: {}}}", schema_path()),
      ElementsAre("spec.versions[0].schema.openAPIV3Schema.properties[a].type: Required value: must not be "
                  "empty for specified object fields"));
  EXPECT_THAT(
      test::structural("{type: object, properties: {a: {}}}"),
      ElementsAre("properties[a].type: Required value: must not be empty for specified object fields"));
}

TEST(StructuralTest, SchemaMustBeAnObject) {
  EXPECT_THAT(
      test::structural("[1]", schema_path()),
      ElementsAre("spec.versions[0].schema.openAPIV3Schema: Invalid value: [1]: must be a schema object"));
}

// ---------------------------------------------------------------------------------------------
// Rule 1: every specified field has a type (unless int-or-string or preserve-unknown-fields)

TEST(StructuralRule1Test, PropertiesNeedAType) {
  EXPECT_THAT(
      check(with_property("{description: no type}")),
      ElementsAre(".properties[p].type: Required value: must not be empty for specified object fields"));
}

TEST(StructuralRule1Test, ItemsAndMapValuesNeedAType) {
  EXPECT_THAT(
      check(with_property("{type: array, items: {minLength: 1}}")),
      ElementsAre(
          ".properties[p].items.type: Required value: must not be empty for specified object fields"));
  EXPECT_THAT(check(with_property("{type: object, additionalProperties: {maxLength: 3}}")),
              ElementsAre(".properties[p].additionalProperties.type: Required value: must not be empty for "
                          "specified object fields"));
}

TEST(StructuralRule1Test, NestedDeeply) {
  EXPECT_THAT(
      check(with_property(
          "{type: object, properties: {q: {type: array, items: {type: object, properties: {r: {}}}}}}")),
      ElementsAre(".properties[p].properties[q].items.properties[r].type: Required value: must not be empty "
                  "for specified object fields"));
}

TEST(StructuralRule1Test, RootMustBeAnObject) {
  EXPECT_THAT(check("{properties: {}}"),
              ElementsAre(".type: Required value: must not be empty for specified object fields"));
  EXPECT_THAT(check("{type: array, items: {type: string}}"),
              ElementsAre(R"(.type: Invalid value: "array": must be object at the root)"));
}

TEST(StructuralRule1Test, TypelessIsAllowedWithPreserveUnknownFieldsOrIntOrString) {
  EXPECT_THAT(
      check(with_property("{x-kubernetes-preserve-unknown-fields: true, minimum: 0, pattern: '^[0-9]+s$'}")),
      IsEmpty());
  EXPECT_THAT(check(with_property("{x-kubernetes-int-or-string: true}")), IsEmpty());
}

// ---------------------------------------------------------------------------------------------
// Rules 2 and 3: allOf, anyOf, oneOf and not hold value validations only, on fields specified outside

TEST(StructuralRule2Test, JunctorBranchesMayNotSetGenericKeywords) {
  EXPECT_THAT(
      check(with_property("{type: string, anyOf: [{type: string, description: d, default: x, nullable: true, "
                          "minLength: 1}]}")),
      ElementsAre(
          ".properties[p].anyOf[0].description: Forbidden: must not be used inside allOf, anyOf, oneOf or "
          "not "
          "(value validations only)",
          ".properties[p].anyOf[0].type: Forbidden: must not be used inside allOf, anyOf, oneOf or not "
          "(value "
          "validations only)",
          ".properties[p].anyOf[0].default: Forbidden: must not be used inside allOf, anyOf, oneOf or not "
          "(value validations only)",
          ".properties[p].anyOf[0].nullable: Forbidden: must not be used inside allOf, anyOf, oneOf or not "
          "(value validations only)"));
}

TEST(StructuralRule2Test, EveryJunctorAndExtensionIsChecked) {
  EXPECT_THAT(
      check(with_property(R"({type: object, properties: {a: {type: string}},
      allOf: [{additionalProperties: {type: string}}],
      oneOf: [{x-kubernetes-preserve-unknown-fields: true}],
      not: {x-kubernetes-embedded-resource: true}})")),
      ElementsAre(
          ".properties[p].allOf[0].additionalProperties: Forbidden: must not be used inside allOf, "
          "anyOf, oneOf or not (value validations only)",
          ".properties[p].oneOf[0].x-kubernetes-preserve-unknown-fields: Forbidden: must not be used "
          "inside allOf, anyOf, oneOf or not (value validations only)",
          ".properties[p].not.x-kubernetes-embedded-resource: Forbidden: must not be used inside allOf, "
          "anyOf, oneOf or not (value validations only)"));
}

TEST(StructuralRule2Test, NestedJunctorsAreChecked) {
  EXPECT_THAT(
      check(with_property("{type: integer, allOf: [{anyOf: [{type: integer}, {minimum: 1}]}]}")),
      ElementsAre(".properties[p].allOf[0].anyOf[0].type: Forbidden: must not be used inside allOf, anyOf, "
                  "oneOf or not (value validations only)"));
}

TEST(StructuralRule2Test, ValueValidationsInBranchesAreFine) {
  EXPECT_THAT(check(with_property(R"({type: object, required: [a],
      properties: {a: {type: string}, b: {type: array, items: {type: string}}},
      anyOf: [{required: [a], properties: {a: {minLength: 1, enum: [x]}, b: {minItems: 1, items: {pattern: '^a'}}}},
              {not: {required: [b]}}]})")),
              IsEmpty());
}

TEST(StructuralRule3Test, PropertiesInJunctorsMustBeSpecifiedOutside) {
  EXPECT_THAT(
      check(with_property(
          "{type: object, properties: {a: {type: string}}, allOf: [{properties: {b: {minLength: 1}}}]}")),
      ElementsAre(".properties[p].allOf[0].properties[b]: Required value: must also be specified outside of "
                  "allOf, anyOf, oneOf and not"));
  EXPECT_THAT(
      check(with_property("{type: object, properties: {a: {type: object}}, oneOf: [{properties: {a: "
                          "{properties: {c: {}}}}}]}")),
      ElementsAre(
          ".properties[p].oneOf[0].properties[a].properties[c]: Required value: must also be specified "
          "outside of allOf, anyOf, oneOf and not"));
}

TEST(StructuralRule3Test, ItemsInJunctorsMustBeSpecifiedOutside) {
  EXPECT_THAT(
      check(with_property("{type: array, not: {items: {minLength: 1}}}")),
      ElementsAre(".properties[p].items: Required value: must be specified",
                  ".properties[p].not.items: Required value: must also be specified outside of allOf, anyOf, "
                  "oneOf and not"));
  EXPECT_THAT(check(with_property("{type: array, items: {type: string}, not: {items: {minLength: 1}}}")),
              IsEmpty());
}

// ---------------------------------------------------------------------------------------------
// x-kubernetes-int-or-string: the two allowed forms

TEST(StructuralIntOrStringTest, AnyOfIntegerStringIsAllowed) {
  EXPECT_THAT(
      check(with_property("{x-kubernetes-int-or-string: true, anyOf: [{type: integer}, {type: string}], "
                          "minimum: 1, maxLength: 15}")),
      IsEmpty());
}

TEST(StructuralIntOrStringTest, AllOfWithAnyOfIntegerStringFirstIsAllowed) {
  EXPECT_THAT(check(with_property(
                  "{x-kubernetes-int-or-string: true, allOf: [{anyOf: [{type: integer}, {type: string}]}, "
                  "{pattern: '^[0-9]+%?$'}]}")),
              IsEmpty());
}

TEST(StructuralIntOrStringTest, OtherTypedBranchesAreNot) {
  // Reversed order is not one of the two forms.
  EXPECT_THAT(
      check(with_property("{x-kubernetes-int-or-string: true, anyOf: [{type: string}, {type: integer}]}")),
      ElementsAre(
          ".properties[p].anyOf[0].type: Forbidden: must not be used inside allOf, anyOf, oneOf or not "
          "(value validations only)",
          ".properties[p].anyOf[1].type: Forbidden: must not be used inside allOf, anyOf, oneOf or not "
          "(value validations only)"));
  // Without x-kubernetes-int-or-string the form is just a typeless field with typed branches.
  EXPECT_THAT(
      check(with_property("{anyOf: [{type: integer}, {type: string}]}")),
      ElementsAre(
          ".properties[p].type: Required value: must not be empty for specified object fields",
          ".properties[p].anyOf[0].type: Forbidden: must not be used inside allOf, anyOf, oneOf or not "
          "(value validations only)",
          ".properties[p].anyOf[1].type: Forbidden: must not be used inside allOf, anyOf, oneOf or not "
          "(value validations only)"));
}

TEST(StructuralIntOrStringTest, TypeMustBeEmpty) {
  EXPECT_THAT(
      check(with_property("{type: string, x-kubernetes-int-or-string: true}")),
      ElementsAre(".properties[p].type: Forbidden: must be empty when x-kubernetes-int-or-string is true"));
}

// ---------------------------------------------------------------------------------------------
// x-kubernetes-preserve-unknown-fields, x-kubernetes-embedded-resource

TEST(StructuralExtensionsTest, PreserveUnknownFieldsFalseIsRejected) {
  EXPECT_THAT(
      check(with_property("{type: object, x-kubernetes-preserve-unknown-fields: false}")),
      ElementsAre(
          ".properties[p].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or "
          "undefined"));
}

TEST(StructuralExtensionsTest, EmbeddedResourceMustBeAnObjectWithPropertiesOrPreserved) {
  EXPECT_THAT(check(with_property("{type: object, x-kubernetes-embedded-resource: true, "
                                  "x-kubernetes-preserve-unknown-fields: true}")),
              IsEmpty());
  EXPECT_THAT(
      check(with_property(
          "{type: object, x-kubernetes-embedded-resource: true, properties: {spec: {type: object}}}")),
      IsEmpty());
  EXPECT_THAT(
      check(with_property("{type: object, x-kubernetes-embedded-resource: true}")),
      ElementsAre(".properties[p].properties: Required value: must not be empty if "
                  "x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"));
  EXPECT_THAT(
      check(with_property("{type: string, x-kubernetes-embedded-resource: true, "
                          "x-kubernetes-preserve-unknown-fields: true}")),
      ElementsAre(
          ".properties[p].type: Required value: must be object if x-kubernetes-embedded-resource is true"));
}

// ---------------------------------------------------------------------------------------------
// x-kubernetes-list-type and x-kubernetes-list-map-keys

TEST(StructuralListTest, ListMapKeysMustBeRequiredOrDefaulted) {
  EXPECT_THAT(
      check(R"(
type: object
properties:
  p:
    type: array
    x-kubernetes-list-type: map
    x-kubernetes-list-map-keys: [name, port, protocol]
    items:
      type: object
      required: [name]
      properties:
        name: {type: string}
        port: {type: integer}
        protocol: {type: string, default: TCP}
)"),
      ElementsAre(
          R"(.properties[p].x-kubernetes-list-map-keys[1]: Invalid value: "port": must be required or have a default in the items)"));
}

TEST(StructuralListTest, ListMapKeysMustBeProperties) {
  EXPECT_THAT(
      check(with_property("{type: array, x-kubernetes-list-type: map, x-kubernetes-list-map-keys: [name], "
                          "items: {type: object, properties: {id: {type: string}}}}")),
      ElementsAre(
          R"(.properties[p].x-kubernetes-list-map-keys[0]: Invalid value: "name": must be a property of the items)"));
}

TEST(StructuralListTest, ListMapNeedsKeysAndObjectItems) {
  EXPECT_THAT(check(with_property("{type: array, x-kubernetes-list-type: map, items: {type: object}}")),
              ElementsAre(".properties[p].x-kubernetes-list-map-keys: Required value: must not be empty if "
                          "x-kubernetes-list-type is map"));
  EXPECT_THAT(check(with_property("{type: array, x-kubernetes-list-type: map, x-kubernetes-list-map-keys: "
                                  "[], items: {type: object}}")),
              ElementsAre(".properties[p].x-kubernetes-list-map-keys: Required value: must not be empty if "
                          "x-kubernetes-list-type is map"));
  EXPECT_THAT(
      check(with_property("{type: array, x-kubernetes-list-type: map, x-kubernetes-list-map-keys: [k], "
                          "items: {type: string}}")),
      ElementsAre(
          R"(.properties[p].items.type: Invalid value: "string": must be object if x-kubernetes-list-type is map)",
          R"(.properties[p].x-kubernetes-list-map-keys[0]: Invalid value: "k": must be a property of the items)"));
}

TEST(StructuralListTest, ListSetNeedsScalarItems) {
  EXPECT_THAT(
      check(with_property("{type: array, x-kubernetes-list-type: set, items: {type: object}}")),
      ElementsAre(
          R"(.properties[p].items.type: Invalid value: "object": must be a scalar type if x-kubernetes-list-type is set)"));
  EXPECT_THAT(
      check(with_property(
          "{type: array, x-kubernetes-list-type: set, items: {type: array, items: {type: string}}}")),
      ElementsAre(
          R"(.properties[p].items.type: Invalid value: "array": must be a scalar type if x-kubernetes-list-type is set)"));
}

TEST(StructuralListTest, ListMapKeysNeedListTypeMap) {
  EXPECT_THAT(
      check(
          with_property("{type: array, x-kubernetes-list-map-keys: [k], items: {type: object, required: [k], "
                        "properties: {k: {type: string}}}}")),
      ElementsAre(
          R"(.properties[p].x-kubernetes-list-map-keys: Forbidden: requires x-kubernetes-list-type: map)"));
  EXPECT_THAT(
      check(with_property("{type: array, x-kubernetes-list-type: atomic, x-kubernetes-list-map-keys: [k], "
                          "items: {type: object, required: [k], properties: {k: {type: string}}}}")),
      ElementsAre(
          R"(.properties[p].x-kubernetes-list-map-keys: Forbidden: requires x-kubernetes-list-type: map)"));
}

TEST(StructuralListTest, ListTypeOnlyOnArraysAndOnlyKnownValues) {
  EXPECT_THAT(
      check(with_property("{type: object, x-kubernetes-list-type: set}")),
      ElementsAre(
          R"(.properties[p].x-kubernetes-list-type: Invalid value: "set": must only be used on arrays)"));
  EXPECT_THAT(
      check(with_property("{type: array, x-kubernetes-list-type: bag, items: {type: string}}")),
      ElementsAre(
          R"(.properties[p].x-kubernetes-list-type: Unsupported value: "bag": supported values: "atomic", "set", "map")"));
}

TEST(StructuralListTest, MalformedListSchemasAreReportedNotThrown) {
  Messages errors;
  EXPECT_NO_THROW(
      errors = check(with_property("{type: array, x-kubernetes-list-type: set, items: [{type: string}]}")));
  EXPECT_THAT(
      errors,
      ElementsAre(
          R"(.properties[p].items: Invalid value: [{"type":"string"}]: must be a schema object, not a list of schemas)"));
  EXPECT_NO_THROW(errors = check(with_property("{type: 5, x-kubernetes-list-type: set}")));
  EXPECT_THAT(
      errors,
      ElementsAre(
          R"(.properties[p].type: Invalid value: 5: must be a string)",
          R"(.properties[p].x-kubernetes-list-type: Invalid value: "set": must only be used on arrays)"));
}

// ---------------------------------------------------------------------------------------------
// Forbidden and unknown keywords, additionalProperties, items

TEST(StructuralKeywordTest, UniqueItemsTrueIsForbiddenFalseIsFine) {
  EXPECT_THAT(check(with_property("{type: array, items: {type: string}, uniqueItems: true}")),
              ElementsAre(".properties[p].uniqueItems: Forbidden: uniqueItems cannot be true; use "
                          "x-kubernetes-list-type: set"));
  EXPECT_THAT(check(with_property("{type: array, items: {type: string}, uniqueItems: false}")), IsEmpty());
}

TEST(StructuralKeywordTest, JsonSchemaFeaturesCrdsDoNotSupport) {
  EXPECT_THAT(check(with_property(R"({type: object, $ref: "#/definitions/x"})")),
              ElementsAre(".properties[p].$ref: Forbidden: $ref is not supported in CRD schemas"));
  EXPECT_THAT(
      check(R"({type: object, definitions: {x: {type: string}}, patternProperties: {"^a": {type: string}},
                        dependencies: {a: [b]}})"),
      ElementsAre(".definitions: Forbidden: definitions is not supported in CRD schemas",
                  ".patternProperties: Forbidden: patternProperties is not supported in CRD schemas",
                  ".dependencies: Forbidden: dependencies is not supported in CRD schemas"));
  EXPECT_THAT(
      check(with_property("{type: array, items: {type: string}, additionalItems: false}")),
      ElementsAre(
          ".properties[p].additionalItems: Forbidden: additionalItems is not supported in CRD schemas"));
}

TEST(StructuralKeywordTest, UnknownKeywordsAreReported) {
  EXPECT_THAT(
      check(with_property("{type: integer, minimun: 1, x-kubernetes-foo: true}")),
      ElementsAre(
          ".properties[p].minimun: Unknown field: not a keyword of apiextensions.k8s.io/v1 JSONSchemaProps",
          ".properties[p].x-kubernetes-foo: Unknown field: not a keyword of apiextensions.k8s.io/v1 "
          "JSONSchemaProps"));
}

TEST(StructuralKeywordTest, PropertiesAndAdditionalPropertiesAreMutuallyExclusive) {
  EXPECT_THAT(
      check(with_property(
          "{type: object, properties: {a: {type: string}}, additionalProperties: {type: string}}")),
      ElementsAre(".properties[p].additionalProperties: Forbidden: additionalProperties and properties are "
                  "mutually exclusive"));
  EXPECT_THAT(
      check(with_property("{type: object, properties: {a: {type: string}}, additionalProperties: false}")),
      ElementsAre(".properties[p].additionalProperties: Forbidden: additionalProperties and properties are "
                  "mutually exclusive"));
  EXPECT_THAT(
      check(with_property("{type: object, properties: {a: {type: string}}, additionalProperties: true}")),
      IsEmpty());
}

TEST(StructuralKeywordTest, ItemsMustBeOneSchema) {
  EXPECT_THAT(
      check(with_property("{type: array, items: [{type: string}]}")),
      ElementsAre(
          R"(.properties[p].items: Invalid value: [{"type":"string"}]: must be a schema object, not a list of schemas)"));
}

// ---------------------------------------------------------------------------------------------
// Rule 4: metadata at the root may only restrict name and generateName

TEST(StructuralMetadataTest, NameAndGenerateNameMayBeRestricted) {
  EXPECT_THAT(check(R"(
type: object
properties:
  metadata:
    type: object
    properties:
      name: {type: string, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'}
      generateName: {type: string, maxLength: 20}
)"),
              IsEmpty());
  EXPECT_THAT(check("{type: object, properties: {metadata: {type: object}}}"), IsEmpty());
}

TEST(StructuralMetadataTest, OtherMetadataFieldsAreForbidden) {
  EXPECT_THAT(
      check("{type: object, properties: {metadata: {type: object, properties: {name: {type: string}, labels: "
            "{type: object}}}}}"),
      ElementsAre(".properties[metadata].properties[labels]: Forbidden: only name and generateName may be "
                  "restricted in metadata"));
}

TEST(StructuralMetadataTest, OtherMetadataKeywordsAreForbidden) {
  EXPECT_THAT(
      check("{type: object, properties: {metadata: {type: object, maxProperties: 3, default: {}}}}"),
      ElementsAre(
          ".properties[metadata].maxProperties: Forbidden: must not be specified; metadata allows only "
          "type: object and restrictions on name and generateName",
          ".properties[metadata].default: Forbidden: must not be specified; metadata allows only type: "
          "object and restrictions on name and generateName"));
  EXPECT_THAT(
      check("{type: object, properties: {metadata: {type: string}}}"),
      ElementsAre(".properties[metadata].type: Forbidden: must not be specified; metadata allows only type: "
                  "object and restrictions on name and generateName"));
}

TEST(StructuralMetadataTest, NameRestrictionsAreStructuralToo) {
  EXPECT_THAT(
      check("{type: object, properties: {metadata: {type: object, properties: {name: {maxLength: 63}}}}}"),
      ElementsAre(".properties[metadata].properties[name].type: Required value: must not be empty for "
                  "specified object fields"));
}

TEST(StructuralMetadataTest, MetadataBelowTheRootIsAnOrdinaryField) {
  EXPECT_THAT(
      check(with_property("{type: object, properties: {metadata: {type: object, description: d, "
                          "properties: {labels: {type: object, additionalProperties: {type: string}}}}}}")),
      IsEmpty());
}

TEST(StructuralMetadataTest, DescriptionOfRootMetadataIsForbidden) {
  EXPECT_THAT(
      check("{type: object, properties: {metadata: {type: object, description: Standard object metadata.}}}"),
      ElementsAre(".properties[metadata].description: Forbidden: must not be specified; metadata allows only "
                  "type: object and restrictions on name and generateName"));
}

// ---------------------------------------------------------------------------------------------
// Further rules kube-apiserver applies to CRD schemas

// One message starting with `prefix` (the path and error type; the wording of the detail is free).
::testing::Matcher<const Messages&> one_error(const std::string& prefix) {
  return ElementsAre(::testing::StartsWith(prefix));
}

TEST(StructuralMissingRuleTest, ArraysNeedItems) {
  EXPECT_THAT(check(with_property("{type: array}")), one_error(".properties[p].items: Required value"));
}

TEST(StructuralMissingRuleTest, AdditionalPropertiesAtTheRootIsForbidden) {
  EXPECT_THAT(check("{type: object, additionalProperties: {type: string}}"),
              one_error(".additionalProperties: Forbidden"));
}

TEST(StructuralMissingRuleTest, MoreKeywordsAreForbiddenInJunctors) {
  const Messages errors = check(
      with_property("{type: array, items: {type: string}, allOf: [{title: t, externalDocs: {url: x}, "
                    "x-kubernetes-list-type: set, x-kubernetes-list-map-keys: [a], x-kubernetes-map-type: "
                    "atomic, x-kubernetes-validations: [{rule: 'true'}]}]}"));
  std::vector<std::string> paths;
  for (const auto& error : errors) paths.push_back(error.substr(0, error.find(": ")));
  EXPECT_THAT(paths, ::testing::UnorderedElementsAre(".properties[p].allOf[0].title",
                                                     ".properties[p].allOf[0].externalDocs",
                                                     ".properties[p].allOf[0].x-kubernetes-list-type",
                                                     ".properties[p].allOf[0].x-kubernetes-list-map-keys",
                                                     ".properties[p].allOf[0].x-kubernetes-map-type",
                                                     ".properties[p].allOf[0].x-kubernetes-validations"));
}

TEST(StructuralMissingRuleTest, MetadataInJunctorsIsForbidden) {
  EXPECT_THAT(
      check("{type: object, properties: {metadata: {type: object}}, allOf: [{properties: {metadata: {}}}]}"),
      one_error(".allOf[0].properties[metadata]: Forbidden"));
}

TEST(StructuralMissingRuleTest, KindAndApiVersionMustBeStrings) {
  EXPECT_THAT(check("{type: object, properties: {kind: {type: integer}, apiVersion: {type: boolean}}}"),
              ElementsAre(R"(.properties[kind].type: Invalid value: "integer": must be string)",
                          R"(.properties[apiVersion].type: Invalid value: "boolean": must be string)"));
}

TEST(StructuralMissingRuleTest, ConflictingExtensions) {
  EXPECT_THAT(
      check(with_property("{x-kubernetes-int-or-string: true, x-kubernetes-preserve-unknown-fields: true}")),
      one_error(".properties[p].x-kubernetes-preserve-unknown-fields: Invalid value: true"));
  EXPECT_THAT(check(with_property(
                  "{type: object, x-kubernetes-embedded-resource: true, "
                  "x-kubernetes-preserve-unknown-fields: true, additionalProperties: {type: string}}")),
              one_error(".properties[p].additionalProperties: Forbidden"));
  EXPECT_THAT(check(with_property("{type: string, x-kubernetes-map-type: atomic}")),
              one_error(".properties[p].x-kubernetes-map-type: Invalid value"));
  EXPECT_THAT(check(with_property("{type: object, x-kubernetes-map-type: sometimes}")),
              one_error(".properties[p].x-kubernetes-map-type: Unsupported value"));
}

// ---------------------------------------------------------------------------------------------
// The built-in CRDs

TEST(BuiltinCrdsTest, AllFiveLoad) {
  const auto& crds = kinds::builtin_crds();
  std::vector<std::string> names;
  for (const auto& crd : crds) names.push_back(crd.name());
  EXPECT_THAT(names,
              ElementsAre("chroma4qs.device.riasc.eu", "projects.riasc.eu", "schedulerconfigs.riasc.eu",
                          "timesyncconfigs.riasc.eu", "trafficprofiles.k8s-netem.riasc.eu"));
}

TEST(BuiltinCrdsTest, KindsAndScopesAreTheOriginals) {
  std::vector<std::string> kinds;
  for (const auto& crd : kinds::builtin_crds()) {
    kinds.push_back(crd.group() + " " + crd.kind() + " " + (crd.namespaced() ? "Namespaced" : "Cluster"));
  }
  EXPECT_THAT(kinds, ElementsAre("device.riasc.eu Chroma4Q Cluster", "riasc.eu Project Cluster",
                                 "riasc.eu SchedulerConfig Namespaced", "riasc.eu TimeSyncConfig Cluster",
                                 "k8s-netem.riasc.eu TrafficProfile Cluster"));
}

TEST(BuiltinCrdsTest, EachPassesValidateCrd) {
  for (const auto& crd : kinds::builtin_crds()) {
    EXPECT_THAT(test::messages(validate_crd(crd.source())), IsEmpty()) << crd.name();
  }
}

TEST(BuiltinCrdsTest, EachSchemaIsStructural) {
  for (const auto& crd : kinds::builtin_crds()) {
    const Json& versions = crd.source()["spec"]["versions"];
    for (std::size_t i = 0; i < versions.size(); ++i) {
      EXPECT_THAT(test::messages(check_structural(versions[i]["schema"]["openAPIV3Schema"], schema_path())),
                  IsEmpty())
          << crd.name();
    }
  }
}

TEST(BuiltinCrdsTest, EachHasOneServedStorageVersionV1) {
  for (const auto& crd : kinds::builtin_crds()) {
    ASSERT_EQ(crd.versions().size(), 1U) << crd.name();
    EXPECT_EQ(crd.versions()[0].name, "v1") << crd.name();
    EXPECT_TRUE(crd.versions()[0].served) << crd.name();
    EXPECT_TRUE(crd.versions()[0].storage) << crd.name();
    EXPECT_NE(crd.version("v1"), nullptr);
    EXPECT_EQ(crd.version("v2"), nullptr);
  }
}

TEST(BuiltinCrdsTest, EachHasStatusSubresourcePrinterColumnsAndShortNames) {
  for (const auto& crd : kinds::builtin_crds()) {
    const Json& spec = crd.source()["spec"];
    for (const auto& version : spec["versions"]) {
      ASSERT_TRUE(version.contains("subresources")) << crd.name();
      EXPECT_EQ(version["subresources"].value("status", Json()), Json::object()) << crd.name();
      ASSERT_TRUE(version.contains("additionalPrinterColumns")) << crd.name();
      std::vector<std::string> columns;
      for (const auto& column : version["additionalPrinterColumns"])
        columns.push_back(column["name"].get<std::string>());
      EXPECT_THAT(columns, ::testing::Contains("Ready")) << crd.name();
      EXPECT_THAT(columns, ::testing::Contains("Age")) << crd.name();
    }
    ASSERT_TRUE(spec["names"].contains("shortNames")) << crd.name();
    EXPECT_FALSE(spec["names"]["shortNames"].empty()) << crd.name();
    EXPECT_EQ(spec["names"].value("categories", Json()), Json::array({"riasc"})) << crd.name();
  }
}

TEST(BuiltinCrdsTest, ShortNamesAreTheDocumentedOnes) {
  std::vector<std::string> short_names;
  for (const auto& crd : kinds::builtin_crds()) {
    short_names.push_back(crd.kind() + ": " + crd.source()["spec"]["names"]["shortNames"].dump());
  }
  EXPECT_THAT(short_names,
              ElementsAre(R"(Chroma4Q: ["c4q"])", R"(Project: ["pro"])", R"(SchedulerConfig: ["sc"])",
                          R"(TimeSyncConfig: ["tsc"])", R"(TrafficProfile: ["tp","tps"])"));
}

TEST(BuiltinCrdsTest, EachStatusHasConditionsKeyedByType) {
  for (const auto& crd : kinds::builtin_crds()) {
    const Json& status =
        crd.source()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"];
    const Json& conditions = status["properties"]["conditions"];
    EXPECT_EQ(conditions.value("x-kubernetes-list-type", ""), "map") << crd.name();
    EXPECT_EQ(conditions.value("x-kubernetes-list-map-keys", Json()), Json::array({"type"})) << crd.name();
    EXPECT_TRUE(status["properties"].contains("observedGeneration")) << crd.name();
  }
}

TEST(BuiltinCrdsTest, RegistryFindsEachByApiVersionAndKind) {
  const CrdRegistry registry = kinds::builtin_registry();
  EXPECT_EQ(registry.all().size(), 5U);
  for (const auto& crd : kinds::builtin_crds()) {
    const auto* found = registry.find(crd.group() + "/v1", crd.kind());
    ASSERT_NE(found, nullptr) << crd.name();
    EXPECT_EQ(found->name(), crd.name());
  }
}

}  // namespace
}  // namespace riasc::schema

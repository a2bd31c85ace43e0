#include <fmt/format.h>

#include <array>
#include <set>
#include <string_view>

#include "riasc/schema/schema.hpp"

namespace riasc::schema {

namespace {

// Keywords apiextensions.k8s.io/v1 accepts in a JSONSchemaProps, as JSON names.
constexpr std::array<std::string_view, 38> kKnownKeywords = {"id",
                                                             "$schema",
                                                             "description",
                                                             "type",
                                                             "format",
                                                             "title",
                                                             "default",
                                                             "maximum",
                                                             "exclusiveMaximum",
                                                             "minimum",
                                                             "exclusiveMinimum",
                                                             "maxLength",
                                                             "minLength",
                                                             "pattern",
                                                             "maxItems",
                                                             "minItems",
                                                             "multipleOf",
                                                             "enum",
                                                             "maxProperties",
                                                             "minProperties",
                                                             "required",
                                                             "items",
                                                             "allOf",
                                                             "oneOf",
                                                             "anyOf",
                                                             "not",
                                                             "properties",
                                                             "additionalProperties",
                                                             "nullable",
                                                             "example",
                                                             "externalDocs",
                                                             "x-kubernetes-preserve-unknown-fields",
                                                             "x-kubernetes-embedded-resource",
                                                             "x-kubernetes-int-or-string",
                                                             "x-kubernetes-list-map-keys",
                                                             "x-kubernetes-list-type",
                                                             "x-kubernetes-map-type",
                                                             "x-kubernetes-validations"};
// Keywords JSONSchemaProps has but CRDs may not use.
constexpr std::array<std::string_view, 6> kForbiddenKeywords = {
    "$ref", "definitions", "dependencies", "additionalItems", "patternProperties", "uniqueItems"};

bool is_known(std::string_view keyword) { return std::ranges::count(kKnownKeywords, keyword) > 0; }

bool is_true(const Json& node, const char* key) {
  auto it = node.find(key);
  return it != node.end() && it->is_boolean() && it->get<bool>();
}

bool is_int_or_string_any_of(const Json& any_of) {
  return any_of == Json::parse(R"([{"type":"integer"},{"type":"string"}])");
}

class StructuralChecker {
 public:
  explicit StructuralChecker(FieldErrors& errors) : errors_(errors) {}

  // A schema node in properties, additionalProperties or items: it must say its type.
  void check_node(const Json& node, const FieldPath& path, bool root) {
    if (!node.is_object()) return;  // Schema::compile reports the shape
    check_keywords(node, path);
    const bool int_or_string = is_true(node, "x-kubernetes-int-or-string");
    const bool preserve = is_true(node, "x-kubernetes-preserve-unknown-fields");
    auto type = node.find("type");
    const bool typed = type != node.end() && type->is_string() && !type->get<std::string>().empty();
    if (int_or_string && typed) {
      forbid(path.child("type"), *type, "must be empty when x-kubernetes-int-or-string is true");
    }
    if (type != node.end() && !type->is_string()) {
      invalid(path.child("type"), *type, "must be a string");
    } else if (!typed && !int_or_string && !preserve) {
      required(path.child("type"), "must not be empty for specified object fields");
    }
    if (root && typed && type->get<std::string>() != "object") {
      invalid(path.child("type"), *type, "must be object at the root");
    }
    if (root && node.contains("additionalProperties")) {
      forbid(path.child("additionalProperties"), node["additionalProperties"],
             "must not be used at the root");
    }
    if (typed && *type == "array" && !node.contains("items")) {
      required(path.child("items"), "must be specified");
    }
    if (int_or_string && preserve) {
      invalid(path.child("x-kubernetes-preserve-unknown-fields"), true,
              "must be false if x-kubernetes-int-or-string is true");
    }
    if (auto it = node.find("x-kubernetes-map-type"); it != node.end()) {
      if (!(*it == "granular" || *it == "atomic")) {
        errors_.push_back({FieldError::Type::NotSupported, path.child("x-kubernetes-map-type"), *it,
                           R"(supported values: "granular", "atomic")"});
      } else if (!typed || *type != "object") {
        invalid(path.child("x-kubernetes-map-type"), *it, "must only be used if type is object");
      }
    }
    if (root || is_true(node, "x-kubernetes-embedded-resource")) check_resource_fields(node, path);
    if (auto it = node.find("x-kubernetes-preserve-unknown-fields"); it != node.end() && *it == false) {
      invalid(path.child("x-kubernetes-preserve-unknown-fields"), *it, "must be true or undefined");
    }
    check_embedded(node, path);
    check_lists(node, path);
    check_value_validation_junctors(node, path, int_or_string, root);

    if (auto it = node.find("properties"); it != node.end() && it->is_object()) {
      auto additional = node.find("additionalProperties");
      if (additional != node.end() && !(additional->is_boolean() && additional->get<bool>())) {
        forbid(path.child("additionalProperties"), *additional,
               "additionalProperties and properties are mutually exclusive");
      }
      for (const auto& [name, child] : it->items()) {
        FieldPath child_path = path.child("properties").key(name);
        if (root && name == "metadata") {
          check_metadata(child, child_path);
        } else {
          check_node(child, child_path, false);
        }
      }
    }
    if (auto it = node.find("additionalProperties"); it != node.end() && it->is_object()) {
      check_node(*it, path.child("additionalProperties"), false);
    }
    if (auto it = node.find("items"); it != node.end()) {
      if (it->is_array()) {
        invalid(path.child("items"), *it, "must be a schema object, not a list of schemas");
      } else {
        check_node(*it, path.child("items"), false);
      }
    }
  }

 private:
  void invalid(const FieldPath& path, const Json& value, std::string detail) {
    errors_.push_back({FieldError::Type::Invalid, path, value, std::move(detail)});
  }
  void forbid(const FieldPath& path, const Json& value, std::string detail) {
    errors_.push_back({FieldError::Type::Forbidden, path, value, std::move(detail)});
  }
  void required(const FieldPath& path, std::string detail) {
    errors_.push_back({FieldError::Type::Required, path, nullptr, std::move(detail)});
  }

  void check_keywords(const Json& node, const FieldPath& path) {
    for (const auto& [keyword, value] : node.items()) {
      if (std::ranges::count(kForbiddenKeywords, keyword)) {
        if (keyword == "uniqueItems" && value == false) continue;
        forbid(path.child(keyword), value,
               keyword == "uniqueItems" ? "uniqueItems cannot be true; use x-kubernetes-list-type: set"
                                        : fmt::format("{} is not supported in CRD schemas", keyword));
      } else if (!is_known(keyword)) {
        errors_.push_back({FieldError::Type::Unknown, path.child(keyword), nullptr,
                           "not a keyword of apiextensions.k8s.io/v1 JSONSchemaProps"});
      }
    }
  }

  void check_embedded(const Json& node, const FieldPath& path) {
    if (!is_true(node, "x-kubernetes-embedded-resource")) return;
    auto type = node.find("type");
    if (type == node.end() || *type != "object") {
      required(path.child("type"), "must be object if x-kubernetes-embedded-resource is true");
    }
    if (auto it = node.find("additionalProperties"); it != node.end()) {
      forbid(path.child("additionalProperties"), *it,
             "must not be used if x-kubernetes-embedded-resource is set");
    }
    if (!node.contains("properties") && !is_true(node, "x-kubernetes-preserve-unknown-fields")) {
      required(path.child("properties"),
               "must not be empty if x-kubernetes-embedded-resource is true without "
               "x-kubernetes-preserve-unknown-fields");
    }
  }

  void check_lists(const Json& node, const FieldPath& path) {
    auto list_type = node.find("x-kubernetes-list-type");
    auto keys = node.find("x-kubernetes-list-map-keys");
    if (list_type == node.end()) {
      if (keys != node.end()) {
        forbid(path.child("x-kubernetes-list-map-keys"), *keys, "requires x-kubernetes-list-type: map");
      }
      return;
    }
    if (!list_type->is_string() || !(*list_type == "atomic" || *list_type == "set" || *list_type == "map")) {
      errors_.push_back({FieldError::Type::NotSupported, path.child("x-kubernetes-list-type"), *list_type,
                         R"(supported values: "atomic", "set", "map")"});
      return;
    }
    if (string_member(node, "type") != "array") {
      invalid(path.child("x-kubernetes-list-type"), *list_type, "must only be used on arrays");
      return;
    }
    const Json items = node.contains("items") && node["items"].is_object() ? node["items"] : Json::object();
    const std::string item_type = string_member(items, "type");
    if (*list_type == "set" && (item_type == "object" || item_type == "array")) {
      invalid(path.child("items").child("type"), item_type,
              "must be a scalar type if x-kubernetes-list-type is set");
    }
    if (*list_type != "map") {
      if (keys != node.end()) {
        forbid(path.child("x-kubernetes-list-map-keys"), *keys, "requires x-kubernetes-list-type: map");
      }
      return;
    }
    if (item_type != "object") {
      invalid(path.child("items").child("type"), item_type,
              "must be object if x-kubernetes-list-type is map");
    }
    if (keys == node.end() || !keys->is_array() || keys->empty()) {
      required(path.child("x-kubernetes-list-map-keys"),
               "must not be empty if x-kubernetes-list-type is map");
      return;
    }
    const Json properties = items.value("properties", Json::object());
    const Json required_keys = items.value("required", Json::array());
    for (std::size_t i = 0; i < keys->size(); ++i) {
      const Json& key = (*keys)[i];
      if (!key.is_string() || !properties.contains(key.get<std::string>())) {
        invalid(path.child("x-kubernetes-list-map-keys").index(i), key, "must be a property of the items");
        continue;
      }
      const Json& property = properties[key.get<std::string>()];
      if (!std::ranges::count(required_keys, key) && !property.contains("default")) {
        invalid(path.child("x-kubernetes-list-map-keys").index(i), key,
                "must be required or have a default in the items");
      }
    }
  }

  // Rules 2 and 3 of structural schemas: junctors hold only value validations, and every field
  // they mention is also specified outside them.
  // apiVersion and kind, when a resource declares them, are strings.
  void check_resource_fields(const Json& node, const FieldPath& path) {
    auto properties = node.find("properties");
    if (properties == node.end() || !properties->is_object()) return;
    for (const auto& [name, field] : properties->items()) {
      if ((name != "apiVersion" && name != "kind") || !field.is_object()) continue;
      auto type = field.find("type");
      if (type != field.end() && *type != "string") {
        invalid(path.child("properties").key(name).child("type"), *type, "must be string");
      }
    }
  }

  void check_value_validation_junctors(const Json& node, const FieldPath& path, bool int_or_string,
                                       bool root) {
    for (const char* junctor : {"allOf", "anyOf", "oneOf"}) {
      auto it = node.find(junctor);
      if (it == node.end() || !it->is_array()) continue;
      if (int_or_string && std::string_view(junctor) == "anyOf" && is_int_or_string_any_of(*it)) continue;
      for (std::size_t i = 0; i < it->size(); ++i) {
        const Json& branch = (*it)[i];
        FieldPath branch_path = path.child(junctor).index(i);
        // The second int-or-string form: allOf: [{anyOf: [{type: integer}, {type: string}]}, ...]
        if (int_or_string && std::string_view(junctor) == "allOf" && branch.is_object() &&
            branch.size() == 1 && branch.contains("anyOf") && is_int_or_string_any_of(branch["anyOf"])) {
          continue;
        }
        check_junctor_branch(branch, node, branch_path);
        if (root) forbid_nested_metadata(branch, branch_path);
      }
    }
    if (auto it = node.find("not"); it != node.end()) {
      check_junctor_branch(*it, node, path.child("not"));
      if (root) forbid_nested_metadata(*it, path.child("not"));
    }
  }

  void forbid_nested_metadata(const Json& branch, const FieldPath& path) {
    if (!branch.is_object() || !branch.contains("properties") || !branch["properties"].is_object()) return;
    if (branch["properties"].contains("metadata")) {
      forbid(path.child("properties").key("metadata"), nullptr, "must not be specified in a nested context");
    }
  }

  void check_junctor_branch(const Json& branch, const Json& outside, const FieldPath& path) {
    if (!branch.is_object()) return;
    for (const char* keyword :
         {"description", "title", "externalDocs", "type", "default", "additionalProperties", "nullable",
          "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string",
          "x-kubernetes-embedded-resource", "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
          "x-kubernetes-map-type", "x-kubernetes-validations"}) {
      if (auto it = branch.find(keyword); it != branch.end()) {
        forbid(path.child(keyword), *it,
               "must not be used inside allOf, anyOf, oneOf or not (value validations only)");
      }
    }
    if (auto it = branch.find("properties"); it != branch.end() && it->is_object()) {
      const Json outside_properties =
          outside.is_object() ? outside.value("properties", Json::object()) : Json();
      for (const auto& [name, child] : it->items()) {
        FieldPath child_path = path.child("properties").key(name);
        if (!outside_properties.contains(name)) {
          required(child_path, "must also be specified outside of allOf, anyOf, oneOf and not");
          continue;
        }
        check_junctor_branch(child, outside_properties[name], child_path);
      }
    }
    if (auto it = branch.find("items"); it != branch.end()) {
      if (!outside.contains("items")) {
        required(path.child("items"), "must also be specified outside of allOf, anyOf, oneOf and not");
      } else {
        check_junctor_branch(*it, outside["items"], path.child("items"));
      }
    }
    for (const char* junctor : {"allOf", "anyOf", "oneOf"}) {
      if (auto it = branch.find(junctor); it != branch.end() && it->is_array()) {
        for (std::size_t i = 0; i < it->size(); ++i) {
          check_junctor_branch((*it)[i], outside, path.child(junctor).index(i));
        }
      }
    }
    if (auto it = branch.find("not"); it != branch.end())
      check_junctor_branch(*it, outside, path.child("not"));
  }

  // At the root, metadata may only restrict name and generateName.
  void check_metadata(const Json& metadata, const FieldPath& path) {
    if (!metadata.is_object()) return;
    for (const auto& [keyword, value] : metadata.items()) {
      if (keyword == "type" && value == "object") continue;
      if (keyword == "properties" && value.is_object()) {
        for (const auto& [name, child] : value.items()) {
          FieldPath child_path = path.child("properties").key(name);
          if (name != "name" && name != "generateName") {
            forbid(child_path, nullptr, "only name and generateName may be restricted in metadata");
          } else {
            check_node(child, child_path, false);
          }
        }
        continue;
      }
      forbid(path.child(keyword), value,
             "must not be specified; metadata allows only type: object and restrictions on name "
             "and generateName");
    }
  }

  FieldErrors& errors_;
};

}  // namespace

FieldErrors check_structural(const Json& openapi, const FieldPath& at) {
  FieldErrors errors;
  if (!openapi.is_object()) {
    errors.push_back({FieldError::Type::Invalid, at, openapi, "must be a schema object"});
    return errors;
  }
  StructuralChecker(errors).check_node(openapi, at, true);
  return errors;
}

}  // namespace riasc::schema

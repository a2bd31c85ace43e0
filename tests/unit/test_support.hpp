#pragma once

// Helpers shared by the unit tests: schemas and values are written as YAML, errors compared as the
// strings users see.

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "riasc/core/field_error.hpp"
#include "riasc/core/json.hpp"
#include "riasc/core/yaml_document.hpp"
#include "riasc/schema/schema.hpp"

namespace riasc::test {

// The value of the one YAML document in `text`; null when the text holds no document (an empty
// document, or one that is just `null`). Throws when there is more than one document.
inline Json yaml(std::string_view text) {
  auto documents = parse_yaml_stream(text);
  if (documents.empty()) return nullptr;
  if (documents.size() != 1) {
    throw std::invalid_argument("test_support yaml(): expected one YAML document, got " +
                                std::to_string(documents.size()));
  }
  return std::move(documents.front().value);
}

// FieldError::to_string of each error, in order.
inline std::vector<std::string> messages(const FieldErrors& errors) {
  std::vector<std::string> out;
  out.reserve(errors.size());
  for (const auto& error : errors) out.push_back(error.to_string());
  return out;
}

// FieldPath::to_string of each path, in order.
inline std::vector<std::string> path_strings(const std::vector<FieldPath>& paths) {
  std::vector<std::string> out;
  out.reserve(paths.size());
  for (const auto& path : paths) out.push_back(path.to_string());
  return out;
}

// A schema written in YAML, compiled.
inline schema::Schema compile(std::string_view schema_yaml,
                              schema::Schema::Root root = schema::Schema::Root::Value) {
  return schema::Schema::compile(yaml(schema_yaml), root);
}

// The messages of validating the YAML value `value_yaml` against `schema`.
inline std::vector<std::string> validate(const schema::Schema& schema, std::string_view value_yaml) {
  return messages(schema.validate(yaml(value_yaml)));
}

// The messages of check_structural on a schema written in YAML, reported under `at`.
inline std::vector<std::string> structural(std::string_view schema_yaml, const FieldPath& at = {}) {
  return messages(schema::check_structural(yaml(schema_yaml), at));
}

using Messages = std::vector<std::string>;

// A minimal valid CRD (widgets.example.com, kind Widget, version v1) with `openapi` as its schema.
inline Json widget_crd(const Json& openapi, const std::string& scope = "Namespaced") {
  Json crd = yaml(R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    listKind: WidgetList
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {}
)");
  crd["spec"]["scope"] = scope;
  crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = openapi;
  return crd;
}

}  // namespace riasc::test

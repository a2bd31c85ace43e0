#pragma once

// The structural-schema subset of OpenAPI v3 that CustomResourceDefinitions use, with
// Kubernetes' semantics for validation, defaulting and pruning.

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "riasc/core/field_error.hpp"
#include "riasc/core/json.hpp"

namespace riasc::schema {

struct Node;

// Thrown by Schema::compile for a schema that cannot be used (an invalid regular expression, a
// keyword of the wrong JSON type); carries one error per problem, with its path in the schema.
class SchemaError : public std::runtime_error {
 public:
  explicit SchemaError(FieldErrors errors);
  [[nodiscard]] const FieldErrors& errors() const { return errors_; }

 private:
  FieldErrors errors_;
};

class Schema {
 public:
  enum class Root {
    Value,     // the schema describes a plain value
    Resource,  // the schema is a CRD's openAPIV3Schema: apiVersion, kind and metadata are implicit
  };

  // `at` is where the schema sits in its document; SchemaError paths start there.
  static Schema compile(const Json& openapi, Root root = Root::Value, const FieldPath& at = {});

  // Every violation, in document order; empty when `value` is valid.
  [[nodiscard]] FieldErrors validate(const Json& value) const;

  // Sets the declared defaults of absent fields (and of null fields that are not nullable),
  // descending into defaulted values too, as kube-apiserver does.
  void apply_defaults(Json& value) const;

  // Removes fields the schema does not declare (and nulls of non-nullable fields) and returns
  // the paths of the unknown fields removed.
  std::vector<FieldPath> prune(Json& value) const;

  // The unknown fields `prune` would remove, each as an error naming the closest declared field.
  [[nodiscard]] FieldErrors unknown_fields(const Json& value) const;

  [[nodiscard]] const Node& root() const { return *root_; }

  // How the array at `path` merges, for the patch engines (kubeapi), which do not see the compiled
  // nodes: its x-kubernetes-list-type ("" when unset or when the schema does not describe `path`),
  // x-kubernetes-list-map-keys, and the declared defaults of those keys in the items. `path` holds
  // member names from the root; "[]" steps into the items of an array.
  struct ListType {
    std::string type;
    std::vector<std::string> map_keys;
    Json map_key_defaults = Json::object();  // key name -> default
  };
  [[nodiscard]] ListType list_type(const std::vector<std::string>& path) const;

 private:
  explicit Schema(std::shared_ptr<const Node> root) : root_(std::move(root)) {}
  std::shared_ptr<const Node> root_;
};

// Checks the rules that make a schema structural (Kubernetes "Specifying a structural schema"),
// plus the CRD-specific restrictions: forbidden keywords, list-type consistency, metadata.
// Errors are reported under `at` (e.g. spec.versions[0].schema.openAPIV3Schema).
FieldErrors check_structural(const Json& openapi, const FieldPath& at);

}  // namespace riasc::schema

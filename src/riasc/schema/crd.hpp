#pragma once

// CustomResourceDefinitions (apiextensions.k8s.io/v1): checking a CRD document, and checking
// custom objects against the CRD that defines their kind.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "riasc/core/field_error.hpp"
#include "riasc/core/json.hpp"
#include "riasc/schema/schema.hpp"

namespace riasc::schema {

struct CrdVersion {
  std::string name;
  bool served = false;
  bool storage = false;
  Schema schema;
};

class CustomResourceDefinition {
 public:
  // Checks `crd` completely (see validate_crd) and throws SchemaError with every problem found.
  static CustomResourceDefinition from_json(const Json& crd);

  [[nodiscard]] const std::string& name() const { return name_; }  // <plural>.<group>
  [[nodiscard]] const std::string& group() const { return group_; }
  [[nodiscard]] const std::string& kind() const { return kind_; }
  [[nodiscard]] const std::string& plural() const { return plural_; }
  [[nodiscard]] bool namespaced() const { return namespaced_; }
  [[nodiscard]] const std::vector<CrdVersion>& versions() const { return versions_; }
  [[nodiscard]] const CrdVersion* version(std::string_view name) const;
  [[nodiscard]] const Json& source() const { return source_; }

 private:
  CustomResourceDefinition() = default;
  std::string name_, group_, kind_, plural_;
  bool namespaced_ = false;
  std::vector<CrdVersion> versions_;
  Json source_;
};

// Every problem of a CRD document: names, scope, versions, structural schemas, patterns,
// defaults that do not validate against their own schema, printer columns.
FieldErrors validate_crd(const Json& crd);

// The outcome of checking one custom object against its CRD.
struct ObjectCheck {
  FieldErrors errors;
  std::vector<std::string> warnings;
  Json object;                    // pruned and defaulted, as the API server would store it
  std::vector<FieldPath> pruned;  // the unknown fields removed from `object`
};

struct ObjectCheckOptions {
  bool reject_unknown_fields = true;  // as kubectl's --validate=strict; else they are pruned
};

ObjectCheck check_custom_object(const CustomResourceDefinition& crd, const Json& object,
                                const ObjectCheckOptions& options = {});

// The CRDs known for a run, looked up by the apiVersion and kind of an object.
class CrdRegistry {
 public:
  // Replaces any CRD of the same name.
  void add(CustomResourceDefinition crd);
  [[nodiscard]] const CustomResourceDefinition* find(std::string_view api_version,
                                                     std::string_view kind) const;
  [[nodiscard]] const std::vector<CustomResourceDefinition>& all() const { return crds_; }

 private:
  std::vector<CustomResourceDefinition> crds_;
};

// "group/version" → {group, version}; "v1" → {"", "v1"}.
std::pair<std::string, std::string> split_api_version(std::string_view api_version);

}  // namespace riasc::schema

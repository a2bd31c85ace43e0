#include "riasc/kinds/builtin_crds.hpp"

#include <fmt/format.h>

#include "riasc/core/yaml_document.hpp"

namespace riasc::kinds {

namespace {

std::vector<schema::CustomResourceDefinition> load_builtin_crds() {
  std::vector<schema::CustomResourceDefinition> crds;
  for (const auto& file : embedded_crd_files()) {
    try {
      for (const auto& document : parse_yaml_stream(file.content)) {
        crds.push_back(schema::CustomResourceDefinition::from_json(document.value));
      }
    } catch (const YamlError& error) {
      throw schema::SchemaError({FieldError{FieldError::Type::Invalid,
                                            {},
                                            std::string(file.name),
                                            fmt::format("built-in CRD does not parse: {}", error.what())}});
    } catch (const schema::SchemaError& error) {
      FieldErrors errors = error.errors();
      for (auto& e : errors) e.detail = fmt::format("{} (in built-in {})", e.detail, file.name);
      throw schema::SchemaError(std::move(errors));
    }
  }
  return crds;
}

}  // namespace

const std::vector<schema::CustomResourceDefinition>& builtin_crds() {
  static const std::vector<schema::CustomResourceDefinition> crds = load_builtin_crds();
  return crds;
}

schema::CrdRegistry builtin_registry() {
  schema::CrdRegistry registry;
  for (const auto& crd : builtin_crds()) registry.add(crd);
  return registry;
}

}  // namespace riasc::kinds

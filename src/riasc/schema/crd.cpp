#include "riasc/schema/crd.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <set>

#include "riasc/core/json_path.hpp"
#include "riasc/schema/object_meta.hpp"

namespace riasc::schema {

namespace {

constexpr std::string_view kCrdApiVersion = "apiextensions.k8s.io/v1";

class CrdChecker {
 public:
  FieldErrors check(const Json& crd) {
    if (!crd.is_object()) {
      add(FieldError::Type::Invalid, {}, crd, "must be an object");
      return std::move(errors_);
    }
    if (crd.value("apiVersion", Json()) != kCrdApiVersion) {
      add(FieldError::Type::NotSupported, FieldPath().child("apiVersion"), crd.value("apiVersion", Json()),
          fmt::format("supported values: \"{}\"", kCrdApiVersion));
    }
    const FieldPath metadata_path = FieldPath().child("metadata");
    if (!crd.contains("metadata")) {
      add(FieldError::Type::Required, metadata_path, nullptr, "");
    } else {
      for (auto& error : validate_object_meta(crd["metadata"], metadata_path))
        errors_.push_back(std::move(error));
    }
    const FieldPath spec_path = FieldPath().child("spec");
    auto spec = crd.find("spec");
    if (spec == crd.end() || !spec->is_object()) {
      add(spec == crd.end() ? FieldError::Type::Required : FieldError::Type::Invalid, spec_path,
          spec == crd.end() ? Json() : *spec, spec == crd.end() ? "" : "must be an object");
      return std::move(errors_);
    }
    unknown_keys(*spec, spec_path,
                 {"group", "names", "scope", "versions", "conversion", "preserveUnknownFields"});
    std::string group = required_string(*spec, spec_path, "group");
    if (!group.empty()) {
      if (auto why = check_dns_subdomain(group); !why.empty()) {
        add(FieldError::Type::Invalid, spec_path.child("group"), group, why);
      } else if (group.find('.') == std::string::npos) {
        add(FieldError::Type::Invalid, spec_path.child("group"), group,
            "should be a domain with at least one dot");
      }
    }
    std::string plural = check_names(*spec, spec_path.child("names"));
    if (!plural.empty() && !group.empty() && crd.contains("metadata") && crd["metadata"].is_object()) {
      std::string expected = plural + "." + group;
      Json name = crd["metadata"].value("name", Json());
      if (name != expected) {
        add(FieldError::Type::Invalid, metadata_path.child("name"), name,
            fmt::format("must be spec.names.plural+\".\"+spec.group: \"{}\"", expected));
      }
    }
    std::string scope = required_string(*spec, spec_path, "scope");
    if (!scope.empty() && scope != "Namespaced" && scope != "Cluster") {
      add(FieldError::Type::NotSupported, spec_path.child("scope"), scope,
          R"(supported values: "Cluster", "Namespaced")");
    }
    if (auto it = spec->find("preserveUnknownFields"); it != spec->end() && *it != false) {
      add(FieldError::Type::Invalid, spec_path.child("preserveUnknownFields"), *it,
          "must be false in apiextensions.k8s.io/v1");
    }
    check_versions(*spec, spec_path.child("versions"));
    return std::move(errors_);
  }

 private:
  void add(FieldError::Type type, const FieldPath& path, const Json& value, std::string detail) {
    errors_.push_back({type, path, value, std::move(detail)});
  }

  void unknown_keys(const Json& object, const FieldPath& path,
                    std::initializer_list<std::string_view> known) {
    for (const auto& [key, value] : object.items()) {
      if (std::ranges::find(known, key) == known.end()) {
        std::string list;
        for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
        add(FieldError::Type::Unknown, path.child(key), nullptr, "known fields: " + list);
      }
    }
  }

  std::string required_string(const Json& object, const FieldPath& path, const char* key) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null() || *it == "") {
      add(FieldError::Type::Required, path.child(key), nullptr, "");
      return "";
    }
    if (!it->is_string()) {
      add(FieldError::Type::Invalid, path.child(key), *it, "must be a string");
      return "";
    }
    return it->get<std::string>();
  }

  std::string check_names(const Json& spec, const FieldPath& path) {
    auto names = spec.find("names");
    if (names == spec.end() || !names->is_object()) {
      add(FieldError::Type::Required, path, nullptr, "");
      return "";
    }
    unknown_keys(*names, path, {"plural", "singular", "kind", "listKind", "shortNames", "categories"});
    std::string plural = required_string(*names, path, "plural");
    if (!plural.empty()) {
      if (auto why = check_dns_label(plural); !why.empty()) {
        add(FieldError::Type::Invalid, path.child("plural"), plural, why);
      }
    }
    if (auto singular = names->find("singular"); singular != names->end()) {
      if (!singular->is_string() || !check_dns_label(singular->get<std::string>()).empty()) {
        add(FieldError::Type::Invalid, path.child("singular"), *singular,
            "must be a lowercase RFC 1123 label");
      }
    }
    for (const char* key : {"kind", "listKind"}) {
      auto it = names->find(key);
      if (it == names->end()) {
        if (std::string_view(key) == "kind") add(FieldError::Type::Required, path.child(key), nullptr, "");
        continue;
      }
      std::string lowered = it->is_string() ? it->get<std::string>() : "";
      std::ranges::transform(lowered, lowered.begin(), [](unsigned char c) { return std::tolower(c); });
      if (!it->is_string() || lowered.empty() || !check_dns_label(lowered).empty() ||
          !std::isalpha(static_cast<unsigned char>(lowered[0])) || lowered.find('-') != std::string::npos) {
        add(FieldError::Type::Invalid, path.child(key), *it,
            "must be an alphanumeric identifier starting with a letter, e.g. TrafficProfile");
      }
    }
    for (const char* key : {"shortNames", "categories"}) {
      auto it = names->find(key);
      if (it == names->end()) continue;
      if (!it->is_array()) {
        add(FieldError::Type::Invalid, path.child(key), *it, "must be a list of strings");
        continue;
      }
      for (std::size_t i = 0; i < it->size(); ++i) {
        const Json& entry = (*it)[i];
        if (!entry.is_string() || !check_dns_label(entry.get<std::string>()).empty()) {
          add(FieldError::Type::Invalid, path.child(key).index(i), entry,
              "must be a lowercase RFC 1123 label");
        }
      }
    }
    return plural;
  }

  void check_versions(const Json& spec, const FieldPath& path) {
    auto versions = spec.find("versions");
    if (versions == spec.end() || !versions->is_array() || versions->empty()) {
      add(FieldError::Type::Required, path, nullptr, "must have at least one version");
      return;
    }
    std::set<std::string> seen;
    int storage = 0;
    for (std::size_t i = 0; i < versions->size(); ++i) {
      const Json& version = (*versions)[i];
      FieldPath at = path.index(i);
      if (!version.is_object()) {
        add(FieldError::Type::Invalid, at, version, "must be an object");
        continue;
      }
      unknown_keys(version, at,
                   {"name", "served", "storage", "deprecated", "deprecationWarning", "schema", "subresources",
                    "additionalPrinterColumns", "selectableFields"});
      std::string name = required_string(version, at, "name");
      if (!name.empty() && !seen.insert(name).second)
        add(FieldError::Type::Duplicate, at.child("name"), name, "");
      if (!name.empty() &&
          (!check_dns_label(name).empty() || !std::isalpha(static_cast<unsigned char>(name[0])))) {
        add(FieldError::Type::Invalid, at.child("name"), name,
            "must be a DNS-1035 label, e.g. v1 or v1beta1");
      }
      for (const char* flag : {"served", "storage"}) {
        auto it = version.find(flag);
        if (it == version.end()) {
          add(FieldError::Type::Required, at.child(flag), nullptr, "");
        } else if (!it->is_boolean()) {
          add(FieldError::Type::Invalid, at.child(flag), *it, "must be true or false");
        } else if (std::string_view(flag) == "storage" && it->get<bool>()) {
          ++storage;
        }
      }
      check_schema(version, at.child("schema"));
      check_subresources(version, at.child("subresources"));
      check_printer_columns(version, at.child("additionalPrinterColumns"));
    }
    if (storage != 1) {
      add(FieldError::Type::Invalid, path, nullptr,
          "must have exactly one version marked as storage version");
    }
  }

  void check_schema(const Json& version, const FieldPath& path) {
    auto schema = version.find("schema");
    if (schema == version.end() || !schema->is_object() || !schema->contains("openAPIV3Schema")) {
      add(FieldError::Type::Required, path.child("openAPIV3Schema"), nullptr,
          "every version needs a structural schema");
      return;
    }
    const Json& openapi = (*schema)["openAPIV3Schema"];
    FieldPath at = path.child("openAPIV3Schema");
    for (auto& error : check_structural(openapi, at)) errors_.push_back(std::move(error));
    try {
      (void)Schema::compile(openapi, Schema::Root::Resource, at);
    } catch (const SchemaError& error) {
      for (const auto& e : error.errors()) errors_.push_back(e);
      return;
    }
    check_defaults(openapi, at);
  }

  // A default must be a valid value of its own schema, with no fields pruning would drop.
  void check_defaults(const Json& node, const FieldPath& path) {
    if (!node.is_object()) return;
    if (auto it = node.find("default"); it != node.end()) {
      Json defaulted = *it;
      const Schema schema = Schema::compile(node);
      schema.apply_defaults(defaulted);
      FieldErrors problems = schema.unknown_fields(defaulted);
      for (auto& error : schema.validate(defaulted)) problems.push_back(std::move(error));
      for (const auto& problem : problems) {
        add(FieldError::Type::Invalid, path.child("default"), *it,
            fmt::format("default is not valid for its schema: {}", problem.to_string()));
      }
    }
    if (auto it = node.find("properties"); it != node.end() && it->is_object()) {
      for (const auto& [name, child] : it->items()) check_defaults(child, path.child("properties").key(name));
    }
    if (auto it = node.find("additionalProperties"); it != node.end()) {
      check_defaults(*it, path.child("additionalProperties"));
    }
    if (auto it = node.find("items"); it != node.end()) check_defaults(*it, path.child("items"));
  }

  void check_subresources(const Json& version, const FieldPath& path) {
    auto it = version.find("subresources");
    if (it == version.end()) return;
    if (!it->is_object()) {
      add(FieldError::Type::Invalid, path, *it, "must be an object");
      return;
    }
    unknown_keys(*it, path, {"status", "scale"});
    if (auto status = it->find("status"); status != it->end() && !(status->is_object() && status->empty())) {
      add(FieldError::Type::Invalid, path.child("status"), *status, "must be an empty object: {}");
    }
  }

  void check_printer_columns(const Json& version, const FieldPath& path) {
    auto columns = version.find("additionalPrinterColumns");
    if (columns == version.end()) return;
    if (!columns->is_array()) {
      add(FieldError::Type::Invalid, path, *columns, "must be a list of columns");
      return;
    }
    static constexpr std::array<std::string_view, 5> kTypes = {"integer", "number", "string", "boolean",
                                                               "date"};
    for (std::size_t i = 0; i < columns->size(); ++i) {
      const Json& column = (*columns)[i];
      FieldPath at = path.index(i);
      if (!column.is_object()) {
        add(FieldError::Type::Invalid, at, column, "must be an object");
        continue;
      }
      unknown_keys(column, at, {"name", "type", "format", "description", "priority", "jsonPath"});
      required_string(column, at, "name");
      std::string type = required_string(column, at, "type");
      if (!type.empty() && !std::ranges::count(kTypes, type)) {
        add(FieldError::Type::NotSupported, at.child("type"), type,
            R"(supported values: "integer", "number", "string", "boolean", "date")");
      }
      std::string json_path = required_string(column, at, "jsonPath");
      if (!json_path.empty()) {
        if (auto problem = json_path_error(json_path)) {
          add(FieldError::Type::Invalid, at.child("jsonPath"), json_path,
              fmt::format("must be a JSONPath such as .spec.type: {}", *problem));
        }
      }
      if (auto priority = column.find("priority");
          priority != column.end() &&
          !(priority->is_number_integer() && priority->get<std::int64_t>() >= 0)) {
        add(FieldError::Type::Invalid, at.child("priority"), *priority, "must be a non-negative integer");
      }
    }
  }

  FieldErrors errors_;
};

}  // namespace

std::pair<std::string, std::string> split_api_version(std::string_view api_version) {
  auto slash = api_version.find('/');
  if (slash == std::string_view::npos) return {"", std::string(api_version)};
  return {std::string(api_version.substr(0, slash)), std::string(api_version.substr(slash + 1))};
}

FieldErrors validate_crd(const Json& crd) { return CrdChecker().check(crd); }

CustomResourceDefinition CustomResourceDefinition::from_json(const Json& crd) {
  FieldErrors errors = validate_crd(crd);
  if (!errors.empty()) throw SchemaError(std::move(errors));
  CustomResourceDefinition out;
  const Json& spec = crd["spec"];
  out.name_ = crd["metadata"]["name"].get<std::string>();
  out.group_ = spec["group"].get<std::string>();
  out.kind_ = spec["names"]["kind"].get<std::string>();
  out.plural_ = spec["names"]["plural"].get<std::string>();
  out.namespaced_ = spec["scope"] == "Namespaced";
  for (const auto& version : spec["versions"]) {
    out.versions_.push_back(CrdVersion{
        version["name"].get<std::string>(), version["served"].get<bool>(), version["storage"].get<bool>(),
        Schema::compile(version["schema"]["openAPIV3Schema"], Schema::Root::Resource)});
  }
  out.source_ = crd;
  return out;
}

const CrdVersion* CustomResourceDefinition::version(std::string_view name) const {
  for (const auto& version : versions_) {
    if (version.name == name) return &version;
  }
  return nullptr;
}

ObjectCheck check_custom_object(const CustomResourceDefinition& crd, const Json& object,
                                const ObjectCheckOptions& options) {
  ObjectCheck check;
  check.object = object;
  const FieldPath api_version_path = FieldPath().child("apiVersion");
  auto [group, version_name] = split_api_version(string_member(object, "apiVersion"));
  const CrdVersion* version = crd.version(version_name);
  if (group != crd.group() || !version || !version->served) {
    std::string served;
    for (const auto& v : crd.versions()) {
      if (v.served) served += fmt::format("{}\"{}/{}\"", served.empty() ? "" : ", ", crd.group(), v.name);
    }
    check.errors.push_back({FieldError::Type::NotSupported, api_version_path,
                            (object.is_object() ? object.value("apiVersion", Json()) : Json()),
                            "supported values: " + served});
    return check;
  }
  const FieldPath metadata_path = FieldPath().child("metadata");
  auto metadata = object.find("metadata");
  if (metadata == object.end()) {
    check.errors.push_back({FieldError::Type::Required, metadata_path, nullptr, ""});
  } else {
    check.errors = validate_object_meta(*metadata, metadata_path);
    if (!crd.namespaced() && metadata->is_object() && metadata->contains("namespace")) {
      check.warnings.push_back(fmt::format(
          "metadata.namespace: ignored: {} is cluster-scoped, so the API server drops the namespace",
          crd.kind()));
    }
  }
  if (options.reject_unknown_fields) {
    for (auto& error : version->schema.unknown_fields(object)) check.errors.push_back(std::move(error));
  }
  check.pruned = version->schema.prune(check.object);
  version->schema.apply_defaults(check.object);
  for (auto& error : version->schema.validate(check.object)) check.errors.push_back(std::move(error));
  return check;
}

void CrdRegistry::add(CustomResourceDefinition crd) {
  std::erase_if(crds_, [&](const CustomResourceDefinition& known) { return known.name() == crd.name(); });
  crds_.push_back(std::move(crd));
}

const CustomResourceDefinition* CrdRegistry::find(std::string_view api_version, std::string_view kind) const {
  auto [group, version] = split_api_version(api_version);
  for (const auto& crd : crds_) {
    if (crd.group() == group && crd.kind() == kind) return &crd;
  }
  return nullptr;
}

}  // namespace riasc::schema

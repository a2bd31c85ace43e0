#include "riasc/cli/manifest_validation.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "riasc/kinds/semantic_checks.hpp"

namespace riasc::cli {

namespace {

constexpr std::string_view kCrdKind = "CustomResourceDefinition";
constexpr std::string_view kCrdGroup = "apiextensions.k8s.io";

// One object to check: a document, or an item of a `kind: List` document.
struct Manifest {
  const ManifestFile* file;
  const YamlDocument* document;
  FieldPath prefix;  // items[i] for List items
  const Json* object;
};

bool is_riasc_group(const std::string& group) { return group == "riasc.eu" || group.ends_with(".riasc.eu"); }

class Run {
 public:
  explicit Run(schema::CrdRegistry registry) : registry_(std::move(registry)) {}

  ValidationReport finish(const std::vector<ManifestFile>& files) {
    std::vector<std::vector<YamlDocument>> parsed(files.size());
    std::vector<Manifest> manifests;
    for (std::size_t i = 0; i < files.size(); ++i) {
      try {
        parsed[i] = parse_yaml_stream(files[i].content);
      } catch (const YamlError& error) {
        error_at(files[i], error.position(), fmt::format("YAML syntax error: {}", error.what()));
      }
    }
    for (std::size_t i = 0; i < files.size(); ++i) {
      for (const auto& document : parsed[i]) collect(files[i], document, manifests);
    }
    report_.documents = manifests.size();
    std::vector<bool> valid(manifests.size(), false);
    auto checked = [&](std::size_t i, auto check) {
      const std::size_t errors = report_.count(Diagnostic::Severity::Error);
      check(manifests[i]);
      valid[i] = report_.count(Diagnostic::Severity::Error) == errors;
    };
    for (std::size_t i = 0; i < manifests.size(); ++i) {
      if (is_crd(manifests[i])) checked(i, [&](const Manifest& m) { check_crd(m); });
    }
    for (std::size_t i = 0; i < manifests.size(); ++i) {
      if (!is_crd(manifests[i])) checked(i, [&](const Manifest& m) { check_object(m); });
    }
    for (std::size_t i = 0; i < manifests.size(); ++i) {
      const Manifest& m = manifests[i];
      report_.objects.push_back({m.file->name, m.document->positions.locate(m.prefix), *m.object, valid[i]});
    }
    sort_diagnostics(files);
    return std::move(report_);
  }

 private:
  void error_at(const ManifestFile& file, SourcePosition at, std::string message) {
    report_.diagnostics.push_back({Diagnostic::Severity::Error, file.name, at, std::move(message)});
  }
  void report(const Manifest& m, FieldError error) {
    error.path = m.prefix.join(error.path);
    const auto& positions = m.document->positions;
    error_at(*m.file,
             error.type == FieldError::Type::Unknown ? positions.locate_key(error.path)
                                                     : positions.locate(error.path),
             error.to_string());
  }
  void warn(const Manifest& m, const FieldPath& path, std::string message) {
    report_.diagnostics.push_back({Diagnostic::Severity::Warning, m.file->name,
                                   m.document->positions.locate(m.prefix.join(path)), std::move(message)});
  }

  void collect(const ManifestFile& file, const YamlDocument& document, std::vector<Manifest>& out) {
    const Json& value = document.value;
    if (value.is_object() && value.value("kind", Json()) == "List" && value.contains("items") &&
        value["items"].is_array()) {
      for (std::size_t i = 0; i < value["items"].size(); ++i) {
        out.push_back({&file, &document, FieldPath().child("items").index(i), &value["items"][i]});
      }
      return;
    }
    out.push_back({&file, &document, {}, &value});
  }

  // apiVersion and kind, or the errors that they are missing.
  bool identify(const Manifest& m, std::string& api_version, std::string& kind) {
    if (!m.object->is_object()) {
      report(m, {FieldError::Type::Invalid,
                 {},
                 *m.object,
                 "a manifest must be a mapping with apiVersion, kind and metadata"});
      return false;
    }
    bool ok = true;
    for (const char* field : {"apiVersion", "kind"}) {
      auto it = m.object->find(field);
      if (it == m.object->end() || *it == "" || it->is_null()) {
        report(m, {FieldError::Type::Required, FieldPath().child(field), nullptr, ""});
        ok = false;
      } else if (!it->is_string()) {
        report(m, {FieldError::Type::Invalid, FieldPath().child(field), *it, "must be a string"});
        ok = false;
      }
    }
    if (!ok) return false;
    api_version = (*m.object)["apiVersion"].get<std::string>();
    kind = (*m.object)["kind"].get<std::string>();
    return true;
  }

  bool is_crd(const Manifest& m) {
    return m.object->is_object() && m.object->value("kind", Json()) == kCrdKind &&
           schema::split_api_version(string_member(*m.object, "apiVersion")).first == kCrdGroup;
  }

  void check_crd(const Manifest& m) {
    ++report_.checked;
    auto errors = schema::validate_crd(*m.object);
    for (const auto& error : errors) report(m, error);
    if (!errors.empty()) return;
    try {
      registry_.add(schema::CustomResourceDefinition::from_json(*m.object));
    } catch (const schema::SchemaError& error) {
      for (const auto& e : error.errors()) report(m, e);
    }
  }

  void check_object(const Manifest& m) {
    std::string api_version;
    std::string kind;
    if (!identify(m, api_version, kind)) return;
    const schema::CustomResourceDefinition* crd = registry_.find(api_version, kind);
    auto [group, version] = schema::split_api_version(api_version);
    if (!crd) {
      if (is_riasc_group(group)) {
        std::string known;
        for (const auto& c : registry_.all()) {
          if (c.group() == group) known += fmt::format("{}{}", known.empty() ? "" : ", ", c.kind());
        }
        report(m, {FieldError::Type::NotSupported, FieldPath().child("kind"), kind,
                   known.empty() ? fmt::format("no RIasC kind is defined in group {}", group)
                                 : fmt::format("kinds of {}: {}", group, known)});
      } else {
        unchecked_.insert(api_version + " " + kind);
      }
      return;
    }
    ++report_.checked;
    auto check = schema::check_custom_object(*crd, *m.object);
    for (const auto& error : check.errors) report(m, error);
    for (const auto& warning : check.warnings) {
      warn(m, FieldPath().child("metadata").child("namespace"), warning);
    }
    if (!check.errors.empty()) return;  // the rules below assume a schema-valid object
    auto findings = kinds::check_semantics(check.object);
    for (const auto& error : findings.errors) report(m, error);
    for (const auto& warning : findings.warnings) {
      warn(m, warning.path, fmt::format("{}: {}", warning.path.to_string(), warning.message));
    }
  }

  void sort_diagnostics(const std::vector<ManifestFile>& files) {
    auto file_index = [&](const std::string& name) {
      for (std::size_t i = 0; i < files.size(); ++i) {
        if (files[i].name == name) return i;
      }
      return files.size();
    };
    std::ranges::stable_sort(report_.diagnostics, [&](const Diagnostic& a, const Diagnostic& b) {
      auto ka = std::tuple(file_index(a.file), a.position.line, a.position.column);
      auto kb = std::tuple(file_index(b.file), b.position.line, b.position.column);
      return ka < kb;
    });
    report_.unchecked_kinds.assign(unchecked_.begin(), unchecked_.end());
  }

  schema::CrdRegistry registry_;
  ValidationReport report_;
  std::set<std::string> unchecked_;
};

}  // namespace

std::string Diagnostic::to_string() const {
  std::string where =
      position.line == 0 ? file : fmt::format("{}:{}:{}", file, position.line, position.column);
  return fmt::format("{}: {}{}", where, severity == Severity::Warning ? "warning: " : "", message);
}

std::size_t ValidationReport::count(Diagnostic::Severity severity) const {
  return static_cast<std::size_t>(
      std::ranges::count_if(diagnostics, [&](const Diagnostic& d) { return d.severity == severity; }));
}

ValidationReport validate_manifests(const std::vector<ManifestFile>& files, schema::CrdRegistry registry) {
  return Run(std::move(registry)).finish(files);
}

}  // namespace riasc::cli

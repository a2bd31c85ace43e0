#pragma once

// `riasc validate`: manifests checked the way kube-apiserver would check them, with each problem
// pointing at the file, line and column it comes from.

#include <string>
#include <vector>

#include "riasc/cli/manifest_files.hpp"
#include "riasc/core/yaml_document.hpp"
#include "riasc/schema/crd.hpp"

namespace riasc::cli {

struct Diagnostic {
  enum class Severity { Error, Warning };
  Severity severity = Severity::Error;
  std::string file;
  SourcePosition position;
  std::string message;

  // file:line:column: message (warnings say "warning: " before the message)
  [[nodiscard]] std::string to_string() const;
};

// One object of the input (a document, or an item of a List) and whether it passed.
struct CheckedObject {
  std::string file;
  SourcePosition position;  // where the object begins
  Json object;
  bool valid = false;  // no error found (kinds without a known schema count as valid)
};

struct ValidationReport {
  std::vector<CheckedObject> objects;   // in input order
  std::vector<Diagnostic> diagnostics;  // per file in input order, by position within a file
  std::size_t documents = 0;
  std::size_t checked = 0;                   // documents checked against a CRD
  std::vector<std::string> unchecked_kinds;  // "apps/v1 Deployment": no schema known, not checked

  [[nodiscard]] std::size_t count(Diagnostic::Severity severity) const;
};

// CRDs among `files` are checked and then used for the other documents, after `registry`'s
// own (a CRD in the files replaces a registry CRD of the same name).
ValidationReport validate_manifests(const std::vector<ManifestFile>& files, schema::CrdRegistry registry);

}  // namespace riasc::cli

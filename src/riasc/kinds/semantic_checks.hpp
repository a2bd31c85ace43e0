#pragma once

// Rules of the RIasC kinds that a structural schema cannot express (cross-field constraints,
// references between parts of a spec, CIDR containment). `riasc validate` reports them; the
// controllers apply the same rules and report them in status.

#include <string>
#include <vector>

#include "riasc/core/field_error.hpp"
#include "riasc/core/json.hpp"

namespace riasc::kinds {

struct SemanticFinding {
  FieldPath path;
  std::string message;  // for warnings: what is ignored or suspicious, and why
};

struct SemanticFindings {
  FieldErrors errors;
  std::vector<SemanticFinding> warnings;
};

// `object` must already be schema-valid and defaulted (check_custom_object's output).
// Kinds without such rules give no findings.
SemanticFindings check_semantics(const Json& object);

}  // namespace riasc::kinds

#pragma once

// Reference pages for CRDs, generated from the CRD itself so the two cannot drift.

#include <string>
#include <vector>

#include "riasc/core/json.hpp"

namespace riasc::schema {

struct ReferenceExample {
  std::string file;     // shown as the example's title, e.g. examples/trafficprofile-builtin.yaml
  std::string content;  // the manifest text, verbatim
};

// A Markdown page: what the kind is, how kubectl names it, a table of every field (type, unit and
// range from the description and constraints, default, required), the printer columns, and the
// examples. `source` names the CRD file the page is generated from.
std::string render_crd_reference(const Json& crd, const std::string& source,
                                 const std::vector<ReferenceExample>& examples);

}  // namespace riasc::schema

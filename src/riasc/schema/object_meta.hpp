#pragma once

// Kubernetes' rules for metadata: names, namespaces, labels and annotations.

#include <string>
#include <string_view>

#include "riasc/core/field_error.hpp"
#include "riasc/core/json.hpp"

namespace riasc::schema {

// Empty when `value` is a lowercase RFC 1123 subdomain (names of most objects), else why not.
std::string check_dns_subdomain(std::string_view value);
// Empty when `value` is a lowercase RFC 1123 label (namespaces, CRD plurals), else why not.
std::string check_dns_label(std::string_view value);

// Checks metadata.name (or generateName), namespace, labels and annotations at `path`.
FieldErrors validate_object_meta(const Json& metadata, const FieldPath& path);

}  // namespace riasc::schema

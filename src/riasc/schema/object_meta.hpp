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

// Empty when `value` may be a path segment (kube's ValidatePathSegmentName: not "." or "..", no
// '/' or '%'): the names of RBAC objects, such as "system:discovery".
std::string check_path_segment_name(std::string_view value);

// Checks metadata.name (or generateName), namespace, labels and annotations at `path`. Names are
// RFC 1123 subdomains, or with `path_segment_names` only path segments.
FieldErrors validate_object_meta(const Json& metadata, const FieldPath& path,
                                 bool path_segment_names = false);

}  // namespace riasc::schema

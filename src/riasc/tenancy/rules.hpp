#pragma once

// The Project operator's rules as pure functions: names of what it creates, a Project's spec as
// read from the API, and how a pod's nodeSelector meets the project's. No I/O, so the tests
// check them without a server.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "riasc/core/json.hpp"

namespace riasc::tenancy {

// On the namespace (value: the project) and on the RoleBindings the operator made.
inline constexpr std::string_view kProjectLabel = "riasc.eu/project";
inline constexpr std::string_view kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr std::string_view kManagedBy = "riasc";
// On a RoleBinding: the exact user name, which its name may only approximate.
inline constexpr std::string_view kUserAnnotation = "riasc.eu/user";

// "project.riasc.eu/<project>": the node label (value "") and, on nodes the operator labelled,
// an annotation of the same key that says the label is the operator's to remove.
std::string node_label(std::string_view project);

// The RoleBinding of `user`: "admin-<user>" when that is a DNS subdomain (lower-case letters,
// digits, '-', '.'), else "admin-<user, lower-cased, other characters as '-'>-<8 hex digits of
// the user's FNV-1a hash>", at most 253 characters. Readable, safe unquoted in URLs and shells,
// and distinct for distinct users (the hash keeps "Jane" and "jane" apart).
std::string binding_name(std::string_view user);

struct ProjectSpec {
  std::vector<std::string> users;
  std::vector<std::string> nodes;
  Json node_selector = Json::object();    // key → value
  std::optional<std::int64_t> pod_limit;  // spec.limits.pods
};

// Reads a Project's spec; std::invalid_argument naming the field for what the CRD would not
// have admitted (a server without schema validation).
ProjectSpec read_project_spec(const Json& spec);

// What every pod of the project must select: spec.nodeSelector, plus node_label(project) = ""
// when spec.nodes is not empty.
Json project_node_selector(std::string_view project, const ProjectSpec& spec);

// Keys `required` gives a value that `pod_selector` sets differently, as messages naming the key
// and both values; empty when the two agree.
std::vector<std::string> selector_conflicts(const Json& pod_selector, const Json& required);

// Whether a pod counts against spec.limits.pods: not finished (phase Succeeded or Failed) and
// not being deleted.
bool counts_against_limit(const Json& pod);

}  // namespace riasc::tenancy

#pragma once

// Request paths and query parameters of the Kubernetes API, parsed the way kube-apiserver's
// RequestInfoFactory and its query-parameter conversion read them.
//
//   /api/v1/namespaces/ns/pods              collection of a namespaced resource
//   /api/v1/namespaces/ns/pods/name/status  object and subresource
//   /apis/group/version/plural[/name[/sub]] cluster-scoped (or all namespaces, for a list)
//   /api/v1/namespaces[/name[/status|finalize]]  the Namespace objects themselves
//   /api/v1/watch/...                       the old watch prefix (watch = true)
//   /api, /apis, /api/v1, /apis/group, /apis/group/version   discovery
//   /version, /healthz[/...], /livez[/...], /readyz[/...], /metrics, /openapi/v2, /openapi/v3[/...]
//
// Anything else is a PathError (the server answers 404 `the server could not find the requested
// resource`). Which groups, versions and resources exist is for the server to check.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace riasc::kubeapi {

class PathError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A query parameter with a value of the wrong form (answer 400 BadRequest with what()).
class QueryError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct ResourcePath {
  enum class Kind {
    Version,         // /version
    Healthz,         // /healthz[/check]
    Livez,           // /livez[/check]
    Readyz,          // /readyz[/check]
    Metrics,         // /metrics (Prometheus)
    OpenApiV2,       // /openapi/v2
    OpenApiV3,       // /openapi/v3[/rest]
    LegacyVersions,  // /api: APIVersions
    GroupList,       // /apis: APIGroupList
    Group,           // /apis/group: APIGroup
    ResourceList,    // /api/v1, /apis/group/version: APIResourceList
    Resource,        // a resource request (collection or object)
  };

  Kind kind = Kind::Resource;
  // /healthz/ping → "ping"; /openapi/v3/apis/example.com/v1 → "apis/example.com/v1".
  std::string rest;

  std::string group;    // "" for the core group (/api)
  std::string version;  // "v1"
  // The namespace of the request. As in kube-apiserver, /api/v1/namespaces/foo[/status] carries
  // namespace "foo" too (RBAC authorizes a Namespace object in its own namespace); the Namespace
  // object itself is cluster-scoped: key it by name.
  std::string namespace_name;
  std::string resource;       // plural, e.g. "widgets"
  std::string name;           // empty: the collection
  std::string subresource;    // "status", "scale", "finalize", ...
  bool watch_prefix = false;  // /api/v1/watch/...: the deprecated watch form

  [[nodiscard]] bool is_collection() const { return kind == Kind::Resource && name.empty(); }
  // "/apis/example.com/v1" or "/api/v1".
  [[nodiscard]] std::string group_version_path() const;
  // "example.com/v1" or "v1".
  [[nodiscard]] std::string api_version() const;
};

// `path` is the path part of the request target, still percent-encoded; each segment is decoded
// after splitting, so %2F never splits. A trailing '/' is ignored. Throws PathError.
ResourcePath parse_resource_path(std::string_view path);

// The parameters of pods/log (kubectl logs).
struct LogParameters {
  std::string container;  // "" with one container: that one
  bool follow = false;
  bool previous = false;
  bool timestamps = false;
  std::optional<std::int64_t> tail_lines;
  std::optional<std::int64_t> limit_bytes;
  std::optional<std::int64_t> since_seconds;
};

struct QueryParameters {
  bool watch = false;
  std::string resource_version;        // "" = most recent; "0" = any (watch: start with synthetic ADDED)
  std::string resource_version_match;  // NotOlderThan, Exact
  std::optional<std::int64_t> limit;
  std::string continue_token;
  std::string label_selector;
  std::string field_selector;
  bool allow_watch_bookmarks = false;
  std::optional<bool> send_initial_events;
  std::optional<std::int64_t> timeout_seconds;
  std::string timeout;  // "32s" on discovery requests; ignorable
  std::string field_manager;
  std::optional<bool> force;
  std::vector<std::string> dry_run;  // ["All"]
  std::string field_validation;      // Strict, Warn, Ignore ("" = server default)
  std::string propagation_policy;    // Orphan, Background, Foreground
  std::optional<std::int64_t> grace_period_seconds;
  std::string include_object;  // None, Metadata, Object ("" = Metadata); see parse_include_object
  bool pretty = false;
  LogParameters log;
};

// The query string without the '?'. `+` is a space and %XX is decoded (Go's url.ParseQuery);
// the first of repeated parameters wins (all of them for dryRun); unknown ones are ignored.
// Booleans follow kube-apiserver's lenient conversion: absent, "false" (any case) and "0" are
// false, anything else (also "True", "1" and an empty value) is true. Throws QueryError for a
// malformed %-escape or a number that does not parse.
QueryParameters parse_query(std::string_view query);

struct RequestTarget {
  ResourcePath path;
  QueryParameters query;
};

// "/apis/g/v/namespaces/ns/widgets?watch=true": both parts. Throws PathError or QueryError.
RequestTarget parse_request_target(std::string_view target);

// %XX decoding; with `plus_is_space`, '+' becomes ' ' (query strings). nullopt for a malformed
// escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

}  // namespace riasc::kubeapi

#pragma once

// meta/v1 Status objects for error (and delete) responses, with the messages, reasons, codes and
// details kube-apiserver gives (k8s.io/apimachinery/pkg/api/errors), so kubectl prints
// `Error from server (NotFound): widgets.example.com "w" not found` and clients that branch on
// reason or code behave as against a real cluster.
//
// Members come in Go's order (kind, apiVersion, metadata, status, message, reason, details, code)
// and, as in Go, empty members of details and causes are left out.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "riasc/core/field_error.hpp"
#include "riasc/core/json.hpp"

namespace riasc::kubeapi {

// "widgets" in "example.com": printed "widgets.example.com"; core resources just "namespaces".
struct GroupResource {
  std::string group;
  std::string resource;
  [[nodiscard]] std::string to_string() const;
};

// "Widget" in "example.com": printed "Widget.example.com"; core kinds just "Namespace".
struct GroupKind {
  std::string group;
  std::string kind;
  [[nodiscard]] std::string to_string() const;
};

// The message of Conflict for a stale resourceVersion (storage.OptimisticLockErrorMsg).
inline constexpr std::string_view kOptimisticLockMessage =
    "the object has been modified; please apply your changes to the latest version and try again";

// 404 `widgets.example.com "w" not found`; details {name, group, kind: <resource>}.
Json status_not_found(const GroupResource& resource, std::string_view name);
// 404 `the server could not find the requested resource`, for paths nothing serves.
Json status_path_not_found();
// 409 AlreadyExists `widgets.example.com "w" already exists`.
Json status_already_exists(const GroupResource& resource, std::string_view name);
// 409 Conflict `Operation cannot be fulfilled on widgets.example.com "w": <why>`.
Json status_conflict(const GroupResource& resource, std::string_view name,
                     std::string_view why = kOptimisticLockMessage);
// 422 Invalid `Widget.example.com "w" is invalid: spec.size: Invalid value: 7: ...`; one cause per
// error {reason FieldValueInvalid|FieldValueRequired|..., message without the field, field}.
// Several distinct messages are joined as "[a, b]".
Json status_invalid(const GroupKind& kind, std::string_view name, const FieldErrors& errors);
// 400 BadRequest with `message`.
Json status_bad_request(std::string_view message);
// 400 BadRequest for unknown fields with fieldValidation=Strict, as kube-apiserver words it:
// `Widget in version "v1" cannot be handled as a Widget: strict decoding error: unknown field
// "spec.foo", unknown field "spec.bar"`. `fields` are dotted paths.
Json status_strict_decoding_error(std::string_view kind, std::string_view version,
                                  const std::vector<std::string>& fields);
// 405 MethodNotAllowed `<action> is not supported on resources of kind "widgets.example.com"`.
Json status_method_not_allowed(const GroupResource& resource, std::string_view action);
// 415 UnsupportedMediaType `the body of the request was in an unknown format - accepted media
// types include: a, b`.
Json status_unsupported_media_type(const std::vector<std::string>& accepted);
// 415 UnsupportedMediaType with an own message (e.g. an undecodable protobuf kind).
Json status_unsupported_media_type(std::string_view message);
// 413 RequestEntityTooLarge `Request entity too large: <what>` (kube-apiserver: "limit is 3145728").
Json status_request_entity_too_large(std::string_view what);
// 410 Expired with `message`: what watch and list answer for compacted revisions.
Json status_expired(std::string_view message);
// 410 Expired `too old resource version: 5 (10)`: a watch from `requested` when the oldest
// revision still available is `oldest_available` + 1 (kube-apiserver's watch cache wording).
Json status_too_old_resource_version(std::int64_t requested, std::int64_t oldest_available);
// 410 Expired for a list continue token whose revision was compacted.
Json status_continue_expired();
// 410 Gone with `message`.
Json status_gone(std::string_view message);
// 403 Forbidden `<resource> "<name>" is forbidden: <why>` (without name: `<resource> is
// forbidden: <why>`); details {name, group, kind: <resource>}.
Json status_forbidden(const GroupResource& resource, std::string_view name, std::string_view why);
// The RBAC denial text kube-apiserver puts in `why`:
//   User "alice" cannot list resource "pods" in API group "" in the namespace "default"
//   User "alice" cannot get resource "nodes" in API group "" at the cluster scope
struct AccessAttributes {
  std::string user;
  std::string verb;
  std::string group;
  std::string resource;
  std::string subresource;
  std::string namespace_name;
  std::string name;
  std::string path;  // non-resource requests: /healthz, /metrics ...; resource empty
};
std::string forbidden_reason(const AccessAttributes& attributes);
// 403 for a denied request: status_forbidden with forbidden_reason(), or for a non-resource
// request `forbidden: User "alice" cannot get path "/metrics"`.
Json status_forbidden(const AccessAttributes& attributes);
// 401 Unauthorized, message "Unauthorized".
Json status_unauthorized();
// 500 InternalError `Internal error occurred: <error>`; details.causes [{message: <error>}].
Json status_internal_error(std::string_view error);
// 200 Success, as DELETE may answer: details {name, group, kind: <resource>, uid}.
Json status_success(const GroupResource& resource, std::string_view name, std::string_view uid);

// The HTTP status of a Status object (its "code").
int status_code(const Json& status);

}  // namespace riasc::kubeapi

#include "riasc/kubeapi/status.hpp"

#include "riasc/core/go_quote.hpp"

#include <fmt/format.h>

#include <set>
#include <utility>

namespace riasc::kubeapi {

namespace {

struct Details {
  std::string name;
  std::string group;
  std::string kind;
  std::string uid;
  Json causes;  // null or array
};

Json details_json(const Details& details) {
  Json out = Json::object();
  if (!details.name.empty()) out["name"] = details.name;
  if (!details.group.empty()) out["group"] = details.group;
  if (!details.kind.empty()) out["kind"] = details.kind;
  if (!details.uid.empty()) out["uid"] = details.uid;
  if (details.causes.is_array() && !details.causes.empty()) out["causes"] = details.causes;
  return out;
}

Json make_status(int code, std::string_view reason, std::string_view message, const Details* details,
                 std::string_view status = "Failure") {
  Json out = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", Json::object()}, {"status", status}};
  if (!message.empty()) out["message"] = message;
  if (!reason.empty()) out["reason"] = reason;
  if (details != nullptr) out["details"] = details_json(*details);
  if (code != 0) out["code"] = code;
  return out;
}

Details resource_details(const GroupResource& resource, std::string_view name) {
  return Details{std::string(name), resource.group, resource.resource, {}, nullptr};
}

std::string_view cause_type(FieldError::Type type) {
  switch (type) {
    case FieldError::Type::Required:
      return "FieldValueRequired";
    case FieldError::Type::Invalid:
      return "FieldValueInvalid";
    case FieldError::Type::NotSupported:
      return "FieldValueNotSupported";
    case FieldError::Type::Duplicate:
      return "FieldValueDuplicate";
    case FieldError::Type::TooLong:
      return "FieldValueTooLong";
    case FieldError::Type::TooMany:
      return "FieldValueTooMany";
    case FieldError::Type::Forbidden:
      return "FieldValueForbidden";
    case FieldError::Type::Unknown:
      // Kubernetes has no field error type for this: it reports unknown fields as a strict
      // decoding error (status_strict_decoding_error). Inside an Invalid they are invalid values.
      return "FieldValueInvalid";
  }
  return "FieldValueInvalid";
}

}  // namespace

std::string GroupResource::to_string() const { return group.empty() ? resource : resource + "." + group; }

std::string GroupKind::to_string() const { return group.empty() ? kind : kind + "." + group; }

Json status_not_found(const GroupResource& resource, std::string_view name) {
  Details details = resource_details(resource, name);
  return make_status(404, "NotFound", fmt::format("{} {} not found", resource.to_string(), go_quote(name)),
                     &details);
}

Json status_path_not_found() {
  Details details;
  return make_status(404, "NotFound", "the server could not find the requested resource", &details);
}

Json status_already_exists(const GroupResource& resource, std::string_view name) {
  Details details = resource_details(resource, name);
  return make_status(409, "AlreadyExists",
                     fmt::format("{} {} already exists", resource.to_string(), go_quote(name)), &details);
}

Json status_conflict(const GroupResource& resource, std::string_view name, std::string_view why) {
  Details details = resource_details(resource, name);
  return make_status(
      409, "Conflict",
      fmt::format("Operation cannot be fulfilled on {} {}: {}", resource.to_string(), go_quote(name), why),
      &details);
}

Json status_invalid(const GroupKind& kind, std::string_view name, const FieldErrors& errors) {
  Details details{std::string(name), kind.group, kind.kind, {}, Json::array()};
  // errors.NewInvalid: one cause per error; the message lists each distinct error once.
  std::vector<std::string> messages;
  std::set<std::string> seen;
  for (const auto& error : errors) {
    FieldError without_path = error;
    without_path.path = FieldPath();
    Json cause = {{"reason", cause_type(error.type)}, {"message", without_path.to_string()}};
    if (!error.path.empty()) cause["field"] = error.path.to_string();
    details.causes.push_back(std::move(cause));
    std::string message = error.to_string();
    if (seen.insert(message).second) messages.push_back(std::move(message));
  }
  std::string message = fmt::format("{} {} is invalid", kind.to_string(), go_quote(name));
  if (messages.size() == 1) {
    message += ": " + messages.front();
  } else if (messages.size() > 1) {
    message += ": [";
    for (std::size_t i = 0; i < messages.size(); ++i) message += (i > 0 ? ", " : "") + messages[i];
    message += "]";
  }
  return make_status(422, "Invalid", message, &details);
}

Json status_bad_request(std::string_view message) { return make_status(400, "BadRequest", message, nullptr); }

Json status_strict_decoding_error(std::string_view kind, std::string_view version,
                                  const std::vector<std::string>& fields) {
  std::string unknown;
  for (const auto& field : fields) {
    if (!unknown.empty()) unknown += ", ";
    unknown += "unknown field " + go_quote(field);
  }
  return status_bad_request(
      fmt::format("{} in version {} cannot be handled as a {}: strict decoding error: {}", kind,
                  go_quote(version), kind, unknown));
}

Json status_method_not_allowed(const GroupResource& resource, std::string_view action) {
  Details details = resource_details(resource, "");
  return make_status(
      405, "MethodNotAllowed",
      fmt::format("{} is not supported on resources of kind {}", action, go_quote(resource.to_string())),
      &details);
}

Json status_unsupported_media_type(const std::vector<std::string>& accepted) {
  std::string list;
  for (const auto& type : accepted) list += (list.empty() ? "" : ", ") + type;
  return status_unsupported_media_type(
      "the body of the request was in an unknown format - accepted media types include: " + list);
}

Json status_unsupported_media_type(std::string_view message) {
  return make_status(415, "UnsupportedMediaType", message, nullptr);
}

Json status_request_entity_too_large(std::string_view what) {
  return make_status(413, "RequestEntityTooLarge", fmt::format("Request entity too large: {}", what),
                     nullptr);
}

Json status_expired(std::string_view message) { return make_status(410, "Expired", message, nullptr); }

Json status_too_old_resource_version(std::int64_t requested, std::int64_t oldest_available) {
  return status_expired(fmt::format("too old resource version: {} ({})", requested, oldest_available));
}

Json status_continue_expired() {
  return status_expired(
      "The provided continue parameter is too old to display a consistent list result. You can start a new "
      "list without the continue parameter, or use the continue token in this response to retrieve the "
      "remainder of the results. Continuing with the provided token results in an inconsistent list - "
      "objects "
      "that were created, modified, or deleted between the time the first chunk was returned and now may "
      "show "
      "up in the list.");
}

Json status_gone(std::string_view message) { return make_status(410, "Gone", message, nullptr); }

Json status_forbidden(const GroupResource& resource, std::string_view name, std::string_view why) {
  std::string message;
  if (resource.group.empty() && resource.resource.empty()) {
    message = fmt::format("forbidden: {}", why);
  } else if (name.empty()) {
    message = fmt::format("{} is forbidden: {}", resource.to_string(), why);
  } else {
    message = fmt::format("{} {} is forbidden: {}", resource.to_string(), go_quote(name), why);
  }
  Details details = resource_details(resource, name);
  return make_status(403, "Forbidden", message, &details);
}

std::string forbidden_reason(const AccessAttributes& a) {
  if (a.resource.empty()) {
    return fmt::format("User {} cannot {} path {}", go_quote(a.user), a.verb, go_quote(a.path));
  }
  std::string resource = a.subresource.empty() ? a.resource : a.resource + "/" + a.subresource;
  if (!a.namespace_name.empty()) {
    return fmt::format("User {} cannot {} resource {} in API group {} in the namespace {}", go_quote(a.user),
                       a.verb, go_quote(resource), go_quote(a.group), go_quote(a.namespace_name));
  }
  return fmt::format("User {} cannot {} resource {} in API group {} at the cluster scope", go_quote(a.user),
                     a.verb, go_quote(resource), go_quote(a.group));
}

Json status_forbidden(const AccessAttributes& attributes) {
  return status_forbidden(GroupResource{attributes.group, attributes.resource}, attributes.name,
                          forbidden_reason(attributes));
}

Json status_unauthorized() { return make_status(401, "Unauthorized", "Unauthorized", nullptr); }

Json status_internal_error(std::string_view error) {
  Details details;
  details.causes = Json::array({Json{{"message", error}}});
  return make_status(500, "InternalError", fmt::format("Internal error occurred: {}", error), &details);
}

Json status_success(const GroupResource& resource, std::string_view name, std::string_view uid) {
  Details details = resource_details(resource, name);
  details.uid = uid;
  return make_status(0, "", "", &details, "Success");
}

int status_code(const Json& status) {
  auto it = status.find("code");
  return it != status.end() && it->is_number_integer() ? it->get<int>() : 0;
}

}  // namespace riasc::kubeapi

#include "riasc/apiserver/webhook_admission.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <variant>

#include "riasc/core/base64.hpp"
#include "riasc/core/go_quote.hpp"
#include "riasc/core/label_selector.hpp"
#include "riasc/http/client.hpp"
#include "riasc/kubeapi/status.hpp"

namespace riasc::apiserver {

namespace {

constexpr std::string_view kGroup = "admissionregistration.k8s.io";
constexpr std::string_view kMutating = "mutatingwebhookconfigurations";
constexpr std::string_view kValidating = "validatingwebhookconfigurations";
constexpr int kDefaultTimeoutSeconds = 10;
constexpr int kMaxTimeoutSeconds = 30;

// --- URLs ---------------------------------------------------------------------------------

struct WebhookUrl {
  std::string host;
  std::uint16_t port = 443;
  std::string path = "/";
};

// clientConfig.url: https://host[:port][/path], without user information, query or fragment (as
// kube-apiserver's ValidateWebhookURL). The problem in kube-apiserver's words when it is not.
std::variant<WebhookUrl, std::string> parse_webhook_url(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string("'https' is the only allowed URL scheme");
  if (url.substr(0, scheme_end + 3) != kScheme) return std::string("'https' is the only allowed URL scheme");
  std::string_view rest = url.substr(kScheme.size());
  if (rest.find('#') != std::string_view::npos) return std::string("fragments are not permitted in the URL");
  if (rest.find('?') != std::string_view::npos)
    return std::string("query parameters are not permitted in the URL");
  const auto path_start = rest.find('/');
  const std::string_view authority = rest.substr(0, path_start);
  WebhookUrl parsed;
  if (path_start != std::string_view::npos) parsed.path = std::string(rest.substr(path_start));
  if (authority.find('@') != std::string_view::npos)
    return std::string("user information is not permitted in the URL");
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {  // an IPv6 address
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::string("host must be specified");
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return std::string("host must be specified");
      port = authority.substr(close + 2);
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return std::string("host must be specified");
  parsed.host = std::string(host);
  if (!port.empty()) {
    unsigned value = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || value > 65535) return fmt::format("invalid port {}", go_quote(port));
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return fmt::format("invalid port {}", go_quote(port));
    parsed.port = static_cast<std::uint16_t>(value);
  }
  return parsed;
}

// --- matching -------------------------------------------------------------------------------

bool is_namespaces(const ResourceType& type) { return type.group.empty() && type.resource == "namespaces"; }

std::string_view operation_name(AdmissionOperation operation) {
  switch (operation) {
    case AdmissionOperation::Create:
      return "CREATE";
    case AdmissionOperation::Update:
      return "UPDATE";
    case AdmissionOperation::Delete:
      return "DELETE";
  }
  return "";
}

// Whether a rule's list holds `value` or the wildcard "*".
bool listed(const Json& rule, const char* member, std::string_view value) {
  const Json list = rule.value(member, Json::array());
  if (!list.is_array()) return false;
  return std::any_of(list.begin(), list.end(), [&](const Json& entry) {
    return entry.is_string() &&
           (entry.get_ref<const std::string&>() == "*" || entry.get_ref<const std::string&>() == value);
  });
}

// One RuleWithOperations, as kube-apiserver's rules.Matcher: "*" is every resource but no
// subresource, "*/*" everything, "pods/status" and "*/status" a subresource.
bool rule_matches(const Json& rule, const AdmissionAttributes& attributes) {
  const ResourceType& type = *attributes.type;
  if (!listed(rule, "operations", operation_name(attributes.operation)) ||
      !listed(rule, "apiGroups", type.group) || !listed(rule, "apiVersions", type.version)) {
    return false;
  }
  bool resource_matches = false;
  for (const auto& entry : rule.value("resources", Json::array())) {
    if (!entry.is_string()) continue;
    const std::string& pattern = entry.get_ref<const std::string&>();
    const auto slash = pattern.find('/');
    const std::string resource = pattern.substr(0, slash);
    const std::string subresource = slash == std::string::npos ? "" : pattern.substr(slash + 1);
    if ((resource == "*" || resource == type.resource) &&
        (subresource == "*" || subresource == attributes.subresource)) {
      resource_matches = true;
      break;
    }
  }
  if (!resource_matches) return false;
  const std::string scope = string_member(rule, "scope", "*");
  // A Namespace is cluster-scoped, whatever namespace its request names.
  const bool cluster = is_namespaces(type) || attributes.namespace_name.empty();
  if (scope == "Namespaced") return !cluster;
  if (scope == "Cluster") return cluster;
  return scope == "*";
}

struct Webhook {
  std::string configuration;  // the configuration's name
  Json spec;                  // one entry of .webhooks
  LabelSelector namespace_selector;
  LabelSelector object_selector;

  [[nodiscard]] std::string name() const { return string_member(spec, "name"); }
};

// What a call to a webhook can fail with, short of its answer: failurePolicy decides.
class CallFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

ApiError internal_error(const std::string& message) { return {kubeapi::status_internal_error(message)}; }

// A denial as kube-apiserver's webhookerrors.ToStatusErr makes it: the webhook's Status with a
// code of at least 400 and the message prefixed with who denied it.
ApiError denial(const std::string& webhook, const Json& result) {
  Json status = result.is_object() ? result : Json::object();
  const std::string denied_by = fmt::format("admission webhook {} denied the request", go_quote(webhook));
  int code = status.contains("code") && status["code"].is_number_integer() ? status["code"].get<int>() : 0;
  if (code < 400) code = 400;
  std::string message = string_member(status, "message");
  const std::string reason = string_member(status, "reason");
  if (!message.empty()) {
    message = fmt::format("{}: {}", denied_by, message);
  } else if (!reason.empty()) {
    message = fmt::format("{}: {}", denied_by, reason);
  } else {
    message = denied_by + " without explanation";
  }
  Json answer = {{"kind", "Status"},
                 {"apiVersion", "v1"},
                 {"metadata", Json::object()},
                 {"status", "Failure"},
                 {"message", message}};
  if (!reason.empty()) answer["reason"] = reason;
  if (status.contains("details")) answer["details"] = status["details"];
  answer["code"] = code;
  return {answer};
}

// Sends the review to the webhook and returns its `response`, checked as kube-apiserver's
// VerifyAdmissionResponse does. Throws CallFailure.
Json call(const Webhook& webhook, const Json& review, const std::string& uid) {
  const Json client_config = webhook.spec.value("clientConfig", Json::object());
  const std::string url = string_member(client_config, "url");
  if (url.empty()) {
    throw CallFailure(
        "failed to call webhook: clientConfig.service cannot be reached: the embedded API server has no "
        "Service network; give the webhook a clientConfig.url");
  }
  auto parsed = parse_webhook_url(url);
  if (auto* problem = std::get_if<std::string>(&parsed)) {
    throw CallFailure(fmt::format("failed to call webhook: invalid URL {}: {}", go_quote(url), *problem));
  }
  const auto& target = std::get<WebhookUrl>(parsed);
  const Json timeout_seconds = webhook.spec.value("timeoutSeconds", Json(kDefaultTimeoutSeconds));
  const std::int64_t timeout =
      timeout_seconds.is_number_integer()
          ? std::clamp<std::int64_t>(timeout_seconds.get<std::int64_t>(), 1, kMaxTimeoutSeconds)
          : kDefaultTimeoutSeconds;
  http::ClientOptions options;
  options.host = target.host;
  options.port = target.port;
  options.timeout = std::chrono::seconds(timeout);
  const std::string ca_bundle = string_member(client_config, "caBundle");
  if (!ca_bundle.empty()) {
    auto pem = base64_decode(ca_bundle);
    if (!pem) throw CallFailure("failed to call webhook: clientConfig.caBundle is not base64");
    options.ca_pem = std::move(*pem);
  }
  // kube-apiserver tells the webhook its time limit in the query, as we do.
  const std::string path = fmt::format("{}?timeout={}s", target.path, timeout);
  http::Response response;
  try {
    // A client per call: a webhook is called once per matching write, and a kept connection would
    // be one more thing to go stale between writes.
    http::Client client(options);
    response = client.request("POST", path, review.dump(),
                              {{"Content-Type", "application/json"}, {"Accept", "application/json"}});
  } catch (const std::exception& error) {
    throw CallFailure(fmt::format("failed to call webhook: Post {}: {}",
                                  go_quote(fmt::format("{}?timeout={}s", url, timeout)), error.what()));
  }
  if (response.status < 200 || response.status > 299) {
    throw CallFailure(fmt::format("failed to call webhook: the server responded with status {}: {}",
                                  response.status, response.body.substr(0, 256)));
  }
  Json answer = Json::parse(response.body, nullptr, false);
  if (!answer.is_object())
    throw CallFailure("received invalid webhook response: the body is not a JSON object");
  if (string_member(answer, "apiVersion") != "admission.k8s.io/v1" ||
      string_member(answer, "kind") != "AdmissionReview") {
    throw CallFailure(
        fmt::format("received invalid webhook response: expected webhook response of admission.k8s.io/v1, "
                    "Kind=AdmissionReview, got {}, Kind={}",
                    string_member(answer, "apiVersion"), string_member(answer, "kind")));
  }
  Json result = answer.value("response", Json());
  if (!result.is_object()) throw CallFailure("received invalid webhook response: response is missing");
  if (string_member(result, "uid") != uid) {
    throw CallFailure(fmt::format("received invalid webhook response: expected response.uid={}, got {}",
                                  go_quote(uid), go_quote(string_member(result, "uid"))));
  }
  if (!result.value("allowed", Json()).is_boolean())
    throw CallFailure("received invalid webhook response: response.allowed is missing");
  const std::string patch = string_member(result, "patch");
  const std::string patch_type = string_member(result, "patchType");
  if (!patch.empty() && patch_type.empty())
    throw CallFailure(
        "received invalid webhook response: webhook returned response.patch but not response.patchType");
  if (!patch_type.empty() && patch_type != "JSONPatch") {
    throw CallFailure(fmt::format(
        "received invalid webhook response: unsupported patchType {}: only JSONPatch", go_quote(patch_type)));
  }
  return result;
}

// The AdmissionReview a webhook is sent (admission.k8s.io/v1).
Json review(const AdmissionAttributes& attributes, const Json* object, const Json* old_object,
            const std::string& uid) {
  const ResourceType& type = *attributes.type;
  const Json kind = {{"group", type.group}, {"version", type.version}, {"kind", type.kind}};
  const Json resource = {{"group", type.group}, {"version", type.version}, {"resource", type.resource}};
  Json request = {{"uid", uid}, {"kind", kind}, {"resource", resource}};
  if (!attributes.subresource.empty()) request["subResource"] = attributes.subresource;
  request["requestKind"] = kind;
  request["requestResource"] = resource;
  if (!attributes.subresource.empty()) request["requestSubResource"] = attributes.subresource;
  if (!attributes.name.empty()) request["name"] = attributes.name;
  // kube-apiserver names a Namespace's own request after it (but a create, whose URL has no name).
  const std::string namespace_name = is_namespaces(type) && attributes.operation != AdmissionOperation::Create
                                         ? attributes.name
                                         : attributes.namespace_name;
  if (!namespace_name.empty()) request["namespace"] = namespace_name;
  request["operation"] = operation_name(attributes.operation);
  if (attributes.user && attributes.user->has_value()) {
    const UserInfo& user = **attributes.user;
    request["userInfo"] = {{"username", user.username}, {"groups", user.groups}};
  } else {
    // The server's own writes (garbage collection): kube-apiserver's loopback identity.
    request["userInfo"] = {{"username", "system:apiserver"},
                           {"groups", Json::array({"system:authenticated", "system:masters"})}};
  }
  request["object"] = object ? *object : Json();
  request["oldObject"] = old_object ? *old_object : Json();
  request["dryRun"] = attributes.dry_run;
  request["options"] = attributes.options;
  return {
      {"apiVersion", "admission.k8s.io/v1"}, {"kind", "AdmissionReview"}, {"request", std::move(request)}};
}

}  // namespace

// --- WebhookAdmission ---------------------------------------------------------------------------

struct WebhookAdmission::Snapshot {
  std::vector<Webhook> mutating;
  std::vector<Webhook> validating;
};

WebhookAdmission::WebhookAdmission(store::Store& store, const ResourceRegistry& registry)
    : store_(store), registry_(registry) {}

WebhookAdmission::~WebhookAdmission() = default;

void WebhookAdmission::configurations_changed() { snapshot_.invalidate(); }

bool WebhookAdmission::exempt(const ResourceType& type) {
  return type.group == kGroup &&
         (type.resource == kMutating || type.resource == kValidating ||
          type.resource == "validatingadmissionpolicies" ||
          type.resource == "validatingadmissionpolicybindings" ||
          type.resource == "mutatingadmissionpolicies" || type.resource == "mutatingadmissionpolicybindings");
}

std::shared_ptr<const WebhookAdmission::Snapshot> WebhookAdmission::snapshot() {
  return snapshot_.get([this] { return read_configurations(); });
}

WebhookAdmission::Snapshot WebhookAdmission::read_configurations() const {
  Snapshot made;
  for (const bool mutating : {true, false}) {
    auto type = registry_.find(kGroup, "v1", mutating ? kMutating : kValidating);
    if (!type) continue;
    // Keys end in the configuration's name: the store lists them in name order.
    for (const auto& record : store_.list(type->key_prefix()).records) {
      const Json configuration = Json::parse(*record.value);
      const std::string name = string_member(configuration.value("metadata", Json::object()), "name");
      const Json webhooks = configuration.value("webhooks", Json::array());
      if (!webhooks.is_array()) continue;
      for (const auto& spec : webhooks) {
        Webhook webhook{name, spec, {}, {}};
        // Stored configurations were validated; a selector that still fails matches nothing.
        FieldErrors ignored;
        if (spec.contains("namespaceSelector"))
          webhook.namespace_selector = LabelSelector::from_json(spec["namespaceSelector"], {}, ignored);
        if (spec.contains("objectSelector"))
          webhook.object_selector = LabelSelector::from_json(spec["objectSelector"], {}, ignored);
        (mutating ? made.mutating : made.validating).push_back(std::move(webhook));
      }
    }
  }
  return made;
}

std::optional<ApiError> WebhookAdmission::mutate(const AdmissionAttributes& attributes, Json* object,
                                                 const Json* old_object) {
  return run(true, attributes, object, old_object, object);
}

std::optional<ApiError> WebhookAdmission::validate(const AdmissionAttributes& attributes, const Json* object,
                                                   const Json* old_object) {
  return run(false, attributes, object, old_object, nullptr);
}

std::optional<ApiError> WebhookAdmission::run(bool mutating, const AdmissionAttributes& attributes,
                                              const Json* object, const Json* old_object,
                                              Json* patch_target) {
  if (exempt(*attributes.type)) return std::nullopt;
  const auto webhooks = snapshot();
  const ResourceType& type = *attributes.type;
  std::optional<Json> namespace_labels;  // read once, when a namespaceSelector needs them
  for (const Webhook& webhook : mutating ? webhooks->mutating : webhooks->validating) {
    const Json rules = webhook.spec.value("rules", Json::array());
    if (!std::any_of(rules.begin(), rules.end(),
                     [&](const Json& rule) { return rule.is_object() && rule_matches(rule, attributes); })) {
      continue;
    }
    // namespaceSelector, as kube-apiserver's namespace matcher: never exempts cluster-scoped
    // objects; a Namespace being created or updated is matched by its own labels.
    if (!webhook.namespace_selector.empty() && (!attributes.namespace_name.empty() || is_namespaces(type))) {
      if (!namespace_labels) {
        if (is_namespaces(type) && attributes.subresource.empty() &&
            attributes.operation != AdmissionOperation::Delete && object) {
          namespace_labels = object->value("metadata", Json::object()).value("labels", Json());
        } else {
          const std::string name = is_namespaces(type) ? attributes.name : attributes.namespace_name;
          auto namespaces = registry_.find("", "v1", "namespaces");
          auto record = namespaces ? store_.get(namespaces->key({}, name)) : std::nullopt;
          namespace_labels =
              record ? Json::parse(*record->value)["metadata"].value("labels", Json()) : Json();
        }
      }
      if (!webhook.namespace_selector.matches(*namespace_labels)) continue;
    }
    // objectSelector: the new object's labels or the old one's.
    if (!webhook.object_selector.empty() &&
        !((object && webhook.object_selector.matches_object(*object)) ||
          (old_object && webhook.object_selector.matches_object(*old_object)))) {
      continue;
    }
    const std::string name = webhook.name();
    const std::string side_effects = string_member(webhook.spec, "sideEffects");
    if (attributes.dry_run && side_effects != "None" && side_effects != "NoneOnDryRun") {
      return ApiError{kubeapi::status_bad_request(
          fmt::format("admission webhook {} does not support dry run", go_quote(name)))};
    }
    const std::string uid = new_uid();
    Json result;
    try {
      result = call(webhook, review(attributes, object, old_object, uid), uid);
    } catch (const CallFailure& failure) {
      const std::string message =
          fmt::format("failed calling webhook {}: {}", go_quote(name), failure.what());
      if (string_member(webhook.spec, "failurePolicy", "Fail") == "Ignore") {
        fmt::print(stderr, "admission: {} (failurePolicy Ignore: the request goes on)\n", message);
        continue;
      }
      return internal_error(message);
    }
    if (attributes.warnings) {
      for (const auto& warning : result.value("warnings", Json::array())) {
        if (warning.is_string()) attributes.warnings->push_back(warning.get<std::string>());
      }
    }
    if (!result["allowed"].get<bool>()) return denial(name, result.value("status", Json()));
    const std::string patch_text = string_member(result, "patch");
    if (!mutating || patch_text.empty()) continue;
    // The patch engine of PATCH requests with application/json-patch+json (RFC 6902).
    auto decoded = base64_decode(patch_text);
    Json patch = decoded ? Json::parse(*decoded, nullptr, false) : Json();
    if (!patch.is_array()) {
      return internal_error(fmt::format(
          "admission webhook {} returned a patch that is not a JSON Patch array", go_quote(name)));
    }
    if (patch.empty()) continue;
    if (!patch_target) {
      return internal_error(fmt::format(
          "admission webhook {} attempted to modify the object, which is not supported for this operation",
          go_quote(name)));
    }
    Json patched;
    try {
      patched = patch_target->patch(patch);
    } catch (const Json::exception& error) {
      return internal_error(fmt::format("admission webhook {} returned a patch that cannot be applied: {}",
                                        go_quote(name), error.what()));
    }
    if (!patched.is_object()) {
      return internal_error(
          fmt::format("admission webhook {} returned a patch that leaves no object", go_quote(name)));
    }
    *patch_target = std::move(patched);
  }
  return std::nullopt;
}

// --- validation of the configurations -------------------------------------------------------------

namespace {

using Type = FieldError::Type;

std::string quoted_list(const std::vector<std::string_view>& values) {
  std::string out;
  for (const auto& value : values) out += fmt::format("{}{}", out.empty() ? "" : ", ", go_quote(value));
  return out;
}

// An enumerated string member: defaulted when absent, else one of `values`.
void check_enum(Json& object, const FieldPath& at, const char* member,
                const std::vector<std::string_view>& values, const char* fallback, FieldErrors& errors) {
  if (!object.contains(member) || object[member].is_null()) {
    if (fallback) {
      object[member] = fallback;
    } else {
      errors.push_back({Type::Required, at.child(member), nullptr,
                        fmt::format("must specify one of {}", fmt::join(values, ", "))});
    }
    return;
  }
  const Json& value = object[member];
  if (!value.is_string() ||
      std::find(values.begin(), values.end(), value.get<std::string>()) == values.end()) {
    errors.push_back({Type::NotSupported, at.child(member), value,
                      fmt::format("supported values: {}", quoted_list(values))});
  }
}

// A list of strings in a rule: required, no empty entries, "*" alone.
void check_rule_list(const Json& rule, const FieldPath& at, const char* member, const char* what,
                     FieldErrors& errors) {
  const Json list = rule.value(member, Json());
  if (!list.is_array() || list.empty()) {
    errors.push_back({Type::Required, at.child(member), nullptr, ""});
    return;
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_string()) {
      errors.push_back({Type::Invalid, at.child(member).index(i), list[i], "must be a string"});
    } else if (list[i].get<std::string>().empty() && std::string_view(member) != "apiGroups") {
      errors.push_back({Type::Required, at.child(member).index(i), nullptr, ""});
    }
  }
  if (list.size() > 1 && std::find(list.begin(), list.end(), "*") != list.end()) {
    errors.push_back({Type::Invalid, at.child(member), list,
                      fmt::format("if '*' is present, must not specify other {}", what)});
  }
}

void check_rule(Json& rule, const FieldPath& at, FieldErrors& errors) {
  if (!rule.is_object()) {
    errors.push_back({Type::Invalid, at, rule, "must be an object"});
    return;
  }
  check_rule_list(rule, at, "operations", "operations", errors);
  static const std::vector<std::string_view> kOperations = {"*", "CONNECT", "CREATE", "DELETE", "UPDATE"};
  const Json operations = rule.value("operations", Json::array());
  for (std::size_t i = 0; operations.is_array() && i < operations.size(); ++i) {
    if (operations[i].is_string() && std::find(kOperations.begin(), kOperations.end(),
                                               operations[i].get<std::string>()) == kOperations.end()) {
      errors.push_back({Type::NotSupported, at.child("operations").index(i), operations[i],
                        fmt::format("supported values: {}", quoted_list(kOperations))});
    }
  }
  check_rule_list(rule, at, "apiGroups", "API groups", errors);
  check_rule_list(rule, at, "apiVersions", "API versions", errors);
  check_rule_list(rule, at, "resources", "resources", errors);
  const Json resources = rule.value("resources", Json::array());
  if (resources.is_array() && resources.size() > 1 &&
      std::find(resources.begin(), resources.end(), "*/*") != resources.end()) {
    errors.push_back({Type::Invalid, at.child("resources"), resources,
                      "if '*/*' is present, must not specify other resources"});
  }
  check_enum(rule, at, "scope", {"*", "Cluster", "Namespaced"}, "*", errors);
}

void check_client_config(Json& webhook, const FieldPath& webhook_path, FieldErrors& errors) {
  const FieldPath at = webhook_path.child("clientConfig");
  if (!webhook["clientConfig"].is_object()) {
    errors.push_back({Type::Required, at, nullptr, "exactly one of url or service is required"});
    return;
  }
  Json& config = webhook["clientConfig"];
  const bool has_url = config.contains("url") && !config["url"].is_null();
  const bool has_service = config.contains("service") && !config["service"].is_null();
  if (has_url == has_service) {
    errors.push_back({Type::Required, at, nullptr, "exactly one of url or service is required"});
    return;
  }
  if (has_url) {
    const Json& url = config["url"];
    auto parsed = url.is_string() ? parse_webhook_url(url.get<std::string>())
                                  : std::variant<WebhookUrl, std::string>(std::string("must be a string"));
    if (auto* problem = std::get_if<std::string>(&parsed))
      errors.push_back({Type::Invalid, at.child("url"), url, *problem});
  } else {
    Json& service = config["service"];
    const FieldPath service_path = at.child("service");
    if (!service.is_object()) {
      errors.push_back({Type::Invalid, service_path, service, "must be an object"});
    } else {
      if (string_member(service, "namespace").empty())
        errors.push_back(
            {Type::Required, service_path.child("namespace"), nullptr, "service namespace is required"});
      if (string_member(service, "name").empty())
        errors.push_back({Type::Required, service_path.child("name"), nullptr, "service name is required"});
      if (!service.contains("port")) service["port"] = 443;
      if (!service["port"].is_number_integer() || service["port"].get<std::int64_t>() < 1 ||
          service["port"].get<std::int64_t>() > 65535) {
        errors.push_back({Type::Invalid, service_path.child("port"), service["port"],
                          "port is not valid: must be between 1 and 65535, inclusive"});
      }
      const std::string path = string_member(service, "path");
      if (service.contains("path") && !path.starts_with('/'))
        errors.push_back(
            {Type::Invalid, service_path.child("path"), service["path"], "must start with a '/'"});
    }
  }
  if (config.contains("caBundle") && !config["caBundle"].is_null() &&
      (!config["caBundle"].is_string() || !base64_decode(config["caBundle"].get<std::string>()))) {
    errors.push_back(
        {Type::Invalid, at.child("caBundle"), config["caBundle"], "must be base64 (PEM certificates)"});
  }
}

// IsFullyQualifiedName: a DNS subdomain of at least three segments.
void check_webhook_name(const Json& webhook, const FieldPath& at, std::set<std::string>& seen,
                        FieldErrors& errors) {
  const std::string name = string_member(webhook, "name");
  if (name.empty()) {
    errors.push_back({Type::Required, at.child("name"), nullptr, ""});
    return;
  }
  auto problems = dns1123_subdomain_errors(name);
  if (problems.empty() && std::count(name.begin(), name.end(), '.') < 2)
    problems.emplace_back("should be a domain with at least three segments separated by dots");
  for (const auto& problem : problems) errors.push_back({Type::Invalid, at.child("name"), name, problem});
  if (!seen.insert(name).second) errors.push_back({Type::Duplicate, at.child("name"), name, ""});
}

void check_selector(Json& webhook, const FieldPath& at, const char* member, FieldErrors& errors) {
  if (!webhook.contains(member) || webhook[member].is_null()) {
    webhook[member] = Json::object();  // {}: everything
    return;
  }
  (void)LabelSelector::from_json(webhook[member], at.child(member), errors);
}

}  // namespace

FieldErrors validate_webhook_configuration(Json& configuration, bool mutating) {
  FieldErrors errors;
  const FieldPath root = FieldPath().child("webhooks");
  if (!configuration.contains("webhooks") || configuration["webhooks"].is_null()) return errors;
  if (!configuration["webhooks"].is_array()) {
    errors.push_back({Type::Invalid, root, configuration["webhooks"], "must be a list"});
    return errors;
  }
  std::set<std::string> names;
  Json& webhooks = configuration["webhooks"];
  for (std::size_t i = 0; i < webhooks.size(); ++i) {
    const FieldPath at = root.index(i);
    Json& webhook = webhooks[i];
    if (!webhook.is_object()) {
      errors.push_back({Type::Invalid, at, webhook, "must be an object"});
      continue;
    }
    check_webhook_name(webhook, at, names, errors);
    check_client_config(webhook, at, errors);
    if (!webhook.contains("rules") || webhook["rules"].is_null()) webhook["rules"] = Json::array();
    if (!webhook["rules"].is_array()) {
      errors.push_back({Type::Invalid, at.child("rules"), webhook["rules"], "must be a list"});
    } else {
      for (std::size_t j = 0; j < webhook["rules"].size(); ++j)
        check_rule(webhook["rules"][j], at.child("rules").index(j), errors);
    }
    check_enum(webhook, at, "failurePolicy", {"Fail", "Ignore"}, "Fail", errors);
    check_enum(webhook, at, "matchPolicy", {"Equivalent", "Exact"}, "Equivalent", errors);
    check_enum(webhook, at, "sideEffects", {"None", "NoneOnDryRun"}, nullptr, errors);
    if (mutating) check_enum(webhook, at, "reinvocationPolicy", {"IfNeeded", "Never"}, "Never", errors);
    check_selector(webhook, at, "namespaceSelector", errors);
    check_selector(webhook, at, "objectSelector", errors);
    if (!webhook.contains("timeoutSeconds") || webhook["timeoutSeconds"].is_null())
      webhook["timeoutSeconds"] = kDefaultTimeoutSeconds;
    const Json& timeout = webhook["timeoutSeconds"];
    if (!timeout.is_number_integer() || timeout.get<std::int64_t>() < 1 ||
        timeout.get<std::int64_t>() > kMaxTimeoutSeconds) {
      errors.push_back({Type::Invalid, at.child("timeoutSeconds"), timeout,
                        "the timeout value must be between 1 and 30 seconds"});
    }
    const Json versions = webhook.value("admissionReviewVersions", Json());
    if (!versions.is_array() || versions.empty()) {
      errors.push_back(
          {Type::Required, at.child("admissionReviewVersions"), nullptr, "must specify one of v1"});
    } else if (std::find(versions.begin(), versions.end(), "v1") == versions.end()) {
      // kube-apiserver also speaks v1beta1; this server sends admission.k8s.io/v1 only.
      errors.push_back(
          {Type::Invalid, at.child("admissionReviewVersions"), versions,
           "must include at least one of v1 (the only AdmissionReview version this server sends)"});
    }
  }
  return errors;
}

}  // namespace riasc::apiserver

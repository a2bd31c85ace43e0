#include "riasc/apiserver/object_service.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <random>

#include "riasc/apiserver/webhook_admission.hpp"
#include "riasc/kubeapi/server_side_apply.hpp"
#include "riasc/kubeapi/status.hpp"
#include "riasc/schema/object_meta.hpp"

namespace riasc::apiserver {

// The wire format and rules of the Kubernetes API (src/riasc/kubeapi).
using namespace riasc::kubeapi;  // NOLINT(google-build-using-namespace)

namespace {

constexpr std::string_view kCrdGroup = "apiextensions.k8s.io";
constexpr const char* kForegroundFinalizer = "foregroundDeletion";
constexpr const char* kOrphanFinalizer = "orphan";
constexpr const char* kCrdCleanupFinalizer = "customresourcecleanup.apiextensions.k8s.io";

GroupResource group_resource(const ResourceType& type) { return {type.group, type.resource}; }

ApiError not_found(const ResourceType& type, std::string_view name) {
  return {status_not_found(group_resource(type), name)};
}
ApiError already_exists(const ResourceType& type, std::string_view name) {
  return {status_already_exists(group_resource(type), name)};
}
ApiError conflict(const ResourceType& type, std::string_view name) {
  return {status_conflict(group_resource(type), name)};
}
ApiError bad_request(const std::string& message) { return {status_bad_request(message)}; }
ApiError invalid(const ResourceType& type, std::string_view name, const FieldErrors& causes) {
  return {status_invalid({type.group, type.kind}, name, causes)};
}

// A body may leave out apiVersion and kind (the URL names them, and kube-apiserver decodes with
// it as the default); when given, they must be the URL's.
std::optional<ApiError> settle_type_meta(const ResourceType& type, Json& object) {
  const std::string api_version = string_member(object, "apiVersion");
  const std::string kind = string_member(object, "kind");
  if (!api_version.empty() && api_version != type.api_version()) {
    return bad_request(
        fmt::format("the API version in the data ({}) does not match the expected API version ({})",
                    api_version, type.api_version()));
  }
  if (!kind.empty() && kind != type.kind) {
    return bad_request(
        fmt::format("the kind in the data ({}) does not match the expected kind ({})", kind, type.kind));
  }
  object["apiVersion"] = type.api_version();
  object["kind"] = type.kind;
  return std::nullopt;
}

// Objects are stored with apiVersion, kind and metadata first, so that reads can put the
// resourceVersion in without parsing the object (ObjectService::object_text).
// apiVersion, kind and metadata first, as object_text expects of the stored form. Objects mostly
// come in that order already, and are then left alone.
void put_in_stored_order(Json& object) {
  static constexpr std::array<std::string_view, 3> kFirst = {"apiVersion", "kind", "metadata"};
  std::size_t next = 0;
  bool ordered = true;
  for (const auto& [key, value] : object.items()) {
    const auto* found = std::find(kFirst.begin(), kFirst.end(), key);
    if (found == kFirst.end()) {
      next = kFirst.size();  // nothing of kFirst may follow
    } else if (static_cast<std::size_t>(found - kFirst.begin()) < next) {
      ordered = false;
      break;
    } else {
      next = static_cast<std::size_t>(found - kFirst.begin()) + 1;
    }
  }
  if (ordered) return;
  Json reordered = Json::object();
  for (std::string_view first : kFirst) {
    const std::string key(first);
    if (object.contains(key)) reordered[key] = std::move(object[key]);
  }
  for (auto& [key, value] : object.items()) {
    if (std::find(kFirst.begin(), kFirst.end(), key) == kFirst.end()) reordered[key] = std::move(value);
  }
  object = std::move(reordered);
}

std::string stored_text(Json& object) {
  put_in_stored_order(object);
  return object.dump();
}

// What a write returns: the object as just stored (stored_text put it in order), with the
// write's revision, without parsing the stored text again.
Json as_written(Json object, store::Revision revision) {
  object["metadata"]["resourceVersion"] = std::to_string(revision);
  return object;
}

std::string manager_of(const WriteOptions& options) {
  return options.field_manager.empty() ? std::string("riasc") : options.field_manager;
}

// generateName: the prefix plus five characters Kubernetes also uses (no vowels, no look-alikes).
std::string generated_name(std::string_view prefix) {
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  static thread_local std::mt19937 random{std::random_device{}()};
  std::string name(prefix);
  for (int i = 0; i < 5; ++i) name += kAlphabet[random() % kAlphabet.size()];
  return name;
}

std::string timestamp(std::chrono::system_clock::time_point time) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", std::chrono::floor<std::chrono::seconds>(time));
}

std::string hex(std::string_view text) {
  std::string out;
  for (char c : text) out += fmt::format("{:02x}", static_cast<unsigned char>(c));
  return out;
}

std::optional<std::string> unhex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += 2) {
    unsigned value = 0;
    for (char c : text.substr(i, 2)) {
      value <<= 4;
      if (c >= '0' && c <= '9') {
        value |= static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        value |= static_cast<unsigned>(c - 'a' + 10);
      } else {
        return std::nullopt;
      }
    }
    out += static_cast<char>(value);
  }
  return out;
}

// The parts of an object whose change is a new generation: everything but metadata and status.
Json generation_relevant(const Json& object) {
  Json copy = object;
  if (copy.is_object()) {
    copy.erase("metadata");
    copy.erase("status");
  }
  return copy;
}

// CRDs say they are in use once stored, as kube-apiserver's controllers do.
void establish_crd(Json& crd) {
  Json& status = crd["status"];
  status["acceptedNames"] = crd["spec"]["names"];
  status["storedVersions"] = Json::array();
  for (const auto& version : crd["spec"]["versions"]) {
    if (version.value("storage", false)) status["storedVersions"].push_back(version["name"]);
  }
  status["conditions"] = Json::array({{{"type", "NamesAccepted"},
                                       {"status", "True"},
                                       {"reason", "NoConflicts"},
                                       {"message", "no conflicts found"}},
                                      {{"type", "Established"},
                                       {"status", "True"},
                                       {"reason", "InitialNamesAccepted"},
                                       {"message", "the initial names have been accepted"}}});
}

bool is_webhook_configuration(const ResourceType& type) {
  return type.group == "admissionregistration.k8s.io" && (type.resource == "mutatingwebhookconfigurations" ||
                                                          type.resource == "validatingwebhookconfigurations");
}

// CreateOptions, UpdateOptions or DeleteOptions as a webhook is shown them.
Json request_options(const char* kind, bool dry_run, const std::string& field_manager) {
  Json options = {{"kind", kind}, {"apiVersion", "meta.k8s.io/v1"}};
  if (dry_run) options["dryRun"] = Json::array({"All"});
  if (!field_manager.empty()) options["fieldManager"] = field_manager;
  return options;
}

AdmissionAttributes write_attributes(const ResourceType& type, AdmissionOperation operation,
                                     std::string_view namespace_name, std::string_view name, bool status,
                                     const WriteOptions& options) {
  AdmissionAttributes attributes;
  attributes.type = &type;
  attributes.subresource = status ? "status" : "";
  attributes.operation = operation;
  attributes.namespace_name = std::string(namespace_name);
  attributes.name = std::string(name);
  attributes.user = &options.user;
  attributes.dry_run = options.dry_run;
  attributes.options =
      request_options(operation == AdmissionOperation::Create ? "CreateOptions" : "UpdateOptions",
                      options.dry_run, options.field_manager);
  attributes.warnings = options.warnings;
  return attributes;
}

}  // namespace

std::string new_uid() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  std::uint64_t high = random();
  std::uint64_t low = random();
  high = (high & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  low = (low & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;    // RFC 4122 variant
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", high >> 32, (high >> 16) & 0xFFFF, high & 0xFFFF,
                     low >> 48, low & 0xFFFFFFFFFFFFULL);
}

unsigned ApiError::code() const { return static_cast<unsigned>(status_code(status)); }
std::string ApiError::message() const { return string_member(status, "message"); }

ObjectService::ObjectService(store::Store& store, ResourceRegistry& registry, Clock clock)
    : store_(store), registry_(registry), clock_(std::move(clock)) {}

namespace {
// What object_text adds to the stored text: "resourceVersion":"<up to 19 digits>",
constexpr std::size_t kResourceVersionRoom = 40;
}  // namespace

std::string ObjectService::object_text(const store::Record& record) {
  std::string out;
  out.reserve(record.value->size() + kResourceVersionRoom);
  append_object_text(record, out);
  return out;
}

void ObjectService::append_object_text(const store::Record& record, std::string& out) {
  // The stored form is {"apiVersion":"…","kind":"…","metadata":{…},…} (stored_text); strings
  // without quotes or escapes in the first two, so the first "metadata":{ is the top-level one.
  const std::string& text = *record.value;
  static constexpr std::string_view kApiVersion = "{\"apiVersion\":\"";
  static constexpr std::string_view kMetadata = "\"metadata\":{";
  std::size_t at = std::string_view::npos;
  if (std::string_view(text).starts_with(kApiVersion)) {
    const std::size_t api_end = text.find('"', kApiVersion.size());
    const std::string_view kind_key = ",\"kind\":\"";
    if (api_end != std::string::npos && text.compare(api_end + 1, kind_key.size(), kind_key) == 0) {
      const std::size_t kind_end = text.find('"', api_end + 1 + kind_key.size());
      if (kind_end != std::string::npos && text.compare(kind_end + 1, 1, ",") == 0 &&
          text.compare(kind_end + 2, kMetadata.size(), kMetadata) == 0 && text.find('\\', 0) > kind_end) {
        at = kind_end + 2 + kMetadata.size();
      }
    }
  }
  if (at == std::string_view::npos) {
    out += to_object(record).dump();
    return;
  }
  out.append(text, 0, at);
  fmt::format_to(std::back_inserter(out), "\"resourceVersion\":\"{}\"", record.revision);
  if (text[at] != '}') out += ',';
  out.append(text, at, std::string::npos);
}

Json ObjectService::to_object(const store::Record& record) {
  Json object = Json::parse(*record.value);
  object["metadata"]["resourceVersion"] = std::to_string(record.revision);
  return object;
}

void ObjectService::load_crds() {
  auto type = registry_.find(kCrdGroup, "v1", "customresourcedefinitions");
  if (!type) return;
  for (const auto& record : store_.list(type->key_prefix()).records)
    on_crd_written(Json::parse(*record.value));
}

void ObjectService::on_crd_written(const Json& crd) {
  try {
    registry_.add_crd(schema::CustomResourceDefinition::from_json(crd));
  } catch (const schema::SchemaError&) {
    // Only valid CRDs are stored; one that no longer compiles stays unserved rather than fatal.
  }
}

kubeapi::ListShapes ObjectService::list_shapes(const ResourceType& type) {
  if (type.crd) {
    if (const auto* version = type.crd->version(type.version)) return schema_list_shapes(version->schema);
  }
  return builtin_list_shapes(type.group, type.kind);
}

std::string ObjectService::now() const { return timestamp(clock_()); }

std::optional<ResourceType> ObjectService::type_of(const Json& object) const {
  if (!object.is_object()) return std::nullopt;
  const std::string api_version = string_member(object, "apiVersion");
  const auto slash = api_version.find('/');
  const std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  const std::string version = slash == std::string::npos ? api_version : api_version.substr(slash + 1);
  return registry_.find_kind(group, version, string_member(object, "kind"));
}

std::optional<ApiError> ObjectService::validate(const ResourceType& type, Json& object,
                                                const WriteOptions& options) const {
  std::string name = string_member(object["metadata"], "name");
  // RBAC objects are named by path segment only (kube's "system:discovery").
  const bool rbac_names = type.group == "rbac.authorization.k8s.io";
  FieldErrors errors =
      schema::validate_object_meta(object["metadata"], FieldPath().child("metadata"), rbac_names);
  if (type.crd) {
    schema::ObjectCheckOptions check_options;
    check_options.reject_unknown_fields = false;  // pruned below, or refused with Strict
    auto check = schema::check_custom_object(*type.crd, object, check_options);
    if (!check.pruned.empty() && options.field_validation != FieldValidation::Ignore) {
      std::vector<std::string> fields;
      for (const auto& path : check.pruned) fields.push_back(path.to_string());
      if (options.field_validation == FieldValidation::Strict) {
        return ApiError{status_strict_decoding_error(type.kind, type.version, fields)};
      }
      if (options.warnings) {
        for (const auto& field : fields)
          options.warnings->push_back(fmt::format("unknown field \"{}\"", field));
      }
    }
    for (auto& e : check.errors) errors.push_back(std::move(e));
    object = std::move(check.object);
  } else if (type.group == kCrdGroup && type.resource == "customresourcedefinitions") {
    for (auto& e : schema::validate_crd(object)) errors.push_back(std::move(e));
  } else if (is_webhook_configuration(type)) {
    for (auto& e : validate_webhook_configuration(object, type.resource == "mutatingwebhookconfigurations"))
      errors.push_back(std::move(e));
  }
  if (!errors.empty()) return invalid(type, name, errors);
  return std::nullopt;
}

Outcome<Json> ObjectService::create(const ResourceType& type, std::string_view namespace_name, Json object,
                                    const WriteOptions& options) {
  if (!object.is_object()) return bad_request("the request body must be a JSON or YAML object");
  if (auto problem = settle_type_meta(type, object)) return *problem;
  // ordered_json keeps members in a vector: a reference to one dies when the parent gains or
  // loses a member, so metadata is looked up afresh below rather than held.
  if (!object["metadata"].is_object()) object["metadata"] = Json::object();
  if (type.crd) {
    auto crds = registry_.find(kCrdGroup, "v1", "customresourcedefinitions");
    auto crd_record = crds ? store_.get(crds->key({}, type.crd->name())) : std::nullopt;
    if (crd_record && Json::parse(*crd_record->value)["metadata"].contains("deletionTimestamp")) {
      return ApiError{Json{{"kind", "Status"},
                           {"apiVersion", "v1"},
                           {"metadata", Json::object()},
                           {"status", "Failure"},
                           {"message", "create not allowed while custom resource definition is terminating"},
                           {"reason", "MethodNotAllowed"},
                           {"code", 405}}};
    }
  }
  if (type.namespaced) {
    Json& metadata = object["metadata"];
    std::string in_body = string_member(metadata, "namespace");
    if (!in_body.empty() && in_body != namespace_name) {
      return bad_request(
          "the namespace of the provided object does not match the namespace sent on the request");
    }
    metadata["namespace"] = std::string(namespace_name);
    auto namespaces = registry_.find("", "v1", "namespaces");
    if (namespaces) {
      auto namespace_record = store_.get(namespaces->key({}, namespace_name));
      if (!namespace_record) return not_found(*namespaces, namespace_name);
      if (Json::parse(*namespace_record->value)["metadata"].contains("deletionTimestamp")) {
        return ApiError{status_forbidden(
            group_resource(type), string_member(object["metadata"], "name"),
            fmt::format("unable to create new content in namespace {} because it is being terminated",
                        namespace_name))};
      }
    }
  } else {
    object["metadata"].erase("namespace");
  }
  if (auto refused = check_write(type, namespace_name, object, options)) return *refused;
  // Mutating admission webhooks see the object as sent (a generateName not yet resolved, as in
  // kube-apiserver), and cannot set what the server owns (below).
  if (admission_) {
    const auto attributes = write_attributes(type, AdmissionOperation::Create, namespace_name,
                                             string_member(object["metadata"], "name"), false, options);
    if (auto denied = admission_->mutate(attributes, &object, nullptr)) return *denied;
    if (!object["metadata"].is_object()) object["metadata"] = Json::object();
  }
  Json& metadata = object["metadata"];
  if (string_member(metadata, "name").empty() && !string_member(metadata, "generateName").empty()) {
    metadata["name"] = generated_name(string_member(metadata, "generateName"));
  }
  for (const char* owned_by_server :
       {"resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"}) {
    metadata.erase(owned_by_server);
  }
  metadata["uid"] = new_uid();
  metadata["creationTimestamp"] = timestamp(clock_());
  metadata["generation"] = 1;
  const std::string name = string_member(metadata, "name");
  if (type.status_subresource && type.crd) object.erase("status");  // set through /status only
  if (type.group.empty() && type.resource == "namespaces") {
    object["spec"]["finalizers"] = Json::array({"kubernetes"});
    object["status"] = {{"phase", "Active"}};
  }
  if (auto problem = validate(type, object, options)) return *problem;
  const bool is_crd = type.group == kCrdGroup && type.resource == "customresourcedefinitions";
  if (is_crd) establish_crd(object);
  if (!options.managed_fields_ready) {
    object = track_update(nullptr, std::move(object), manager_of(options), type.api_version(), now(),
                          list_shapes(type));
  }
  if (admission_) {
    const auto attributes =
        write_attributes(type, AdmissionOperation::Create, namespace_name, name, false, options);
    if (auto denied = admission_->validate(attributes, &object, nullptr)) return *denied;
  }
  if (options.dry_run) {
    if (store_.get(type.key(namespace_name, name))) return already_exists(type, name);
    return object;
  }
  auto result = store_.create(type.key(namespace_name, name), stored_text(object));
  if (result.status == store::WriteStatus::AlreadyExists) return already_exists(type, name);
  if (is_crd) on_crd_written(object);
  configuration_written(type);
  return as_written(std::move(object), result.record.revision);
}

Outcome<Json> ObjectService::get(const ResourceType& type, std::string_view namespace_name,
                                 std::string_view name) const {
  auto record = store_.get(type.key(namespace_name, name));
  if (!record) return not_found(type, name);
  return to_object(*record);
}

Outcome<std::string> ObjectService::get_text(const ResourceType& type, std::string_view namespace_name,
                                             std::string_view name) const {
  auto record = store_.get(type.key(namespace_name, name));
  if (!record) return not_found(type, name);
  return object_text(*record);
}

Outcome<Json> ObjectService::list(const ResourceType& type, const ListOptions& options) const {
  // The continue token carries the first page's revision and the last key returned. Pages are
  // read from the current state (the store keeps no snapshots), so later pages may show newer
  // objects; once compaction passes the first page's revision the token expires (410), as a
  // client then cannot resume a watch from it either.
  std::string start_after;
  store::Revision revision = 0;
  if (!options.continue_token.empty()) {
    auto text = unhex(options.continue_token);
    Json token;
    if (text) token = Json::parse(*text, nullptr, false);
    if (!token.is_object() || !token["rv"].is_number_integer() || !token["start"].is_string()) {
      return bad_request("the continue token is not valid; list again without it");
    }
    if (token["rv"].get<store::Revision>() < store_.compacted_revision())
      return ApiError{status_continue_expired()};
    start_after = type.key_prefix(options.namespace_name) + token["start"].get<std::string>();
    // The first page's revision: a watch from it may repeat changes, but cannot miss one.
    revision = token["rv"].get<store::Revision>();
  }
  Json items = Json::array();
  std::string last_key;
  bool more = false;
  // Filters apply before the limit, so pages are full; keep reading until the page is.
  while (true) {
    auto page = store_.list(type.key_prefix(options.namespace_name), options.limit, start_after);
    if (revision == 0) revision = page.revision;
    bool full = false;
    for (std::size_t i = 0; i < page.records.size() && !full; ++i) {
      last_key = page.records[i].key;
      if (options.collect) {
        options.collect->push_back(page.records[i]);
        full = options.limit != 0 && options.collect->size() == options.limit;
      } else {
        Json object = to_object(page.records[i]);
        if (options.filter && !options.filter(object)) continue;
        items.push_back(std::move(object));
        full = options.limit != 0 && items.size() == options.limit;
      }
      if (full) more = i + 1 < page.records.size() || page.more;
    }
    if (full || !page.more) break;
    start_after = last_key;
  }
  Json metadata = {{"resourceVersion", std::to_string(revision)}};
  if (more) {
    Json token = {{"rv", revision},
                  {"start", last_key.substr(type.key_prefix(options.namespace_name).size())}};
    metadata["continue"] = hex(token.dump());
  }
  return Json{{"kind", type.kind + "List"},
              {"apiVersion", type.api_version()},
              {"metadata", std::move(metadata)},
              {"items", std::move(items)}};
}

Outcome<std::string> ObjectService::list_text(const ResourceType& type, const ListOptions& options) const {
  ListOptions unfiltered = options;
  unfiltered.filter = nullptr;
  // Items are left out of the parsed list and written as stored, resourceVersion put in.
  std::vector<store::Record> records;
  unfiltered.collect = &records;
  auto listed = list(type, unfiltered);
  if (auto* error = std::get_if<ApiError>(&listed)) return *error;
  const std::string head = std::get<Json>(listed).dump();
  // The dump ends with "items":[]} (items is the last member). The text is built in one buffer of
  // its final size: growing a list of megabytes step by step costs more in page faults than the
  // copying.
  std::size_t size = head.size();
  for (const auto& record : records) size += record.value->size() + kResourceVersionRoom + 1;  // and a comma
  std::string text;
  text.reserve(size);
  text.append(head, 0, head.size() - 2);
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (i > 0) text += ',';
    append_object_text(records[i], text);
  }
  text += "]}";
  return text;
}

Outcome<Json> ObjectService::update(const ResourceType& type, std::string_view namespace_name,
                                    std::string_view name, Json object, bool status,
                                    const WriteOptions& options, std::optional<Json> read_before) {
  if (!object.is_object()) return bad_request("the request body must be a JSON or YAML object");
  if (auto problem = settle_type_meta(type, object)) return *problem;
  const std::string key = type.key(namespace_name, name);
  auto current_record = store_.get(key);
  if (!current_record) return not_found(type, name);
  if (!object["metadata"].is_object()) object["metadata"] = Json::object();
  const std::string body_name = string_member(object["metadata"], "name");
  if (body_name != name) {
    return bad_request(
        fmt::format("the name of the object ({}) does not match the name on the URL ({})", body_name, name));
  }
  std::string expected = string_member(object["metadata"], "resourceVersion");
  const std::string current_version = std::to_string(current_record->revision);
  if (!expected.empty() && expected != current_version) return conflict(type, name);
  const bool still_current = read_before && read_before->is_object() &&
                             (*read_before)["metadata"].is_object() &&
                             string_member((*read_before)["metadata"], "resourceVersion") == current_version;
  Json current = still_current ? std::move(*read_before) : to_object(*current_record);
  if (auto refused = check_write(type, namespace_name, object, options)) return *refused;
  // Mutating admission webhooks see the object as sent, before the status subresource keeps only
  // the status (kube-apiserver admits before its strategy's PrepareForUpdate).
  if (admission_) {
    const auto attributes =
        write_attributes(type, AdmissionOperation::Update, namespace_name, name, status, options);
    if (auto denied = admission_->mutate(attributes, &object, &current)) return *denied;
    if (!object.is_object() || !object["metadata"].is_object())
      return bad_request("an admission webhook's patch left an object without metadata");
  }
  if (type.status_subresource) {
    // The main resource cannot change the status, the status subresource nothing else.
    Json merged = status ? current : object;
    merged["status"] = status ? object.value("status", Json()) : current.value("status", Json());
    if (merged["status"].is_null()) merged.erase("status");
    object = std::move(merged);
  }
  return write_update(type, *current_record, std::move(current), std::move(object), options, status);
}

Outcome<Json> ObjectService::write_update(const ResourceType& type, const store::Record& current_record,
                                          Json current, Json object, const WriteOptions& options,
                                          bool status) {
  const std::string name = string_member(current["metadata"], "name");
  // Fields the server owns keep their values.
  for (const char* owned :
       {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace"}) {
    if (current["metadata"].contains(owned)) {
      object["metadata"][owned] = current["metadata"][owned];
    } else {
      object["metadata"].erase(owned);
    }
  }
  std::int64_t generation = current["metadata"].value("generation", std::int64_t{1});
  if (generation_relevant(object) != generation_relevant(current)) ++generation;
  object["metadata"]["generation"] = generation;
  object["metadata"].erase("resourceVersion");
  if (auto problem = validate(type, object, options)) return *problem;
  const bool is_crd = type.group == kCrdGroup && type.resource == "customresourcedefinitions";
  if (is_crd) establish_crd(object);
  if (!options.managed_fields_ready) {
    Json old_object = current;
    old_object["metadata"].erase("resourceVersion");
    object = track_update(&old_object, std::move(object), manager_of(options), type.api_version(), now(),
                          list_shapes(type), status ? "status" : "");
  }
  if (admission_) {
    const auto attributes =
        write_attributes(type, AdmissionOperation::Update, string_member(current["metadata"], "namespace"),
                         name, status, options);
    if (auto denied = admission_->validate(attributes, &object, &current)) return *denied;
  }
  if (options.dry_run) {
    object["metadata"]["resourceVersion"] = std::to_string(current_record.revision);
    return object;
  }
  // An object being deleted goes once its last finalizer is removed; a pod in its grace period
  // stays until its node deletes it (status writes meanwhile must not end it).
  const Json& metadata = object["metadata"];
  const bool in_grace_period = metadata.value("deletionGracePeriodSeconds", Json(0)) != Json(0);
  const bool finalized = metadata.contains("deletionTimestamp") && !in_grace_period &&
                         metadata.value("finalizers", Json::array()).empty();
  if (finalized) {
    auto result = store_.remove(current_record.key, current_record.revision);
    if (result.status == store::WriteStatus::Conflict) return conflict(type, name);
    if (result.status == store::WriteStatus::NotFound) return not_found(type, name);
    if (is_crd) registry_.remove_crd(name);
    if (type.namespaced) finish_namespace_deletion(string_member(current["metadata"], "namespace"));
    if (type.crd) finish_crd_deletion(type.crd->name());
    configuration_written(type);
    return to_object(result.record);
  }
  auto result = store_.update(current_record.key, stored_text(object), current_record.revision);
  if (result.status == store::WriteStatus::Conflict) return conflict(type, name);
  if (result.status == store::WriteStatus::NotFound) return not_found(type, name);
  if (is_crd) on_crd_written(object);
  configuration_written(type);
  return as_written(std::move(object), result.record.revision);
}

Outcome<Json> ObjectService::remove(const ResourceType& type, std::string_view namespace_name,
                                    std::string_view name, const DeleteOptions& options) {
  // A write that lands between reading the object and deleting it (a controller updating its
  // status) is no reason to fail the delete: it is tried again on the newer object, as
  // kube-apiserver's GuaranteedUpdate does, with the preconditions checked again.
  for (int attempt = 0;; ++attempt) {
    bool raced = false;
    auto result = remove_once(type, namespace_name, name, options, raced);
    if (!raced || attempt >= 5) return result;
  }
}

std::optional<std::int64_t> ObjectService::termination_grace(const ResourceType& type, const Json& pod,
                                                             const DeleteOptions& options) const {
  if (!type.group.empty() || type.resource != "pods") return std::nullopt;
  const Json spec = pod.value("spec", Json::object());
  const Json node = spec.value("nodeName", Json());
  const std::string phase = pod.value("status", Json::object()).value("phase", "");
  if (!node.is_string() || node.get<std::string>().empty() || phase == "Succeeded" || phase == "Failed")
    return std::nullopt;
  // Without a Node object no node runs the pod, and nothing would ever finish its deletion.
  const auto nodes = registry_.find("", "v1", "nodes");
  if (!nodes || !store_.get(nodes->key("", node.get<std::string>()))) return std::nullopt;
  const Json default_grace = spec.value("terminationGracePeriodSeconds", Json(30));
  std::int64_t grace = options.grace_period_seconds.value_or(
      default_grace.is_number_integer() ? default_grace.get<std::int64_t>() : 30);
  if (grace < 0) grace = 1;  // as kube-apiserver: a negative period means "as soon as possible"
  if (grace == 0) return std::nullopt;
  return grace;
}

Outcome<Json> ObjectService::remove_once(const ResourceType& type, std::string_view namespace_name,
                                         std::string_view name, const DeleteOptions& options, bool& raced) {
  const std::string key = type.key(namespace_name, name);
  auto current_record = store_.get(key);
  if (!current_record) return not_found(type, name);
  Json current = to_object(*current_record);
  const std::string uid = string_member(current["metadata"], "uid");
  if (options.expected_uid && *options.expected_uid != uid) {
    return ApiError{
        status_conflict(group_resource(type), name,
                        fmt::format("Precondition failed: UID in precondition: {}, UID in object meta: {}",
                                    *options.expected_uid, uid))};
  }
  const std::string revision = std::to_string(current_record->revision);
  if (options.expected_resource_version && *options.expected_resource_version != revision) {
    return ApiError{status_conflict(
        group_resource(type), name,
        fmt::format(
            "Precondition failed: ResourceVersion in precondition: {}, ResourceVersion in object meta: {}",
            *options.expected_resource_version, revision))};
  }
  if (admission_) {
    // DELETE: the webhooks get the object being deleted as oldObject and no object.
    AdmissionAttributes attributes;
    attributes.type = &type;
    attributes.operation = AdmissionOperation::Delete;
    attributes.namespace_name = std::string(namespace_name);
    attributes.name = std::string(name);
    attributes.user = &options.user;
    attributes.dry_run = options.dry_run;
    attributes.options = request_options("DeleteOptions", options.dry_run, "");
    static constexpr std::array<const char*, 3> kPolicies = {"Background", "Foreground", "Orphan"};
    attributes.options["propagationPolicy"] = kPolicies.at(static_cast<std::size_t>(options.propagation));
    if (auto denied = admission_->mutate(attributes, nullptr, &current)) return *denied;
    if (auto denied = admission_->validate(attributes, nullptr, &current)) return *denied;
  }
  if (auto grace = termination_grace(type, current, options)) {
    const Json& metadata = current["metadata"];
    // A second delete may shorten the grace period, never lengthen it.
    if (metadata.contains("deletionTimestamp") &&
        metadata.value("deletionGracePeriodSeconds", std::numeric_limits<std::int64_t>::max()) <= *grace)
      return current;
    Json marked = current;
    marked["metadata"]["deletionTimestamp"] = timestamp(clock_() + std::chrono::seconds(*grace));
    marked["metadata"]["deletionGracePeriodSeconds"] = *grace;
    if (options.dry_run) return marked;
    marked["metadata"].erase("resourceVersion");
    auto result = store_.update(key, marked.dump(), current_record->revision);
    raced = result.status == store::WriteStatus::Conflict;
    if (result.status != store::WriteStatus::Ok) return conflict(type, name);
    return to_object(result.record);
  }
  const bool is_namespace = type.group.empty() && type.resource == "namespaces";
  const bool is_crd = type.group == kCrdGroup && type.resource == "customresourcedefinitions";
  // Foreground and Orphan deletion are finished by the garbage collector, which removes these
  // finalizers once the dependents are gone or released.
  Json finalizers = current["metadata"].value("finalizers", Json::array());
  if (!is_namespace && options.propagation != Propagation::Background) {
    const char* finalizer =
        options.propagation == Propagation::Foreground ? kForegroundFinalizer : kOrphanFinalizer;
    if (std::find(finalizers.begin(), finalizers.end(), finalizer) == finalizers.end())
      finalizers.push_back(finalizer);
  }
  // A CRD, like a namespace, goes after what it holds: its custom resources (kube-apiserver's
  // customresourcecleanup finalizer).
  if (is_crd && std::find(finalizers.begin(), finalizers.end(), kCrdCleanupFinalizer) == finalizers.end()) {
    finalizers.push_back(kCrdCleanupFinalizer);
  }
  if (!finalizers.empty() || is_namespace) {
    const bool already_deleting = current["metadata"].contains("deletionTimestamp");
    if (already_deleting && finalizers == current["metadata"].value("finalizers", Json::array()))
      return current;
    Json marked = current;
    if (!already_deleting) {
      marked["metadata"]["deletionTimestamp"] = timestamp(clock_());
      marked["metadata"]["deletionGracePeriodSeconds"] = 0;
    }
    if (!finalizers.empty()) marked["metadata"]["finalizers"] = finalizers;
    if (is_namespace) marked["status"]["phase"] = "Terminating";
    if (is_crd) {
      marked["status"]["conditions"].push_back({{"type", "Terminating"},
                                                {"status", "True"},
                                                {"reason", "InstanceDeletionInProgress"},
                                                {"message", "CustomResource deletion is in progress"}});
    }
    if (options.dry_run) return marked;
    marked["metadata"].erase("resourceVersion");
    auto result = store_.update(key, marked.dump(), current_record->revision);
    raced = result.status == store::WriteStatus::Conflict;
    if (result.status != store::WriteStatus::Ok) return conflict(type, name);
    if (is_namespace) return finish_namespace_deletion(name).value_or(to_object(result.record));
    if (is_crd) return finish_crd_deletion(name).value_or(to_object(result.record));
    return to_object(result.record);
  }
  if (options.dry_run) return current;
  auto result = store_.remove(key, current_record->revision);
  raced = result.status == store::WriteStatus::Conflict;
  if (raced) return conflict(type, name);
  if (result.status == store::WriteStatus::NotFound) return not_found(type, name);
  configuration_written(type);
  if (type.namespaced) finish_namespace_deletion(namespace_name);
  if (type.crd) finish_crd_deletion(type.crd->name());
  return to_object(result.record);
}

std::optional<ApiError> ObjectService::check_write(const ResourceType& type, std::string_view namespace_name,
                                                   const Json& object, const WriteOptions& options) const {
  if (!write_check_ || !options.user) return std::nullopt;
  return write_check_(type, namespace_name, object, *options.user);
}

void ObjectService::configuration_written(const ResourceType& type) {
  if (admission_ && is_webhook_configuration(type)) admission_->configurations_changed();
  for (const auto& observer : write_observers_) observer(type);
}

bool ObjectService::delete_everything_under(const std::string& prefix) {
  bool remaining = false;
  for (const auto& object : store_.list(prefix).records) {
    Json current = to_object(object);
    if (current["metadata"].contains("deletionTimestamp")) {
      remaining = true;
      continue;
    }
    if (!current["metadata"].value("finalizers", Json::array()).empty()) {
      remaining = true;
      current["metadata"]["deletionTimestamp"] = timestamp(clock_());
      current["metadata"].erase("resourceVersion");
      store_.update(object.key, current.dump(), object.revision);
    } else {
      store_.remove(object.key, object.revision);
    }
  }
  return remaining;
}

std::optional<Json> ObjectService::finish_namespace_deletion(std::string_view namespace_name) {
  auto namespaces = registry_.find("", "v1", "namespaces");
  if (!namespaces) return std::nullopt;
  auto record = store_.get(namespaces->key({}, namespace_name));
  if (!record || !to_object(*record)["metadata"].contains("deletionTimestamp")) return std::nullopt;
  // The namespace's content goes first; objects with finalizers stay until they are finalized,
  // and the namespace with them (its deletion finishes when the last one goes).
  bool remaining = false;
  for (const auto& type : registry_.all()) {
    if (!type.namespaced) continue;
    if (delete_everything_under(type.key_prefix(namespace_name))) remaining = true;
    configuration_written(type);
  }
  if (remaining) return std::nullopt;
  auto removed = store_.remove(record->key, std::nullopt);
  if (removed.status != store::WriteStatus::Ok) return std::nullopt;
  return to_object(removed.record);
}

std::optional<Json> ObjectService::finish_crd_deletion(std::string_view crd_name) {
  auto crds = registry_.find(kCrdGroup, "v1", "customresourcedefinitions");
  if (!crds) return std::nullopt;
  auto record = store_.get(crds->key({}, crd_name));
  if (!record) return std::nullopt;
  Json crd = to_object(*record);
  if (!crd["metadata"].contains("deletionTimestamp")) return std::nullopt;
  // Every version of a resource shares one key prefix: /registry/<group>/<plural>/.
  const std::string prefix = fmt::format("/registry/{}/{}/", string_member(crd["spec"], "group"),
                                         string_member(crd["spec"]["names"], "plural"));
  if (delete_everything_under(prefix)) return std::nullopt;
  auto removed = store_.remove(record->key, std::nullopt);
  if (removed.status != store::WriteStatus::Ok) return std::nullopt;
  registry_.remove_crd(crd_name);
  return to_object(removed.record);
}

}  // namespace riasc::apiserver

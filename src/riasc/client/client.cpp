#include "riasc/client/client.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "riasc/client/discovery.hpp"
#include "riasc/client/transport.hpp"

namespace riasc::client {

using detail::escape;
using detail::Query;

namespace {

constexpr std::string_view kJson = "application/json";

std::string_view content_type(PatchType type) {
  switch (type) {
    case PatchType::Merge:
      return "application/merge-patch+json";
    case PatchType::Json:
      return "application/json-patch+json";
    case PatchType::StrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::Apply:
      return "application/apply-patch+yaml";  // JSON is YAML
  }
  return kJson;
}

const Json& metadata_of(const Json& object) {
  static const Json kEmpty = Json::object();
  return object.is_object() && object.contains("metadata") && object["metadata"].is_object()
             ? object["metadata"]
             : kEmpty;
}

void add_write_options(Query& query, const WriteOptions& options) {
  if (options.dry_run) query.add("dryRun", "All");
  query.add_if("fieldManager", options.field_manager);
  query.add_if("fieldValidation", options.field_validation);
}

}  // namespace

GroupVersionKind GroupVersionKind::of(const Json& object) {
  const std::string api_version = string_member(object, "apiVersion");
  const auto slash = api_version.find('/');
  if (slash == std::string::npos) return {"", api_version, string_member(object, "kind")};
  return {api_version.substr(0, slash), api_version.substr(slash + 1), string_member(object, "kind")};
}

std::string ResourceInfo::api_version() const { return group.empty() ? version : group + "/" + version; }

// --- Resource ---------------------------------------------------------------------------------

Resource::Resource(std::shared_ptr<detail::Transport> transport, ResourceInfo info,
                   std::string namespace_name)
    : transport_(std::move(transport)), info_(std::move(info)), namespace_(std::move(namespace_name)) {}

std::string Resource::collection_path(const std::string& namespace_name) const {
  std::string path = info_.group.empty()
                         ? "/api/" + escape(info_.version)
                         : fmt::format("/apis/{}/{}", escape(info_.group), escape(info_.version));
  if (info_.namespaced && !namespace_name.empty()) path += "/namespaces/" + escape(namespace_name);
  return path + "/" + escape(info_.resource);
}

// The object's own namespace serves when this Resource has none; a namespaced object without
// either cannot be addressed.
std::string Resource::object_path(std::string_view name, const Json* object,
                                  std::string_view subresource) const {
  if (name.empty())
    throw std::invalid_argument(fmt::format("{}: an object name is required", info_.resource));
  std::string namespace_name = namespace_;
  if (namespace_name.empty() && object != nullptr)
    namespace_name = string_member(metadata_of(*object), "namespace");
  if (info_.namespaced && namespace_name.empty()) {
    throw std::invalid_argument(fmt::format("{} \"{}\": {} are namespaced and no namespace was given",
                                            info_.resource, name, info_.resource));
  }
  std::string path = collection_path(namespace_name) + "/" + escape(name);
  if (!subresource.empty()) path += "/" + escape(subresource);
  return path;
}

Json Resource::get(std::string_view name) const { return transport_->call("GET", object_path(name)); }

ListResult Resource::list(const ListOptions& options) const {
  ListResult result;
  std::string next;
  bool first = true;
  do {
    Query query;
    query.add_if("labelSelector", options.label_selector);
    query.add_if("fieldSelector", options.field_selector);
    if (options.page_size > 0) query.add("limit", std::to_string(options.page_size));
    if (first)
      query.add_if("resourceVersion", options.resource_version);  // not allowed with continue
    else
      query.add("continue", next);
    Json page = transport_->call("GET", collection_path(namespace_) + query.str());
    const Json& metadata = metadata_of(page);
    // Every page reports the first page's revision: a watch from it misses nothing.
    if (first) result.resource_version = string_member(metadata, "resourceVersion");
    next = string_member(metadata, "continue");
    first = false;
    if (page.contains("items") && page["items"].is_array()) {
      for (auto& item : page["items"]) {
        if (!item.contains("apiVersion")) item["apiVersion"] = info_.api_version();
        if (!item.contains("kind")) item["kind"] = info_.kind;
        result.items.push_back(std::move(item));
      }
    }
  } while (!next.empty());
  return result;
}

Json Resource::write(std::string_view method, const Json& object, std::string_view subresource,
                     const WriteOptions& options) const {
  Query query;
  add_write_options(query, options);
  const std::string name = string_member(metadata_of(object), "name");
  std::string path;
  if (method == "POST") {
    std::string namespace_name =
        namespace_.empty() ? string_member(metadata_of(object), "namespace") : namespace_;
    if (info_.namespaced && namespace_name.empty())
      throw std::invalid_argument(fmt::format("{}: a namespace is required to create one", info_.resource));
    path = collection_path(namespace_name);
  } else {
    path = object_path(name, &object, subresource);
  }
  return transport_->call(method, path + query.str(), object.dump(), kJson);
}

Json Resource::create(const Json& object, const WriteOptions& options) const {
  return write("POST", object, {}, options);
}

Json Resource::update(const Json& object, const WriteOptions& options) const {
  return write("PUT", object, {}, options);
}

Json Resource::update_status(const Json& object, const WriteOptions& options) const {
  return write("PUT", object, "status", options);
}

Json Resource::patch(std::string_view name, PatchType type, const Json& body,
                     const PatchOptions& options) const {
  if (type == PatchType::Apply && options.field_manager.empty())
    throw std::invalid_argument("server-side apply needs a field manager");
  Query query;
  add_write_options(query, options);
  if (options.force) query.add("force", "true");
  return transport_->call("PATCH", object_path(name, &body, options.subresource) + query.str(), body.dump(),
                          content_type(type));
}

Json Resource::apply(const Json& object, const PatchOptions& options) const {
  return patch(string_member(metadata_of(object), "name"), PatchType::Apply, object, options);
}

Json Resource::remove(std::string_view name, const DeleteOptions& options) const {
  Json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (!options.propagation_policy.empty()) body["propagationPolicy"] = options.propagation_policy;
  if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
  if (options.dry_run) body["dryRun"] = Json::array({"All"});
  if (!options.precondition_uid.empty() || !options.precondition_resource_version.empty()) {
    Json preconditions = Json::object();
    if (!options.precondition_uid.empty()) preconditions["uid"] = options.precondition_uid;
    if (!options.precondition_resource_version.empty())
      preconditions["resourceVersion"] = options.precondition_resource_version;
    body["preconditions"] = std::move(preconditions);
  }
  return transport_->call("DELETE", object_path(name), body.dump(), kJson);
}

WatchStream Resource::watch(const WatchOptions& options) const {
  Query query;
  query.add("watch", "true");
  query.add_if("labelSelector", options.label_selector);
  query.add_if("fieldSelector", options.field_selector);
  if (options.allow_bookmarks) query.add("allowWatchBookmarks", "true");
  if (options.timeout_seconds) query.add("timeoutSeconds", std::to_string(*options.timeout_seconds));
  return detail::open_watch(transport_, collection_path(namespace_) + query.str(), options.resource_version);
}

// --- Client -----------------------------------------------------------------------------------

Client::Client(Config config)
    : transport_(std::make_shared<detail::Transport>(std::move(config))),
      discovery_(std::make_unique<detail::Discovery>(transport_)) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

const Config& Client::config() const { return transport_->config(); }

ResourceInfo Client::resolve(const GroupVersionResource& gvr) { return discovery_->by_resource(gvr); }
ResourceInfo Client::resolve(const GroupVersionKind& kind) { return discovery_->by_kind(kind); }
ResourceInfo Client::find(std::string_view name) { return discovery_->find(name); }
void Client::forget_discovery() { discovery_->forget(); }

Resource Client::resource(const GroupVersionResource& gvr, std::string namespace_name) {
  return {transport_, resolve(gvr), std::move(namespace_name)};
}

Resource Client::resource(const GroupVersionKind& gvk, std::string namespace_name) {
  return {transport_, resolve(gvk), std::move(namespace_name)};
}

Resource Client::resource_for(const Json& object) {
  return resource(GroupVersionKind::of(object), string_member(metadata_of(object), "namespace"));
}

Json Client::get_path(const std::string& path) { return transport_->call("GET", path); }

}  // namespace riasc::client

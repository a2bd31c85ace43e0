#pragma once

// A Kubernetes API client: resources addressed by group/version/resource or kind, found through
// discovery; the verbs as functions returning JSON objects; Status errors as typed exceptions
// (errors.hpp); watches as streams of events (watch.hpp). One Client serves many threads at once.
//
//   client::Client api(client::load_default_config());
//   auto config_maps = api.resource({"", "v1", "configmaps"}, "default");
//   config_maps.create(object);
//   for (const Json& item : config_maps.list().items) ...

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "riasc/client/config.hpp"
#include "riasc/client/errors.hpp"
#include "riasc/client/watch.hpp"
#include "riasc/core/json.hpp"

namespace riasc::client {

namespace detail {
class Transport;
class Discovery;
}  // namespace detail

struct GroupVersionResource {
  std::string group;  // "" for the core group
  std::string version;
  std::string resource;  // plural: "configmaps"
};

struct GroupVersionKind {
  std::string group;
  std::string version;
  std::string kind;
  // From an object's apiVersion ("apps/v1", "v1") and kind.
  static GroupVersionKind of(const Json& object);
};

// What discovery says about one resource.
struct ResourceInfo {
  std::string group;
  std::string version;
  std::string resource;  // plural
  std::string singular;
  std::string kind;
  bool namespaced = false;
  std::vector<std::string> verbs;
  std::vector<std::string> short_names;
  std::vector<std::string> subresources;          // "status", "scale", ...
  [[nodiscard]] std::string api_version() const;  // "v1", "apps/v1"
};

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  std::int64_t page_size = 500;  // items per request; list() follows continue tokens to the end
  std::string resource_version;  // "" most recent; "0" any (a cache may answer)
};

struct ListResult {
  std::vector<Json> items;       // each with apiVersion and kind, which list responses leave out
  std::string resource_version;  // of the list: watch from here
};

struct WriteOptions {
  std::string field_manager;
  bool dry_run = false;
  std::string field_validation;  // "", "Ignore", "Warn", "Strict"
};

enum class PatchType {
  Merge,           // application/merge-patch+json (RFC 7386)
  Json,            // application/json-patch+json (RFC 6902)
  StrategicMerge,  // application/strategic-merge-patch+json; built-in kinds only
  Apply,           // server-side apply; needs field_manager
};

struct PatchOptions : WriteOptions {
  bool force = false;       // apply: take over conflicting fields
  std::string subresource;  // "status", or "" for the object
};

struct DeleteOptions {
  std::string propagation_policy;  // "", "Background", "Foreground", "Orphan"
  std::string precondition_uid;    // delete only this incarnation
  std::string precondition_resource_version;
  std::optional<std::int64_t> grace_period_seconds;
  bool dry_run = false;
};

struct WatchOptions {
  std::string resource_version;  // "" or "0": the current objects as ADDED events first
  bool allow_bookmarks = true;
  std::optional<std::int64_t> timeout_seconds;  // the server ends the watch after this
  std::string label_selector;
  std::string field_selector;
};

// One resource in one namespace ("" : all namespaces for list and watch, and each object's own
// namespace for writes). Cheap to copy; shares the Client's connections.
class Resource {
 public:
  Resource(std::shared_ptr<detail::Transport> transport, ResourceInfo info, std::string namespace_name);

  [[nodiscard]] const ResourceInfo& info() const { return info_; }
  [[nodiscard]] const std::string& namespace_name() const { return namespace_; }

  [[nodiscard]] Json get(std::string_view name) const;
  [[nodiscard]] ListResult list(const ListOptions& options = {}) const;
  Json create(const Json& object, const WriteOptions& options = {}) const;
  // PUT: metadata.resourceVersion, when set, must be current (else Conflict).
  Json update(const Json& object, const WriteOptions& options = {}) const;
  Json update_status(const Json& object, const WriteOptions& options = {}) const;
  Json patch(std::string_view name, PatchType type, const Json& body, const PatchOptions& options = {}) const;
  // Server-side apply of `object` (its metadata.name names it); options.field_manager required.
  Json apply(const Json& object, const PatchOptions& options) const;
  // The object, still there with a deletionTimestamp when finalizers hold it, or a Status.
  Json remove(std::string_view name, const DeleteOptions& options = {}) const;
  [[nodiscard]] WatchStream watch(const WatchOptions& options = {}) const;

 private:
  [[nodiscard]] std::string collection_path(const std::string& namespace_name) const;
  [[nodiscard]] std::string object_path(std::string_view name, const Json* object = nullptr,
                                        std::string_view subresource = {}) const;
  Json write(std::string_view method, const Json& object, std::string_view subresource,
             const WriteOptions& options) const;

  std::shared_ptr<detail::Transport> transport_;
  ResourceInfo info_;
  std::string namespace_;
};

class Client {
 public:
  explicit Client(Config config);  // connects lazily; ConfigError for a bad server URL
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  [[nodiscard]] const Config& config() const;
  [[nodiscard]] const std::string& default_namespace() const { return config().namespace_name; }

  // Discovery, cached per group version and fetched again on a miss (a CRD created since).
  // NotFound when the server does not serve it.
  ResourceInfo resolve(const GroupVersionResource& gvr);
  ResourceInfo resolve(const GroupVersionKind& gvk);
  // As kubectl reads a resource argument: plural, singular, kind or short name, optionally
  // qualified by group ("deployments.apps", "tp"), in each group's preferred version.
  ResourceInfo find(std::string_view name);
  void forget_discovery();

  Resource resource(const GroupVersionResource& gvr, std::string namespace_name = {});
  Resource resource(const GroupVersionKind& gvk, std::string namespace_name = {});
  // The resource of an object, from its apiVersion and kind, in its namespace.
  Resource resource_for(const Json& object);

  // A request to any path (/version, /healthz, ...), authenticated; typed errors for >= 400.
  Json get_path(const std::string& path);

 private:
  std::shared_ptr<detail::Transport> transport_;
  std::unique_ptr<detail::Discovery> discovery_;
};

}  // namespace riasc::client

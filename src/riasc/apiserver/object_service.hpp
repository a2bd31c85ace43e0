#pragma once

// Kubernetes object semantics on top of the store, independent of HTTP: metadata the server owns
// (uid, creationTimestamp, resourceVersion, generation), validation, pruning and defaulting of
// custom resources, optimistic concurrency, finalizers, and CRDs that register their resources.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "riasc/apiserver/resource_registry.hpp"
#include "riasc/core/field_error.hpp"
#include "riasc/core/json.hpp"
#include "riasc/kubeapi/list_shapes.hpp"
#include "riasc/store/store.hpp"

namespace riasc::apiserver {

// What a failed request answers: a Kubernetes Status object (status.hpp), with its HTTP code.
struct ApiError {
  Json status;
  [[nodiscard]] unsigned code() const;
  [[nodiscard]] std::string message() const;
};

template <typename T>
using Outcome = std::variant<T, ApiError>;

class WebhookAdmission;

// Who makes a request, as the admission webhooks are told (userInfo): from the client
// certificate (CN the user, O the groups), plus system:authenticated as kube-apiserver adds it.
struct UserInfo {
  std::string username;
  std::vector<std::string> groups;
};

// What kube-apiserver does with fields a custom resource's schema does not declare
// (?fieldValidation=): drop them silently, drop them with a warning (the default), or refuse.
enum class FieldValidation { Ignore, Warn, Strict };

// The query parameters and body options of create, update and patch requests.
struct WriteOptions {
  bool dry_run = false;  // run every check, store nothing
  // Who writes (?fieldManager=, else from the User-Agent): gets the fields the write sets in
  // metadata.managedFields. Empty: "riasc" (the server's own writes).
  std::string field_manager;
  // Server-side apply has already computed metadata.managedFields.
  bool managed_fields_ready = false;
  FieldValidation field_validation = FieldValidation::Warn;
  // Collects the `Warning:` texts of the answer (unknown fields, ignored namespaces); may be null.
  std::vector<std::string>* warnings = nullptr;
  // The requester, for admission webhooks; absent for the server's own writes.
  std::optional<UserInfo> user;
};

// How deleting an owner treats its dependents (metadata.ownerReferences pointing at it):
// Background deletes the owner now and the dependents after it, Foreground deletes the
// dependents first and keeps the owner (finalizer foregroundDeletion) until they are gone,
// Orphan removes the references and keeps the dependents.
enum class Propagation { Background, Foreground, Orphan };

struct DeleteOptions {
  Propagation propagation = Propagation::Background;
  std::optional<std::string> expected_uid;               // preconditions.uid
  std::optional<std::string> expected_resource_version;  // preconditions.resourceVersion
  bool dry_run = false;
  std::optional<UserInfo> user;  // as in WriteOptions
  // Pods only: how long the node may take to stop the containers (nullopt: the pod's
  // spec.terminationGracePeriodSeconds, else 30; 0: at once).
  std::optional<std::int64_t> grace_period_seconds;
};

// A random RFC 4122 version 4 UUID: metadata.uid, AdmissionReview request uids.
std::string new_uid();

class ObjectService {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  ObjectService(store::Store& store, ResourceRegistry& registry,
                Clock clock = std::chrono::system_clock::now);

  // Calls admission webhooks on every create, update and delete from now on (null: none). Not
  // owned; must outlive this service.
  void set_admission(WebhookAdmission* admission) { admission_ = admission; }

  // Called after every write with the type written (and for every namespaced type when a
  // namespace deletion empties it): caches of stored objects (RBAC's) drop what they hold.
  void on_written(std::function<void(const ResourceType&)> observer) {
    write_observers_.push_back(std::move(observer));
  }
  // Asked before a user's create or update is admitted (RBAC's escalation check); the server's own
  // writes (no WriteOptions::user) are not asked.
  using WriteCheck = std::function<std::optional<ApiError>(
      const ResourceType&, std::string_view namespace_name, const Json& object, const UserInfo& user)>;
  void set_write_check(WriteCheck check) { write_check_ = std::move(check); }

  // Registers the resources of every CRD already stored (at start-up).
  void load_crds();

  Outcome<Json> create(const ResourceType& type, std::string_view namespace_name, Json object,
                       const WriteOptions& options = {});
  Outcome<Json> get(const ResourceType& type, std::string_view namespace_name, std::string_view name) const;

  struct ListOptions {
    std::string_view namespace_name;  // empty: all namespaces
    std::size_t limit = 0;
    std::string continue_token;
    std::function<bool(const Json&)> filter;  // label and field selectors
    // When set, the page's records go here instead of into "items" (list_text).
    std::vector<store::Record>* collect = nullptr;
  };
  Outcome<Json> list(const ResourceType& type, const ListOptions& options) const;

  // PUT. With `status` true (the status subresource) only the status changes, else everything
  // but the status (for types that have a status subresource).
  // `read_before`: the stored object as the caller read it (a patch's base); used instead of
  // parsing the stored one again when it is still current.
  Outcome<Json> update(const ResourceType& type, std::string_view namespace_name, std::string_view name,
                       Json object, bool status = false, const WriteOptions& options = {},
                       std::optional<Json> read_before = std::nullopt);

  // DELETE. An object with finalizers (or deleted with Foreground or Orphan propagation) gets a
  // deletionTimestamp and stays until they are removed; the garbage collector handles dependents.
  Outcome<Json> remove(const ResourceType& type, std::string_view namespace_name, std::string_view name,
                       const DeleteOptions& options = {});

  // How the lists of a type's objects merge (patch engines, field ownership).
  static kubeapi::ListShapes list_shapes(const ResourceType& type);
  // RFC 3339 with second precision, the server's clock: creationTimestamp, managedFields times.
  [[nodiscard]] std::string now() const;

  // The type of an object from its apiVersion and kind, if served.
  [[nodiscard]] std::optional<ResourceType> type_of(const Json& object) const;

  // One object as JSON text, written as stored (see object_text).
  Outcome<std::string> get_text(const ResourceType& type, std::string_view namespace_name,
                                std::string_view name) const;

  // A list without filters as JSON text, items written as stored rather than parsed and dumped
  // again: ten times faster for large lists.
  Outcome<std::string> list_text(const ResourceType& type, const ListOptions& options) const;

  // The store record as a Kubernetes object: the stored JSON with metadata.resourceVersion.
  static Json to_object(const store::Record& record);
  // The same as JSON text, without parsing the stored JSON when it is in the stored form.
  static std::string object_text(const store::Record& record);
  static void append_object_text(const store::Record& record, std::string& out);

 private:
  // One try of remove(); `raced`: another write came between reading and deleting.
  // For a pod that a node runs (spec.nodeName names a Node object, not finished): the seconds
  // the node has to stop it; kubelet semantics, the node deletes the pod with grace 0 when done.
  [[nodiscard]] std::optional<std::int64_t> termination_grace(const ResourceType& type, const Json& pod,
                                                              const DeleteOptions& options) const;
  Outcome<Json> remove_once(const ResourceType& type, std::string_view namespace_name, std::string_view name,
                            const DeleteOptions& options, bool& raced);
  Outcome<Json> write_update(const ResourceType& type, const store::Record& current_record, Json current,
                             Json object, const WriteOptions& options, bool status);
  std::optional<ApiError> validate(const ResourceType& type, Json& object, const WriteOptions& options) const;
  void on_crd_written(const Json& crd);
  std::optional<ApiError> check_write(const ResourceType& type, std::string_view namespace_name,
                                      const Json& object, const WriteOptions& options) const;
  // After a write: tells the admission webhooks when it changed their configurations.
  void configuration_written(const ResourceType& type);
  // Deletes what a Terminating namespace still holds, then the namespace; the deleted namespace,
  // or nothing while objects with finalizers remain.
  std::optional<Json> finish_namespace_deletion(std::string_view namespace_name);
  // The same for a CRD being deleted and its custom resources.
  std::optional<Json> finish_crd_deletion(std::string_view crd_name);
  // Deletes the objects under a key prefix, marking those with finalizers; true if any remain.
  bool delete_everything_under(const std::string& prefix);

  store::Store& store_;
  ResourceRegistry& registry_;
  Clock clock_;
  WebhookAdmission* admission_ = nullptr;
  std::vector<std::function<void(const ResourceType&)>> write_observers_;
  WriteCheck write_check_;
};

}  // namespace riasc::apiserver

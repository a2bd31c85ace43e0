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

#include "riasc/apiserver/resource_registry.hpp"
#include "riasc/core/field_error.hpp"
#include "riasc/core/json.hpp"
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

class ObjectService {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  ObjectService(store::Store& store, ResourceRegistry& registry,
                Clock clock = std::chrono::system_clock::now);

  // Registers the resources of every CRD already stored (at start-up).
  void load_crds();

  Outcome<Json> create(const ResourceType& type, std::string_view namespace_name, Json object);
  Outcome<Json> get(const ResourceType& type, std::string_view namespace_name, std::string_view name) const;

  struct ListOptions {
    std::string_view namespace_name;  // empty: all namespaces
    std::size_t limit = 0;
    std::string continue_token;
    std::function<bool(const Json&)> filter;  // label and field selectors
  };
  Outcome<Json> list(const ResourceType& type, const ListOptions& options) const;

  // PUT. With `status` true (the status subresource) only the status changes, else everything
  // but the status (for types that have a status subresource).
  Outcome<Json> update(const ResourceType& type, std::string_view namespace_name, std::string_view name,
                       Json object, bool status = false);

  // DELETE. An object with finalizers gets a deletionTimestamp and stays until they are removed.
  Outcome<Json> remove(const ResourceType& type, std::string_view namespace_name, std::string_view name,
                       std::optional<std::string> expected_resource_version = {});

  // The store record as a Kubernetes object: the stored JSON with metadata.resourceVersion.
  static Json to_object(const store::Record& record);

 private:
  Outcome<Json> write_update(const ResourceType& type, const store::Record& current, Json object);
  std::optional<ApiError> validate(const ResourceType& type, Json& object) const;
  void on_crd_written(const Json& crd);
  // Deletes what a Terminating namespace still holds, then the namespace; the deleted namespace,
  // or nothing while objects with finalizers remain.
  std::optional<Json> finish_namespace_deletion(std::string_view namespace_name);

  store::Store& store_;
  ResourceRegistry& registry_;
  Clock clock_;
};

}  // namespace riasc::apiserver

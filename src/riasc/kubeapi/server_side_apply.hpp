#pragma once

// Server-side apply and field ownership (metadata.managedFields), after kube-apiserver's
// fieldmanager and sigs.k8s.io/structured-merge-diff.
//
// Each managedFields entry records the fields one manager owns, in structured-merge-diff's FieldsV1
// format: {"f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}}}}}:
// "f:<member>", "k:<keys as JSON>" for an item of a keyed list, "v:<value as JSON>" for an item of a
// set, and "." when the object that holds it is owned itself (list items, and containers an
// update created). Entries are keyed by manager, operation (Apply or Update), subresource and,
// for Update, apiVersion.
//
// Never tracked: apiVersion, kind and metadata's name, namespace, uid, resourceVersion,
// generation, creationTimestamp, deletionTimestamp, managedFields, selfLink.

#include <string>
#include <string_view>
#include <vector>

#include "riasc/core/json.hpp"
#include "riasc/kubeapi/list_shapes.hpp"
#include "riasc/kubeapi/strategic_merge.hpp"  // PatchError

namespace riasc::kubeapi {

// A field the apply configuration sets to another value than the one another manager set.
struct FieldConflict {
  std::string manager;      // the other manager
  std::string field;        // ".spec.replicas", ".spec.containers[name=\"nginx\"].image"
  std::string operation;    // the other manager's operation: "Apply" or "Update"
  std::string api_version;  // of its entry; the message names it for Update managers
  std::string subresource;  // of its entry ("status"), usually empty
};

struct ApplyOptions {
  std::string manager;      // fieldManager; the caller rejects an apply without one
  bool force = false;       // take the conflicting fields over instead of failing
  std::string api_version;  // the request's "group/version" ("v1", "apps/v1")
  std::string now;          // RFC 3339, e.g. "2024-05-01T12:00:00Z"
  // The main resource of a kind with a status subresource: the configuration's status is ignored.
  bool ignore_status = false;
  // The status subresource: only the configuration's status is applied; the entry is recorded
  // with subresource "status".
  bool only_status = false;
  ListShapes shapes;
};

struct ApplyOutcome {
  Json object;                           // the object to store; null when there are conflicts
  std::vector<FieldConflict> conflicts;  // sorted by manager, then field
};

// Applies `applied` (an apply configuration: the fields this manager wants, nothing else) to `live`
// (nullptr: the object does not exist yet and is created from the configuration):
//   - fields another manager owns and the configuration sets to a different value are
//     conflicts, unless `force`, which takes them over; set to the same value they are shared;
//   - the configuration merges into the live object: objects member by member, Map lists item by
//     item, Set lists by value; atomic lists and scalars are replaced; a null removes the member;
//   - fields this manager applied before and no longer applies are removed, unless another
//     manager owns them too;
//   - the manager's Apply entry becomes the configuration's fields (time `now` when the object
//     changed); entries left without fields are dropped.
// The object the caller stores is the returned one (uid, resourceVersion, creationTimestamp and
// generation are the caller's to set; the configuration's are ignored). The caller has checked
// that apiVersion and kind (and name) of `applied` match `live`. A live object without
// managedFields counts as owned by "before-first-apply" (an Update manager), as in kube.
// Throws PatchError for a configuration that is not an object, carries managedFields, or has list
// items without their keys or repeated keys.
ApplyOutcome server_side_apply(const Json* live, const Json& applied, const ApplyOptions& options);

// Ownership for ordinary writes (create: `old_object` nullptr; update; the merge, JSON and
// strategic patches): `manager`'s Update entry gains the fields this write added or changed, every
// other entry loses them, and all entries lose the fields it removed. Returns `new_object` with its
// managedFields updated. managedFields the client sent (a non-empty, readable list) replace the
// stored ones, as kube lets clients edit them (`[{}]` clears them), except on a subresource
// ("status"), whose writes are recorded with that subresource. Never throws: managedFields that
// cannot be read are reset, as kube does.
Json track_update(const Json* old_object, Json new_object, std::string_view manager,
                  std::string_view api_version, std::string_view now, const ListShapes& shapes,
                  std::string_view subresource = {});

// 409 Conflict for a failed apply, worded as kube-apiserver words it:
//   Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas
//   Apply failed with 2 conflicts: conflicts with "a":\n- .spec.x\n- .spec.y
// with details.causes [{reason: FieldManagerConflict, message: `conflict with "a"`, field}].
Json status_apply_conflict(const std::vector<FieldConflict>& conflicts);

}  // namespace riasc::kubeapi

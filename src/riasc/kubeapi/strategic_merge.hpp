#pragma once

// Strategic merge patch (Content-Type application/strategic-merge-patch+json), as
// k8s.io/apimachinery/pkg/util/strategicpatch applies it on the server:
//   - objects merge member by member; a null member deletes;
//   - Map lists merge item by item on the merge key (ListShape::keys front): patch items update
//     the item with the same key or are added; Set lists of scalars merge as a union; Atomic lists
//     (and those with ListShape::patch_replaces) are replaced by the patch's list;
//   - the order of a merged list is kube's: the patch's items in the patch's order, interleaved
//     with the items only the original has in their original order, where an item only the patch
//     has goes in front of the original items after it (so a new container comes first);
//     `$setElementOrder/<list>` gives the order explicitly;
//   - directives: `$patch: delete` (a list item: remove the items with its key; an object: empty
//     it), `$patch: replace` (an object: take the patch's object; a list item: take the patch's
//     other items as the list), `$retainKeys: [...]` (drop the original's other members),
//     `$deleteFromPrimitiveList/<list>: [...]` (remove these scalars),
//     `$setElementOrder/<list>: [...]`.
// Unlike kube, directives and nulls inside a value the original lacks are applied against an
// empty value rather than stored verbatim, so they never reach the stored object.

#include <stdexcept>

#include "riasc/core/json.hpp"
#include "riasc/kubeapi/list_shapes.hpp"

namespace riasc::kubeapi {

// A patch (or apply configuration) the engine cannot apply; what() names the path. The server
// answers 400 BadRequest (kube: 400 or 422) with what() as the message.
class PatchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `original` must be an object (the stored object); `patch` an object, else PatchError.
Json strategic_merge_patch(const Json& original, const Json& patch, const ListShapes& shapes);

}  // namespace riasc::kubeapi

#include "riasc/kubeapi/strategic_merge.hpp"
#include "riasc/kubeapi/member_index.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "riasc/core/field_error.hpp"
#include "riasc/core/go_quote.hpp"

namespace riasc::kubeapi {

namespace {

constexpr std::string_view kPatchDirective = "$patch";
constexpr std::string_view kRetainKeys = "$retainKeys";
constexpr std::string_view kDeleteFromPrimitiveList = "$deleteFromPrimitiveList/";
constexpr std::string_view kSetElementOrder = "$setElementOrder/";
// Deeper patches are refused rather than risking the stack; Kubernetes objects nest a few dozen
// levels at most.
constexpr std::size_t kMaxDepth = 512;

[[noreturn]] void fail(const FieldPath& at, std::string_view what) {
  if (at.empty()) throw PatchError(std::string(what));
  throw PatchError(fmt::format("{}: {}", at.to_string(), what));
}

bool is_directive(std::string_view key) {
  return key == kPatchDirective || key == kRetainKeys || key.starts_with(kDeleteFromPrimitiveList) ||
         key.starts_with(kSetElementOrder);
}

// The JSON types Go's decoder distinguishes: all numbers are one type there.
enum class ValueClass { Null, Boolean, Number, String, Array, Object };

ValueClass value_class(const Json& value) {
  if (value.is_object()) return ValueClass::Object;
  if (value.is_array()) return ValueClass::Array;
  if (value.is_string()) return ValueClass::String;
  if (value.is_number()) return ValueClass::Number;
  if (value.is_boolean()) return ValueClass::Boolean;
  return ValueClass::Null;
}

// A string equal for equal JSON values, for hashing list items: 1 and 1.0 are one number (Go
// decodes both to float64).
std::string canonical(const Json& value) {
  if (value.is_number_float()) {
    const double number = value.get<double>();
    if (std::isfinite(number) && std::trunc(number) == number && std::fabs(number) < 9.0e15) {
      return std::to_string(static_cast<long long>(number));
    }
  }
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// How the items of one list are identified: by the merge key's value (lists of objects) or by
// their own value (lists of scalars).
class ItemIdentity {
 public:
  explicit ItemIdentity(const std::string* merge_key) : merge_key_(merge_key) {}

  [[nodiscard]] std::optional<std::string> of(const Json& item) const {
    if (merge_key_ == nullptr) return canonical(item);
    if (!item.is_object()) return std::nullopt;
    auto it = item.find(*merge_key_);
    if (it == item.end()) return std::nullopt;
    return canonical(*it);
  }

  // Identity → index of its first item in `list`.
  [[nodiscard]] std::unordered_map<std::string, std::size_t> positions(const Json& list) const {
    std::unordered_map<std::string, std::size_t> out;
    if (!list.is_array()) return out;
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (auto id = of(list[i])) out.emplace(std::move(*id), i);
    }
    return out;
  }

 private:
  const std::string* merge_key_;
};

using Positions = std::unordered_map<std::string, std::size_t>;

// kube's normalizeElementOrder: the items the patch names (`in_order`: the patch's list or its
// $setElementOrder) come in that order, the others in the original list's order (`in_server`);
// the two runs are then interleaved so that an original item stays in front of a patch item it
// preceded in the original list.
Json ordered(std::vector<Json> merged, const Positions& in_order, const Positions& in_server,
             const ItemIdentity& identity) {
  constexpr std::size_t kAbsent = std::numeric_limits<std::size_t>::max();
  auto position = [&](const Positions& positions, const Json& item) {
    auto id = identity.of(item);
    if (!id) return kAbsent;
    auto it = positions.find(*id);
    return it == positions.end() ? kAbsent : it->second;
  };

  std::vector<std::pair<std::size_t, Json>> from_patch;   // (position in order, item)
  std::vector<std::pair<std::size_t, Json>> server_only;  // (position in the original, item)
  for (auto& item : merged) {
    const std::size_t in_patch = position(in_order, item);
    if (in_patch != kAbsent) {
      from_patch.emplace_back(in_patch, std::move(item));
    } else {
      server_only.emplace_back(position(in_server, item), std::move(item));
    }
  }
  auto by_position = [](const auto& a, const auto& b) { return a.first < b.first; };
  std::stable_sort(from_patch.begin(), from_patch.end(), by_position);
  std::stable_sort(server_only.begin(), server_only.end(), by_position);

  Json out = Json::array();
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < server_only.size() || j < from_patch.size()) {
    bool take_server = j >= from_patch.size();
    if (!take_server && i < server_only.size()) {
      const std::size_t left = server_only[i].first;
      const std::size_t right = position(in_server, from_patch[j].second);
      take_server = left != kAbsent && right != kAbsent && left < right;
    }
    if (take_server) {
      out.push_back(std::move(server_only[i++].second));
    } else {
      out.push_back(std::move(from_patch[j++].second));
    }
  }
  return out;
}

class Merger {
 public:
  explicit Merger(const ListShapes& shapes) : shapes_(shapes) {}

  Json merge_object(Json original, const Json& patch, const FieldPath& at, std::size_t depth) {
    if (depth > kMaxDepth) fail(at, fmt::format("nesting deeper than {} levels", kMaxDepth));
    if (auto directive = patch.find(kPatchDirective); directive != patch.end()) {
      if (!directive->is_string()) fail(at, "$patch must be a string");
      const auto& name = directive->get_ref<const std::string&>();
      if (name == "delete") return Json::object();
      if (name == "replace") {
        Json replacement = patch;
        replacement.erase(std::string(kPatchDirective));
        return merge_object(Json::object(), replacement, at, depth + 1);
      }
      // kube knows no `$patch: merge` on objects either (merging is what happens without one).
      fail(at, fmt::format("unknown patch type {} in map", go_quote(name)));
    }
    if (auto retain = patch.find(kRetainKeys); retain != patch.end()) {
      retain_keys(original, patch, *retain, at);
    }
    for (const auto& [key, value] : patch.items()) {
      if (key.starts_with(kDeleteFromPrimitiveList)) {
        delete_from_primitive_list(original, key.substr(kDeleteFromPrimitiveList.size()), value,
                                   at.child(key));
      } else if (key.starts_with(kSetElementOrder) && !value.is_array()) {
        fail(at.child(key), "invalid patch format of $setElementOrder: must be a list");
      }
    }

    // The original's members in their order, merged with the patch's, then the patch's new ones.
    const MemberIndex patch_members(patch);
    const MemberIndex original_members(original);  // its names outlive the moves below
    Json merged = Json::object();
    for (auto& [key, value] : original.items()) {
      const Json* patched = is_directive(key) ? nullptr : patch_members.find(key);
      if (patched == nullptr) {
        append_member(merged, key, std::move(value));
      } else if (!patched->is_null()) {
        append_member(merged, key, merge_member(std::move(value), *patched, key, patch_members, at, depth));
      }
    }
    for (const auto& [key, value] : patch.items()) {
      if (is_directive(key) || value.is_null() || original_members.find(key) != nullptr) continue;
      path_.push_back(key);
      append_member(merged, key, fresh(value, at.child(key), element_order(patch_members, key), depth + 1));
      path_.pop_back();
    }

    // $setElementOrder without the list itself in the patch only reorders the original's list.
    for (const auto& [key, value] : patch.items()) {
      if (!key.starts_with(kSetElementOrder)) continue;
      const std::string field = key.substr(kSetElementOrder.size());
      if (patch_members.find(field) != nullptr) continue;
      auto it = merged.find(field);
      if (it == merged.end() || !it->is_array()) continue;
      path_.push_back(field);
      Json reordered = merge_list(std::move(*it), Json::array(), at.child(field), &value, depth + 1);
      *it = std::move(reordered);  // no member added or removed since the lookup: `it` is valid
      path_.pop_back();
    }
    return merged;
  }

 private:
  // A member both the original and the patch have.
  Json merge_member(Json original, const Json& patch, const std::string& key,
                    const MemberIndex& patch_members, const FieldPath& at, std::size_t depth) {
    path_.push_back(key);
    const Json* order = element_order(patch_members, key);
    Json out;
    if (original.is_object() && patch.is_object()) {
      out = merge_object(std::move(original), patch, at.child(key), depth + 1);
    } else if (original.is_array() && patch.is_array()) {
      out = merge_list(std::move(original), patch, at.child(key), order, depth + 1);
    } else {
      out = fresh(patch, at.child(key), order, depth + 1);  // a new type replaces the old
    }
    path_.pop_back();
    return out;
  }

  // A patch value for a member the original lacks: merged into an empty value, so that its
  // directives are carried out and its nulls dropped (kube's IgnoreUnmatchedNulls).
  Json fresh(const Json& value, const FieldPath& at, const Json* order, std::size_t depth) {
    if (value.is_object()) return merge_object(Json::object(), value, at, depth);
    if (value.is_array()) return merge_list(Json::array(), value, at, order, depth);
    return value;
  }

  static const Json* element_order(const MemberIndex& patch_members, const std::string& key) {
    const Json* order = patch_members.find(std::string(kSetElementOrder) + key);
    return order != nullptr && order->is_array() ? order : nullptr;
  }

  static void retain_keys(Json& original, const Json& patch, const Json& retain, const FieldPath& at) {
    if (!retain.is_array())
      fail(at.child(std::string(kRetainKeys)), "invalid patch format of $retainKeys: must be a list");
    std::unordered_set<std::string> kept;
    for (const auto& name : retain) {
      if (name.is_string()) kept.insert(name.get<std::string>());
    }
    for (const auto& [key, value] : patch.items()) {
      if (value.is_null() || is_directive(key)) continue;
      if (!kept.contains(key)) {
        fail(at, fmt::format("invalid patch format of $retainKeys: {} is not in the list", go_quote(key)));
      }
    }
    Json retained = Json::object();
    for (auto& [key, value] : original.items()) {
      if (kept.contains(key)) append_member(retained, key, std::move(value));
    }
    original = std::move(retained);
  }

  static void delete_from_primitive_list(Json& original, const std::string& field, const Json& values,
                                         const FieldPath& at) {
    if (!values.is_array()) fail(at, "invalid patch format of $deleteFromPrimitiveList: must be a list");
    auto it = original.find(field);
    if (it == original.end() || !it->is_array()) return;
    std::unordered_set<std::string> deleted;
    for (const auto& value : values) deleted.insert(canonical(value));
    Json kept = Json::array();
    for (auto& item : *it) {
      if (!deleted.contains(canonical(item))) kept.push_back(std::move(item));
    }
    *it = std::move(kept);
  }

  Json merge_list(Json original, const Json& patch, const FieldPath& at, const Json* order,
                  std::size_t depth) {
    if (depth > kMaxDepth) fail(at, fmt::format("nesting deeper than {} levels", kMaxDepth));
    const ListShape shape = shapes_ ? shapes_(path_) : ListShape{};
    if (shape.kind == ListShape::Kind::Atomic || shape.patch_replaces) return patch;
    if (original.empty() && patch.empty()) return original;

    std::optional<ValueClass> items;
    for (const Json* list : {static_cast<const Json*>(&original), &patch}) {
      for (std::size_t i = 0; i < list->size(); ++i) {
        const ValueClass item = value_class((*list)[i]);
        if (item == ValueClass::Null) fail(at.index(i), "list items may not be null");
        if (item == ValueClass::Array) fail(at, "lists of lists are not supported");
        if (items && *items != item) fail(at.index(i), "list items are not all of one type");
        items = item;
      }
    }

    if (items != ValueClass::Object) {
      // Scalars merge as a set: the original's, then the patch's new ones (kube dedupes both).
      ItemIdentity identity(nullptr);
      std::unordered_set<std::string> seen;
      std::vector<Json> merged;
      for (const Json* list : {static_cast<const Json*>(&original), &patch}) {
        for (const auto& item : *list) {
          if (seen.insert(canonical(item)).second) merged.push_back(item);
        }
      }
      return ordered(std::move(merged), identity.positions(order != nullptr ? *order : patch),
                     identity.positions(original), identity);
    }

    if (shape.kind != ListShape::Kind::Map || shape.keys.empty())
      fail(at, "cannot merge lists of objects without a merge key");
    const std::string& key = shape.keys.front();
    ItemIdentity identity(&key);

    // Directives in list items: $patch delete removes the original's items with that key,
    // $patch replace makes the patch's other items the whole list.
    std::vector<const Json*> patch_items;
    bool replace = false;
    for (std::size_t i = 0; i < patch.size(); ++i) {
      const Json& item = patch[i];
      auto directive = item.find(kPatchDirective);
      if (directive == item.end()) {
        patch_items.push_back(&item);
        continue;
      }
      if (!directive->is_string()) fail(at.index(i), "$patch must be a string");
      const auto& name = directive->get_ref<const std::string&>();
      if (name == "delete") {
        auto id = identity.of(item);
        if (!id) fail(at.index(i), fmt::format("does not contain declared merge key {}", go_quote(key)));
        Json kept = Json::array();
        for (auto& candidate : original) {
          if (identity.of(candidate) != id) kept.push_back(std::move(candidate));
        }
        original = std::move(kept);
      } else if (name == "replace") {
        replace = true;
      } else if (name == "merge") {
        fail(at.index(i), "merging lists cannot yet be specified in the patch");
      } else {
        fail(at.index(i), fmt::format("unknown patch type {} in list item", go_quote(name)));
      }
    }

    std::vector<Json> merged;
    if (replace) {
      path_.emplace_back("[]");
      for (std::size_t i = 0; i < patch_items.size(); ++i) {
        merged.push_back(merge_object(Json::object(), *patch_items[i], at.index(i), depth + 1));
      }
      path_.pop_back();
      Positions own_order;
      for (std::size_t i = 0; i < merged.size(); ++i) {
        if (auto id = identity.of(merged[i])) own_order.emplace(std::move(*id), i);
      }
      return ordered(std::move(merged), order != nullptr ? identity.positions(*order) : Positions(),
                     own_order, identity);
    }

    const Positions in_server = identity.positions(original);
    Positions in_patch;
    merged.reserve(original.size() + patch_items.size());
    Positions index;  // merge key → position in `merged`
    for (auto& item : original) {
      if (auto id = identity.of(item)) index.emplace(std::move(*id), merged.size());
      merged.push_back(std::move(item));
    }
    path_.emplace_back("[]");
    for (std::size_t i = 0; i < patch_items.size(); ++i) {
      const Json& item = *patch_items[i];
      auto id = identity.of(item);
      if (!id) fail(at.index(i), fmt::format("does not contain declared merge key {}", go_quote(key)));
      in_patch.emplace(*id, i);
      if (auto found = index.find(*id); found != index.end()) {
        Json updated = merge_object(std::move(merged[found->second]), item, at.index(i), depth + 1);
        merged[found->second] = std::move(updated);
      } else {
        index.emplace(std::move(*id), merged.size());
        merged.push_back(merge_object(Json::object(), item, at.index(i), depth + 1));
      }
    }
    path_.pop_back();
    return ordered(std::move(merged), order != nullptr ? identity.positions(*order) : in_patch, in_server,
                   identity);
  }

  const ListShapes& shapes_;
  std::vector<std::string> path_;  // for shapes_: member names, "[]" for list items
};

}  // namespace

Json strategic_merge_patch(const Json& original, const Json& patch, const ListShapes& shapes) {
  if (!original.is_object()) throw PatchError("the object to patch is not a JSON object");
  if (!patch.is_object()) throw PatchError("a strategic merge patch must be a JSON object");
  Merger merger(shapes);
  return merger.merge_object(original, patch, FieldPath(), 0);
}

}  // namespace riasc::kubeapi

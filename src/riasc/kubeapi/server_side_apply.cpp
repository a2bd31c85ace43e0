#include "riasc/kubeapi/server_side_apply.hpp"
#include "riasc/kubeapi/member_index.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "riasc/core/go_quote.hpp"
#include "riasc/kubeapi/status.hpp"

namespace riasc::kubeapi {

namespace {

// Deeper objects are refused rather than risking the stack; Kubernetes objects nest a few dozen
// levels at most.
constexpr std::size_t kMaxDepth = 512;

constexpr std::string_view kApply = "Apply";
constexpr std::string_view kUpdate = "Update";
constexpr std::string_view kBeforeFirstApply = "before-first-apply";

std::string dump(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

// ---------------------------------------------------------------------------------------------
// Values: structured-merge-diff's total order, and equality that ignores member order.

int type_rank(const Json& value) {
  if (value.is_number()) return 0;
  if (value.is_string()) return 1;
  if (value.is_boolean()) return 2;
  if (value.is_array()) return 3;
  if (value.is_object()) return 4;
  return 5;  // null
}

template <typename T>
int three_way(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

int three_way(const std::string& a, const std::string& b) {
  const int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

int compare_numbers(const Json& a, const Json& b) {
  if (a.is_number_integer() && b.is_number_integer()) {
    if (a.is_number_unsigned() || b.is_number_unsigned()) {
      if (a.is_number_unsigned() && b.is_number_unsigned())
        return three_way(a.get<std::uint64_t>(), b.get<std::uint64_t>());
      // One signed, one unsigned: a negative signed value is the smaller.
      if (a.is_number_unsigned())
        return b.get<std::int64_t>() < 0 ? 1 : three_way(a.get<std::uint64_t>(), b.get<std::uint64_t>());
      return a.get<std::int64_t>() < 0 ? -1 : three_way(a.get<std::uint64_t>(), b.get<std::uint64_t>());
    }
    return three_way(a.get<std::int64_t>(), b.get<std::int64_t>());
  }
  return three_way(a.get<double>(), b.get<double>());
}

std::vector<std::string> sorted_keys(const Json& object) {
  std::vector<std::string> keys;
  keys.reserve(object.size());
  for (const auto& [key, value] : object.items()) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  return keys;
}

bool keys_sorted(const Json& object) {
  const std::string* previous = nullptr;
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (previous != nullptr && !(*previous < it.key())) return false;
    previous = &it.key();
  }
  return true;
}

// value.Compare: numbers < strings < booleans < lists < maps < null; maps by sorted keys.
int compare_values(const Json& a, const Json& b) {
  if (int rank = three_way(type_rank(a), type_rank(b)); rank != 0) return rank;
  if (a.is_number()) return compare_numbers(a, b);
  if (a.is_string()) return three_way(a.get_ref<const std::string&>(), b.get_ref<const std::string&>());
  if (a.is_boolean()) return three_way(a.get<bool>(), b.get<bool>());
  if (a.is_array()) {
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
      if (int c = compare_values(a[i], b[i]); c != 0) return c;
    }
    return three_way(a.size(), b.size());
  }
  if (a.is_object()) {
    if (keys_sorted(a) && keys_sorted(b)) {  // list keys are: no sorting, no allocation
      auto left = a.begin();
      auto right = b.begin();
      for (; left != a.end() && right != b.end(); ++left, ++right) {
        if (int c = three_way(left.key(), right.key()); c != 0) return c;
        if (int c = compare_values(left.value(), right.value()); c != 0) return c;
      }
      return three_way(a.size(), b.size());
    }
    auto left = sorted_keys(a);
    auto right = sorted_keys(b);
    for (std::size_t i = 0; i < left.size() && i < right.size(); ++i) {
      if (int c = three_way(left[i], right[i]); c != 0) return c;
      if (int c = compare_values(a.at(left[i]), b.at(right[i])); c != 0) return c;
    }
    return three_way(left.size(), right.size());
  }
  return 0;
}

bool equal_values(const Json& a, const Json& b) {
  if (a.is_object() && b.is_object()) {
    if (a.size() != b.size()) return false;
    for (const auto& [key, value] : a.items()) {
      auto it = b.find(key);
      if (it == b.end() || !equal_values(value, *it)) return false;
    }
    return true;
  }
  if (a.is_array() && b.is_array()) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!equal_values(a[i], b[i])) return false;
    }
    return true;
  }
  return compare_values(a, b) == 0;
}

// value.ToString, for conflict paths: strings quoted as Go's %q.
std::string value_string(const Json& value) {
  if (value.is_string()) return go_quote(value.get_ref<const std::string&>());
  if (value.is_array()) {
    std::string out = "[";
    for (std::size_t i = 0; i < value.size(); ++i) out += (i > 0 ? "," : "") + value_string(value[i]);
    return out + "]";
  }
  if (value.is_object()) {
    std::string out = "{";
    bool first = true;
    for (const auto& key : sorted_keys(value)) {
      out += (first ? "" : ";") + key + "=" + value_string(value.at(key));
      first = false;
    }
    return out + "}";
  }
  return dump(value);
}

// ---------------------------------------------------------------------------------------------
// Field paths and sets (structured-merge-diff's fieldpath).

struct PathElement {
  enum class Type { Field, Key, Value, Index };  // in structured-merge-diff's sort order
  Type type = Type::Field;
  std::string name;  // Field
  Json value;        // Key: the key fields, members sorted by name; Value: the set item
  std::size_t index = 0;

  static PathElement field(std::string name) { return {Type::Field, std::move(name), nullptr, 0}; }
  static PathElement key(Json fields) { return {Type::Key, {}, std::move(fields), 0}; }
  static PathElement item_value(Json value) { return {Type::Value, {}, std::move(value), 0}; }

  // "f:spec", "k:{\"name\":\"nginx\"}", "v:\"a\"", "i:0": a FieldsV1 member name.
  [[nodiscard]] std::string fields_v1_name() const {
    switch (type) {
      case Type::Field:
        return "f:" + name;
      case Type::Key:
        return "k:" + dump(value);
      case Type::Value:
        return "v:" + dump(value);
      case Type::Index:
        return "i:" + std::to_string(index);
    }
    return {};
  }

  // ".spec", "[name=\"nginx\"]", "[=\"a\"]", "[0]": how kube prints paths in conflicts.
  [[nodiscard]] std::string path_string() const {
    switch (type) {
      case Type::Field:
        return "." + name;
      case Type::Key: {
        std::string out = "[";
        bool first = true;
        for (const auto& [key_name, key_value] : value.items()) {
          out += (first ? "" : ",") + key_name + "=" + value_string(key_value);
          first = false;
        }
        return out + "]";
      }
      case Type::Value:
        return "[=" + value_string(value) + "]";
      case Type::Index:
        return "[" + std::to_string(index) + "]";
    }
    return {};
  }
};

int compare_elements(const PathElement& a, const PathElement& b) {
  if (int c = three_way(static_cast<int>(a.type), static_cast<int>(b.type)); c != 0) return c;
  switch (a.type) {
    case PathElement::Type::Field:
      return three_way(a.name, b.name);
    case PathElement::Type::Key:
    case PathElement::Type::Value:
      return compare_values(a.value, b.value);
    case PathElement::Type::Index:
      return three_way(a.index, b.index);
  }
  return 0;
}

struct ElementLess {
  bool operator()(const PathElement& a, const PathElement& b) const { return compare_elements(a, b) < 0; }
};

using Path = std::vector<PathElement>;

std::string path_string(std::span<const PathElement> path) {
  std::string out;
  for (const auto& element : path) out += element.path_string();
  return out;
}

// A set of field paths as a tree: `member` says whether the path leading here is in the set
// itself, `children` hold the longer paths.
struct FieldSet {
  bool member = false;
  std::map<PathElement, FieldSet, ElementLess> children;

  [[nodiscard]] bool empty() const { return !member && children.empty(); }

  void insert(std::span<const PathElement> path) {
    FieldSet* node = this;
    for (const auto& element : path) node = &node->children[element];
    node->member = true;
  }

  [[nodiscard]] const FieldSet* find(const PathElement& element) const {
    auto it = children.find(element);
    return it == children.end() ? nullptr : &it->second;
  }

  void unite(const FieldSet& other) {
    member = member || other.member;
    for (const auto& [element, child] : other.children) children[element].unite(child);
  }

  // Removes the paths `other` holds, not the ones below them.
  void subtract(const FieldSet& other) {
    if (other.member) member = false;
    for (const auto& [element, child] : other.children) {
      auto it = children.find(element);
      if (it == children.end()) continue;
      it->second.subtract(child);
      if (it->second.empty()) children.erase(it);
    }
  }

  // Removes the paths `other` holds and everything below them.
  void subtract_recursively(const FieldSet& other) {
    if (other.member) {
      member = false;
      children.clear();
      return;
    }
    for (const auto& [element, child] : other.children) {
      auto it = children.find(element);
      if (it == children.end()) continue;
      it->second.subtract_recursively(child);
      if (it->second.empty()) children.erase(it);
    }
  }

  [[nodiscard]] FieldSet intersection(const FieldSet& other) const {
    FieldSet out;
    out.member = member && other.member;
    for (const auto& [element, child] : children) {
      if (const FieldSet* theirs = other.find(element)) {
        FieldSet both = child.intersection(*theirs);
        if (!both.empty()) out.children.emplace(element, std::move(both));
      }
    }
    return out;
  }

  // Every path in the set, in sorted order.
  void for_each(Path& prefix, const std::function<void(const Path&)>& visit) const {
    if (member) visit(prefix);
    for (const auto& [element, child] : children) {
      prefix.push_back(element);
      child.for_each(prefix, visit);
      prefix.pop_back();
    }
  }

  // FieldsV1: "." first when this path is in the set and has children, then the children in
  // order; a path without children is {}.
  [[nodiscard]] Json to_fields_v1() const {
    Json out = Json::object();
    if (member && !children.empty()) out["."] = Json::object();
    for (const auto& [element, child] : children)
      append_member(out, element.fields_v1_name(), child.to_fields_v1());
    return out;
  }
};

std::optional<PathElement> parse_element(std::string_view name) {
  if (name.size() < 2 || name[1] != ':') return std::nullopt;
  const std::string_view rest = name.substr(2);
  switch (name[0]) {
    case 'f':
      return PathElement::field(std::string(rest));
    case 'k':
    case 'v': {
      Json value = Json::parse(rest, nullptr, false);
      if (value.is_discarded()) return std::nullopt;
      if (name[0] == 'v') return PathElement::item_value(std::move(value));
      if (!value.is_object()) return std::nullopt;
      Json key = Json::object();  // members sorted by name, as structured-merge-diff keeps them
      for (const auto& field : sorted_keys(value)) key[field] = value.at(field);
      return PathElement::key(std::move(key));
    }
    case 'i': {
      std::size_t index = 0;
      auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), index);
      if (error != std::errc() || end != rest.data() + rest.size()) return std::nullopt;
      return PathElement{PathElement::Type::Index, {}, nullptr, index};
    }
    default:
      return std::nullopt;
  }
}

std::optional<FieldSet> parse_fields_v1(const Json& fields, std::size_t depth) {
  if (!fields.is_object() || depth > kMaxDepth) return std::nullopt;
  FieldSet out;
  // {} is a path in the set; {".": {}, ...} one with children; {...} only a prefix of others.
  out.member = fields.empty();
  for (const auto& [name, child] : fields.items()) {
    if (name == ".") {
      out.member = true;
      continue;
    }
    auto element = parse_element(name);
    if (!element) return std::nullopt;
    auto child_set = parse_fields_v1(child, depth + 1);
    if (!child_set) return std::nullopt;
    out.children[std::move(*element)].unite(*child_set);
  }
  return out;
}

// Fields no manager owns: the server sets them, or they identify the object.
const FieldSet& untracked_fields() {
  static const FieldSet fields = [] {
    FieldSet set;
    set.insert(Path{PathElement::field("apiVersion")});
    set.insert(Path{PathElement::field("kind")});
    for (const char* name : {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                             "deletionTimestamp", "managedFields", "selfLink", "clusterName"}) {
      set.insert(Path{PathElement::field("metadata"), PathElement::field(name)});
    }
    return set;
  }();
  return fields;
}

void strip_untracked(FieldSet& set) {
  set.subtract_recursively(untracked_fields());
  // metadata itself is never owned, its members are.
  if (auto it = set.children.find(PathElement::field("metadata")); it != set.children.end()) {
    it->second.member = false;
    if (it->second.empty()) set.children.erase(it);
  }
}

// ---------------------------------------------------------------------------------------------
// Walking objects: where we are, as field path (for sets and messages) and as shape path.

class Cursor {
 public:
  explicit Cursor(const ListShapes& shapes) : shapes_(shapes) {}

  class Scope {
   public:
    explicit Scope(Cursor& cursor) : cursor_(cursor) {}
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    ~Scope() { cursor_.pop(); }

   private:
    Cursor& cursor_;
  };

  [[nodiscard]] Scope field(const std::string& name) {
    push(PathElement::field(name), name);
    return Scope(*this);
  }
  [[nodiscard]] Scope item(PathElement element) {
    push(std::move(element), "[]");
    return Scope(*this);
  }

  [[nodiscard]] ListShape shape() const { return shapes_ ? shapes_(shape_path_) : ListShape{}; }
  [[nodiscard]] const Path& path() const { return path_; }
  [[nodiscard]] std::size_t depth() const { return path_.size(); }

  [[noreturn]] void fail(std::string_view what) const {
    if (path_.empty()) throw PatchError(std::string(what));
    throw PatchError(fmt::format("{}: {}", path_string(path_), what));
  }

 private:
  void push(PathElement element, std::string shape_segment) {
    if (path_.size() >= kMaxDepth) fail(fmt::format("nesting deeper than {} levels", kMaxDepth));
    path_.push_back(std::move(element));
    shape_path_.push_back(std::move(shape_segment));
  }
  void pop() {
    path_.pop_back();
    shape_path_.pop_back();
  }

  const ListShapes& shapes_;
  Path path_;
  std::vector<std::string> shape_path_;
};

// How to read a value that breaks the list shapes: an apply configuration is refused
// (PatchError); stored objects are read as well as possible (a keyed list with a non-object
// item is atomic, missing keys are left out of the item's key).
enum class Reading { Strict, Tolerant };

// The shape a list is merged with: a keyed list must hold objects only.
ListShape::Kind list_kind(const Json& list, const ListShape& shape, Reading reading, const Cursor& cursor) {
  if (shape.kind != ListShape::Kind::Map) return shape.kind;
  if (shape.keys.empty()) return ListShape::Kind::Atomic;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (list[i].is_object()) continue;
    if (reading == Reading::Strict)
      cursor.fail(fmt::format("element {}: a list with keys holds objects only", i));
    return ListShape::Kind::Atomic;
  }
  return ListShape::Kind::Map;
}

// `key_names`: the shape's keys, sorted and without repeats, as the key of a path element holds them.
PathElement item_element(const Json& item, ListShape::Kind kind, const ListShape& shape,
                         const std::vector<std::string>& key_names, std::size_t index, Reading reading,
                         const Cursor& cursor) {
  if (kind == ListShape::Kind::Set) return PathElement::item_value(item);
  Json key = Json::object();
  for (const auto& name : key_names) {
    if (auto it = item.find(name); it != item.end()) {
      key[name] = *it;
    } else if (auto fallback = shape.key_defaults.find(name); fallback != shape.key_defaults.end()) {
      key[name] = *fallback;
    } else if (reading == Reading::Strict) {
      cursor.fail(fmt::format(
          "element {}: associative list with keys has an element that omits key field {} (and doesn't have "
          "default value)",
          index, go_quote(name)));
    }
  }
  return PathElement::key(std::move(key));
}

// The items of a Set or Map list with their path elements; later repeats of an element are
// marked (an apply configuration may not repeat one).
struct ListItem {
  PathElement element;
  const Json* value;
  bool repeated;
};

std::vector<ListItem> list_items(const Json& list, ListShape::Kind kind, const ListShape& shape,
                                 Reading reading, const Cursor& cursor) {
  std::vector<ListItem> items;
  items.reserve(list.size());
  std::vector<std::string> key_names = shape.keys;
  std::sort(key_names.begin(), key_names.end());
  key_names.erase(std::unique(key_names.begin(), key_names.end()), key_names.end());
  std::map<PathElement, std::size_t, ElementLess> seen;
  for (std::size_t i = 0; i < list.size(); ++i) {
    PathElement element = item_element(list[i], kind, shape, key_names, i, reading, cursor);
    const bool repeated = !seen.emplace(element, i).second;
    if (repeated && reading == Reading::Strict) {
      cursor.fail(fmt::format("duplicate entries for {} {}", kind == ListShape::Kind::Set ? "value" : "key",
                              element.path_string()));
    }
    items.push_back({std::move(element), &list[i], repeated});
  }
  return items;
}

// ---------------------------------------------------------------------------------------------
// The fields an apply configuration sets (TypedValue.ToFieldSet): every scalar, atomic list, null
// and empty object, and every item of a Set or Map list.

class FieldSetBuilder {
 public:
  FieldSetBuilder(const ListShapes& shapes, Reading reading) : cursor_(shapes), reading_(reading) {}

  FieldSet build(const Json& object) {
    FieldSet set;
    if (object.is_object()) add_members(object, set);
    return set;
  }

 private:
  void add_members(const Json& object, FieldSet& set) {
    for (const auto& [name, value] : object.items()) {
      auto scope = cursor_.field(name);
      FieldSet child;
      add_value(value, child);
      if (value.is_null() || (value.is_object() && value.empty())) child.member = true;
      if (!child.empty()) set.children[PathElement::field(name)].unite(child);
    }
  }

  void add_value(const Json& value, FieldSet& set) {
    if (value.is_object()) {
      add_members(value, set);
      return;
    }
    if (!value.is_array()) {
      set.member = true;
      return;
    }
    const ListShape shape = cursor_.shape();
    const ListShape::Kind kind = list_kind(value, shape, reading_, cursor_);
    if (kind == ListShape::Kind::Atomic) {
      set.member = true;
      return;
    }
    for (auto& item : list_items(value, kind, shape, reading_, cursor_)) {
      if (item.repeated) continue;
      FieldSet child;
      child.member = true;
      if (kind == ListShape::Kind::Map) {
        auto scope = cursor_.item(item.element);
        add_members(*item.value, child);
      }
      set.children[std::move(item.element)].unite(child);
    }
  }

  Cursor cursor_;
  Reading reading_;
};

// ---------------------------------------------------------------------------------------------
// Comparing two versions of an object (TypedValue.Compare): the paths added, modified, removed.

struct Comparison {
  FieldSet added;
  FieldSet modified;
  FieldSet removed;
};

class Comparer {
 public:
  explicit Comparer(const ListShapes& shapes) : cursor_(shapes) {}

  Comparison compare(const Json& before, const Json& after) {
    compare_values_at(&before, &after);
    return std::move(result_);
  }

 private:
  void compare_values_at(const Json* before, const Json* after) {
    if (before != nullptr && after != nullptr) {
      compare_present(*before, *after);
    } else if (after != nullptr) {
      whole(*after, result_.added);
    } else if (before != nullptr) {
      whole(*before, result_.removed);
    }
  }

  void compare_present(const Json& before, const Json& after) {
    if (before.is_object() && after.is_object()) {
      if (before.empty() && after.empty()) return;
      const MemberIndex before_members(before);
      const MemberIndex after_members(after);
      for (const auto& [name, value] : before.items()) {
        auto scope = cursor_.field(name);
        compare_values_at(&value, after_members.find(name));
      }
      for (const auto& [name, value] : after.items()) {
        if (before_members.find(name) != nullptr) continue;
        auto scope = cursor_.field(name);
        compare_values_at(nullptr, &value);
      }
      return;
    }
    if (before.is_array() && after.is_array()) {
      const ListShape shape = cursor_.shape();
      const ListShape::Kind before_kind = list_kind(before, shape, Reading::Tolerant, cursor_);
      const ListShape::Kind after_kind = list_kind(after, shape, Reading::Tolerant, cursor_);
      if (before_kind != after_kind || after_kind == ListShape::Kind::Atomic ||
          (before.empty() && after.empty())) {
        if (!equal_values(before, after)) result_.modified.insert(cursor_.path());
        return;
      }
      compare_lists(before, after, after_kind, shape);
      return;
    }
    if (type_rank(before) == type_rank(after) && !before.is_object() && !before.is_array()) {
      if (!equal_values(before, after)) result_.modified.insert(cursor_.path());
      return;
    }
    // The type changed: the path is modified, what was below it removed, what is below it added.
    result_.modified.insert(cursor_.path());
    below(before, result_.removed);
    below(after, result_.added);
  }

  void compare_lists(const Json& before, const Json& after, ListShape::Kind kind, const ListShape& shape) {
    auto before_items = list_items(before, kind, shape, Reading::Tolerant, cursor_);
    auto after_items = list_items(after, kind, shape, Reading::Tolerant, cursor_);
    std::map<PathElement, const Json*, ElementLess> after_index;
    for (const auto& item : after_items) {
      if (!item.repeated) after_index.emplace(item.element, item.value);
    }
    std::map<PathElement, const Json*, ElementLess> before_index;
    for (const auto& item : before_items) {
      if (item.repeated) continue;
      before_index.emplace(item.element, item.value);
      auto scope = cursor_.item(item.element);
      auto it = after_index.find(item.element);
      if (it == after_index.end()) {
        whole_item(*item.value, kind, result_.removed);
      } else if (kind == ListShape::Kind::Map) {
        compare_present(*item.value, *it->second);
      }
    }
    for (const auto& item : after_items) {
      if (item.repeated || before_index.contains(item.element)) continue;
      auto scope = cursor_.item(item.element);
      whole_item(*item.value, kind, result_.added);
    }
  }

  // A list item added or removed: the item itself and its fields.
  void whole_item(const Json& item, ListShape::Kind kind, FieldSet& set) {
    set.insert(cursor_.path());
    if (kind == ListShape::Kind::Map) below(item, set);
  }

  // A value added or removed as a whole (at the cursor).
  void whole(const Json& value, FieldSet& set) {
    // Scalars, empty values and atomic lists are paths of their own. kube's typed objects also
    // count an object as created or deleted when Go omits it while empty (labels, selector,
    // rollingUpdate) but not the structs every object carries (spec, status, metadata), nor most
    // lists: approximated as objects below the top level.
    const bool container = (value.is_object() || value.is_array()) && !value.empty();
    if (!container || (value.is_object() && cursor_.depth() >= 2)) set.insert(cursor_.path());
    below(value, set);
  }

  // The fields below the cursor of a value added or removed as a whole.
  void below(const Json& value, FieldSet& set) {
    if (value.is_object()) {
      for (const auto& [name, member] : value.items()) {
        auto scope = cursor_.field(name);
        whole(member, set);
      }
      return;
    }
    if (!value.is_array() || value.empty()) return;
    const ListShape shape = cursor_.shape();
    const ListShape::Kind kind = list_kind(value, shape, Reading::Tolerant, cursor_);
    if (kind == ListShape::Kind::Atomic) {
      set.insert(cursor_.path());
      return;
    }
    for (const auto& item : list_items(value, kind, shape, Reading::Tolerant, cursor_)) {
      if (item.repeated) continue;
      auto scope = cursor_.item(item.element);
      whole_item(*item.value, kind, set);
    }
  }

  Cursor cursor_;
  Comparison result_;
};

// ---------------------------------------------------------------------------------------------
// Merging an apply configuration into the live object (TypedValue.Merge).

class ApplyMerger {
 public:
  explicit ApplyMerger(const ListShapes& shapes) : cursor_(shapes) {}

  Json merge(const Json& live, const Json& config) { return merge_value(live, config); }

 private:
  Json merge_value(const Json& live, const Json& config) {
    if (live.is_object() && config.is_object()) {
      // The live members in their order, then the configuration's new ones; a null removes.
      const MemberIndex live_members(live);
      const MemberIndex config_members(config);
      Json out = Json::object();
      for (const auto& [name, value] : live.items()) {
        const Json* configured = config_members.find(name);
        if (configured == nullptr) {
          append_member(out, name, value);
        } else if (!configured->is_null()) {
          auto scope = cursor_.field(name);
          append_member(out, name, merge_value(value, *configured));
        }
      }
      for (const auto& [name, value] : config.items()) {
        if (value.is_null() || live_members.find(name) != nullptr) continue;
        auto scope = cursor_.field(name);
        append_member(out, name, fresh(value));
      }
      return out;
    }
    if (live.is_array() && config.is_array()) {
      const ListShape shape = cursor_.shape();
      const ListShape::Kind config_kind = list_kind(config, shape, Reading::Strict, cursor_);
      const ListShape::Kind live_kind = list_kind(live, shape, Reading::Tolerant, cursor_);
      if (config_kind == ListShape::Kind::Atomic || live_kind != config_kind) return config;
      return merge_lists(live, config, config_kind, shape);
    }
    return fresh(config);
  }

  // A configured value the live object lacks; its lists are still checked for keys.
  Json fresh(const Json& config) {
    if (config.is_object() || config.is_array())
      return merge_value(config.is_object() ? Json::object() : Json::array(), config);
    return config;
  }

  // structured-merge-diff's list order: the configuration's items in its order; live items it
  // does not mention stay where they were relative to the others.
  Json merge_lists(const Json& live, const Json& config, ListShape::Kind kind, const ListShape& shape) {
    auto live_items = list_items(live, kind, shape, Reading::Tolerant, cursor_);
    auto config_items = list_items(config, kind, shape, Reading::Strict, cursor_);
    std::map<PathElement, const Json*, ElementLess> live_index;
    for (const auto& item : live_items) {
      if (!item.repeated) live_index.emplace(item.element, item.value);
    }
    std::map<PathElement, const Json*, ElementLess> config_index;
    for (const auto& item : config_items) config_index.emplace(item.element, item.value);

    std::vector<const PathElement*> shared;  // configured items the live list has, in config order
    for (const auto& item : config_items) {
      if (live_index.contains(item.element)) shared.push_back(&item.element);
    }
    std::size_t next_shared = 0;
    auto is_next_shared = [&](const PathElement& element) {
      return next_shared < shared.size() && compare_elements(*shared[next_shared], element) == 0;
    };

    Json out = Json::array();
    auto emit_configured = [&](const ListItem& item) {
      auto live_item = live_index.find(item.element);
      if (kind == ListShape::Kind::Set) {
        out.push_back(*item.value);
      } else {
        auto scope = cursor_.item(item.element);
        out.push_back(live_item == live_index.end() ? fresh(*item.value)
                                                    : merge_value(*live_item->second, *item.value));
      }
      if (is_next_shared(item.element)) ++next_shared;
    };

    std::size_t l = 0;
    std::size_t c = 0;
    while (l < live_items.size() || c < config_items.size()) {
      if (l < live_items.size() && c < config_items.size()) {
        const ListItem& live_item = live_items[l];
        const bool configured = config_index.contains(live_item.element);
        if (!live_item.repeated && compare_elements(live_item.element, config_items[c].element) == 0) {
          emit_configured(config_items[c]);
          ++l;
          ++c;
          continue;
        }
        if (configured && next_shared < shared.size() && !is_next_shared(live_item.element)) {
          ++l;  // a shared item the configuration places later: emitted there
          continue;
        }
      }
      if (l < live_items.size() && !config_index.contains(live_items[l].element)) {
        out.push_back(*live_items[l].value);  // only the live list has it
        ++l;
        continue;
      }
      if (c < config_items.size()) {
        emit_configured(config_items[c]);
        ++c;
        continue;
      }
      ++l;  // a live item the configuration has, already emitted in its place
    }
    return out;
  }

  Cursor cursor_;
};

// ---------------------------------------------------------------------------------------------
// Removing the fields an applier no longer applies.

class Pruner {
 public:
  explicit Pruner(const ListShapes& shapes) : cursor_(shapes) {}

  // Removes from `value` the paths in `remove`. A container left empty by that goes too, unless
  // `owned` (what every manager owns after this apply) holds it.
  void prune(Json& value, const FieldSet& remove, const FieldSet* owned) {
    prune_value(value, remove, owned);
  }

 private:
  // Whether `value` lost members and is empty now.
  bool prune_value(Json& value, const FieldSet& remove, const FieldSet* owned) {
    bool removed = false;
    if (value.is_object()) {
      // Rebuilt rather than erased from: ordered_json erases by a linear search.
      Json kept = Json::object();
      for (auto& [name, member] : value.items()) {
        const PathElement element = PathElement::field(name);
        const FieldSet* child = remove.find(element);
        bool drop = false;
        if (child != nullptr) {
          const FieldSet* owned_child = owned != nullptr ? owned->find(element) : nullptr;
          drop = child->member;
          if (!drop) {
            auto scope = cursor_.field(name);
            drop =
                prune_value(member, *child, owned_child) && (owned_child == nullptr || !owned_child->member);
          }
        }
        if (drop) {
          removed = true;
        } else {
          append_member(kept, name, std::move(member));
        }
      }
      value = std::move(kept);
      return removed && value.empty();
    }
    if (!value.is_array() || value.empty()) return false;
    const ListShape shape = cursor_.shape();
    const ListShape::Kind kind = list_kind(value, shape, Reading::Tolerant, cursor_);
    if (kind == ListShape::Kind::Atomic) return false;
    Json kept = Json::array();
    auto items = list_items(value, kind, shape, Reading::Tolerant, cursor_);
    for (auto& item : items) {
      const FieldSet* child = remove.find(item.element);
      if (child != nullptr && child->member) {
        removed = true;
        continue;
      }
      Json copy = *item.value;
      if (child != nullptr && kind == ListShape::Kind::Map) {
        const FieldSet* owned_child = owned != nullptr ? owned->find(item.element) : nullptr;
        auto scope = cursor_.item(item.element);
        prune_value(copy, *child, owned_child);
      }
      kept.push_back(std::move(copy));
    }
    value = std::move(kept);
    return removed && value.empty();
  }

  Cursor cursor_;
};

// ---------------------------------------------------------------------------------------------
// managedFields entries.

struct ManagedEntry {
  std::string manager;
  std::string operation;
  std::string api_version;
  std::string time;
  std::string subresource;
  FieldSet fields;

  // Entries are one per manager, operation and subresource; Update entries also per apiVersion
  // (kube's BuildManagerIdentifier leaves the apiVersion out for appliers only).
  [[nodiscard]] bool same_identity(const ManagedEntry& other) const {
    return manager == other.manager && operation == other.operation && subresource == other.subresource &&
           (operation == kApply || api_version == other.api_version);
  }
};

// An entry without fields or time yet.
ManagedEntry entry_for(std::string_view manager, std::string_view operation, std::string_view api_version,
                       std::string_view subresource) {
  ManagedEntry entry;
  entry.manager = manager;
  entry.operation = operation;
  entry.api_version = api_version;
  entry.subresource = subresource;
  return entry;
}

std::optional<std::string> optional_string(const Json& entry, const char* name) {
  auto it = entry.find(name);
  if (it == entry.end() || it->is_null()) return std::string();
  if (!it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// nullopt when `managed_fields` is not a list of well-formed entries.
std::optional<std::vector<ManagedEntry>> decode_managed_fields(const Json& managed_fields) {
  std::vector<ManagedEntry> entries;
  if (managed_fields.is_null()) return entries;
  if (!managed_fields.is_array()) return std::nullopt;
  for (const auto& item : managed_fields) {
    if (!item.is_object()) return std::nullopt;
    ManagedEntry entry;
    auto manager = optional_string(item, "manager");
    auto operation = optional_string(item, "operation");
    auto api_version = optional_string(item, "apiVersion");
    auto time = optional_string(item, "time");
    auto fields_type = optional_string(item, "fieldsType");
    auto subresource = optional_string(item, "subresource");
    if (!manager || !operation || !api_version || !time || !fields_type || !subresource) return std::nullopt;
    if (!operation->empty() && *operation != kApply && *operation != kUpdate) return std::nullopt;
    entry.manager = std::move(*manager);
    entry.operation = std::move(*operation);
    entry.api_version = std::move(*api_version);
    entry.time = std::move(*time);
    entry.subresource = std::move(*subresource);
    auto fields = item.find("fieldsV1");
    if (fields != item.end() && !fields->is_null()) {
      if (*fields_type != "FieldsV1") return std::nullopt;
      auto set = parse_fields_v1(*fields, 0);
      if (!set) return std::nullopt;
      set->member = false;
      entry.fields = std::move(*set);
    } else if (!fields_type->empty() && *fields_type != "FieldsV1") {
      return std::nullopt;
    }
    for (const auto& other : entries) {
      if (other.same_identity(entry)) return std::nullopt;
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

// Without the empty entries, in kube's order (operation, time, manager, apiVersion, subresource).
Json encode_managed_fields(std::vector<ManagedEntry> entries) {
  std::erase_if(entries, [](const ManagedEntry& entry) { return entry.fields.empty(); });
  std::stable_sort(entries.begin(), entries.end(), [](const ManagedEntry& a, const ManagedEntry& b) {
    return std::tie(a.operation, a.time, a.manager, a.api_version, a.subresource) <
           std::tie(b.operation, b.time, b.manager, b.api_version, b.subresource);
  });
  Json out = Json::array();
  for (const auto& entry : entries) {
    Json item = Json::object();
    if (!entry.manager.empty()) item["manager"] = entry.manager;
    if (!entry.operation.empty()) item["operation"] = entry.operation;
    if (!entry.api_version.empty()) item["apiVersion"] = entry.api_version;
    if (!entry.time.empty()) item["time"] = entry.time;
    item["fieldsType"] = "FieldsV1";
    item["fieldsV1"] = entry.fields.to_fields_v1();
    if (!entry.subresource.empty()) item["subresource"] = entry.subresource;
    out.push_back(std::move(item));
  }
  return out;
}

// The object's managedFields, removed from it; null when it has none.
Json take_managed_fields(Json& object) {
  if (!object.is_object()) return nullptr;
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return nullptr;
  auto it = metadata->find("managedFields");
  if (it == metadata->end()) return nullptr;
  Json managed_fields = std::move(*it);
  metadata->erase("managedFields");
  return managed_fields;
}

void put_managed_fields(Json& object, Json managed_fields) {
  auto metadata = object.find("metadata");
  if (metadata == object.end()) {
    if (managed_fields.empty()) return;
    object["metadata"] = Json::object();
    metadata = object.find("metadata");
  }
  if (!metadata->is_object()) throw PatchError("metadata: must be an object");
  if (managed_fields.empty()) {
    metadata->erase("managedFields");
  } else {
    (*metadata)["managedFields"] = std::move(managed_fields);
  }
}

std::vector<FieldConflict> conflicts_of(const std::vector<ManagedEntry>& entries, std::size_t applier,
                                        const FieldSet& changed) {
  std::vector<std::pair<const ManagedEntry*, std::vector<std::string>>> by_manager;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i == applier) continue;
    FieldSet conflicting = entries[i].fields.intersection(changed);
    if (conflicting.empty()) continue;
    std::vector<std::string> fields;
    Path prefix;
    conflicting.for_each(prefix, [&](const Path& path) { fields.push_back(path_string(path)); });
    by_manager.emplace_back(&entries[i], std::move(fields));
  }
  std::stable_sort(by_manager.begin(), by_manager.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first->manager, a.first->operation, a.first->api_version, a.first->subresource) <
           std::tie(b.first->manager, b.first->operation, b.first->api_version, b.first->subresource);
  });
  std::vector<FieldConflict> out;
  for (const auto& [entry, fields] : by_manager) {
    for (const auto& field : fields) {
      out.push_back({entry->manager, field, entry->operation, entry->api_version, entry->subresource});
    }
  }
  return out;
}

// kube's printManager: `"name"`, `"name" with subresource "status"`, `... using apps/v1` (Update).
std::string printed_manager(const FieldConflict& conflict) {
  std::string out = go_quote(conflict.manager);
  if (!conflict.subresource.empty()) out += " with subresource " + go_quote(conflict.subresource);
  if (conflict.operation == kUpdate) out += " using " + conflict.api_version;
  return out;
}

void erase_metadata_members(Json& object, std::initializer_list<const char*> names) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return;
  for (const char* name : names) metadata->erase(name);
}

}  // namespace

ApplyOutcome server_side_apply(const Json* live, const Json& applied, const ApplyOptions& options) {
  if (!applied.is_object()) throw PatchError("the apply configuration must be a JSON object");
  if (live != nullptr && !live->is_object()) throw PatchError("the live object is not a JSON object");
  if (auto metadata = applied.find("metadata"); metadata != applied.end()) {
    if (!metadata->is_object()) throw PatchError("metadata: must be an object");
    auto managed = metadata->find("managedFields");
    if (managed != metadata->end() && !managed->is_null() && !(managed->is_array() && managed->empty())) {
      throw PatchError("metadata.managedFields must be nil");
    }
  }

  // What is merged and owned: not what the server sets, and per the subresource the status or
  // only the status.
  Json config = applied;
  erase_metadata_members(config, {"uid", "resourceVersion", "generation", "creationTimestamp",
                                  "deletionTimestamp", "managedFields", "selfLink"});
  if (options.only_status) {
    Json status_only = Json::object();
    if (auto status = config.find("status"); status != config.end()) status_only["status"] = *status;
    config = std::move(status_only);
  } else if (options.ignore_status) {
    config.erase("status");
  }

  Json base = live != nullptr ? *live : Json::object();
  Json live_managed_fields = take_managed_fields(base);

  std::vector<ManagedEntry> entries;
  if (live != nullptr) {
    auto decoded = decode_managed_fields(live_managed_fields);
    if (decoded) entries = std::move(*decoded);
    if (entries.empty() && !base.empty()) {
      // An object nobody tracked yet: its fields belong to a stand-in Update manager, so that
      // the first apply conflicts where it would change them.
      ManagedEntry before = entry_for(kBeforeFirstApply, kUpdate, options.api_version, "");
      before.fields = FieldSetBuilder(options.shapes, Reading::Tolerant).build(base);
      strip_untracked(before.fields);
      entries.push_back(std::move(before));
    }
  }

  FieldSet applied_fields = FieldSetBuilder(options.shapes, Reading::Strict).build(config);
  strip_untracked(applied_fields);
  Json merged = ApplyMerger(options.shapes).merge(base, config);

  const ManagedEntry identity =
      entry_for(options.manager, kApply, options.api_version, options.only_status ? "status" : "");
  std::size_t applier = entries.size();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].same_identity(identity)) applier = i;
  }

  if (applier < entries.size()) {
    FieldSet owned = applied_fields;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (i != applier) owned.unite(entries[i].fields);
    }
    FieldSet remove = entries[applier].fields;
    remove.subtract(owned);
    if (!remove.empty()) Pruner(options.shapes).prune(merged, remove, &owned);
  }

  Comparison comparison = Comparer(options.shapes).compare(base, merged);
  FieldSet changed = std::move(comparison.modified);
  changed.unite(comparison.added);
  strip_untracked(changed);

  ApplyOutcome outcome;
  outcome.conflicts = conflicts_of(entries, applier, changed);
  if (!outcome.conflicts.empty() && !options.force) return outcome;
  outcome.conflicts.clear();

  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i == applier) continue;
    entries[i].fields.subtract(changed);  // with force: the conflicting fields change hands
    entries[i].fields.subtract(comparison.removed);
  }
  if (applier == entries.size()) entries.push_back(identity);
  ManagedEntry& entry = entries[applier];
  entry.api_version = options.api_version;
  entry.fields = std::move(applied_fields);
  if (entry.time.empty() || !equal_values(base, merged)) entry.time = options.now;

  put_managed_fields(merged, encode_managed_fields(std::move(entries)));
  outcome.object = std::move(merged);
  return outcome;
}

Json track_update(const Json* old_object, Json new_object, std::string_view manager,
                  std::string_view api_version, std::string_view now, const ListShapes& shapes,
                  std::string_view subresource) {
  if (!new_object.is_object()) return new_object;
  Json sent_managed_fields = take_managed_fields(new_object);
  try {
    Json before = old_object != nullptr && old_object->is_object() ? *old_object : Json::object();
    Json stored_managed_fields = take_managed_fields(before);

    std::optional<std::vector<ManagedEntry>> entries;
    // kube ignores what a write to a subresource sends (the status strategy keeps metadata).
    if (subresource.empty() && sent_managed_fields.is_array() && !sent_managed_fields.empty()) {
      entries = decode_managed_fields(sent_managed_fields);
    }
    if (!entries) entries = decode_managed_fields(stored_managed_fields);
    if (!entries) entries.emplace();  // unreadable: start over, as kube does

    Comparison comparison = Comparer(shapes).compare(before, new_object);
    FieldSet changed = std::move(comparison.modified);
    changed.unite(comparison.added);
    strip_untracked(changed);

    for (auto& entry : *entries) {
      entry.fields.subtract(changed);
      entry.fields.subtract(comparison.removed);
    }
    if (!changed.empty()) {
      const ManagedEntry identity = entry_for(manager, kUpdate, api_version, subresource);
      auto it = std::find_if(entries->begin(), entries->end(),
                             [&](const ManagedEntry& entry) { return entry.same_identity(identity); });
      if (it == entries->end()) it = entries->insert(entries->end(), identity);
      it->fields.unite(changed);
      it->time = std::string(now);
    }
    put_managed_fields(new_object, encode_managed_fields(std::move(*entries)));
  } catch (const PatchError&) {
    // Too deep to track, or metadata that is not an object: kube resets managedFields when it
    // cannot compute them; validation decides about the object itself.
  } catch (const Json::exception&) {
  }
  return new_object;
}

Json status_apply_conflict(const std::vector<FieldConflict>& conflicts) {
  Json causes = Json::array();
  for (const auto& conflict : conflicts) {
    causes.push_back({{"reason", "FieldManagerConflict"},
                      {"message", "conflict with " + printed_manager(conflict)},
                      {"field", conflict.field}});
  }
  std::string message;
  if (conflicts.size() == 1) {
    message = fmt::format("Apply failed with 1 conflict: conflict with {}: {}",
                          printed_manager(conflicts.front()), conflicts.front().field);
  } else {
    // Grouped by manager, managers sorted (conflicts come sorted from server_side_apply, but
    // callers may build their own).
    std::map<std::string, std::vector<std::string>> by_manager;
    for (const auto& conflict : conflicts) by_manager[printed_manager(conflict)].push_back(conflict.field);
    std::vector<std::string> lines;
    for (const auto& [manager, fields] : by_manager) {
      lines.push_back(fmt::format("conflicts with {}:", manager));
      for (const auto& field : fields) lines.push_back("- " + field);
    }
    message = fmt::format("Apply failed with {} conflicts: {}", conflicts.size(), fmt::join(lines, "\n"));
  }
  // The Status shape of status_conflict, with kube's NewApplyConflict message and details.
  Json status = status_conflict(GroupResource{}, "", "");
  status["message"] = std::move(message);
  status["details"] = {{"causes", std::move(causes)}};
  return status;
}

}  // namespace riasc::kubeapi

#pragma once

// Internal to the patch engines (strategic_merge.cpp, server_side_apply.cpp).

#include <string>
#include <string_view>
#include <unordered_map>

#include "riasc/core/json.hpp"

namespace riasc::kubeapi {

// ordered_json finds a member by comparing names one by one, which makes walking two large
// objects (a ConfigMap with thousands of keys) quadratic: large objects are indexed first.
class MemberIndex {
 public:
  explicit MemberIndex(const Json& object) : object_(object) {
    if (!object.is_object() || object.size() <= kLinearUpTo) return;
    index_.reserve(object.size());
    for (auto it = object.begin(); it != object.end(); ++it) index_.emplace(it.key(), &it.value());
  }

  [[nodiscard]] const Json* find(const std::string& name) const {
    if (!object_.is_object()) return nullptr;
    if (index_.empty()) {
      auto it = object_.find(name);
      return it == object_.end() ? nullptr : &*it;
    }
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : it->second;
  }

 private:
  static constexpr std::size_t kLinearUpTo = 16;
  const Json& object_;
  std::unordered_map<std::string_view, const Json*> index_;
};

// Adds a member `object` does not have yet, skipping ordered_json's search for an existing one.
inline void append_member(Json& object, const std::string& name, Json value) {
  object.get_ref<Json::object_t&>().Json::object_t::Container::emplace_back(name, std::move(value));
}

}  // namespace riasc::kubeapi

#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace riasc {

// Objects keep their members in document order, so what we print back (errors, kubectl output,
// generated docs) reads in the order the author wrote it.
using Json = nlohmann::ordered_json;

}  // namespace riasc

namespace riasc {

// The string member `key` of `object`, or `fallback` when `object` is not an object or the member
// is absent or not a string. For input not yet validated, where Json::value() would throw.
inline std::string string_member(const Json& object, std::string_view key, std::string fallback = {}) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

}  // namespace riasc

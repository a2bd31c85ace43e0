#pragma once

// In-memory indexes over the objects an operator watches, as kopf's @kopf.index: an index
// function maps each object to {key: value, ...}; handlers read every value filed under a key
// (Context::index). The SDK refreshes an index from the informer's events before it queues the
// object, and fills it from the first list before any handler runs, so handlers never see an
// index that is behind the cache they are called from.
//
//   operator_.index(kPods, "by-node", [](op::Context& ctx) -> Json {
//     return {{ctx.spec().value("nodeName", ""), ctx.name()}};
//   });
//   ... in a handler of another resource:
//   for (const Json& pod : ctx.index("by-node").get(node_name)) ...

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "riasc/core/json.hpp"

namespace riasc::op {

namespace detail {
class OperatorImpl;
}

// Thread-safe: reconciles read while the informer's thread writes.
class Index {
 public:
  // The values filed under `key`, one per object that filed one, ordered by object.
  [[nodiscard]] std::vector<Json> get(const std::string& key) const;
  [[nodiscard]] bool contains(const std::string& key) const;
  [[nodiscard]] std::vector<std::string> keys() const;
  [[nodiscard]] std::size_t size() const;  // of keys

 private:
  friend class detail::OperatorImpl;
  // What an index function returned for an object: an object's members are keys and values;
  // null files nothing; any other value is filed under the key "".
  void set(const std::string& object_key, const Json& entries);
  void erase(const std::string& object_key);

  mutable std::mutex mutex_;
  std::map<std::string, std::vector<std::string>> keys_of_;    // object → its keys
  std::map<std::string, std::map<std::string, Json>> by_key_;  // key → object → value
};

// An operator's indexes by name.
using Indexes = std::map<std::string, std::unique_ptr<Index>, std::less<>>;

}  // namespace riasc::op

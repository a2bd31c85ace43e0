#pragma once

// The compiled form of one schema node. Internal to the schema library.

#include <re2/re2.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "riasc/core/json.hpp"

namespace riasc::schema {

struct Node;
using NodePtr = std::shared_ptr<const Node>;

struct Node {
  std::string type;  // empty, object, array, string, integer, number or boolean
  bool nullable = false;
  bool preserve_unknown_fields = false;
  bool int_or_string = false;
  bool embedded_resource = false;

  std::vector<std::pair<std::string, NodePtr>> properties;  // in declaration order
  NodePtr additional_properties;                            // schema of map values
  bool additional_properties_allowed = false;               // additionalProperties: true
  NodePtr items;
  std::vector<std::string> required;
  std::optional<Json> default_value;

  std::string list_type;  // atomic, set or map
  std::vector<std::string> list_map_keys;

  // Value validations; each applies only to values of the JSON type it is about.
  std::optional<std::vector<Json>> enum_values;
  std::shared_ptr<const re2::RE2> pattern;
  std::optional<double> minimum;
  std::optional<double> maximum;
  bool exclusive_minimum = false;
  bool exclusive_maximum = false;
  std::optional<double> multiple_of;
  std::optional<std::uint64_t> min_length;
  std::optional<std::uint64_t> max_length;
  std::optional<std::uint64_t> min_items;
  std::optional<std::uint64_t> max_items;
  std::optional<std::uint64_t> min_properties;
  std::optional<std::uint64_t> max_properties;
  std::string format;
  std::vector<NodePtr> all_of;
  std::vector<NodePtr> any_of;
  std::vector<NodePtr> one_of;
  NodePtr not_schema;

  [[nodiscard]] const Node* property(const std::string& name) const {
    for (const auto& [key, node] : properties) {
      if (key == name) return node.get();
    }
    return nullptr;
  }
  // Whether fields not in `properties` are kept (and so are not unknown).
  [[nodiscard]] bool keeps_unknown_fields() const {
    return preserve_unknown_fields || additional_properties || additional_properties_allowed;
  }
};

// String formats Kubernetes checks (date-time, cidr, ...). Unknown formats always pass.
// Returns an empty string when `value` conforms, else what the format expects.
std::string check_format(const std::string& format, const std::string& value);

}  // namespace riasc::schema

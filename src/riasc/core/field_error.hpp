#pragma once

// Field paths and field errors modelled on Kubernetes' field.Path / field.Error, so that our
// messages read like the ones kube-apiserver gives for the same mistake.

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "riasc/core/json.hpp"

namespace riasc {

class FieldPath {
 public:
  // A struct field (`.name`), a map entry (`[key]`) or a list index (`[3]`).
  struct Field {
    std::string name;
    bool operator==(const Field&) const = default;
  };
  struct Key {
    std::string key;
    bool operator==(const Key&) const = default;
  };
  using Segment = std::variant<Field, Key, std::size_t>;

  FieldPath() = default;
  static FieldPath parse_dotted(std::string_view dotted);  // "spec.a.b" → Field segments

  [[nodiscard]] FieldPath child(std::string_view name) const;
  [[nodiscard]] FieldPath key(std::string_view key) const;
  [[nodiscard]] FieldPath index(std::size_t i) const;
  [[nodiscard]] FieldPath parent() const;
  [[nodiscard]] FieldPath join(const FieldPath& tail) const;  // this path, then tail's segments

  [[nodiscard]] bool empty() const { return segments_.empty(); }
  [[nodiscard]] const std::vector<Segment>& segments() const { return segments_; }

  // spec.egress[0].ports[1].port, as Kubernetes prints it.
  [[nodiscard]] std::string to_string() const;
  // RFC 6901 pointer, /spec/egress/0/ports/1/port: fields and keys are both object members.
  [[nodiscard]] std::string json_pointer() const;

  bool operator==(const FieldPath&) const = default;

 private:
  std::vector<Segment> segments_;
};

struct FieldError {
  enum class Type {
    Required,      // a required field is missing
    Invalid,       // the value breaks a rule
    NotSupported,  // the value is not one of an enumeration
    Duplicate,     // the value repeats in a set or list-map
    TooLong,       // a string is longer than allowed
    TooMany,       // a list or map has more entries than allowed
    Forbidden,     // the field may not be set here
    Unknown,       // the field is not declared in the schema
  };

  Type type = Type::Invalid;
  FieldPath path;
  Json value;  // the offending value; null when not meaningful
  std::string detail;

  // "spec.parameters.netem.loss_ratio: Invalid value: 1.5: must be less than or equal to 1"
  [[nodiscard]] std::string to_string() const;
};

using FieldErrors = std::vector<FieldError>;

// A JSON pointer token: '~' and '/' escaped (RFC 6901).
std::string escape_json_pointer_token(std::string_view token);

// A value as Kubernetes shows it inside a message: JSON, shortened if long.
std::string render_value(const Json& value);

}  // namespace riasc

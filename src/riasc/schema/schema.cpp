#include "riasc/schema/schema.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>

#include "riasc/schema/node.hpp"

namespace riasc::schema {

SchemaError::SchemaError(FieldErrors errors)
    : std::runtime_error(errors.empty() ? std::string("invalid schema") : errors.front().to_string()),
      errors_(std::move(errors)) {}

namespace {

// ---------------------------------------------------------------------------------------------
// Compiling

constexpr std::array<std::string_view, 15> kObjectMetaFields = {"name",
                                                                "generateName",
                                                                "namespace",
                                                                "selfLink",
                                                                "uid",
                                                                "resourceVersion",
                                                                "generation",
                                                                "creationTimestamp",
                                                                "deletionTimestamp",
                                                                "deletionGracePeriodSeconds",
                                                                "labels",
                                                                "annotations",
                                                                "ownerReferences",
                                                                "finalizers",
                                                                "managedFields"};

class Compiler {
 public:
  NodePtr compile(const Json& json, const FieldPath& path) {
    auto node = std::make_shared<Node>();
    if (!json.is_object()) {
      invalid(path, json, "must be a schema object");
      return node;
    }
    read_string(json, path, "type", node->type);
    if (!node->type.empty() &&
        !std::ranges::count(
            std::array<std::string_view, 6>{"object", "array", "string", "integer", "number", "boolean"},
            node->type)) {
      errors_.push_back({FieldError::Type::NotSupported, path.child("type"), node->type,
                         R"(supported values: "object", "array", "string", "integer", "number", "boolean")"});
    }
    read_bool(json, path, "nullable", node->nullable);
    read_bool(json, path, "x-kubernetes-preserve-unknown-fields", node->preserve_unknown_fields);
    read_bool(json, path, "x-kubernetes-int-or-string", node->int_or_string);
    read_bool(json, path, "x-kubernetes-embedded-resource", node->embedded_resource);
    read_string(json, path, "x-kubernetes-list-type", node->list_type);
    read_string(json, path, "format", node->format);
    read_string_list(json, path, "x-kubernetes-list-map-keys", node->list_map_keys);
    read_string_list(json, path, "required", node->required);

    if (auto it = json.find("properties"); it != json.end()) {
      if (!it->is_object()) {
        invalid(path.child("properties"), *it, "must be an object of schemas");
      } else {
        for (const auto& [name, child] : it->items()) {
          node->properties.emplace_back(name, compile(child, path.child("properties").key(name)));
        }
      }
    }
    if (auto it = json.find("additionalProperties"); it != json.end()) {
      if (it->is_boolean()) {
        node->additional_properties_allowed = it->get<bool>();
      } else {
        node->additional_properties = compile(*it, path.child("additionalProperties"));
      }
    }
    if (auto it = json.find("items"); it != json.end()) {
      node->items = compile(*it, path.child("items"));
    }
    if (auto it = json.find("default"); it != json.end()) node->default_value = *it;
    if (auto it = json.find("enum"); it != json.end()) {
      if (!it->is_array()) {
        invalid(path.child("enum"), *it, "must be a list of values");
      } else {
        node->enum_values = std::vector<Json>(it->begin(), it->end());
      }
    }
    if (auto it = json.find("pattern"); it != json.end()) {
      if (!it->is_string()) {
        invalid(path.child("pattern"), *it, "must be a string");
      } else {
        RE2::Options options;
        options.set_log_errors(false);
        auto re = std::make_shared<const RE2>(it->get<std::string>(), options);
        if (!re->ok()) {
          invalid(path.child("pattern"), *it,
                  fmt::format("must be a valid regular expression: {}", re->error()));
        } else {
          node->pattern = std::move(re);
        }
      }
    }
    read_number(json, path, "minimum", node->minimum);
    read_number(json, path, "maximum", node->maximum);
    read_number(json, path, "multipleOf", node->multiple_of);
    read_bool(json, path, "exclusiveMinimum", node->exclusive_minimum);
    read_bool(json, path, "exclusiveMaximum", node->exclusive_maximum);
    read_count(json, path, "minLength", node->min_length);
    read_count(json, path, "maxLength", node->max_length);
    read_count(json, path, "minItems", node->min_items);
    read_count(json, path, "maxItems", node->max_items);
    read_count(json, path, "minProperties", node->min_properties);
    read_count(json, path, "maxProperties", node->max_properties);
    read_junctor(json, path, "allOf", node->all_of);
    read_junctor(json, path, "anyOf", node->any_of);
    read_junctor(json, path, "oneOf", node->one_of);
    if (auto it = json.find("not"); it != json.end()) node->not_schema = compile(*it, path.child("not"));
    if (node->embedded_resource) add_resource_fields(*node);
    return node;
  }

  // apiVersion, kind and metadata belong to every resource whether or not the schema lists them.
  static void add_resource_fields(Node& node) {
    for (std::string_view name : {"apiVersion", "kind"}) {
      if (!node.property(std::string(name))) {
        auto field = std::make_shared<Node>();
        field->type = "string";
        node.properties.emplace_back(name, std::move(field));
      }
    }
    auto metadata = std::make_shared<Node>();
    for (auto& [name, child] : node.properties) {
      if (name == "metadata") *metadata = *child;
    }
    metadata->type = "object";
    // ObjectMeta's fields; validate_object_meta checks their values, the schema only which exist.
    metadata->preserve_unknown_fields = false;
    for (std::string_view field : kObjectMetaFields) {
      if (!metadata->property(std::string(field))) {
        auto any = std::make_shared<Node>();
        any->preserve_unknown_fields = true;
        metadata->properties.emplace_back(field, std::move(any));
      }
    }
    std::erase_if(node.properties, [](const auto& p) { return p.first == "metadata"; });
    node.properties.emplace_back("metadata", std::move(metadata));
  }

  FieldErrors take_errors() { return std::move(errors_); }

 private:
  void invalid(const FieldPath& path, const Json& value, std::string detail) {
    errors_.push_back({FieldError::Type::Invalid, path, value, std::move(detail)});
  }
  void read_string(const Json& json, const FieldPath& path, const char* key, std::string& out) {
    if (auto it = json.find(key); it != json.end()) {
      if (it->is_string()) {
        out = it->get<std::string>();
      } else {
        invalid(path.child(key), *it, "must be a string");
      }
    }
  }
  void read_bool(const Json& json, const FieldPath& path, const char* key, bool& out) {
    if (auto it = json.find(key); it != json.end()) {
      if (it->is_boolean()) {
        out = it->get<bool>();
      } else {
        invalid(path.child(key), *it, "must be true or false");
      }
    }
  }
  void read_number(const Json& json, const FieldPath& path, const char* key, std::optional<double>& out) {
    if (auto it = json.find(key); it != json.end()) {
      if (it->is_number()) {
        out = it->get<double>();
      } else {
        invalid(path.child(key), *it, "must be a number");
      }
    }
  }
  void read_count(const Json& json, const FieldPath& path, const char* key,
                  std::optional<std::uint64_t>& out) {
    if (auto it = json.find(key); it != json.end()) {
      if (it->is_number_unsigned() || (it->is_number_integer() && it->get<std::int64_t>() >= 0)) {
        out = it->get<std::uint64_t>();
      } else {
        invalid(path.child(key), *it, "must be a non-negative integer");
      }
    }
  }
  void read_string_list(const Json& json, const FieldPath& path, const char* key,
                        std::vector<std::string>& out) {
    if (auto it = json.find(key); it != json.end()) {
      if (!it->is_array()) {
        invalid(path.child(key), *it, "must be a list of strings");
        return;
      }
      for (std::size_t i = 0; i < it->size(); ++i) {
        if ((*it)[i].is_string()) {
          out.push_back((*it)[i].get<std::string>());
        } else {
          invalid(path.child(key).index(i), (*it)[i], "must be a string");
        }
      }
    }
  }
  void read_junctor(const Json& json, const FieldPath& path, const char* key, std::vector<NodePtr>& out) {
    if (auto it = json.find(key); it != json.end()) {
      if (!it->is_array()) {
        invalid(path.child(key), *it, "must be a list of schemas");
        return;
      }
      for (std::size_t i = 0; i < it->size(); ++i) {
        out.push_back(compile((*it)[i], path.child(key).index(i)));
      }
    }
  }

  FieldErrors errors_;
};

// ---------------------------------------------------------------------------------------------
// Validating

std::size_t utf8_length(const std::string& text) {
  return static_cast<std::size_t>(
      std::ranges::count_if(text, [](char c) { return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U; }));
}

std::string json_type_name(const Json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return "boolean";
  if (value.is_number_integer()) return "integer";
  if (value.is_number()) return "number";
  if (value.is_string()) return "string";
  if (value.is_array()) return "array";
  return "object";
}

bool has_type(const Json& value, const std::string& type) {
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  // An integral float (2.0, 1e3) is an integer, as in kube-openapi.
  if (type == "integer") {
    return value.is_number_integer() || (value.is_number_float() && std::isfinite(value.get<double>()) &&
                                         std::nearbyint(value.get<double>()) == value.get<double>());
  }
  if (type == "number") return value.is_number();
  if (type == "boolean") return value.is_boolean();
  return true;
}

std::string format_number(double number) {
  if (std::nearbyint(number) == number && std::fabs(number) < 1e15) {
    return fmt::format("{}", static_cast<long long>(number));
  }
  return fmt::format("{}", number);
}

std::string plural(std::uint64_t count, std::string_view noun) {
  return fmt::format("{} {}{}", count, noun, count == 1 ? "" : "s");
}

class Validator {
 public:
  explicit Validator(FieldErrors& errors) : errors_(errors) {}

  void validate(const Node& node, const Json& value, const FieldPath& path) {
    if (value.is_null()) {
      if (!node.nullable && !node.type.empty()) {
        add(FieldError::Type::Invalid, path, value, fmt::format("must be of type {}", node.type));
      }
      return;
    }
    if (node.int_or_string) {
      if (!has_type(value, "integer") && !value.is_string()) {
        add(FieldError::Type::Invalid, path, value, "must be an integer or a string");
        return;
      }
    } else if (!node.type.empty() && !has_type(value, node.type)) {
      add(FieldError::Type::Invalid, path, value, fmt::format("must be of type {}", node.type));
      return;
    }
    validate_value(node, value, path);
  }

 private:
  void add(FieldError::Type type, const FieldPath& path, const Json& value, std::string detail) {
    errors_.push_back({type, path, value, std::move(detail)});
  }

  void validate_value(const Node& node, const Json& value, const FieldPath& path) {
    if (node.enum_values && !std::ranges::count(*node.enum_values, value)) {
      std::string supported;
      for (const auto& allowed : *node.enum_values) {
        if (!supported.empty()) supported += ", ";
        supported += render_value(allowed);
      }
      add(FieldError::Type::NotSupported, path, value, "supported values: " + supported);
    }
    if (value.is_string()) validate_string(node, value, path);
    if (value.is_number()) validate_number(node, value, path);
    if (value.is_object()) validate_object(node, value, path);
    if (value.is_array()) validate_array(node, value, path);
    validate_junctors(node, value, path);
  }

  void validate_string(const Node& node, const Json& value, const FieldPath& path) {
    const auto& text = value.get_ref<const std::string&>();
    if (node.min_length || node.max_length) {
      std::size_t length = utf8_length(text);
      if (node.min_length && length < *node.min_length) {
        add(FieldError::Type::Invalid, path, value,
            fmt::format("must be at least {} long", plural(*node.min_length, "character")));
      }
      if (node.max_length && length > *node.max_length) {
        add(FieldError::Type::TooLong, path, value,
            fmt::format("may not be longer than {}", plural(*node.max_length, "character")));
      }
    }
    if (node.pattern && !RE2::PartialMatch(text, *node.pattern)) {
      add(FieldError::Type::Invalid, path, value,
          fmt::format("must match the regular expression '{}'", node.pattern->pattern()));
    }
    if (!node.format.empty()) {
      std::string expected = check_format(node.format, text);
      if (!expected.empty()) add(FieldError::Type::Invalid, path, value, "must be " + expected);
    }
  }

  void validate_number(const Node& node, const Json& value, const FieldPath& path) {
    const double number = value.get<double>();
    if (node.minimum) {
      if (node.exclusive_minimum && number <= *node.minimum) {
        add(FieldError::Type::Invalid, path, value,
            fmt::format("must be greater than {}", format_number(*node.minimum)));
      } else if (number < *node.minimum) {
        add(FieldError::Type::Invalid, path, value,
            fmt::format("must be greater than or equal to {}", format_number(*node.minimum)));
      }
    }
    if (node.maximum) {
      if (node.exclusive_maximum && number >= *node.maximum) {
        add(FieldError::Type::Invalid, path, value,
            fmt::format("must be less than {}", format_number(*node.maximum)));
      } else if (number > *node.maximum) {
        add(FieldError::Type::Invalid, path, value,
            fmt::format("must be less than or equal to {}", format_number(*node.maximum)));
      }
    }
    if (node.multiple_of && *node.multiple_of > 0) {
      double quotient = number / *node.multiple_of;
      if (std::fabs(quotient - std::nearbyint(quotient)) > 1e-9) {
        add(FieldError::Type::Invalid, path, value,
            fmt::format("must be a multiple of {}", format_number(*node.multiple_of)));
      }
    }
  }

  void validate_object(const Node& node, const Json& value, const FieldPath& path) {
    for (const auto& name : node.required) {
      auto it = value.find(name);
      // A null that is not nullable is pruned before defaulting, so it counts as missing.
      const Node* declared = node.property(name);
      bool pruned_null = it != value.end() && it->is_null() && declared && !declared->nullable;
      if (it == value.end() || pruned_null) add(FieldError::Type::Required, path.child(name), nullptr, "");
    }
    for (const auto& [name, member] : value.items()) {
      if (const Node* child = node.property(name)) {
        if (member.is_null() && !child->nullable) continue;  // pruned, see above
        validate(*child, member, path.child(name));
      } else if (node.additional_properties) {
        validate(*node.additional_properties, member, path.key(name));
      }
    }
    if (node.min_properties && value.size() < *node.min_properties) {
      add(FieldError::Type::Invalid, path, value,
          fmt::format("must have at least {} {}", *node.min_properties,
                      *node.min_properties == 1 ? "property" : "properties"));
    }
    if (node.max_properties && value.size() > *node.max_properties) {
      add(FieldError::Type::TooMany, path, value.size(),
          fmt::format("must have at most {} {}", *node.max_properties,
                      *node.max_properties == 1 ? "property" : "properties"));
    }
    if (node.embedded_resource) {
      for (const char* name : {"apiVersion", "kind"}) {
        if (!value.contains(name)) add(FieldError::Type::Required, path.child(name), nullptr, "");
      }
    }
  }

  void validate_array(const Node& node, const Json& value, const FieldPath& path) {
    if (node.min_items && value.size() < *node.min_items) {
      add(FieldError::Type::Invalid, path, value,
          fmt::format("must have at least {}", plural(*node.min_items, "item")));
    }
    if (node.max_items && value.size() > *node.max_items) {
      add(FieldError::Type::TooMany, path, value.size(),
          fmt::format("must have at most {}", plural(*node.max_items, "item")));
    }
    if (node.items) {
      for (std::size_t i = 0; i < value.size(); ++i) validate(*node.items, value[i], path.index(i));
    }
    if (node.list_type == "set") {
      for (std::size_t i = 1; i < value.size(); ++i) {
        for (std::size_t j = 0; j < i; ++j) {
          if (value[i] == value[j]) {
            add(FieldError::Type::Duplicate, path.index(i), value[i], "");
            break;
          }
        }
      }
    } else if (node.list_type == "map" && !node.list_map_keys.empty()) {
      validate_list_map(node, value, path);
    }
  }

  void validate_list_map(const Node& node, const Json& value, const FieldPath& path) {
    std::vector<Json> seen;
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (!value[i].is_object()) continue;  // reported by the item type check
      Json key = Json::object();
      for (const auto& name : node.list_map_keys) {
        auto it = value[i].find(name);
        if (it == value[i].end()) {
          // A key with a default counts as present: defaulting runs before validation. A key the
          // items require is reported by the items' own check.
          const Node* declared = node.items ? node.items->property(name) : nullptr;
          const bool items_require = node.items && std::ranges::count(node.items->required, name) > 0;
          if (!(declared && declared->default_value) && !items_require) {
            add(FieldError::Type::Required, path.index(i).child(name), nullptr, "");
          }
          key[name] = declared && declared->default_value ? *declared->default_value : Json();
        } else {
          key[name] = *it;
        }
      }
      if (std::ranges::count(seen, key)) {
        add(FieldError::Type::Duplicate, path.index(i), key, "");
      } else {
        seen.push_back(std::move(key));
      }
    }
  }

  // Branches of allOf/anyOf/oneOf/not hold value validations only, checked without a type.
  FieldErrors branch_errors(const Node& branch, const Json& value, const FieldPath& path) {
    FieldErrors errors;
    Validator(errors).validate(branch, value, path);
    return errors;
  }

  void validate_junctors(const Node& node, const Json& value, const FieldPath& path) {
    for (const auto& branch : node.all_of) {
      for (auto& error : branch_errors(*branch, value, path)) errors_.push_back(std::move(error));
    }
    if (!node.any_of.empty()) {
      std::vector<FieldErrors> failures;
      for (const auto& branch : node.any_of) {
        auto errors = branch_errors(*branch, value, path);
        if (errors.empty()) {
          failures.clear();
          break;
        }
        failures.push_back(std::move(errors));
      }
      if (!failures.empty()) report_any_of(node, value, path, std::move(failures));
    }
    if (!node.one_of.empty()) {
      auto passing = std::ranges::count_if(
          node.one_of, [&](const NodePtr& branch) { return branch_errors(*branch, value, path).empty(); });
      if (passing != 1) {
        add(FieldError::Type::Invalid, path, value, "must validate one and only one schema (oneOf)");
      }
    }
    if (node.not_schema && branch_errors(*node.not_schema, value, path).empty()) {
      add(FieldError::Type::Invalid, path, value, "must not validate the schema (not)");
    }
  }

  // An error of a branch, as part of the anyOf message: its detail when it is about the value
  // itself, else the whole error, which names the field.
  static std::string describe(const FieldError& error, const FieldPath& path) {
    return error.path == path && !error.detail.empty() ? error.detail : error.to_string();
  }

  // When exactly one anyOf branch is about this value's type (the int-or-string pattern
  // `anyOf: [{type: integer}, {type: string}]` with constraints), its errors say more than
  // "must validate at least one schema".
  void report_any_of(const Node& node, const Json& value, const FieldPath& path,
                     std::vector<FieldErrors> failures) {
    std::vector<std::size_t> typed;
    for (std::size_t i = 0; i < node.any_of.size(); ++i) {
      const auto& type = node.any_of[i]->type;
      if (!type.empty() && has_type(value, type)) typed.push_back(i);
    }
    if (typed.size() == 1) {
      for (auto& error : failures[typed.front()]) errors_.push_back(std::move(error));
      return;
    }
    const std::string type = json_type_name(value);
    const bool vowel = std::string_view("aeiou").find(type.front()) != std::string_view::npos;
    add(FieldError::Type::Invalid, path, value,
        fmt::format("must validate at least one schema (anyOf); as a{} {} it fails: {}", vowel ? "n" : "",
                    type, describe(failures.front().front(), path)));
  }

  FieldErrors& errors_;
};

// ---------------------------------------------------------------------------------------------
// Defaulting and pruning

void apply_defaults_to(const Node& node, Json& value) {
  if (value.is_object()) {
    for (const auto& [name, child] : node.properties) {
      auto it = value.find(name);
      bool absent = it == value.end() || (it->is_null() && !child->nullable);
      if (absent && child->default_value) {
        value[name] = *child->default_value;
        it = value.find(name);
      }
      if (it != value.end()) apply_defaults_to(*child, *it);
    }
    if (node.additional_properties) {
      for (auto& [name, member] : value.items()) {
        if (!node.property(name)) apply_defaults_to(*node.additional_properties, member);
      }
    }
  } else if (value.is_array() && node.items) {
    for (auto& item : value) apply_defaults_to(*node.items, item);
  }
}

struct Removed {
  FieldPath path;
  const Node* parent;
};

void prune_into(const Node& node, Json& value, const FieldPath& path, std::vector<Removed>& removed) {
  // A value of the wrong type is reported by validation; its fields are not "unknown".
  if (!node.type.empty() && !has_type(value, node.type)) return;
  if (value.is_object()) {
    std::vector<std::string> drop;
    for (auto& [name, member] : value.items()) {
      if (const Node* child = node.property(name)) {
        if (member.is_null() && !child->nullable) {
          drop.push_back(name);
        } else {
          prune_into(*child, member, path.child(name), removed);
        }
      } else if (node.additional_properties) {
        if (member.is_null() && !node.additional_properties->nullable) {
          drop.push_back(name);
        } else {
          prune_into(*node.additional_properties, member, path.key(name), removed);
        }
      } else if (!node.keeps_unknown_fields()) {
        removed.push_back({path.child(name), &node});
        drop.push_back(name);
      }
    }
    for (const auto& name : drop) value.erase(name);
  } else if (value.is_array() && node.items) {
    for (std::size_t i = 0; i < value.size(); ++i) prune_into(*node.items, value[i], path.index(i), removed);
  }
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                  std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string suggest(const Node& parent, const std::string& unknown) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, unknown.size() / 3) + 1;
  for (const auto& [name, child] : parent.properties) {
    std::size_t distance = edit_distance(unknown, name);
    if (distance < best_distance) {
      best = name;
      best_distance = distance;
    }
  }
  if (!best.empty()) return fmt::format("not declared in the schema; did you mean \"{}\"?", best);
  std::string known;
  for (const auto& [name, child] : parent.properties) {
    if (!known.empty()) known += ", ";
    known += name;
  }
  if (known.empty()) return "not declared in the schema; this object takes no fields";
  return fmt::format("not declared in the schema; known fields: {}", known);
}

}  // namespace

Schema Schema::compile(const Json& openapi, Root root, const FieldPath& at) {
  Compiler compiler;
  NodePtr node = compiler.compile(openapi, at);
  auto errors = compiler.take_errors();
  if (!errors.empty()) throw SchemaError(std::move(errors));
  if (root == Root::Resource) {
    auto copy = std::make_shared<Node>(*node);
    if (copy->type.empty()) copy->type = "object";
    Compiler::add_resource_fields(*copy);
    node = std::move(copy);
  }
  return Schema(std::move(node));
}

Schema::ListType Schema::list_type(const std::vector<std::string>& path) const {
  const Node* node = root_.get();
  for (const auto& segment : path) {
    if (segment == "[]") {
      node = node->items.get();
    } else if (const Node* property = node->property(segment)) {
      node = property;
    } else {
      node = node->additional_properties.get();
    }
    if (node == nullptr) return {};
  }
  ListType out{node->list_type, node->list_map_keys, Json::object()};
  for (const auto& key : node->list_map_keys) {
    const Node* declared = node->items ? node->items->property(key) : nullptr;
    if (declared != nullptr && declared->default_value) out.map_key_defaults[key] = *declared->default_value;
  }
  return out;
}

FieldErrors Schema::validate(const Json& value) const {
  FieldErrors errors;
  Validator(errors).validate(*root_, value, {});
  return errors;
}

void Schema::apply_defaults(Json& value) const { apply_defaults_to(*root_, value); }

std::vector<FieldPath> Schema::prune(Json& value) const {
  std::vector<Removed> removed;
  prune_into(*root_, value, {}, removed);
  std::vector<FieldPath> paths;
  paths.reserve(removed.size());
  for (auto& entry : removed) paths.push_back(std::move(entry.path));
  return paths;
}

FieldErrors Schema::unknown_fields(const Json& value) const {
  Json copy = value;
  std::vector<Removed> removed;
  prune_into(*root_, copy, {}, removed);
  FieldErrors errors;
  for (const auto& entry : removed) {
    const auto& last = std::get<FieldPath::Field>(entry.path.segments().back());
    errors.push_back({FieldError::Type::Unknown, entry.path, nullptr, suggest(*entry.parent, last.name)});
  }
  return errors;
}

}  // namespace riasc::schema

#include "riasc/schema/object_meta.hpp"

#include <fmt/format.h>
#include <re2/re2.h>

namespace riasc::schema {

namespace {

const RE2& dns_label_re() {
  static const RE2 re("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  return re;
}
const RE2& dns_subdomain_re() {
  static const RE2 re("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  return re;
}
const RE2& qualified_name_re() {
  static const RE2 re("([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]");
  return re;
}

constexpr std::size_t kLabelMax = 63;
constexpr std::size_t kSubdomainMax = 253;
constexpr std::size_t kAnnotationsMaxBytes = 256 * 1024;

// A label or annotation key: an optional DNS-subdomain prefix and '/', then a name.
std::string check_qualified_name(std::string_view key) {
  std::string_view name = key;
  if (auto slash = key.find('/'); slash != std::string_view::npos) {
    std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (prefix.empty()) return "prefix part must be non-empty";
    if (auto why = check_dns_subdomain(prefix); !why.empty()) return "prefix part " + why;
  }
  if (name.empty()) return "name part must be non-empty";
  if (name.size() > kLabelMax) return fmt::format("name part must be no more than {} characters", kLabelMax);
  if (!RE2::FullMatch(name, qualified_name_re())) {
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
           "end with an alphanumeric character (e.g. 'MyName', 'my.name' or '123-abc')";
  }
  return "";
}

std::string check_label_value(std::string_view value) {
  if (value.empty()) return "";
  if (value.size() > kLabelMax) return fmt::format("must be no more than {} characters", kLabelMax);
  if (!RE2::FullMatch(value, qualified_name_re())) {
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
           "or '.', and must start and end with an alphanumeric character";
  }
  return "";
}

void check_string_map(const Json& metadata, const char* field, const FieldPath& path, bool labels,
                      FieldErrors& errors) {
  auto it = metadata.find(field);
  if (it == metadata.end() || it->is_null()) return;
  FieldPath at = path.child(field);
  if (!it->is_object()) {
    errors.push_back({FieldError::Type::Invalid, at, *it, "must be a map of strings to strings"});
    return;
  }
  std::size_t total = 0;
  for (const auto& [key, value] : it->items()) {
    if (auto why = check_qualified_name(key); !why.empty()) {
      errors.push_back({FieldError::Type::Invalid, at, key, why});
    }
    if (!value.is_string()) {
      errors.push_back(
          {FieldError::Type::Invalid, at.key(key), value, "must be a string (quote numbers and booleans)"});
      continue;
    }
    const auto& text = value.get_ref<const std::string&>();
    total += key.size() + text.size();
    if (labels) {
      if (auto why = check_label_value(text); !why.empty()) {
        errors.push_back({FieldError::Type::Invalid, at.key(key), value, why});
      }
    }
  }
  if (!labels && total > kAnnotationsMaxBytes) {
    errors.push_back({FieldError::Type::TooLong, at, nullptr,
                      fmt::format("may not be more than {} bytes", kAnnotationsMaxBytes)});
  }
}

}  // namespace

std::string check_dns_label(std::string_view value) {
  if (value.size() > kLabelMax) return fmt::format("must be no more than {} characters", kLabelMax);
  if (!RE2::FullMatch(value, dns_label_re())) {
    return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
           "and must start and end with an alphanumeric character (e.g. 'my-name' or '123-abc')";
  }
  return "";
}

std::string check_dns_subdomain(std::string_view value) {
  if (value.size() > kSubdomainMax) return fmt::format("must be no more than {} characters", kSubdomainMax);
  if (!RE2::FullMatch(value, dns_subdomain_re())) {
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
           "or '.', and must start and end with an alphanumeric character (e.g. 'example.com')";
  }
  return "";
}

FieldErrors validate_object_meta(const Json& metadata, const FieldPath& path) {
  FieldErrors errors;
  if (!metadata.is_object()) {
    errors.push_back({FieldError::Type::Invalid, path, metadata, "must be an object"});
    return errors;
  }
  auto name = metadata.find("name");
  auto generate_name = metadata.find("generateName");
  if (name == metadata.end() || name->is_null() || *name == "") {
    if (generate_name == metadata.end() || !generate_name->is_string()) {
      errors.push_back(
          {FieldError::Type::Required, path.child("name"), nullptr, "name or generateName is required"});
    }
  } else if (!name->is_string()) {
    errors.push_back({FieldError::Type::Invalid, path.child("name"), *name, "must be a string"});
  } else if (auto why = check_dns_subdomain(name->get<std::string>()); !why.empty()) {
    errors.push_back({FieldError::Type::Invalid, path.child("name"), *name, why});
  }
  if (auto ns = metadata.find("namespace"); ns != metadata.end() && !ns->is_null()) {
    if (!ns->is_string()) {
      errors.push_back({FieldError::Type::Invalid, path.child("namespace"), *ns, "must be a string"});
    } else if (auto why = check_dns_label(ns->get<std::string>()); !why.empty()) {
      errors.push_back({FieldError::Type::Invalid, path.child("namespace"), *ns, why});
    }
  }
  check_string_map(metadata, "labels", path, true, errors);
  check_string_map(metadata, "annotations", path, false, errors);
  return errors;
}

}  // namespace riasc::schema
